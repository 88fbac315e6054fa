// The statistics page: figures, funnel, ring histogram, costs, grades and the grading
// form. Every value from the server goes in through textContent (or a number into a
// style width): nothing from the data is ever parsed as markup.
"use strict";

let me = { role: "agent", agent_id: null, csrf_token: "" };
let form = null;
let lastRows = [];
let figuresAsked = 0; // only the newest request's answer is shown (answers can cross)

const $ = (id) => document.getElementById(id);

function el(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (className) node.className = className;
  return node;
}

function pct(value) {
  return value === null || value === undefined ? "—" : (value * 100).toFixed(1) + "%";
}

function num(value) {
  return value === null || value === undefined ? "—" : String(value);
}

async function getJson(path) {
  const response = await fetch(path, { credentials: "same-origin" });
  let body = {};
  try {
    body = await response.json();
  } catch (_) {
    body = {};
  }
  if (!response.ok) {
    const message = body.error || (body.errors || []).join("; ") || "HTTP " + response.status;
    throw new Error(message);
  }
  return body;
}

async function sendJson(method, path, payload) {
  const response = await fetch(path, {
    method,
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRF-Token": me.csrf_token },
    body: JSON.stringify(payload),
  });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    throw new Error(body.error || (body.errors || []).join("; ") || "HTTP " + response.status);
  }
  return body;
}

function fillTable(table, headers, rows) {
  const head = table.tHead;
  head.replaceChildren();
  const tr = el("tr");
  for (const header of headers) tr.appendChild(el("th", header));
  head.appendChild(tr);
  const body = table.tBodies[0];
  body.replaceChildren();
  if (!rows.length) {
    const empty = el("tr", null, "empty");
    const cell = el("td", "No data for this period");
    cell.colSpan = headers.length;
    empty.appendChild(cell);
    body.appendChild(empty);
    return;
  }
  for (const row of rows) {
    const line = el("tr");
    for (const value of row) line.appendChild(el("td", value));
    body.appendChild(line);
  }
}

function bars(container, items) {
  container.replaceChildren();
  const top = Math.max(1, ...items.map((item) => item.value));
  for (const item of items) {
    container.appendChild(el("span", item.label));
    const track = el("div", null, "bar-track");
    const bar = el("div", null, "bar");
    bar.style.width = ((100 * item.value) / top).toFixed(1) + "%";
    track.appendChild(bar);
    container.appendChild(track);
    container.appendChild(el("span", item.value));
  }
  if (!items.length) container.appendChild(el("span", "none"));
}

const FIGURE_HEADERS = [
  "Group", "Incoming", "Answered", "Service level", "Abandoned ringing", "Abandoned on hold",
  "Escalated", "Missed", "Effective", "Mean min", "Median min", "Holds", "Hold mean s",
  "Holds > 30 s", "Offers", "Pending", "Sales", "Conversion", "Next step dated",
  "Promises kept", "Recordings complete",
];

function figureRow(row) {
  const c = row.calls;
  const t = row.talk;
  const s = row.sales;
  return [
    row.key, c.incoming, c.answered_by_human, pct(c.service_level), c.abandoned_ringing,
    c.abandoned_on_hold, c.escalated, c.missed, t.effective, num(t.mean_min), num(t.median_min),
    t.holds, num(t.hold_mean_s), pct(t.holds_over_30s_share), s.offers, s.pending, s.sales,
    pct(s.conversion), pct(s.next_step_dated_share), pct(s.callbacks_kept_share),
    pct(row.recordings.complete_share),
  ];
}

function sum(rows, pick) {
  return rows.reduce((total, row) => total + pick(row), 0);
}

function merged(rows, pick) {
  const out = {};
  for (const row of rows) {
    for (const [key, value] of Object.entries(pick(row))) out[key] = (out[key] || 0) + value;
  }
  return out;
}

function params() {
  const query = new URLSearchParams();
  for (const id of ["since", "until", "group_by", "agent", "did", "min_talk_s"]) {
    const value = $(id).value.trim();
    if (value) query.set(id, value);
  }
  return query;
}

