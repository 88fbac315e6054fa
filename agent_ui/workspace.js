// ThirdRing agent workspace: pops, the call, fields saved as typed, wrap-up.
// Fed by the WebSocket /ws (a snapshot on every connect, then pushes). Caller ID and
// typed text are untrusted: every value reaches the page through textContent / Text
// nodes or form values, never as HTML. A module (strict): the script panel is one too.
import { ScriptPanel } from "./script_panel.js";

const SAVE_DEBOUNCE_MS = 400;
const HOLD_WARN_S = 30;
const THANK_SHOW_MS = 15000;

const I18N = {
  en: {
    title: "ThirdRing — workspace", reconnecting: "Reconnecting…", calls_page: "Calls",
    language: "Language", logout: "Log out", incoming: "Incoming",
    no_pops: "No call is ringing for you.", current_call: "Call",
    hold: "Hold (Alt+H)", retrieve: "Retrieve (Alt+H)",
    hold_warning: "Hold is too long: go back to the caller now!",
    hold_offering: "The caller is hearing a callback offer (within 15 minutes): if they do not take it, they come back to you.",
    rec_on: "● Recording", rec_paused: "Recording paused", rec_none: "Not recorded",
    rec_pause: "Pause recording", rec_resume: "Resume recording",
    thank: "Thank the caller for waiting.",
    f_name: "Caller's name", f_needs: "Needs", q_what: "What for?", q_when: "By when?",
    q_budget: "Budget?", f_notes: "Notes", f_outcome: "Outcome (Alt+1…4)",
    o_none: "—", o_offer_made: "Offer made", o_pending_purchase: "Pending purchase",
    o_sale: "Sale", o_lost: "Lost", f_lost_reason: "Lost because", f_next_step: "Next step",
    f_next_step_at: "Next step at", wrapup: "Wrap-up: set the outcome, then you are available again",
    ready: "Ready (Alt+R)", returning: "returning", new_caller: "new caller", anonymous: "anonymous",
    rings_left: "rings left", last_calls: "Last calls", callbacks: "Open callbacks", crm: "From the CRM",
    pending_deals: "Pending deals", history_loading: "History loading…",
    h_date: "Date", h_agent: "Agent", h_duration: "Talked", h_outcome: "Outcome",
    h_notes: "Notes", h_next: "Next step", h_recording: "Recording", listen: "listen",
    saving: "Saving…", saved: "Saved", save_failed: "Not saved — retrying",
    ringing: "ringing", talking: "talking", ended: "ended", on_hold_for: "On hold for",
    s_available: "available", s_busy: "on a call", s_paused: "paused", s_wrapup: "wrap-up",
    demo_title: "DEMO — simulated desk phone", demo_answer: "Answer my desk phone",
    demo_hangup: "Hang up my desk phone", did: "Dialled", script: "Script",
    no_script: "no script matched", promise: "Promise a callback in 15 min",
    promised: "Callback promised for", promise_failed: "Could not save the promise",
    source: "Source", why: "Why", f_no_next_step: "No next step, because",
    outcome_needs_next: "Set a next step with a date and time first, or say why there is none.",
  },
  tr: {
    title: "ThirdRing — çalışma alanı", reconnecting: "Yeniden bağlanıyor…", calls_page: "Çağrılar",
    language: "Dil", logout: "Çıkış", incoming: "Gelen çağrılar",
    no_pops: "Size çalan çağrı yok.", current_call: "Görüşme",
    hold: "Beklet (Alt+H)", retrieve: "Geri al (Alt+H)",
    hold_warning: "Bekletme çok uzun: hemen arayana dönün!",
    hold_offering: "Arayana geri arama teklifi dinletiliyor (15 dakika içinde): kabul etmezse size geri döner.",
    rec_on: "● Kayıt yapılıyor", rec_paused: "Kayıt duraklatıldı", rec_none: "Kayıt yok",
    rec_pause: "Kaydı duraklat", rec_resume: "Kayda devam et",
    thank: "Beklediği için arayana teşekkür edin.",
    f_name: "Arayanın adı", f_needs: "İhtiyaçlar", q_what: "Ne için?", q_when: "Ne zamana?",
    q_budget: "Bütçe?", f_notes: "Notlar", f_outcome: "Sonuç (Alt+1…4)",
    o_none: "—", o_offer_made: "Teklif verildi", o_pending_purchase: "Satın alma bekleniyor",
    o_sale: "Satış", o_lost: "Kaybedildi", f_lost_reason: "Kayıp nedeni", f_next_step: "Sonraki adım",
    f_next_step_at: "Sonraki adım zamanı", wrapup: "Toparlama: sonucu girin, sonra tekrar müsaitsiniz",
    ready: "Hazırım (Alt+R)", returning: "tekrar arayan", new_caller: "yeni arayan", anonymous: "gizli numara",
    rings_left: "çalma kaldı", last_calls: "Son görüşmeler", callbacks: "Açık geri aramalar", crm: "CRM'den",
    pending_deals: "Bekleyen anlaşmalar", history_loading: "Geçmiş yükleniyor…",
    h_date: "Tarih", h_agent: "Temsilci", h_duration: "Süre", h_outcome: "Sonuç",
    h_notes: "Notlar", h_next: "Sonraki adım", h_recording: "Kayıt", listen: "dinle",
    saving: "Kaydediliyor…", saved: "Kaydedildi", save_failed: "Kaydedilemedi — tekrar deneniyor",
    ringing: "çalıyor", talking: "görüşmede", ended: "bitti", on_hold_for: "Beklemede",
    s_available: "müsait", s_busy: "görüşmede", s_paused: "mola", s_wrapup: "toparlama",
    demo_title: "DEMO — simüle masa telefonu", demo_answer: "Masa telefonumu aç",
    demo_hangup: "Masa telefonumu kapat", did: "Aranan numara", script: "Senaryo",
    no_script: "eşleşen senaryo yok", promise: "15 dk içinde geri arama sözü ver",
    promised: "Geri arama sözü:", promise_failed: "Söz kaydedilemedi",
    source: "Kaynak", why: "Neden", f_no_next_step: "Sonraki adım yok, çünkü",
    outcome_needs_next: "Önce tarih ve saatli bir sonraki adım girin ya da neden olmadığını yazın.",
  },
};

