// The test: start (or resume) with POST /v1/me/assessment, a countdown from the server's
// deadline (seconds_left), every answer saved as it is given (PUT .../answers/{id}), answers
// not yet saved kept in sessionStorage and sent again, resume after a reload, submit.
import { api } from "../api.js";
import { codeText, formatDateTime, onLangChange, t, translate } from "../i18n.js";
import { $, busy, h, initPage, say } from "../ui.js";

const PENDING = "prakerja.test.pending";
const msg = $("#msg");
const form = $("#test");
let test = null;        // {questions, answers, deadline_at}
let endsAt = 0;         // performance.now() at the deadline
let tick = null;
let answers = {};
let pending = {};
let confirmedEmpty = false;
let finished = null;    // {score, passed} | "expired"
const announced = new Set();

try { pending = JSON.parse(sessionStorage.getItem(PENDING) || "{}"); } catch { pending = {}; }
const keepPending = () => { try { sessionStorage.setItem(PENDING, JSON.stringify(pending)); } catch { /* full */ } };
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function announce(text) { $("#announce").textContent = text; }

// ---------------------------------------------------------------- the countdown
function remaining() { return Math.max(0, Math.round((endsAt - performance.now()) / 1000)); }

function showTime() {
  const left = remaining();
  const mm = String(Math.floor(left / 60)).padStart(2, "0");
  const ss = String(left % 60).padStart(2, "0");
  $("#timer").textContent = `${mm}:${ss}`;
  $(".timer").classList.toggle("low", left <= 60);
  for (const mark of [300, 60]) {
    if (left <= mark && left > mark - 5 && !announced.has(mark)) { announced.add(mark); announce(t("tes.minutesLeft", { n: mark / 60 })); }
  }
  if (left === 0 && !finished) { clearInterval(tick); submit(true); }
}

function countAnswered() {
  const n = Object.keys(answers).length;
  $("#answered").textContent = t("tes.answered", { n, total: test.questions.length });
}

// ---------------------------------------------------------------- questions
function render() {
  const list = test.questions.map((q, i) => {
    const saved = h("p", { class: "saved", id: `saved-${q.question_id}` });
    return h("fieldset", { class: "question", id: `q-${q.question_id}` },
      h("legend", {}, `${i + 1}. ${q.text}`),
      q.options.map((o) => {
        const id = `${q.question_id}-${o.option_id}`;
        const input = h("input", { type: "radio", id, name: q.question_id, value: o.option_id });
        input.checked = answers[q.question_id] === o.option_id;
        return h("div", { class: "radio" }, input, h("label", { for: id, text: o.text }));
      }),
      saved);
  });
  $("#questions").replaceChildren(...list);
  for (const qid of Object.keys(answers)) markSaved(qid);
  countAnswered();
}

function markSaved(qid) {
  const p = $(`#saved-${CSS.escape(qid)}`);
  if (!p) return;
  p.textContent = pending[qid] ? t("tes.saving") : t("tes.saved");
  p.className = pending[qid] ? "saved muted" : "saved";
}

async function save(qid, option) {
  for (let attempt = 0; pending[qid] === option && !finished; attempt += 1) {
    try {
      await api("PUT", `/v1/me/assessment/answers/${encodeURIComponent(qid)}`, { option_id: option }, { auth: true, retries: 1 });
      if (pending[qid] === option) { delete pending[qid]; keepPending(); }
      markSaved(qid);
      return;
    } catch (err) {
      // refused because the time is over, or scored already (by the server after the deadline,
      // or sent from another device): either way the saved answers are what counts
      if (err.code === "TEST_EXPIRED" || err.code === "TEST_ALREADY_TAKEN") return expired();
      if (err.status && err.status < 500 && err.status !== 429) { say(msg, err.message, "error"); return; }
      markSaved(qid);
      await sleep(Math.min(15000, 1000 * 2 ** attempt));
    }
  }
}

form.addEventListener("change", (e) => {
  if (e.target.type !== "radio") return;
  const qid = e.target.name;
  answers[qid] = e.target.value;
  pending[qid] = e.target.value;
  keepPending();
  markSaved(qid);
  countAnswered();
  $("#submit-warning").hidden = true;
  confirmedEmpty = false;
  save(qid, e.target.value);
});