async function showFigures() {
  $("status").textContent = "";
  const asked = ++figuresAsked;
  let body;
  try {
    body = await getJson("/api/stats/figures?" + params().toString());
  } catch (error) {
    if (asked === figuresAsked) $("status").textContent = error.message;
    return;
  }
  if (asked !== figuresAsked) return;
  lastRows = body.rows.map(figureRow);
  fillTable($("figures"), FIGURE_HEADERS, lastRows);
  fillTable($("variants"),
    ["Script", "Version", "Variant", "Calls", "Offers", "Sales", "Next steps", "Lost", "Conversion", "95% interval"],
    (body.scripts || []).map((v) => [
      v.key, "v" + v.version, v.variant, v.calls, v.offers, v.sales, v.next_steps, v.lost,
      pct(v.conversion), v.ci95 ? pct(v.ci95[0]) + " – " + pct(v.ci95[1]) : "—",
    ]));
  const rows = body.rows;
  const overTime = ["day", "week", "month"].includes(body.query.group_by);
  $("series-section").hidden = !overTime;
  if (overTime) {
    bars($("series"), rows.map((r) => ({
      label: r.key + " · " + r.sales.sales + " sold", value: r.calls.incoming,
    })));
  }
  bars($("funnel"), [
    { label: "Incoming", value: sum(rows, (r) => r.calls.incoming) },
    { label: "Effective", value: sum(rows, (r) => r.talk.effective) },
    { label: "Offer", value: sum(rows, (r) => r.sales.offers) },
    { label: "Sale", value: sum(rows, (r) => r.sales.sales) },
  ]);
  const rings = merged(rows, (r) => r.calls.abandoned_at_ring);
  bars($("rings"), Object.keys(rings).sort((a, b) => a - b).map((ring) => ({
    label: "ring " + ring, value: rings[ring],
  })));
  const steps = merged(rows, (r) => r.calls.escalations_by_step);
  bars($("escalations"), Object.keys(steps).sort().map((step) => ({ label: step, value: steps[step] })));
  await Promise.all([showScores(), showCosts()]);
}

async function showScores() {
  const query = params();
  query.delete("did");
  query.delete("min_talk_s");
  const unit = query.get("group_by");
  query.set("group_by", ["day", "week", "month"].includes(unit) ? unit : "week");
  try {
    const body = await getJson("/api/stats/grades?" + query.toString());
    fillTable($("scores"), ["Agent", "Period", "Graded", "Mystery", "Score"], body.rows.map(
      (r) => [r.agent_id || "—", r.period, r.graded, r.mystery, pct(r.score)],
    ));
  } catch (error) {
    $("status").textContent = error.message;
  }
}

async function showCosts() {
  if (me.role === "agent") return;
  const since = ($("since").value || "").slice(0, 7);
  const until = ($("until").value || "").slice(0, 7);
  const query = new URLSearchParams();
  if (since) query.set("since", since);
  if (until) query.set("until", until);
  try {
    const body = await getJson("/api/stats/costs?" + query.toString());
    fillTable($("costs"), ["Month", "DID", "Spend", "Calls", "Sales", "Per call", "Per sale"],
      body.rows.map((r) => [
        r.month, r.did, r.spend === null ? "—" : r.spend + " " + r.currency, r.calls, r.sales,
        num(r.cost_per_call), num(r.cost_per_sale),
      ]));
  } catch (error) {
    $("status").textContent = error.message;
  }
}

function csv() {
  const quote = (value) => {
    let text = String(value);
    if (/^[=+\-@\t\r]/.test(text)) text = "'" + text; // no formulas in a spreadsheet
    return '"' + text.replaceAll('"', '""') + '"';
  };
  const lines = [FIGURE_HEADERS, ...lastRows].map((row) => row.map(quote).join(","));
  const blob = new Blob([lines.join("\r\n") + "\r\n"], { type: "text/csv" });
  const link = el("a");
  link.href = URL.createObjectURL(blob);
  link.download = "thirdring-figures.csv";
  link.click();
  URL.revokeObjectURL(link.href);
}

async function loadAgents() {
  const body = await getJson("/api/stats/agents");
  const select = $("agent");
  for (const agent of body.agents) {
    const option = el("option", agent.name + " (" + agent.id + ")");
    option.value = agent.id;
    select.appendChild(option);
  }
  if (me.role === "agent") {
    select.value = me.agent_id || "";
    select.disabled = true;
  }
}

function renderForm() {
  $("form-version").textContent = "version " + form.version;
  $("form-json").value = JSON.stringify(form.questions, null, 2);
  const box = $("questions");
  box.replaceChildren();
  for (const question of form.questions) {
    const set = el("fieldset", null, "question");
    set.appendChild(el("legend", (question.group ? question.group + ": " : "") + question.text));
    for (const [label, value] of [["yes", "true"], ["no", "false"], ["n/a", ""]]) {
      const wrap = el("label");
      const input = el("input");
      input.type = "radio";
      input.name = "q-" + question.id;
      input.value = value;
      if (value === "") input.checked = true;
      wrap.appendChild(input);
      wrap.appendChild(document.createTextNode(" " + label + " "));
      set.appendChild(wrap);
    }
    box.appendChild(set);
  }
  const scenario = $("scenario");
  scenario.replaceChildren(el("option", "—"));
  scenario.firstChild.value = "";
  for (const [key, text] of Object.entries(form.scenarios)) {
    const option = el("option", key);
    option.value = key;
    option.title = text;
    scenario.appendChild(option);
  }
}