let lang = "tr";
let me = null;
let socket = null;
let retryMs = 500;
let skewMs = 0; // server clock - browser clock
const pops = new Map(); // call_id -> pop
let current = null; // {call, pop, ended}
let agentState = null;
let dirty = {};
let touched = new Set(); // fields typed in since this call appeared: the server's copy must not overwrite them
let saveTimer = null;
let thankUntil = 0;
let lastHold = null;
let answers = {}; // the call's captured answers (notes "answers"): legacy fields and the script's
let savedOutcome = ""; // the outcome as stored: a refused one goes back to it
let panel = null;
let scriptLoading = null; // the call whose script is being fetched

function t(key) { return (I18N[lang] && I18N[lang][key]) || I18N.en[key] || key; }

function el(tag, className, ...children) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  for (const child of children) if (child !== null && child !== undefined) node.append(child);
  return node;
}

function text(value, fallback = "—") {
  return value === null || value === undefined || value === "" ? fallback : String(value);
}

// Dates in pops as Date.prototype.toLocaleString() writes them (the browser's locale,
// date and time to the second), through one formatter made when the page loads: the
// first toLocaleString() in a page builds its formatter then and there (20 ms in a
// profile of this page, 85 ms in an empty one, Chromium on the bench machine), which
// made an agent's first pop render that much later.
const DATE_TIME = new Intl.DateTimeFormat(undefined, {
  year: "numeric", month: "numeric", day: "numeric", hour: "numeric", minute: "numeric", second: "numeric",
});

function dateTime(value) {
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? "Invalid Date" : DATE_TIME.format(date);
}

function serverNow() { return Date.now() + skewMs; }

