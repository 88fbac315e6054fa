// The script panel of the agent's workspace: the call's script as a guide (issue 7).
// Stages in order (the current one highlighted), the words to say rendered with the
// call's values, hints, typed answers captured into the call's notes, clarifying
// questions counted by kind, the price-question counter and its advice, the "contacts
// before price" warning, the summary pre-filled from the answers, the objection library,
// and what the close stage needs before the outcome.
//
// Every value reaches the page as text (textContent, Text nodes, form values), never as
// markup: script_template.js renders to a plain string and that string is set as text.
import { cleanValue, render } from "./script_template.js";

const MAX_QUESTIONS = 7; // the playbook's limit (telephony/scripts/model.py MAX_QUESTIONS)
const MARKS_DEBOUNCE_MS = 300;
const KINDS = ["technical", "expertise", "motivation"];

// The panel's own labels follow the UI language; the script's words are the script's.
const LABELS = {
  en: {
    script: "Script", why: "Why this script", stages: "Stages", next: "Next stage (Alt+N)",
    back: "Back", last_stage: "Last stage", say: "Say", hints: "Hints", capture: "Write down",
    questions: "Clarifying questions", asked: "asked", technical: "technical",
    expertise: "expertise", motivation: "motivation", price_ask: "Caller asked the price",
    insists: "insists", deflect: "Deflect: give the range, say what it depends on, then ask a question",
    answer_now: "Answer now: name the price", asks_of: "ask", contacts_first:
      "Contacts before price: take the caller's phone number before naming the price",
    summary: "Summary to confirm", objections: "Objections", close_needs:
      "Before the outcome: a next step with a date and time, or a reason for no next step",
    next_step_ok: "Next step agreed", next_step_missing: "No next step with date and time yet",
    next_step_incomplete: "A next step needs both what and when (a date and a time)",
    no_next_step_given: "No next step, because", to_fields: "Go to the next step fields",
    invalid: "Not saved: check the value", none: "No script for this call",
    required: "required", choose: "—", over_limit: "more than the playbook's 7",
    marks_failed: "Script marks not saved — retrying",
  },
  tr: {
    script: "Senaryo", why: "Neden bu senaryo", stages: "Aşamalar", next: "Sonraki aşama (Alt+N)",
    back: "Geri", last_stage: "Son aşama", say: "Söyleyin", hints: "İpuçları", capture: "Not alın",
    questions: "Netleştirici sorular", asked: "soruldu", technical: "teknik",
    expertise: "uzmanlık", motivation: "motivasyon", price_ask: "Arayan fiyatı sordu",
    insists: "ısrar ediyor", deflect: "Erteleyin: aralığı verin, neye bağlı olduğunu söyleyin, sonra soru sorun",
    answer_now: "Şimdi cevaplayın: fiyatı söyleyin", asks_of: "soru", contacts_first:
      "Fiyattan önce iletişim: fiyatı söylemeden önce arayanın telefonunu alın",
    summary: "Onaylatılacak özet", objections: "İtirazlar", close_needs:
      "Sonuçtan önce: tarih ve saatli bir sonraki adım ya da sonraki adım olmama nedeni",
    next_step_ok: "Sonraki adım kararlaştırıldı", next_step_missing: "Henüz tarih ve saatli sonraki adım yok",
    next_step_incomplete: "Sonraki adımın hem ne hem ne zaman (tarih ve saat) olmalı",
    no_next_step_given: "Sonraki adım yok, çünkü", to_fields: "Sonraki adım alanlarına git",
    invalid: "Kaydedilmedi: değeri kontrol edin", none: "Bu çağrı için senaryo yok",
    required: "zorunlu", choose: "—", over_limit: "oyun kitabının 7 sınırının üstünde",
    marks_failed: "Senaryo işaretleri kaydedilemedi — tekrar deneniyor",
  },
};