async function saveForm() {
  let questions;
  try {
    questions = JSON.parse($("form-json").value);
  } catch (error) {
    $("status").textContent = "The questions are not valid JSON: " + error.message;
    return;
  }
  try {
    form = { ...(await sendJson("PUT", "/api/admin/grading/form", { questions })).form };
    $("status").textContent = "";
    renderForm();
  } catch (error) {
    $("status").textContent = error.message;
  }
}

async function openCall(callId) {
  $("status").textContent = "";
  const audio = $("audio");
  audio.hidden = true;
  try {
    const recording = await getJson("/api/calls/" + encodeURIComponent(callId) + "/recording");
    if (recording.audio_url) {
      audio.src = recording.audio_url;
      audio.hidden = false;
    }
  } catch (error) {
    $("status").textContent = "Recording: " + error.message;
  }
  await showRevisions(callId);
  $("grade").hidden = false;
}

async function showRevisions(callId) {
  try {
    const body = await getJson("/api/calls/" + encodeURIComponent(callId) + "/grades");
    fillTable($("revisions"), ["Revision", "Form", "Score", "Mystery", "By", "At", "Comment"],
      body.grades.map((g) => [
        g.revision, g.form_version, pct(g.score), g.mystery ? g.scenario || "yes" : "",
        g.who, g.at, g.comment,
      ]));
  } catch (error) {
    $("status").textContent = error.message;
  }
}

async function saveGrade() {
  const callId = $("call-id").value.trim();
  const answers = {};
  for (const question of form.questions) {
    const picked = document.querySelector('input[name="q-' + CSS.escape(question.id) + '"]:checked');
    answers[question.id] = !picked || picked.value === "" ? null : picked.value === "true";
  }
  try {
    await sendJson("POST", "/api/calls/" + encodeURIComponent(callId) + "/grades", {
      answers,
      form_version: form.version,
      mystery: $("mystery").checked,
      scenario: $("scenario").value,
      comment: $("comment").value,
    });
    $("status").textContent = "";
    await showRevisions(callId);
    await showScores();
  } catch (error) {
    $("status").textContent = error.message;
  }
}

async function saveSpend(target) {
  const data = new FormData(target);
  const payload = {};
  for (const key of ["did", "month", "amount", "currency"]) payload[key] = String(data.get(key) || "").trim();
  try {
    await sendJson("PUT", "/api/admin/spend", payload);
    $("status").textContent = "";
    await showCosts();
  } catch (error) {
    $("status").textContent = error.message;
  }
}

async function start() {
  try {
    me = await getJson("/api/me");
  } catch (_) {
    window.location.assign("/login");
    return;
  }
  $("user-name").textContent = me.user;
  $("user-role").textContent = me.role;
  const today = new Date();
  const week = new Date(today.getTime() - 6 * 86400000);
  $("until").value = today.toISOString().slice(0, 10);
  $("since").value = week.toISOString().slice(0, 10);
  $("filters").addEventListener("submit", (event) => {
    event.preventDefault();
    showFigures();
  });
  $("csv").addEventListener("click", csv);
  if (me.role !== "agent") {
    $("costs-section").hidden = false;
    $("grading-section").hidden = false;
    form = (await getJson("/api/grading/form")).form;
    renderForm();
    $("scenario").addEventListener("change", () => {
      $("scenario-text").textContent = form.scenarios[$("scenario").value] || "";
    });
    $("open-call").addEventListener("submit", (event) => {
      event.preventDefault();
      openCall($("call-id").value.trim());
    });
    $("grade").addEventListener("submit", (event) => {
      event.preventDefault();
      saveGrade();
    });
  }
  if (me.role === "admin") {
    $("form-editor").hidden = false;
    $("form-editor").addEventListener("submit", (event) => {
      event.preventDefault();
      saveForm();
    });
    $("spend").hidden = false;
    $("spend").addEventListener("submit", (event) => {
      event.preventDefault();
      saveSpend(event.target);
    });
  }
  await loadAgents();
  const call = new URLSearchParams(window.location.search).get("call");
  if (call && me.role !== "agent") {
    $("call-id").value = call;
    openCall(call);
  }
  await showFigures();
}

start();