function noteSkew(iso) {
  const at = Date.parse(iso);
  if (!Number.isNaN(at)) skewMs = at - Date.now();
}

function applyLang() {
  document.documentElement.lang = lang;
  for (const node of document.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
  document.getElementById("lang").value = lang;
  renderPops();
  renderCall();
  renderStatus();
  if (panel) panel.setLang(lang);
}

class ApiError extends Error {
  constructor(message, status) { super(message); this.status = status; }
}

async function api(method, path, body, keepalive = false) {
  const response = await fetch(path, {
    method,
    keepalive,
    cache: "no-store",
    headers: { "Content-Type": "application/json", "X-CSRF-Token": me ? String(me.csrf_token) : "" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!response.ok) {
    let message = `${method} ${path}: ${response.status}`;
    try {
      const error = await response.json();
      message = Array.isArray(error.problems) && error.problems.length ? error.problems.join("; ") : String(error.error || message);
    } catch { /* not JSON */ }
    throw new ApiError(message, response.status);
  }
  return response.json();
}

// --- the socket ----------------------------------------------------------------------

function connect() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  socket = new WebSocket(`${scheme}://${location.host}/ws`);
  socket.addEventListener("open", () => {
    retryMs = 500;
    document.getElementById("link-state").hidden = true;
  });
  socket.addEventListener("message", (event) => {
    let message;
    try { message = JSON.parse(event.data); } catch { return; }
    handle(message);
  });
  socket.addEventListener("close", async (event) => {
    document.getElementById("link-state").hidden = false;
    if (event.code === 4401 || (await loggedOut())) {
      location.assign("/login"); // the session ended (logout elsewhere, expiry)
      return;
    }
    setTimeout(connect, retryMs);
    retryMs = Math.min(retryMs * 2, 5000);
  });
}

async function loggedOut() {
  try {
    return (await fetch("/api/me", { cache: "no-store" })).status === 401;
  } catch {
    return false; // the service is unreachable: keep trying
  }
}

function handle(message) {
  switch (message.type) {
    case "snapshot": {
      if (message.now) noteSkew(message.now);
      pops.clear();
      for (const pop of message.pops || []) pops.set(pop.call_id, pop);
      if (message.agent) agentState = message.agent;
      if (message.call) showCall(message.call.call, message.call.pop, false);
      else if (message.ended_call) showCall(message.ended_call.call, message.ended_call.pop, true);
      else current = null;
      break;
    }
    case "pop":
    case "pop_update":
      noteSkew(message.pop.now);
      pops.set(message.pop.call_id, message.pop);
      window.__popShownAt = window.__popShownAt || {};
      window.__popShownAt[message.pop.call_id] = performance.timeOrigin + performance.now();
      break;
    case "pop_withdrawn":
      pops.delete(message.call_id);
      break;
    case "call":
      if (message.pop) noteSkew(message.pop.now);
      pops.delete(message.call.id);
      showCall(message.call, message.pop, false);
      break;
    case "call_ended":
      if (message.pop) noteSkew(message.pop.now);
      showCall(message.call, message.pop, true);
      break;
    case "agent":
      agentState = message.agent;
      break;
    default:
      return;
  }
  renderPops();
  renderCall();
  renderStatus();
}

// --- pops ------------------------------------------------------------------------------

function ringsLeft(ring) {
  if (!ring || !ring.ringing_since || !ring.cycle_ms || ring.max_rings == null) return null;
  const elapsed = serverNow() - Date.parse(ring.ringing_since);
  return Math.max(ring.max_rings - elapsed / ring.cycle_ms, 0);
}

// The external CRM's fields (somebody else's data: text nodes only, like Caller ID).
function crmBlock(pop) {
  const fields = Object.entries(pop.crm || {});
  if (!fields.length) return null;
  const list = el("dl", "crm");
  for (const [key, value] of fields) list.append(el("dt", null, key), el("dd", null, value));
  return el("div", "crm-box", el("strong", null, t("crm")), list);
}

function historyTable(pop) {
  const box = el("div", "history");
  const crm = crmBlock(pop);
  if (crm) box.append(crm);
  if (!pop.history_ready) {
    box.append(el("p", "muted", t("history_loading")));
    return box;
  }
  if (pop.last_calls.length) {
    const head = el("tr", null, ...["h_date", "h_agent", "h_duration", "h_outcome", "h_notes", "h_next", "h_recording"].map((k) => el("th", null, t(k))));
    const rows = pop.last_calls.map((c) => {
      const outcome = c.outcome ? t(`o_${c.outcome}`) + (c.lost_reason ? ` (${c.lost_reason})` : "") : text(c.call_outcome);
      const next = c.next_step || c.next_step_at ? `${text(c.next_step, "")} ${c.next_step_at ? dateTime(c.next_step_at) : ""}`.trim() : "—";
      let rec = el("td", null, "—");
      if (c.recording_url) {
        const link = el("a", null, t("listen"));
        link.href = c.recording_url; // our own path, built by the server from the call id
        rec = el("td", null, link);
      }
      return el("tr", "past-call",
        el("td", "past-date", dateTime(c.at)),
        el("td", "past-agent", text(c.agent_name || c.agent_id)),
        el("td", null, c.duration_s == null ? "—" : `${Math.round(c.duration_s)} s`),
        el("td", "past-outcome", outcome),
        el("td", "past-notes", text(c.notes)),
        el("td", "past-next", next),
        rec);
    });
    box.append(el("strong", null, t("last_calls")), el("table", null, el("thead", null, head), el("tbody", null, ...rows)));
  }
  if (pop.pending_deals.length) box.append(el("p", "pending", `${t("pending_deals")}: ${pop.pending_deals.length}`));
  if (pop.callbacks.length) {
    box.append(el("p", "callbacks", `${t("callbacks")}: `, ...pop.callbacks.map((cb) => el("span", "callback", dateTime(cb.due_at) + " "))));
  }
  return box;
}

function callerBlock(pop) {
  const caller = pop.caller;
  const name = el("div", "caller-name", caller.name || caller.display_number || t("anonymous"));
  name.title = caller.name || "";
  const number = el("div", "caller-number", caller.anonymous ? t("anonymous") : caller.display_number);
  const tags = el("div", "tags",
    el("span", caller.returning ? "returning" : "new", caller.returning ? t("returning") : t("new_caller")),
    el("span", "did", `${t("did")}: ${text(pop.did)}`),
    pop.source && pop.source !== pop.did ? el("span", "source", `${t("source")}: ${pop.source}`) : null,
    el("span", "script", `${t("script")}: ${pop.script ? `${pop.script.name} v${pop.script.version} ${pop.script.variant}` : t("no_script")}`));
  const why = pop.script ? el("div", "script-reason", `${t("why")}: ${(pop.script.reason || []).join(" → ")}`) : null;
  return [name, number, tags, why];
}

function renderPops() {
  const box = document.getElementById("pops");
  const cards = [...pops.values()].map((pop) => {
    const left = ringsLeft(pop.ring);
    const countdown = el("div", "countdown", left === null ? "" : `${left.toFixed(1)} ${t("rings_left")}`);
    const card = el("article", "pop", ...callerBlock(pop), countdown, historyTable(pop));
    card.dataset.callId = pop.call_id;
    return card;
  });
  if (!cards.length) cards.push(el("p", "empty", t("no_pops")));
  box.replaceChildren(...cards);
}

// --- the call ----------------------------------------------------------------------------

async function showCall(call, pop, ended) {
  const fresh = !current || current.call.id !== call.id;
  // The talk timer: from answered_at, else from when this page first saw the call talking.
  let since = call.answered_at ? Date.parse(call.answered_at) : fresh ? null : current.since;
  if (since === null && call.phase === "talking") since = serverNow();
  current = { call, pop, ended, since };
  if (call.hold) lastHold = call.hold;
  else if (lastHold && call.phase === "talking") { lastHold = null; thankUntil = Date.now() + THANK_SHOW_MS; }
  if (call.hold_retrieved) thankUntil = Math.max(thankUntil, Date.now() + THANK_SHOW_MS);
  if (fresh) {
    dirty = {};
    touched = new Set();
    answers = {};
    savedOutcome = "";
    panel.clear();
    scriptLoading = call.id; // until its script is shown (below), updates do not fetch it
    document.getElementById("promise-state").textContent = "";
    document.getElementById("outcome-problem").textContent = "";
    fillFields({});
    try { fillFields(await api("GET", `/api/calls/${encodeURIComponent(call.id)}/notes`)); } catch { /* shown empty */ }
    if (!document.getElementById("f-name").value && pop && pop.caller.name) {
      document.getElementById("f-name").placeholder = pop.caller.name;
    }
    await loadScript(call.id, pop);
  } else if (pop && pop.script && scriptLoading !== call.id && !sameScript(pop.script, panel.script)) {
    await loadScript(call.id, pop); // the store kept another script for this call
  }
  renderCall();
  renderRecording();
}

// --- the recording indicator ------------------------------------------------------------
// The call's recording as its pushed state says ("on" from the answer, "paused" while
// muted); the toggle asks the server, and the next push shows the result.

function renderRecording() {
  const state = document.getElementById("rec-state");
  const toggle = document.getElementById("rec-toggle");
  const rec = current && !current.ended ? current.call.recording : null;
  state.hidden = !current || current.ended || current.call.phase !== "talking";
  toggle.hidden = !rec;
  state.dataset.state = rec || "none";
  state.textContent = t(rec === "paused" ? "rec_paused" : rec === "on" ? "rec_on" : "rec_none");
  toggle.textContent = t(rec === "paused" ? "rec_resume" : "rec_pause");
}

async function toggleRecording() {
  if (!current || !current.call.recording) return;
  const action = current.call.recording === "paused" ? "resume" : "pause";
  try {
    await api("POST", `/api/calls/${encodeURIComponent(current.call.id)}/recording/${action}`);
  } catch (error) {
    document.getElementById("rec-state").textContent = String(error.message || error);
  }
}

function sameScript(a, b) {
  return Boolean(a && b) && a.key === b.key && a.version === b.version && a.variant === b.variant;
}

/** The call's script and the agent's marks on it (so a reload restores the panel). */
async function loadScript(callId, pop) {
  scriptLoading = callId;
  try { await showScript(callId, pop); } finally { if (scriptLoading === callId) scriptLoading = null; }
}

async function showScript(callId, pop) {
  let data = null;
  if (pop && pop.script) { // the pop says whether the call has a script
    try { data = await api("GET", `/api/calls/${encodeURIComponent(callId)}/script`); } catch {
      data = { script: pop.script, progress: {}, values: {} };
    }
  }
  if (!current || current.call.id !== callId) return;
  if (data) panel.show(callId, data, answers); else panel.clear();
  callerForPanel();
  document.getElementById("no-next-step-row").hidden = !panel.requiresNextStep();
  document.getElementById("f-no-next-step").value = panel.reason || "";
}

function callerForPanel() {
  if (!current || !current.pop) return;
  const caller = current.pop.caller;
  const typed = document.getElementById("f-name").value.trim();
  panel.setCaller({ name: typed || caller.name || "", number: caller.display_number || "" });
}

function fillFields(note) {
  const set = (id, value) => {
    const input = document.getElementById(id);
    if (!touched.has(input.dataset.answer ? "answers" : input.name)) input.value = value || "";
  };
  set("f-name", note.name); set("f-needs", note.needs); set("f-notes", note.notes);
  set("f-outcome", note.outcome); set("f-lost-reason", note.lost_reason); set("f-next-step", note.next_step);
  if (!touched.has("answers")) {
    answers = { ...(note.answers || {}) };
    for (const input of document.querySelectorAll("[data-answer]")) input.value = answers[input.dataset.answer] || "";
    if (panel) panel.setAnswers(answers);
  }
  if (!touched.has("outcome")) savedOutcome = note.outcome || "";
  const at = note.next_step_at ? new Date(note.next_step_at) : null;
  set("f-next-step-at", at ? new Date(at.getTime() - at.getTimezoneOffset() * 60000).toISOString().slice(0, 16) : "");
  document.getElementById("lost-row").hidden = document.getElementById("f-outcome").value !== "lost";
}

function renderCall() {
  const panel = document.getElementById("call");
  if (!current) { panel.hidden = true; return; }
  panel.hidden = false;
  const { call, pop, ended } = current;
  document.getElementById("call-state").textContent = t(ended ? "ended" : call.phase === "talking" ? "talking" : "ringing");
  if (pop) {
    document.getElementById("call-name").textContent = pop.caller.name || pop.caller.display_number || t("anonymous");
    document.getElementById("call-number").textContent = pop.caller.anonymous ? t("anonymous") : pop.caller.display_number;
    document.getElementById("call-did").textContent = `${t("did")}: ${text(pop.did)}`;
    document.getElementById("call-history").replaceChildren(historyTable(pop));
    if (panel.callId === call.id && panel.caller.number !== (pop.caller.display_number || "")) callerForPanel();
  }
  tick();
}

function tick() {
  if (current) {
    const { call, ended } = current;
    const start = current.since;
    const timer = document.getElementById("call-timer");
    timer.textContent = start && !ended ? clock((serverNow() - start) / 1000) : "";
    const hold = ended ? null : call.hold;
    const holdS = hold ? Math.max(0, (serverNow() - Date.parse(hold.since)) / 1000) : 0;
    document.getElementById("hold").hidden = Boolean(hold) || ended;
    document.getElementById("retrieve").hidden = !hold;
    // At the hold's limit the caller may be hearing a callback offer: its end decides.
    document.getElementById("retrieve").disabled = Boolean(hold && hold.offering);
    document.getElementById("hold-offering").hidden = !(hold && hold.offering);
    const holdTimer = document.getElementById("hold-timer");
    holdTimer.hidden = !hold;
    holdTimer.textContent = hold ? `${t("on_hold_for")} ${Math.floor(holdS)} s` : "";
    const warning = Boolean(hold && (hold.warned || holdS >= HOLD_WARN_S));
    document.getElementById("hold-warning").hidden = !warning;
    if (warning && hold.since !== beepedFor) {  // loud: a sound too, once per hold
      beepedFor = hold.since;
      beep();
    }
    document.getElementById("thank-reminder").hidden = Boolean(hold) || Date.now() > thankUntil;
  }
  for (const card of document.querySelectorAll("#pops .pop")) {
    const pop = pops.get(card.dataset.callId);
    const left = pop ? ringsLeft(pop.ring) : null;
    if (left !== null) card.querySelector(".countdown").textContent = `${left.toFixed(1)} ${t("rings_left")}`;
  }
}

function clock(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

function renderStatus() {
  const badge = document.getElementById("agent-status");
  const status = agentState ? agentState.status : null;
  badge.textContent = status ? t(`s_${status}`) + (agentState.pause_reason ? ` (${agentState.pause_reason})` : "") : "…";
  badge.className = `badge ${status === "available" ? "badge-ok" : status === "wrapup" ? "badge-warn" : "badge-unknown"}`;
  badge.dataset.status = status || "";
  document.getElementById("wrapup").hidden = status !== "wrapup";
}

// --- saving as typed -----------------------------------------------------------------------

function setAnswer(key, value) {
  if (value) answers[key] = value; else delete answers[key];
  // The same answer may have two inputs (a fixed field and the script's): both show it.
  for (const other of document.querySelectorAll("[data-answer]")) {
    if (other.dataset.answer === key && other.value !== value) other.value = value;
  }
  return ["answers", { ...answers }];
}

function fieldValue(input) {
  if (input.dataset.answer) return setAnswer(input.dataset.answer, input.value);
  if (input.name === "next_step_at") {
    return ["next_step_at", input.value ? new Date(input.value).toISOString() : null];
  }
  if (input.name === "outcome" || input.name === "lost_reason") return [input.name, input.value || null];
  return [input.name, input.value];
}

function onField(event) {
  if (!current) return;
  if (event.target.dataset.mark === "no_next_step_reason") { // the script's marks, not notes
    panel.setReason(event.target.value.trim());
    return;
  }
  const [key, value] = fieldValue(event.target);
  if (key === "outcome" && value && panel.outcomeProblem()) {
    refuseOutcome(t("outcome_needs_next"));
    return;
  }
  if (key === "outcome") {
    if ((value || "") === savedOutcome && !("outcome" in dirty)) return; // e.g. the refused one's change event
    document.getElementById("outcome-problem").textContent = "";
  }
  queue(key, value, event.type === "change" && key === "outcome" ? 0 : SAVE_DEBOUNCE_MS);
  if (key === "name") callerForPanel();
  if (key === "next_step" || key === "next_step_at") panel.refreshClose();
}

/** The close stage's rule: no outcome before a next step (the server refuses it too). */
function refuseOutcome(message) {
  const select = document.getElementById("f-outcome");
  select.value = savedOutcome;
  delete dirty.outcome;
  document.getElementById("lost-row").hidden = select.value !== "lost";
  const problem = document.getElementById("outcome-problem");
  problem.textContent = message;
  problem.hidden = false;
}

function queue(key, value, delayMs = SAVE_DEBOUNCE_MS) {
  dirty[key] = value;
  touched.add(key);
  document.getElementById("lost-row").hidden = document.getElementById("f-outcome").value !== "lost";
  document.getElementById("save-state").textContent = t("saving");
  clearTimeout(saveTimer);
  saveTimer = setTimeout(save, delayMs);
}

async function save() {
  if (!current || !Object.keys(dirty).length) return;
  const sending = dirty;
  dirty = {};
  const state = document.getElementById("save-state");
  const callId = current.call.id;
  try {
    if ("outcome" in sending) await panel.flush(); // a no-next-step reason just typed goes first
    await api("PUT", `/api/calls/${encodeURIComponent(callId)}/notes`, sending);
    if ("outcome" in sending) savedOutcome = sending.outcome || "";
    state.textContent = Object.keys(dirty).length ? t("saving") : t("saved");
    state.dataset.saved = "yes";
  } catch (error) {
    if (error.status === 422 && "outcome" in sending) { // the outcome refused: the rest goes on
      const { outcome: _refused, ...rest } = sending;
      refuseOutcome(error.message);
      dirty = { ...rest, ...dirty };
      if (Object.keys(dirty).length) saveTimer = setTimeout(save, 0);
      else state.textContent = "";
      return;
    }
    dirty = { ...sending, ...dirty };
    state.textContent = t("save_failed");
    saveTimer = setTimeout(save, 2000);
  }
}

function flushOnLeave() {
  if (panel) panel.flush(true);
  if (!current || !Object.keys(dirty).length) return;
  fetch(`/api/calls/${encodeURIComponent(current.call.id)}/notes`, {
    method: "PUT", keepalive: true,
    headers: { "Content-Type": "application/json", "X-CSRF-Token": me ? String(me.csrf_token) : "" },
    body: JSON.stringify(dirty),
  });
  dirty = {};
}

// --- actions ----------------------------------------------------------------------------------

async function holdOrRetrieve() {
  if (!current || current.ended) return;
  const action = current.call.hold ? "retrieve" : "hold";
  try { await api("POST", `/api/calls/${encodeURIComponent(current.call.id)}/${action}`, {}); } catch { /* the snapshot tells */ }
}

/** "I'll call you back in 15 minutes": a callback task that belongs to this agent. */
let beepedFor = null;

/** Three short tones: the caller has been on hold too long. */
function beep() {
  try {
    const audio = new AudioContext();
    for (let i = 0; i < 3; i += 1) {
      const tone = audio.createOscillator();
      tone.frequency.value = 880;
      tone.connect(audio.destination);
      tone.start(audio.currentTime + i * 0.3);
      tone.stop(audio.currentTime + i * 0.3 + 0.15);
    }
  } catch { /* no audio output: the banner still shows */ }
}

async function promiseCallback() {
  const state = document.getElementById("promise-state");
  if (!current || !current.pop || !current.pop.caller.number) return;
  try {
    const task = await api("POST", "/api/callbacks", {
      number: current.pop.caller.number, did: current.call.did, promise: true, call_id: current.call.id,
    });
    state.textContent = `${t("promised")} ${new Date(task.due_at).toLocaleTimeString()}`;
    state.dataset.taskId = String(task.id);
  } catch {
    state.textContent = t("promise_failed");
  }
}

async function ready() {
  if (!me || !me.agent_id) return;
  await save();
  try { agentState = await api("POST", `/api/agents/${encodeURIComponent(me.agent_id)}/ready`, {}); } catch { /* pushed */ }
  renderStatus();
}

function setOutcome(index) {
  const select = document.getElementById("f-outcome");
  select.selectedIndex = index;
  select.dispatchEvent(new Event("change", { bubbles: true }));
}

function onKey(event) {
  if (!event.altKey) return;
  const key = event.key.toLowerCase();
  if (key === "h") { event.preventDefault(); holdOrRetrieve(); }
  else if (key === "r") { event.preventDefault(); ready(); }
  else if (key === "n") { event.preventDefault(); panel.next(); }
  else if (["1", "2", "3", "4"].includes(key)) { event.preventDefault(); setOutcome(Number(key)); }
}

async function demo(action) {
  const state = document.getElementById("demo-state");
  try { state.textContent = (await api("POST", `/api/demo/phone/${action}`, {})).result; } catch (error) { state.textContent = String(error.message); }
}

async function start() {
  me = await api("GET", "/api/me");
  document.getElementById("user-name").textContent = me.user || "";
  try { lang = (await api("GET", "/api/me/prefs")).lang || "tr"; } catch { /* default */ }
  applyLang();
  connect();
  try { document.getElementById("demo-controls").hidden = !(await api("GET", "/api/demo/phone")).enabled; } catch { /* not a demo */ }
}

panel = new ScriptPanel(document.getElementById("script-panel"), {
  api,
  lang,
  onAnswer: (key, value) => {
    if (!current) return;
    const [field, all] = setAnswer(key, value);
    queue(field, all);
  },
  nextStepState: () => ({
    next_step: document.getElementById("f-next-step").value,
    next_step_at: document.getElementById("f-next-step-at").value,
  }),
});
const form = document.getElementById("fields");
form.addEventListener("input", onField);
form.addEventListener("change", onField);
form.addEventListener("submit", (event) => event.preventDefault());
document.getElementById("hold").addEventListener("click", holdOrRetrieve);
document.getElementById("retrieve").addEventListener("click", holdOrRetrieve);
document.getElementById("ready").addEventListener("click", ready);
document.getElementById("promise-callback").addEventListener("click", promiseCallback);
document.getElementById("rec-toggle").addEventListener("click", toggleRecording);
document.getElementById("demo-answer").addEventListener("click", () => demo("answer"));
document.getElementById("demo-hangup").addEventListener("click", () => demo("hangup"));
document.getElementById("lang").addEventListener("change", async (event) => {
  lang = event.target.value === "en" ? "en" : "tr";
  applyLang();
  try { await api("PUT", "/api/me/prefs", { lang }); } catch { /* kept for this page */ }
});
document.getElementById("logout").addEventListener("click", async () => {
  try { await fetch("/logout", { method: "POST", headers: { "X-CSRF-Token": me ? String(me.csrf_token) : "" } }); } finally { location.assign("/login"); }
});
document.addEventListener("keydown", onKey);
window.addEventListener("pagehide", flushOnLeave);
setInterval(tick, 250);
start();