// The summary's frame, in the script's language: the twin of telephony/scripts/guidance.py
// `summary` (opening with / without the name, closing question).
const SUMMARY = {
  en: ["So, {name}, you need:", "So you need:", "Is that correct?"],
  tr: ["{name}, özetlersem ihtiyacınız:", "Özetlersem ihtiyacınız:", "Doğru mu?"],
};
const SUMMARY_SOURCES = new Set(["first_question", "needs"]);

function el(tag, className, ...children) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  for (const child of children) if (child !== null && child !== undefined && child !== false) node.append(child);
  return node;
}

/** Where a stage leads: the first branch whose field has its value, else `next`, else
 * the following stage; null after the last. */
export function nextStage(body, stageId, answers) {
  const index = body.stages.findIndex((s) => s.id === stageId);
  if (index < 0) return body.stages.length ? body.stages[0].id : null;
  const stage = body.stages[index];
  for (const branch of stage.branches || []) {
    const answer = answers[branch.field];
    if (typeof answer === "string" && same(answer, branch.equals)) return branch.to;
  }
  if (stage.next) return stage.next;
  return index + 1 < body.stages.length ? body.stages[index + 1].id : null;
}

function same(answer, expected) {
  return answer.trim().toLowerCase() === expected.trim().toLowerCase();
}

/** Questions asked, per kind, against the limit (7, or all the questions of a needs
 * stage that explicitly allows more). */
export function questionCount(body, asked) {
  const byKind = Object.fromEntries(KINDS.map((k) => [k, 0]));
  let total = 0;
  let limit = MAX_QUESTIONS;
  for (const stage of body.stages) {
    for (const q of stage.questions || []) {
      if (asked.has(q.key)) { byKind[q.kind] += 1; total += 1; }
    }
    if (stage.kind === "needs" && stage.allow_more_questions) limit = Math.max(limit, stage.questions.length);
  }
  return { total, byKind, limit, over: total > limit };
}

/** "answer" when the price is due (the N-th direct ask, or the caller insists), else
 * "deflect" once asked; null before any ask. */
export function priceAdvice(body, asks, insists) {
  const due = (body.price && body.price.answer_on_ask) || 3;
  if (insists || asks >= due) return "answer";
  return asks > 0 ? "deflect" : null;
}

/** "So you need: ... Is that correct?" as lines: an opening (with the caller's name), one
 * "label: answer" per answered field of the first-question and needs stages, the
 * closing question; none before anything was answered. */
export function summaryLines(body, answers, callerName) {
  const lines = [];
  for (const stage of body.stages) {
    if (!SUMMARY_SOURCES.has(stage.kind)) continue;
    for (const field of stage.captures || []) {
      if (field.key === body.contact_field) continue;
      const answer = cleanValue(answers[field.key]);
      if (answer) lines.push(`${field.label}: ${answer}`);
    }
  }
  if (!lines.length) return [];
  const [withName, without, closing] = SUMMARY[body.language] || SUMMARY.en;
  const name = cleanValue(callerName);
  return [name ? withName.replace("{name}", name) : without, ...lines, closing];
}

/** Why the outcome cannot be saved yet (null: it can), as guidance.py's outcome_problems:
 * a next step needs both what and when; else a reason for none. */
export function nextStepProblem(body, nextStep, nextStepAt, reason) {
  if (!body) return null;
  const step = (nextStep || "").trim();
  const when = (nextStepAt || "").trim();
  const why = (reason || "").trim();
  if (step || when) {
    return !step || !when ? "incomplete" : null; // a reason typed too is simply not needed
  }
  return body.require_next_step !== false && !why ? "missing" : null;
}

export class ScriptPanel {
  /**
   * root: the panel's element. api(method, path, body): the page's fetch helper.
   * onAnswer(key, value): a captured answer changed (saved with the call's notes).
   * nextStepState(): {next_step, next_step_at} as typed in the page's fields.
   */
  constructor(root, { api, onAnswer, nextStepState, lang }) {
    this.root = root;
    this.pending = {};
    this.inflight = Promise.resolve(null);
    this.api = api;
    this.onAnswer = onAnswer;
    this.nextStepState = nextStepState;
    this.lang = lang || "tr";
    this.clear();
  }

