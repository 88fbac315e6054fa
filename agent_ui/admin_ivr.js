"use strict";
// The call-flow admin page. Renders with textContent only; the server validates.

const $ = (id) => document.getElementById(id);
let csrf = "";
let flows = {};

const EXAMPLE = {
  start: "greeting",
  time_zone: "Europe/Istanbul",
  language: "tr",
  languages: ["tr"],
  nodes: {
    greeting: { kind: "play", prompt: { text: { tr: "İyi günler." } }, next: "menu" },
    menu: {
      kind: "menu",
      prompt: { text: { tr: "Satış için 1, servis için 2." } },
      choices: { 1: { next: "sales", tag: "sales" }, 2: { next: "service", tag: "service" } },
      default: "sales",
    },
    sales: { kind: "agents", group: "sales" },
    service: { kind: "agents", group: "service" },
  },
};

function row(...cells) {
  const tr = document.createElement("tr");
  for (const text of cells) {
    const td = document.createElement("td");
    td.textContent = text;
    tr.append(td);
  }
  return tr;
}

function items(list) {
  return list.map((text) => {
    const li = document.createElement("li");
    li.textContent = text;
    return li;
  });
}

function currentDid() {
  return $("new-did").value.trim() || $("did").value;
}

function show() {
  const did = currentDid();
  const found = flows[did];
  $("flow").value = JSON.stringify(found ? found.flow : EXAMPLE, null, 2);
}

function render(data) {
  flows = data.flows;
  const select = $("did");
  const chosen = select.value;
  select.replaceChildren(...Object.keys(flows).map((did) => {
    const option = document.createElement("option");
    option.value = did;
    option.textContent = `${did} (v${flows[did].version})`;
    return option;
  }));
  if (chosen && flows[chosen]) select.value = chosen;
  $("sounds").textContent = data.sounds.length ? data.sounds.join(", ") : "none yet";
  $("tts").textContent = data.tts_languages.join(", ");
  const body = $("history").querySelector("tbody");
  body.replaceChildren(
    ...(data.history.length
      ? data.history.map((h) => row(
        new Date(h.at).toLocaleString(), h.who, h.did, String(h.version),
        h.flow ? String(h.flow.start) : "(removed)",
      ))
      : [row("—", "—", "—", "—", "No flows yet: every DID rings the agents")]),
  );
  show();
}

async function load() {
  const me = await fetch("/api/me", { credentials: "same-origin" });
  if (me.status === 401) { window.location.assign("/login"); return; }
  csrf = String((await me.json()).csrf_token);
  const response = await fetch("/api/admin/ivr", { credentials: "same-origin" });
  if (!response.ok) { $("status").textContent = `Cannot load (${response.status})`; return; }
  render(await response.json());
}

async function send(method, body) {
  const did = currentDid();
  if (!did) { $("status").textContent = "Choose or type a DID."; return null; }
  const response = await fetch(`/api/admin/ivr/flows/${encodeURIComponent(did)}`, {
    method,
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const result = await response.json().catch(() => ({}));
  return { response, result };
}

async function save() {
  $("errors").replaceChildren();
  $("warnings").replaceChildren();
  let body;
  try {
    body = JSON.parse($("flow").value);
  } catch (error) {
    $("status").textContent = "Not valid JSON: " + String(error.message);
    return;
  }
  const sent = await send("PUT", body);
  if (!sent) return;
  const { response, result } = sent;
  if (response.status === 422) {
    $("status").textContent = "Not saved: the flow in force is unchanged.";
    $("errors").replaceChildren(...items(result.errors));
    return;
  }
  if (!response.ok) {
    $("status").textContent = `Not saved (${response.status}): ${result.error || ""}`;
    return;
  }
  $("status").textContent = `Saved as version ${result.version}: the next call uses it.`;
  $("warnings").replaceChildren(...items(result.warnings.map((w) => "Warning: " + w)));
  $("new-did").value = "";
  await load();
  $("did").value = result.did;
  show();
}

async function remove() {
  const sent = await send("DELETE");
  if (!sent) return;
  const { response, result } = sent;
  $("status").textContent = response.ok
    ? "Removed: the DID rings the agents directly."
    : `Not removed (${response.status}): ${result.error || ""}`;
  await load();
}

$("save").addEventListener("click", save);
$("remove").addEventListener("click", remove);
$("did").addEventListener("change", () => { $("new-did").value = ""; show(); });
$("new-did").addEventListener("input", show);
load();
