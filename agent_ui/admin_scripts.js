"use strict";
// The scripts admin page. Renders with textContent only; the server validates and renders
// the preview (templates are filled on the server and shown here as plain text).

const $ = (id) => document.getElementById(id);
let csrf = "";
let data = { scripts: [], campaigns: [], rules: [], default_script: null, history: [] };
let current = null; // GET /api/admin/scripts/{key} of the chosen script
let wanted = null; // the script to choose once the list is loaded again
let ticket = 0; // only the newest load renders: a slow older answer is dropped

const NEW = "";
const EXAMPLE = {
  key: "new_script",
  name: "New script",
  language: "en",
  stages: [
    { id: "greeting", kind: "greeting", title: "Greeting",
      say: ["Good day! {company.activity}, {company.name}, this is {agent.first_name}."] },
    { id: "needs", kind: "needs", title: "Needs",
      captures: [{ key: "phone", label: "Phone", type: "phone" }],
      questions: [{ key: "area", text: "What area is it?", kind: "technical" }] },
    { id: "summary", kind: "summary", title: "Summary", say: ["So you need ... — correct?"] },
    { id: "close", kind: "close", title: "Close", say: ["When shall we meet, {caller.name}?"] },
  ],
};

function cell(text) {
  const td = document.createElement("td");
  td.textContent = text;
  return td;
}

function row(...cells) {
  const tr = document.createElement("tr");
  for (const c of cells) tr.append(typeof c === "string" ? cell(c) : c);
  return tr;
}

function items(list, prefix = "") {
  return list.map((text) => {
    const li = document.createElement("li");
    li.textContent = prefix + String(text);
    return li;
  });
}

function option(value, text) {
  const o = document.createElement("option");
  o.value = value;
  o.textContent = text;
  return o;
}

function releaseText(release) {
  if (!release) return "not released";
  return release.variants.map((v) => `${v.label} = v${v.version} (${v.weight})`).join(", ");
}