  t(key) { return (LABELS[this.lang] && LABELS[this.lang][key]) || LABELS.en[key] || key; }

  clear() {
    if (this.callId && Object.keys(this.pending).length) this.flush(); // sent, not dropped
    this.callId = null;
    this.script = null;
    this.stage = null;
    this.trail = [];
    this.asked = new Set();
    this.priceAsks = 0;
    this.insists = false;
    this.reason = "";
    this.values = {};
    this.caller = { name: "", number: "" };
    this.answers = {};
    this.nameField = null;
    this.objection = null;
    this.pending = {};
    clearTimeout(this.timer);
    this.root.hidden = true;
    this.root.replaceChildren();
  }

  /** A call's script as GET /api/calls/{id}/script returns it. */
  show(callId, data, answers) {
    this.clear();
    this.callId = callId;
    this.script = data.script || null;
    this.values = data.values || {};
    this.answers = answers || {};
    const progress = data.progress || {};
    if (this.script) {
      // The name the caller gives (the name stage's first field) is {caller.name} from then on.
      const nameStage = this.script.body.stages.find((st) => st.kind === "name");
      this.nameField = nameStage && nameStage.captures.length ? nameStage.captures[0].key : null;
      const ids = this.script.body.stages.map((s) => s.id);
      this.stage = ids.includes(progress.stage) ? progress.stage : ids[0];
      this.asked = new Set(Array.isArray(progress.questions) ? progress.questions : []);
      this.priceAsks = Number.isInteger(progress.price_asks) ? progress.price_asks : 0;
      this.insists = progress.insists === true;
      this.reason = typeof progress.no_next_step_reason === "string" ? progress.no_next_step_reason : "";
    }
    this.render();
  }

  get body() { return this.script ? this.script.body : null; }

  requiresNextStep() { return Boolean(this.body && this.body.require_next_step !== false); }

  setLang(lang) { this.lang = lang; this.render(); }

  setCaller(caller) { this.caller = caller; this.renderStage(); }

  /** The notes came back (or were typed elsewhere): the answers the words use. */
  setAnswers(answers) { this.answers = answers; this.renderStage(); }

  setReason(reason) {
    this.reason = reason;
    this.mark({ no_next_step_reason: reason || null });
    this.renderStage();
  }

  outcomeProblem() {
    const state = this.nextStepState();
    return nextStepProblem(this.body, state.next_step, state.next_step_at, this.reason);
  }

  // --- the marks, saved as the agent works ---------------------------------------

