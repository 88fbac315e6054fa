// ThirdRing calls page: polls /api/calls and /healthz once a second, and listens on the
// WebSocket /ws: a pushed change of a live call or an agent polls at once; alarms are
// pushed (missed calls, unanswered calls, long holds).
// Caller names and numbers are attacker-controlled (Caller ID), so every value
// reaches the page through textContent / Text nodes and is never parsed as HTML.
"use strict";

const POLL_MS = 1000;
const TIMEOUT_MS = 5000;

/** Build an element; string children become Text nodes, so markup stays text. */
function el(tag, className, ...children) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  for (const child of children) {
    if (child !== null && child !== undefined) node.append(child);
  }
  return node;
}

function text(value, fallback = "—") {
  return value === null || value === undefined || value === "" ? fallback : String(value);
}

function seconds(value) {
  return typeof value === "number" && Number.isFinite(value) ? Math.floor(value).toString() : "—";
}

function timeOf(iso) {
  const when = new Date(iso);
  if (Number.isNaN(when.getTime())) return "—";
  const today = new Date().toDateString() === when.toDateString();
  return today ? when.toLocaleTimeString() : when.toLocaleString();
}

/** Name on one line (cut by CSS), number or "anonymous" under it. */
function callerCell(call) {
  const name = typeof call.caller_name === "string" ? call.caller_name : "";
  const number = call.caller_number ? String(call.caller_number) : "anonymous";
  const cell = el("td", "caller");
  if (name) {
    const nameLine = el("div", "caller-name", name);
    nameLine.title = name;
    cell.append(nameLine);
  }
  cell.append(el("div", call.caller_number ? "caller-number" : "caller-number anonymous", number));
  return cell;
}

function agentOf(call) {
  return text(call.agent_name || call.agent_id);
}

function emptyRow(columns, message) {
  const cell = el("td", null, message);
  cell.colSpan = columns;
  return el("tr", "empty", cell);
}

/** Everything before the agent answers is ringing, from the caller's side. */
function liveMode(call) {
  return call.phase === "talking" ? "talking" : "ringing";
}

function liveSeconds(call, nowMs) {
  const since = Date.parse(liveMode(call) === "talking" ? call.answered_at : call.arrived_at);
  return Number.isNaN(since) ? null : Math.max(0, (nowMs - since) / 1000);
}

/** The ring the caller hears now: ring k starts (k-1) cycles after ringing started. */
function ringNow(call, nowMs) {
  const since = Date.parse(call.ringing_since);
  if (Number.isNaN(since) || !(call.cycle_ms > 0)) return null;
  return 1 + Math.max(0, nowMs - since) / call.cycle_ms;
}

function ringText(ring, maxRings) {
  if (ring === null || ring === undefined) return "—";
  const limit = maxRings ? ` of ${maxRings}` : "";
  return `ring ${ring.toFixed(1)}${limit}`;
}

/** Recent call: the ring a human answered at, or the caller gave up at. */
function ringsOf(call) {
  if (call.answered_ring !== null && call.answered_ring !== undefined) {
    return ringText(call.answered_ring, call.max_rings);
  }
  if (call.abandoned_ring !== null && call.abandoned_ring !== undefined) {
    return `left at ${ringText(call.abandoned_ring, call.max_rings)}`;
  }
  return call.system_answered ? "system answered" : "—";
}

function liveRow(call, nowMs) {
  const mode = liveMode(call);
  const pill = el("span", `state state-${mode}`, mode);
  pill.title = `phase: ${text(call.phase, "unknown")}`;
  const row = el(
    "tr",
    null,
    el("td", null, pill),
    el("td", "did", text(call.did)),
    callerCell(call),
    el("td", "agent", agentOf(call)),
    el("td", "duration", call.hold && call.hold.since
      ? `on hold for ${seconds(Math.max(0, (nowMs - Date.parse(call.hold.since)) / 1000))} s`
      : `${mode} for ${seconds(liveSeconds(call, nowMs))} s`),
    el("td", "rings", mode === "ringing"
      ? (call.system_answered ? "in queue" : ringText(ringNow(call, nowMs), call.max_rings))
      : ringText(call.answered_ring, call.max_rings)),
  );
  row.dataset.callId = text(call.id, "");
  return row;
}