async function api(method, path, body) {
  const response = await fetch(path, {
    method,
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const result = await response.json().catch(() => ({}));
  return { response, result };
}

function problems(result) {
  if (Array.isArray(result.errors)) return result.errors;
  return result.error ? [result.error] : [];
}

function chosenKey() {
  return $("script").value;
}

// --- rendering -----------------------------------------------------------------------

function renderList() {
  const body = $("scripts").querySelector("tbody");
  body.replaceChildren(...(data.scripts.length
    ? data.scripts.map((s) => row(
      s.key, s.name, s.language,
      s.versions.map((v) => `v${v.version} ${v.status}`).join(", "),
      releaseText(s.release),
      s.retired_at ? "retired" : "in use",
    ))
    : [row("—", "No scripts yet", "", "", "", "")]));
  const select = $("script");
  const chosen = wanted ?? (select.options.length ? select.value : null); // first: the first
  wanted = null;
  select.replaceChildren(
    ...data.scripts.filter((s) => !s.retired_at).map((s) => option(s.key, `${s.name} (${s.key})`)),
    option(NEW, "+ a new script"),
  );
  if ([...select.options].some((o) => o.value === chosen)) select.value = chosen;
  const live = data.scripts.filter((s) => !s.retired_at && s.release);
  for (const target of [$("campaign-script"), $("default-script")]) {
    const was = target.value;
    target.replaceChildren(option("", "(none)"), ...live.map((s) => option(s.key, `${s.name} (${s.key})`)));
    target.value = was;
  }
  $("default-script").value = data.default_script || "";
  $("campaigns").querySelector("tbody").replaceChildren(...(data.campaigns.length
    ? data.campaigns.map((c) => {
      const tr = row(c.key, c.name, c.source, c.dids.join(", "), c.script || "—");
      tr.addEventListener("click", () => fillCampaign(c));
      return tr;
    })
    : [row("—", "No campaigns: calls get the rules' script or the fallback", "", "", "")]));
  $("rules").value = JSON.stringify(data.rules, null, 2);
  $("history").querySelector("tbody").replaceChildren(...data.history.map((h) => row(
    new Date(h.at).toLocaleString(), h.who, describe(h.new),
  )));
}

function describe(change) {
  const parts = [change.action || "change"];
  if (change.key) parts.push(change.key);
  if (change.version) parts.push(`v${change.version}`);
  if (change.variants) parts.push(change.variants.map((v) => `${v.label}=v${v.version}:${v.weight}`).join(" "));
  if (change.campaign) parts.push(typeof change.campaign === "string" ? change.campaign : change.campaign.key);
  if ("default_script" in change) parts.push(String(change.default_script));
  return parts.join(" ");
}

function renderStages(script) {
  const list = $("stages");
  if (!script || !Array.isArray(script.stages)) { list.replaceChildren(); return; }
  list.replaceChildren(...script.stages.map((stage) => {
    const li = document.createElement("li");
    const title = document.createElement("strong");
    title.textContent = `${String(stage.id)} — ${String(stage.title || "")}`;
    const kind = document.createElement("span");
    kind.className = "stage-kind";
    kind.textContent = String(stage.kind || "other");
    const meta = document.createElement("div");
    meta.className = "stage-meta";
    const questions = Array.isArray(stage.questions) ? stage.questions.length : 0;
    const captures = Array.isArray(stage.captures) ? stage.captures.map((f) => f.key).join(", ") : "";
    const branches = Array.isArray(stage.branches)
      ? stage.branches.map((b) => `${b.field} = ${b.equals} → ${b.to}`).join("; ") : "";
    meta.textContent = [
      questions ? `${questions} question(s)` : "",
      captures ? `captures ${captures}` : "",
      branches ? `branches ${branches}` : "",
      stage.next ? `next → ${stage.next}` : "",
    ].filter(Boolean).join(" · ");
    li.append(title, kind, meta);
    return li;
  }));
}

function renderPreview(preview) {
  const box = $("preview");
  box.replaceChildren(...preview.stages.map((stage) => {
    const div = document.createElement("div");
    div.className = "preview-stage";
    const h = document.createElement("h3");
    h.textContent = stage.title;
    div.append(h);
    for (const text of stage.say) {
      const p = document.createElement("p");
      p.className = "preview-say";
      p.textContent = text;
      div.append(p);
    }
    for (const q of stage.questions) {
      const p = document.createElement("p");
      p.className = "preview-say";
      p.textContent = `[${q.kind}] ${q.text}`;
      div.append(p);
    }
    for (const text of stage.hints) {
      const p = document.createElement("p");
      p.className = "preview-hint";
      p.textContent = text;
      div.append(p);
    }
    return div;
  }));
}

function renderScript() {
  const key = chosenKey();
  const versions = $("version");
  if (!current || key === NEW) {
    versions.replaceChildren();
    $("body").value = JSON.stringify(EXAMPLE, null, 2);
    renderStages(EXAMPLE);
    renderVariants(null, []);
    $("conversion").querySelector("tbody").replaceChildren();
    for (const id of ["export-yaml", "export-json"]) $(id).removeAttribute("href");
    return;
  }
  const info = current.script;
  versions.replaceChildren(...[...info.versions].reverse().map(
    (v) => option(String(v.version), `v${v.version} ${v.status}`),
  ));
  versions.value = String(current.version.version);
  $("body").value = JSON.stringify(current.body, null, 2);
  renderStages(current.body);
  const base = `/api/admin/scripts/${encodeURIComponent(key)}/export?version=${current.version.version}`;
  $("export-yaml").href = `${base}&format=yaml`;
  $("export-json").href = `${base}&format=json`;
  const published = info.versions.filter((v) => v.status === "published").map((v) => v.version);
  renderVariants(info.release, published);
}

function renderVariants(release, published) {
  $("published").textContent = published.length ? published.map((v) => `v${v}`).join(", ") : "none yet";
  const body = $("variants").querySelector("tbody");
  body.replaceChildren(...(release ? release.variants : []).map((v) => variantRow(v)));
}

function variantRow(v) {
  const tr = document.createElement("tr");
  const label = document.createElement("input");
  label.className = "label";
  label.maxLength = 1;
  label.value = v.label;
  label.setAttribute("aria-label", "Variant label");
  const version = document.createElement("input");
  version.type = "number";
  version.min = "1";
  version.value = String(v.version);
  version.setAttribute("aria-label", "Version");
  const weight = document.createElement("input");
  weight.type = "number";
  weight.min = "0";
  weight.max = "1000";
  weight.value = String(v.weight);
  weight.setAttribute("aria-label", "Weight");
  const remove = document.createElement("button");
  remove.type = "button";
  remove.textContent = "Remove";
  remove.addEventListener("click", () => tr.remove());
  for (const input of [label, version, weight, remove]) {
    const td = document.createElement("td");
    td.append(input);
    tr.append(td);
  }
  return tr;
}

async function loadConversion(key) {
  const body = $("conversion").querySelector("tbody");
  const response = await fetch(`/api/scripts/conversion?key=${encodeURIComponent(key)}`, { credentials: "same-origin" });
  if (!response.ok) { body.replaceChildren(); return; }
  const result = await response.json();
  const pct = (x) => (x === null || x === undefined ? "—" : `${(100 * x).toFixed(1)}%`);
  body.replaceChildren(...(result.variants.length
    ? result.variants.map((v) => row(
      `v${v.version}`, v.variant, String(v.calls), String(v.offers), String(v.pending),
      String(v.sales), String(v.next_steps), String(v.lost), pct(v.conversion),
      v.ci95 ? `${pct(v.ci95[0])} – ${pct(v.ci95[1])}` : "—",
    ))
    : [row("—", "", "No calls yet", "", "", "", "", "", "", "")]));
}

// --- loading ---------------------------------------------------------------------------

async function load(choose) {
  const mine = ++ticket;
  const response = await fetch("/api/admin/scripts", { credentials: "same-origin" });
  if (!response.ok) { $("status").textContent = `Cannot load (${response.status})`; return; }
  const loaded = await response.json();
  if (mine !== ticket) return;
  data = loaded;
  if (choose !== undefined) wanted = choose;
  renderList();
  await loadScript();
}

async function loadScript(version) {
  const mine = ++ticket;
  const key = chosenKey();
  let found = null;
  if (key !== NEW) {
    const query = version ? `?version=${encodeURIComponent(version)}` : "";
    const response = await fetch(`/api/admin/scripts/${encodeURIComponent(key)}${query}`, { credentials: "same-origin" });
    if (response.ok) found = await response.json();
  }
  if (mine !== ticket) return;
  current = found;
  renderScript();
  $("warnings").replaceChildren(...items(current ? current.warnings : [], "Warning: "));
  if (key !== NEW) await loadConversion(key);
}

function clearMessages() {
  for (const id of ["errors", "warnings", "release-errors", "campaign-errors", "rules-errors"]) {
    $(id).replaceChildren();
  }
}

function parseBody() {
  try {
    return JSON.parse($("body").value);
  } catch (error) {
    $("status").textContent = "Not valid JSON: " + String(error.message);
    return null;
  }
}

// --- actions -------------------------------------------------------------------------------

async function saveDraft() {
  clearMessages();
  const body = parseBody();
  if (!body) return;
  const key = String(body.key || "");
  const { response, result } = await api("PUT", `/api/admin/scripts/${encodeURIComponent(key)}/draft`, body);
  if (!response.ok) {
    $("status").textContent = `Not saved (${response.status}): nothing changed.`;
    $("errors").replaceChildren(...items(problems(result)));
    return;
  }
  await load(key);
  $("status").textContent = `Saved as draft version ${result.version.version}.`;
  $("warnings").replaceChildren(...items(result.warnings, "Warning: "));
}

async function preview() {
  clearMessages();
  const body = parseBody();
  if (!body) return;
  const { response, result } = await api("POST", "/api/admin/scripts/preview", { script: body });
  if (!response.ok) {
    $("status").textContent = `No preview (${response.status}).`;
    $("errors").replaceChildren(...items(problems(result)));
    return;
  }
  $("status").textContent = "Preview with sample data.";
  renderStages(body);
  renderPreview(result.preview);
  $("warnings").replaceChildren(...items(result.warnings, "Warning: "));
}

async function publish() {
  clearMessages();
  const key = chosenKey();
  if (key === NEW) { $("status").textContent = "Save the new script as a draft first."; return; }
  const { response, result } = await api("POST", `/api/admin/scripts/${encodeURIComponent(key)}/publish`, {});
  if (!response.ok) {
    $("status").textContent = `Not published (${response.status}).`;
    $("errors").replaceChildren(...items(problems(result)));
    return;
  }
  await load();
  $("status").textContent = `Published version ${result.version.version}: release it below to give it calls.`;
}

async function retire() {
  clearMessages();
  const key = chosenKey();
  if (key === NEW) return;
  const { response, result } = await api("POST", `/api/admin/scripts/${encodeURIComponent(key)}/retire`, {});
  if (!response.ok) {
    $("status").textContent = `Not retired (${response.status}).`;
    $("errors").replaceChildren(...items(problems(result)));
    return;
  }
  await load();
  $("status").textContent = `Script ${key} retired.`;
}

async function saveRelease() {
  clearMessages();
  const key = chosenKey();
  if (key === NEW) return;
  const variants = [...$("variants").querySelectorAll("tbody tr")].map((tr) => {
    const [label, version, weight] = tr.querySelectorAll("input");
    return { label: label.value.trim(), version: Number(version.value), weight: Number(weight.value) };
  });
  const { response, result } = await api("PUT", `/api/admin/scripts/${encodeURIComponent(key)}/release`, { variants });
  if (!response.ok) {
    $("release-status").textContent = `Not saved (${response.status}): the release in force is unchanged.`;
    $("release-errors").replaceChildren(...items(problems(result)));
    return;
  }
  await load();
  $("release-status").textContent = `Release saved: ${releaseText(result.release)}; the next call uses it.`;
}

function addVariant() {
  const used = [...$("variants").querySelectorAll("tbody tr input.label")].map((i) => i.value);
  const label = "ABCDEFGH".split("").find((l) => !used.includes(l)) || "H";
  const versions = current ? current.script.versions.filter((v) => v.status === "published") : [];
  const newest = versions.length ? versions[versions.length - 1].version : 1;
  $("variants").querySelector("tbody").append(variantRow({ label, version: newest, weight: 50 }));
}

function fillCampaign(c) {
  const form = $("campaign-form");
  form.elements.key.value = c.key;
  form.elements.name.value = c.name;
  form.elements.source.value = c.source;
  form.elements.dids.value = c.dids.join(", ");
  form.elements.script.value = c.script || "";
}

async function saveCampaign(event) {
  event.preventDefault();
  clearMessages();
  const form = $("campaign-form");
  const key = form.elements.key.value.trim();
  const body = {
    name: form.elements.name.value,
    source: form.elements.source.value,
    dids: form.elements.dids.value.split(",").map((d) => d.trim()).filter(Boolean),
    script: form.elements.script.value || null,
  };
  const { response, result } = await api("PUT", `/api/admin/campaigns/${encodeURIComponent(key)}`, body);
  if (!response.ok) {
    $("campaign-status").textContent = `Not saved (${response.status}).`;
    $("campaign-errors").replaceChildren(...items(problems(result)));
    return;
  }
  await load();
  $("campaign-status").textContent = `Campaign ${key} saved.`;
}

async function deleteCampaign() {
  clearMessages();
  const key = $("campaign-form").elements.key.value.trim();
  const { response, result } = await api("DELETE", `/api/admin/campaigns/${encodeURIComponent(key)}`);
  await load();
  $("campaign-status").textContent = response.ok ? `Campaign ${key} deleted.` : `Not deleted (${response.status}).`;
  $("campaign-errors").replaceChildren(...items(problems(result)));
}

async function saveRules() {
  clearMessages();
  let rules;
  try {
    rules = JSON.parse($("rules").value);
  } catch (error) {
    $("rules-status").textContent = "Not valid JSON: " + String(error.message);
    return;
  }
  const { response, result } = await api("PUT", "/api/admin/script-rules", { rules });
  if (!response.ok) {
    $("rules-status").textContent = `Not saved (${response.status}): the rules in force are unchanged.`;
    $("rules-errors").replaceChildren(...items(problems(result)));
    return;
  }
  await load();
  $("rules-status").textContent = `${result.rules.length} rule(s) saved.`;
}

async function saveDefault() {
  clearMessages();
  const script = $("default-script").value || null;
  const { response, result } = await api("PUT", "/api/admin/script-default", { script });
  await load();
  $("rules-status").textContent = response.ok ? "Fallback saved." : `Not saved (${response.status}).`;
  $("rules-errors").replaceChildren(...items(problems(result)));
}

async function importFile() {
  clearMessages();
  const file = $("import-file").files[0];
  if (!file) return;
  const format = /\.json$/i.test(file.name) ? "json" : "yaml";
  const text = await file.text();
  const { response, result } = await api("POST", "/api/admin/scripts/import", { format, text });
  $("import-file").value = "";
  if (!response.ok) {
    $("status").textContent = `Not imported (${response.status}): nothing changed.`;
    $("errors").replaceChildren(...items(problems(result)));
    return;
  }
  await load(result.version.key);
  $("status").textContent = `Imported ${result.version.key} as draft version ${result.version.version}.`;
}

async function start() {
  const me = await fetch("/api/me", { credentials: "same-origin" });
  if (me.status === 401) { window.location.assign("/login"); return; }
  csrf = String((await me.json()).csrf_token);
  $("script").addEventListener("change", () => { clearMessages(); loadScript(); });
  $("version").addEventListener("change", () => loadScript($("version").value));
  $("body").addEventListener("change", () => {
    try { renderStages(JSON.parse($("body").value)); } catch { /* shown on save */ }
  });
  $("save-draft").addEventListener("click", saveDraft);
  $("preview-button").addEventListener("click", preview);
  $("publish").addEventListener("click", publish);
  $("retire").addEventListener("click", retire);
  $("add-variant").addEventListener("click", addVariant);
  $("save-release").addEventListener("click", saveRelease);
  $("campaign-form").addEventListener("submit", saveCampaign);
  $("delete-campaign").addEventListener("click", deleteCampaign);
  $("save-rules").addEventListener("click", saveRules);
  $("save-default").addEventListener("click", saveDefault);
  $("import-file").addEventListener("change", importFile);
  await load();
}

start();
