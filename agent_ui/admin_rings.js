"use strict";
// The ring-policy admin page. Renders with textContent only; the server validates.

const $ = (id) => document.getElementById(id);
let csrf = "";

function row(...cells) {
  const tr = document.createElement("tr");
  for (const text of cells) {
    const td = document.createElement("td");
    td.textContent = text;
    tr.append(td);
  }
  return tr;
}

/** The top-level paths whose value differs between two policy objects. */
function changedPaths(oldValue, newValue, prefix = "") {
  if (JSON.stringify(oldValue) === JSON.stringify(newValue)) return [];
  const isObj = (v) => v && typeof v === "object" && !Array.isArray(v);
  if (!isObj(oldValue) || !isObj(newValue)) return [prefix || "(all)"];
  const keys = new Set([...Object.keys(oldValue), ...Object.keys(newValue)]);
  return [...keys].flatMap((k) => changedPaths(oldValue[k], newValue[k], prefix ? `${prefix}.${k}` : k));
}

function render(data) {
  $("policies").value = JSON.stringify(data.policies, null, 2);
  $("cadences").textContent = data.cadences.join(", ");
  const body = $("history").querySelector("tbody");
  body.replaceChildren(
    ...(data.history.length
      ? data.history.map((h) => row(new Date(h.at).toLocaleString(), h.who, changedPaths(h.old, h.new).join(", ")))
      : [row("—", "—", "No changes yet: the configuration file is in force")]),
  );
}

async function load() {
  const me = await fetch("/api/me", { credentials: "same-origin" });
  if (me.status === 401) { window.location.assign("/login"); return; }
  csrf = String((await me.json()).csrf_token);
  const response = await fetch("/api/admin/rings", { credentials: "same-origin" });
  if (!response.ok) { $("status").textContent = `Cannot load (${response.status})`; return; }
  render(await response.json());
}

async function save() {
  $("errors").replaceChildren();
  let body;
  try {
    body = JSON.parse($("policies").value);
  } catch (error) {
    $("status").textContent = "Not valid JSON: " + String(error.message);
    return;
  }
  const response = await fetch("/api/admin/rings", {
    method: "PUT",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
    body: JSON.stringify(body),
  });
  const result = await response.json().catch(() => ({}));
  if (response.status === 422) {
    $("status").textContent = "Not saved: the policy in force is unchanged.";
    $("errors").replaceChildren(...result.errors.map((e) => {
      const li = document.createElement("li");
      li.textContent = e;
      return li;
    }));
    return;
  }
  if (!response.ok) {
    $("status").textContent = `Not saved (${response.status}): ${result.error || ""}`;
    return;
  }
  $("status").textContent = "Saved: new calls use it now.";
  await load();
}

$("save").addEventListener("click", save);
load();