function recentRow(call) {
  const outcome = text(call.outcome, "");
  const row = el(
    "tr",
    null,
    el("td", "time", call.arrived_at ? timeOf(call.arrived_at) : "—"),
    el("td", "did", text(call.did)),
    callerCell(call),
    el("td", "agent", agentOf(call)),
    el("td", "num", seconds(call.ring_seconds)),
    el("td", "rings", ringsOf(call)),
    el("td", "num", seconds(call.talk_seconds)),
    el("td", null, el("span", `outcome outcome-${outcome.replace(/[^a-z_-]/gi, "")}`, text(outcome))),
    recordingCell(call.recording),
  );
  row.dataset.callId = text(call.id, "");
  return row;
}

/** The recording's check status and length, and a player when this user may hear it. */
function recordingCell(recording) {
  const cell = el("td", "recording");
  if (!recording || typeof recording !== "object") {
    cell.append("—");
    return cell;
  }
  const status = text(recording.status, "");
  const pill = el("span", `rec rec-${status.replace(/[^a-z_-]/gi, "")}`, status);
  if (recording.detail) pill.title = String(recording.detail);
  cell.append(pill);
  if (typeof recording.duration_s === "number") cell.append(` ${seconds(recording.duration_s)} s`);
  const url = recording.audio_url;
  if (typeof url === "string" && url.startsWith("/api/recordings/")) {
    const player = document.createElement("audio");
    player.controls = true;
    player.preload = "none";
    player.src = url;
    cell.append(player);
  }
  return cell;
}

let lastRecent = null;

function renderCalls(data) {
  const live = Array.isArray(data.live) ? data.live : [];
  const recent = Array.isArray(data.recent) ? data.recent : [];
  // The server's clock, so a browser with a wrong clock still counts right.
  const serverNow = Date.parse(data.now);
  const nowMs = Number.isNaN(serverNow) ? Date.now() : serverNow;

  const liveBody = document.querySelector("#live-calls tbody");
  const liveRows = live.map((call) => liveRow(call, nowMs));
  liveBody.replaceChildren(...(liveRows.length ? liveRows : [emptyRow(6, "No live calls")]));
  document.getElementById("live-count").textContent = live.length ? `(${live.length})` : "";

  // Recent calls rarely change: keep the rows (and any text selection) when equal.
  const recentKey = JSON.stringify(recent);
  if (recentKey !== lastRecent) {
    lastRecent = recentKey;
    const recentBody = document.querySelector("#recent-calls tbody");
    recentBody.replaceChildren(
      ...(recent.length ? recent.map(recentRow) : [emptyRow(9, "No calls yet")]),
    );
  }
}

function renderHealth(health) {
  const badge = document.getElementById("ari-state");
  const connected = health.ari === "connected";
  badge.textContent = connected ? "ARI connected" : "ARI disconnected";
  badge.className = connected ? "badge badge-ok" : "badge badge-bad";
  badge.title = `ARI state: ${text(health.ari, "unknown")}`;
  document.getElementById("db-state").hidden = health.db !== "error";
}

/** Session gone (expired, logged out elsewhere): back to the login page. */
function toLogin() {
  stopped = true;
  window.location.assign("/login");
}

async function getJSON(path) {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), TIMEOUT_MS);
  try {
    const response = await fetch(path, { cache: "no-store", signal: abort.signal });
    if (response.status === 401) toLogin();
    if (!response.ok) throw new Error(`${path}: HTTP ${response.status}`);
    return await response.json();
  } finally {
    clearTimeout(timer);
  }
}

let stopped = false;
let polling = null; // the poll in flight, so logging out can wait for it
let pollTimer = null;

/** Agents: state, why paused, and the button to pause or bring them back. */
function agentRow(agent) {
  const paused = agent.status === "paused";
  const button = el("button", "agent-toggle", paused ? "Available" : "Pause");
  button.type = "button";
  button.addEventListener("click", () => toggleAgent(agent, paused));
  const row = el(
    "tr",
    null,
    el("td", null, text(agent.name)),
    el("td", null, el("span", `state state-${String(agent.status).replace(/[^a-z]/g, "")}`, text(agent.status))),
    el("td", null, text(agent.pause_reason, "")),
    el("td", "num", String(agent.missed ?? 0)),
    el("td", null, button),
  );
  row.dataset.agentId = text(agent.id, "");
  return row;
}

async function toggleAgent(agent, paused) {
  const action = paused ? "unpause" : "pause";
  await fetch(`/api/agents/${encodeURIComponent(agent.id)}/${action}`, {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRF-Token": me ? String(me.csrf_token) : "" },
    body: paused ? "" : JSON.stringify({ reason: "break" }),
  });
}