// ---------------------------------------------------------------- start, resume, finish
function showResult() {
  const box = $("#result");
  form.hidden = true;
  $("#intro").hidden = true;
  clearInterval(tick);
  box.hidden = false;
  if (finished === "expired") {
    box.replaceChildren(h("p", { class: "msg msg-warning", text: t("tes.expired") }),
      h("div", { class: "actions" }, h("a", { class: "button primary", href: "/status", text: t("common.toStatusShort") })));
    return;
  }
  const { score, passed } = finished;
  box.replaceChildren(
    h("h2", { text: t(passed ? "tes.passedTitle" : "tes.failedTitle") }),
    h("p", { class: `msg ${passed ? "msg-success" : "msg-warning"}`, text: t(passed ? "tes.passed" : "tes.failed", { score }) }),
    h("div", { class: "actions" }, h("a", { class: "button primary", href: "/status", text: t(passed ? "tes.nextBatch" : "common.toStatusShort") })));
}

function expired() {
  finished = "expired";
  sessionStorage.removeItem(PENDING);
  showResult();
}

async function submit(auto = false) {
  const button = $("#submit");
  const empty = test.questions.length - Object.keys(answers).length;
  if (!auto && empty > 0 && !confirmedEmpty) {
    confirmedEmpty = true;
    say($("#submit-warning"), t("tes.emptyWarning", { n: empty }), "warning");
    button.focus();
    return;
  }
  busy(button, true);
  try {
    finished = await api("POST", "/v1/me/assessment/submit", { answers }, { auth: true, retries: 2 });
    sessionStorage.removeItem(PENDING);
    showResult();
    $("#result").focus();
  } catch (err) {
    if (err.code === "TEST_EXPIRED") return expired();
    if (err.status !== 401) say(msg, err.message, "error");
  } finally {
    busy(button, false);
  }
}

form.addEventListener("submit", (e) => { e.preventDefault(); submit(false); });

async function begin() {
  try {
    test = await api("POST", "/v1/me/assessment", undefined, { auth: true, retries: 2 });
  } catch (err) {
    if (err.code === "TEST_ALREADY_TAKEN" && err.body?.score !== undefined && err.body.score !== null) {
      finished = { score: err.body.score, passed: err.body.passed };
      return showResult();
    }
    if (err.code === "TEST_RETAKE_NOT_YET") {
      say(msg, t("tes.retakeAt", { when: formatDateTime(err.body.retake_at) }), "info");
      return;
    }
    if (err.status !== 401) say(msg, err.message, "error");
    return;
  }
  answers = { ...test.answers, ...pending };
  endsAt = performance.now() + test.seconds_left * 1000;
  $("#intro").hidden = true;
  form.hidden = false;
  render();
  showTime();
  clearInterval(tick);
  tick = setInterval(showTime, 1000);
  for (const [qid, option] of Object.entries(pending)) save(qid, option);
}

async function load() {
  try {
    const me = await api("GET", "/v1/me", undefined, { auth: true, retries: 2 });
    const s = me.steps.assessment.status;
    if (me.steps.email.status !== "VERIFIED") { say(msg, t("tes.emailFirst"), "info"); return; }
    if (s === "NOT_STARTED") { $("#intro").hidden = false; return; }
    if (s === "FAILED") {
      // a retake (when the programme allows one) starts only on the reader's own press
      say(msg, `${codeText(me.steps.assessment.reason || "SCORE_BELOW_PASS_MARK", { reason: true })} ${t("tes.retakeHint")}`, "warning");
      $("#start").dataset.i18n = "tes.retake";
      translate($("#intro"));
      $("#intro").hidden = false;
      $("#intro p").hidden = true;
      return;
    }
    await begin();
  } catch (err) {
    if (err.status !== 401) say(msg, err.message, "error");
  }
}

$("#start").addEventListener("click", async () => {
  const button = $("#start");
  busy(button, true);
  await begin();
  busy(button, false);
});

if (initPage({ auth: true })) {
  onLangChange(async () => {
    if (finished) return showResult();
    if (!test) return;
    const before = test;
    try { test = await api("POST", "/v1/me/assessment", undefined, { auth: true }); } catch { test = before; }
    render();
  });
  load();
}