  mark(changes) {
    if (!this.callId || !this.script) return;
    Object.assign(this.pending, changes);
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.flush(), MARKS_DEBOUNCE_MS);
  }

  /** Send the pending marks now; resolves once they (and any already on the way) are in. */
  async flush(keepalive = false) {
    if (!this.callId || !Object.keys(this.pending).length) {
      await this.inflight;
      return;
    }
    clearTimeout(this.timer);
    const sending = this.pending;
    const callId = this.callId;
    this.pending = {};
    const put = this.api("PUT", `/api/calls/${encodeURIComponent(callId)}/script`, sending, keepalive);
    this.inflight = put.catch(() => null);
    try {
      await put;
      this.root.dataset.saved = "yes";
      this.status("");
    } catch (error) {
      if (callId !== this.callId) return;
      if (error && error.status === 422) { this.status(error.message); return; } // not retried
      this.pending = { ...sending, ...this.pending };
      this.status(this.t("marks_failed"));
      this.timer = setTimeout(() => this.flush(), 2000);
    }
  }

  status(message) {
    const node = this.root.querySelector(".marks-state");
    if (node) node.textContent = message;
  }

  goTo(stageId, remember = true) {
    if (!this.body || !stageId || stageId === this.stage) return;
    if (!this.body.stages.some((s) => s.id === stageId)) return;
    if (remember) this.trail.push(this.stage);
    this.stage = stageId;
    this.objection = null;
    this.mark({ stage: stageId });
    this.render();
  }

  next() {
    if (!this.body) return;
    this.goTo(nextStage(this.body, this.stage, this.answers));
  }

  back() {
    const previous = this.trail.pop();
    if (previous) this.goTo(previous, false);
  }

  // --- rendering ------------------------------------------------------------------

  templateValues() {
    const values = {
      "agent.first_name": this.values["agent.first_name"] || "",
      "company.name": this.values["company.name"] || "",
      "company.activity": this.values["company.activity"] || "",
      "caller.name": (this.nameField && this.answers[this.nameField]) || this.caller.name || "",
      "caller.number": this.caller.number || "",
    };
    for (const [key, value] of Object.entries(this.answers)) {
      if (typeof value === "string") values[`captured.${key}`] = value;
    }
    return values;
  }

  say(template) { return render(template, this.templateValues()); }

  render() {
    const root = this.root;
    if (!this.callId) { root.hidden = true; return; }
    root.hidden = false;
    if (!this.script) {
      root.replaceChildren(el("p", "muted no-script", this.t("none")));
      return;
    }
    const s = this.script;
    const head = el("div", "script-head",
      el("strong", "script-name", `${this.t("script")}: ${s.name}`),
      el("span", "script-version", ` v${s.version} ${s.variant}`));
    const why = el("p", "script-reason", `${this.t("why")}: ${(s.reason || []).join(" → ")}`);
    root.replaceChildren(
      head, why, this.priceBar(), this.counter(), this.stageList(),
      el("div", "stage-view"), this.objections(), el("p", "marks-state"),
    );
    this.renderStage();
  }

  priceBar() {
    const advice = priceAdvice(this.body, this.priceAsks, this.insists);
    const ask = el("button", "price-ask", `${this.t("price_ask")} (${this.priceAsks})`);
    ask.type = "button";
    ask.addEventListener("click", () => {
      this.priceAsks = Math.min(this.priceAsks + 1, 50);
      this.mark({ price_asks: this.priceAsks });
      this.render();
    });
    const insists = el("input");
    insists.type = "checkbox";
    insists.className = "price-insists";
    insists.checked = this.insists;
    insists.addEventListener("change", () => {
      this.insists = insists.checked;
      this.mark({ insists: this.insists });
      this.render();
    });
    const box = el("div", "price-bar", ask, el("label", null, insists, ` ${this.t("insists")}`));
    if (advice) {
      const due = (this.body.price && this.body.price.answer_on_ask) || 3;
      const text = advice === "answer" ? this.t("answer_now") : `${this.t("deflect")} (${this.t("asks_of")} ${this.priceAsks} / ${due})`;
      const node = el("strong", `price-advice advice-${advice}`, text);
      node.dataset.advice = advice;
      box.append(node);
    }
    return box;
  }

  counter() {
    const count = questionCount(this.body, this.asked);
    const kinds = KINDS.map((k) => `${this.t(k)} ${count.byKind[k]}`).join(" · ");
    const node = el("div", count.over ? "q-counter over" : "q-counter",
      el("strong", "q-total", `${count.total} / ${count.limit}`), ` ${this.t("questions")}: ${kinds}`,
      count.over ? el("span", "q-over", ` — ${this.t("over_limit")}`) : null);
    node.dataset.total = String(count.total);
    return node;
  }

  stageList() {
    const list = el("ol", "stages");
    list.setAttribute("aria-label", this.t("stages"));
    for (const stage of this.body.stages) {
      const button = el("button", "stage-link", stage.title);
      button.type = "button";
      button.dataset.stage = stage.id;
      button.addEventListener("click", () => this.goTo(stage.id));
      const item = el("li", stage.id === this.stage ? "current" : null, button);
      if (stage.id === this.stage) item.setAttribute("aria-current", "step");
      list.append(item);
    }
    return list;
  }

  renderStage() {
    const view = this.root.querySelector(".stage-view");
    if (!view || !this.body) return;
    const body = this.body;
    const stage = body.stages.find((s) => s.id === this.stage) || body.stages[0];
    const parts = [el("h3", "stage-title", stage.title)];
    parts[0].dataset.stage = stage.id;
    if (body.price_stage === stage.id && body.contact_field && !(this.answers[body.contact_field] || "").trim()) {
      const field = body.stages.flatMap((st) => st.captures || []).find((f) => f.key === body.contact_field);
      parts.push(el("p", "warn contacts-first", `${this.t("contacts_first")} (${field ? field.label : body.contact_field})`));
    }
    if (stage.kind === "summary") parts.push(this.summary());
    if ((stage.say || []).length) {
      parts.push(el("div", "say", ...stage.say.map((words) => el("p", "say-line", this.say(words)))));
    }
    if ((stage.hints || []).length) {
      parts.push(el("ul", "hints", ...stage.hints.map((hint) => el("li", null, this.say(hint)))));
    }
    if ((stage.captures || []).length) parts.push(this.captures(stage));
    if ((stage.questions || []).length) parts.push(this.questions(stage));
    if (stage.kind === "close" && this.requiresNextStep()) parts.push(this.closeCheck());
    parts.push(this.nav(stage));
    view.replaceChildren(...parts);
  }

  captures(stage) {
    const box = el("div", "captures");
    for (const field of stage.captures) {
      const input = captureInput(field, this.t("choose"));
      input.value = this.answers[field.key] || "";
      if (field.type === "phone" && this.caller.number) input.placeholder = this.caller.number;
      input.dataset.answer = field.key;
      input.dataset.capture = field.key;
      const problem = el("span", "capture-problem");
      input.addEventListener("input", () => this.captured(field, input, problem));
      input.addEventListener("change", () => this.captured(field, input, problem));
      const label = el("label", `capture capture-${field.type}`,
        el("span", null, field.label + (field.required ? ` (${this.t("required")})` : "")), input, problem);
      box.append(label);
    }
    return box;
  }

  captured(field, input, problem) {
    if (!input.checkValidity() && !input.validity.valueMissing) { // empty is saved: cleared
      input.setAttribute("aria-invalid", "true");
      problem.textContent = `${this.t("invalid")}${input.validationMessage ? `: ${input.validationMessage}` : ""}`;
      return;
    }
    input.removeAttribute("aria-invalid");
    problem.textContent = "";
    if ((this.answers[field.key] || "") === input.value) return;
    this.onAnswer(field.key, input.value); // the page keeps this.answers up to date
    this.refreshWords(); // the words use the answer; the inputs stay as typed
  }

  /** Re-render the words (not the inputs) after an answer changed. */
  refreshWords() {
    const stage = this.body && this.body.stages.find((s) => s.id === this.stage);
    if (!stage) return;
    const say = this.root.querySelector(".stage-view .say");
    if (say) say.replaceChildren(...stage.say.map((words) => el("p", "say-line", this.say(words))));
    const summary = this.root.querySelector(".stage-view .summary");
    if (summary) summary.replaceWith(this.summary());
    const warning = this.root.querySelector(".stage-view .contacts-first");
    if (warning && (this.answers[this.body.contact_field] || "").trim()) warning.remove();
    const target = this.root.querySelector(".stage-next-target");
    if (target) target.textContent = this.nextTitle(stage);
  }

  summary() {
    const lines = summaryLines(this.body, this.answers, this.templateValues()["caller.name"]);
    const box = el("div", "summary", el("strong", "label", this.t("summary")));
    box.append(...lines.map((line) => el("p", "summary-line", line)));
    box.hidden = !lines.length;
    return box;
  }

  questions(stage) {
    const box = el("div", "questions", el("strong", null, this.t("questions")));
    for (const q of stage.questions) {
      const tick = el("input");
      tick.type = "checkbox";
      tick.dataset.question = q.key;
      tick.checked = this.asked.has(q.key);
      tick.addEventListener("change", () => {
        if (tick.checked) this.asked.add(q.key); else this.asked.delete(q.key);
        this.mark({ questions: [...this.asked] });
        this.root.querySelector(".q-counter").replaceWith(this.counter());
      });
      const kind = el("span", `kind kind-${q.kind}`, this.t(q.kind));
      box.append(el("label", "question", tick, " ", el("span", "question-text", this.say(q.text)), " ", kind));
    }
    return box;
  }

  closeCheck() {
    const problem = this.outcomeProblem();
    const box = el("div", problem ? "close-check missing" : "close-check ok",
      el("p", null, this.t("close_needs")),
      el("strong", "close-state", problem ? this.t(`next_step_${problem}`) : this.reason ? `${this.t("no_next_step_given")}: ${this.reason}` : this.t("next_step_ok")));
    box.dataset.problem = problem || "";
    const go = el("button", "to-fields", this.t("to_fields"));
    go.type = "button";
    go.addEventListener("click", () => {
      const target = document.getElementById("f-next-step");
      if (target) target.focus();
    });
    box.append(go);
    return box;
  }

  /** The next-step fields changed in the page: the close stage's check follows. */
  refreshClose() {
    const check = this.root.querySelector(".close-check");
    if (check) check.replaceWith(this.closeCheck());
  }

  nextTitle(stage) {
    const to = nextStage(this.body, stage.id, this.answers);
    const target = to && this.body.stages.find((s) => s.id === to);
    return target ? `→ ${target.title}` : this.t("last_stage");
  }

  nav(stage) {
    const back = el("button", "stage-back", this.t("back"));
    back.type = "button";
    back.disabled = !this.trail.length;
    back.addEventListener("click", () => this.back());
    const next = el("button", "stage-next", this.t("next"));
    next.type = "button";
    next.disabled = !nextStage(this.body, stage.id, this.answers);
    next.addEventListener("click", () => this.next());
    return el("div", "stage-nav", back, next, el("span", "stage-next-target", this.nextTitle(stage)));
  }

  objections() {
    const list = (this.body.objections || []);
    const box = el("details", "objections");
    if (this.objection) box.open = true;
    box.append(el("summary", null, this.t("objections")));
    for (const objection of list) {
      const button = el("button", "objection-link", objection.title);
      button.type = "button";
      button.dataset.objection = objection.key;
      button.addEventListener("click", () => { this.objection = objection.key; box.replaceWith(this.objections()); });
      box.append(button);
    }
    const open = list.find((o) => o.key === this.objection);
    if (open) {
      box.append(el("div", "objection-view",
        el("h4", null, open.title),
        ...(open.say || []).map((words) => el("p", "say-line", this.say(words))),
        (open.hints || []).length ? el("ul", "hints", ...open.hints.map((h) => el("li", null, this.say(h)))) : null));
    }
    return box;
  }
}

function captureInput(field, emptyChoice) {
  if (field.type === "choice") {
    const select = el("select", null, el("option", null, emptyChoice));
    select.firstChild.value = "";
    for (const choice of field.choices || []) {
      const option = el("option", null, choice);
      option.value = choice;
      select.append(option);
    }
    return select;
  }
  const input = el("input");
  input.maxLength = 4000;
  if (field.type === "number") {
    input.type = "number";
    input.step = "any";
    if (field.min !== null && field.min !== undefined) input.min = String(field.min);
    if (field.max !== null && field.max !== undefined) input.max = String(field.max);
  } else if (field.type === "datetime") {
    input.type = "datetime-local";
  } else if (field.type === "phone") {
    input.type = "tel";
    input.pattern = "\\+?[0-9 \\(\\)\\-]{5,24}"; // valid with the v flag browsers use
    input.autocomplete = "off";
  } else {
    input.type = "text";
  }
  if (field.required) input.required = true;
  return input;
}