function renderAgents(data) {
  const body = document.getElementById("agents").querySelector("tbody");
  const rows = data.agents.map(agentRow);
  body.replaceChildren(...(rows.length ? rows : [emptyRow(5, "No agents")]));
}

async function pollOnce() {
  const [calls, health, agents] = await Promise.allSettled([
    getJSON("/api/calls"), getJSON("/healthz"), getJSON("/api/agents"),
  ]);
  if (stopped) return;
  if (calls.status === "fulfilled") renderCalls(calls.value);
  if (health.status === "fulfilled") renderHealth(health.value);
  if (agents.status === "fulfilled") renderAgents(agents.value);
  // Keep the last data on screen, but say it is stale.
  document.getElementById("link-state").hidden =
    calls.status === "fulfilled" && health.status === "fulfilled";
}

async function poll() {
  if (stopped) return;
  polling = pollOnce();
  await polling;
  polling = null;
  if (!stopped) pollTimer = setTimeout(poll, POLL_MS); // after the answer: no pile-up
}

// Who is logged in, and the CSRF token every state-changing request must carry.
let me = null;

async function loadMe() {
  try {
    me = await getJSON("/api/me");
  } catch {
    return; // shown as "Service unreachable" by the poll; tried again on logout
  }
  document.getElementById("user-name").textContent = text(me.user, "");
  document.getElementById("user-role").textContent = text(me.role, "");
}

async function logOut() {
  const button = document.getElementById("logout");
  button.disabled = true;
  stopped = true;
  clearTimeout(pollTimer);
  if (polling) await polling;
  try {
    if (!me) await loadMe();
    const response = await fetch("/logout", {
      method: "POST",
      headers: { "X-CSRF-Token": me ? String(me.csrf_token) : "" },
      cache: "no-store",
      credentials: "same-origin",
    });
    if (response.ok || response.status === 401) {
      window.location.assign("/login");
      return;
    }
  } catch {
    // fall through: stay on the page and let the user try again
  }
  button.disabled = false;
  stopped = false;
  poll();
}

// --- pushed: live changes and alarms -------------------------------------------------

const MAX_ALARMS_SHOWN = 20;
let alarms = [];
let socketRetryMs = 500;
let pushedPoll = null;

function alarmText(alarm) {
  const who = alarm.agent_id ? ` — ${alarm.agent_id}` : "";
  const what = { missed_call: "missed call (auto-paused)", unanswered: "call not answered", long_hold: "hold too long" }[alarm.kind] || alarm.kind;
  return `${timeOf(alarm.at)} ${what}${who}${alarm.caller_number ? ` — ${alarm.caller_number}` : ""}`;
}

function renderAlarms() {
  const list = document.getElementById("alarms");
  const shown = alarms.slice(-MAX_ALARMS_SHOWN).reverse();
  const items = shown.map((alarm) => {
    const item = el("li", `alarm alarm-${String(alarm.kind).replace(/[^a-z_]/g, "")}`, alarmText(alarm));
    return item;
  });
  list.replaceChildren(...(items.length ? items : [el("li", "empty", "No alarms")]));
  document.getElementById("alarm-count").textContent = alarms.length ? `(${alarms.length})` : "";
}

function pollSoon() {
  if (stopped || pushedPoll) return;
  pushedPoll = setTimeout(async () => {
    pushedPoll = null;
    if (stopped || polling) return;
    polling = pollOnce();
    await polling;
    polling = null;
  }, 50);
}

function listen() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const socket = new WebSocket(`${scheme}://${location.host}/ws`);
  socket.addEventListener("open", () => { socketRetryMs = 500; });
  socket.addEventListener("message", (event) => {
    let message;
    try { message = JSON.parse(event.data); } catch { return; }
    if (message.type === "snapshot") {
      alarms = Array.isArray(message.alarms) ? message.alarms : [];
      renderAlarms();
    } else if (message.type === "alarm" && message.alarm) {
      alarms.push(message.alarm);
      renderAlarms();
    }
    if (["live_call", "live_call_ended", "agent"].includes(message.type)) pollSoon();
  });
  socket.addEventListener("close", (event) => {
    if (stopped) return;
    if (event.code === 4401) { window.location.assign("/login"); return; } // session ended
    setTimeout(listen, socketRetryMs);
    socketRetryMs = Math.min(socketRetryMs * 2, 5000);
  });
}

document.getElementById("logout").addEventListener("click", logOut);
loadMe();
poll();
listen();
