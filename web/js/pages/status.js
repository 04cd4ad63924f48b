// The status page: every step's state, the reason when something failed, the next action in
// plain words, the batch result when announced, and joining the open batch. Refreshes itself
// while a check is running, with a backoff (POLL_FIRST_MS doubling up to POLL_MAX_MS, back to
// the first after a change, longer when the API says it is busy), for at most POLL_FOR_MS, and
// not while the tab is hidden: hidden, it stops; visible again, it reads once and goes on.
import { api } from "../api.js";
import { CONSENT_VERSION } from "../config.js";
import { joinOnClick, listBatches, openBatch } from "../batch.js";
import { waitNotice } from "../forms.js";
import { codeText, formatDateTime, onLangChange, t } from "../i18n.js";
import { $, busy, h, initPage, say } from "../ui.js";

// DATA_NOT_MATCHING_DUKCAPIL: the one reason shown for a ministry rejection (issue 16); NIK_ALREADY_USED:
// the NIK may be mistyped. The older codes stay for outcomes shown before.
const FIXABLE_NIK = new Set(["DATA_NOT_MATCHING_DUKCAPIL", "NIK_ALREADY_USED", "NOT_FOUND", "DATA_MISMATCH"]);
export const POLL_FIRST_MS = 5000;
export const POLL_MAX_MS = 60000;
const POLL_FOR_MS = 10 * 60 * 1000;
let me = null;
let batches = [];
let pollTimer = null;
let pollUntil = 0;
let pollDelay = POLL_FIRST_MS;
let polling = false; // something is being checked: the page keeps reading
let seen = ""; // the steps as last read, to see a change
let wantsPoll = false; // what render() found: a step is being checked
let loading = false;
const msg = $("#msg");

const badge = (kind, key) => h("span", { class: `badge badge-${kind}`, text: t(key) });
const go = (href, key, primary = true) => h("a", { class: `button ${primary ? "primary" : "secondary"}`, href, text: t(key) });

function joinButton(batch) {
  const button = h("button", { type: "button", class: "primary", id: "join", text: t("batch.join", { id: batch.batch_id }) });
  return joinOnClick(button, batch, msg, load);
}

function resendButton() {
  const button = h("button", { type: "button", class: "secondary", id: "resend", text: t("verify.resend") });
  button.addEventListener("click", async () => {
    busy(button, true);
    try {
      await api("POST", "/v1/email-verifications", undefined, { auth: true });
      say(msg, t("verify.resent"), "success");
    } catch (err) {
      say(msg, err.message, "error");
    } finally {
      busy(button, false);
    }
  });
  return button;
}

// Each step: [badge kind, badge key, detail text, action element or null, needs the reader?]
function describe(step, s, all) {
  const emailDone = all.email.status === "VERIFIED";
  const reason = s.reason ? codeText(s.reason, { reason: true }) : "";
  switch (`${step}:${s.status}`) {
    case "email:VERIFIED": return ["done", "state.verified", t("status.emailDone", { email: me.email }), null];
    case "email:PENDING": return ["todo", "state.waitingYou", t("status.emailPending", { email: me.email }), resendButton(), true];
    case "email:UNDELIVERABLE":
      return ["fail", "state.failed", reason || t("status.emailUndeliverable", { email: me.email }), go("/akun", "status.changeEmail"), true];
    case "ktp:NOT_STARTED": // presigning needs a verified email (403 EMAIL_NOT_VERIFIED otherwise)
      return emailDone ? ["todo", "state.notStarted", t("status.ktpTodo"), go("/ktp", "status.uploadKtp"), true]
        : ["todo", "state.notStarted", t("status.afterEmail"), null];
    case "ktp:PROCESSING": return ["wait", "state.checking", t("status.ktpChecking"), null];
    case "ktp:VALID": return ["done", "state.accepted", t("status.ktpDone"), null];
    case "ktp:REJECTED": return ["fail", "state.rejected", `${reason} ${t("status.ktpAgain")}`, go("/ktp", "status.uploadAgain"), true];
    case "nik:NOT_STARTED":
      return emailDone ? ["todo", "state.notStarted", t("status.nikTodo"), go("/biodata", "status.fillBiodata"), true]
        : ["todo", "state.notStarted", t("status.afterEmail"), null];
    case "nik:PENDING": return ["wait", "state.checking", t("status.nikChecking"), null];
    case "nik:VERIFIED": return ["done", "state.verified", t("status.nikDone"), null];
    case "nik:REJECTED":
      return FIXABLE_NIK.has(s.reason) ? ["fail", "state.rejected", reason, go("/biodata", "status.fixBiodata"), true]
        : ["fail", "state.rejected", `${reason} ${t("status.nikFinal")}`, null, true];
    case "assessment:NOT_STARTED":
      return emailDone ? ["todo", "state.notStarted", t("status.testTodo"), go("/tes", "status.takeTest"), true]
        : ["todo", "state.notStarted", t("status.afterEmail"), null];
    case "assessment:IN_PROGRESS": return ["todo", "state.inProgress", t("status.testInProgress"), go("/tes", "status.continueTest"), true];
    case "assessment:PASSED": return ["done", "state.passed", t("status.testPassed"), null];
    case "assessment:FAILED": return ["fail", "state.failedTest", `${reason} ${t("status.testFailed")}`, null];
    default: return ["todo", "state.unknown", s.status, null];
  }
}

function describeBatch(s, all) {
  const batch = batches.find((b) => b.batch_id === s.batch_id);
  const open = openBatch(batches);
  const ready = ["email", "ktp", "nik", "assessment"].every((k) => ["VERIFIED", "VALID", "PASSED"].includes(all[k].status));
  switch (s.status) {
    case "JOINED":
      return ["wait", "state.joined", t("status.batchJoined", { id: s.batch_id, when: formatDateTime(batch?.announce_at) }), null];
    case "SELECTED": return ["done", "state.selected", t("status.selectedShort", { id: s.batch_id }), null];
    case "NOT_SELECTED":
      return ["fail", "state.notSelected", t("status.notSelected", { id: s.batch_id }),
        open && open.batch_id !== s.batch_id ? joinButton(open) : null, Boolean(open && open.batch_id !== s.batch_id)];
    default:
      if (!ready) return ["todo", "state.notStarted", t("status.batchLater"), null];
      if (!open) return ["todo", "state.notStarted", t("status.noOpenBatch"), go("/gelombang", "status.seeBatches", false)];
      return ["todo", "state.waitingYou", t("status.batchOpen", { id: open.batch_id, until: formatDateTime(open.closes_at) }), joinButton(open), true];
  }
}

function consentNotice() {
  if (!me.consent?.withdrawn_at) return $("#consent").replaceChildren();
  const button = h("button", { type: "button", class: "primary", id: "consent-again", text: t("status.consentAgain") });
  button.addEventListener("click", async () => {
    busy(button, true);
    try {
      await api("PUT", "/v1/me/consent", { consent: true, consent_version: CONSENT_VERSION }, { auth: true });
      await load();
    } catch (err) {
      say(msg, err.message, "error");
      busy(button, false);
    }
  });
  return $("#consent").replaceChildren(h("div", { class: "msg msg-warning" },
    h("p", { text: codeText("CONSENT_WITHDRAWN") }),
    h("p", {}, h("a", { href: "/daftar#consent-title", text: t("status.consentRead", { version: CONSENT_VERSION }) })),
    h("div", { class: "actions" }, button)));
}

function render() {
  if (!me) return;
  consentNotice();
  const steps = me.steps;
  const order = ["email", "ktp", "nik", "assessment", "batch"];
  const rows = order.map((step) => [step, step === "batch" ? describeBatch(steps.batch, steps) : describe(step, steps[step], steps)]);
  $("#steps").replaceChildren(...rows.map(([step, [kind, key, text, action]], i) => h("li", { id: `step-${step}` },
    h("h2", {}, `${i + 1}. ${t(`step.${step}`)}`, badge(kind, key)),
    h("p", { text }),
    action ? h("div", { class: "actions" }, action) : null,
  )));
  const result = $("#result");
  const b = steps.batch;
  if (b.status === "SELECTED") {
    result.replaceChildren(h("div", { class: "result", role: "status" }, h("h2", { text: t("status.resultTitle") }), h("p", { text: t("status.selected", { id: b.batch_id }) })));
  } else if (b.status === "NOT_SELECTED") {
    result.replaceChildren(h("div", { class: "result not", role: "status" }, h("h2", { text: t("status.resultTitle") }), h("p", { text: t("status.notSelected", { id: b.batch_id }) })));
  } else {
    result.replaceChildren();
  }
  const next = $("#next");
  const todo = rows.find(([, d]) => d[4]);
  const waiting = rows.find(([, d]) => d[0] === "wait");
  next.hidden = false;
  if (todo) next.textContent = t("status.nextTodo", { step: t(`step.${todo[0]}`), text: todo[1][2] });
  else if (waiting) next.textContent = t("status.nextWait", { text: waiting[1][2] });
  else if (b.status === "SELECTED" || b.status === "NOT_SELECTED") next.hidden = true;
  else next.textContent = t("status.nextNone");
  $("#as-of").textContent = t("status.asOf", { when: formatDateTime(me.as_of) });
  wantsPoll = Boolean(waiting) && b.status !== "JOINED";
}

const hidden = () => document.visibilityState === "hidden";

// The next read in `pollDelay` (then twice as long, up to POLL_MAX_MS), unless nothing is being
// checked, the tab is hidden or the page has polled for POLL_FOR_MS.
function schedulePoll(active, atLeastMs = 0) {
  clearTimeout(pollTimer);
  pollTimer = null;
  polling = active;
  if (!active) { pollUntil = 0; pollDelay = POLL_FIRST_MS; return; }
  if (!pollUntil) pollUntil = Date.now() + POLL_FOR_MS;
  if (hidden() || Date.now() >= pollUntil) return;
  const delay = Math.max(pollDelay, atLeastMs);
  pollTimer = setTimeout(() => load({ background: true }), delay);
  pollDelay = Math.min(POLL_MAX_MS, delay * 2);
}

document.addEventListener("visibilitychange", () => {
  if (hidden()) { clearTimeout(pollTimer); pollTimer = null; return; }
  if (polling && !pollTimer && !loading) { pollUntil = 0; load({ background: true }); }
});

// Read the state. A background read (a poll) says nothing when the API is busy: it waits longer.
async function load({ background = false } = {}) {
  const notice = waitNotice(msg);
  loading = true;
  try {
    const options = background ? { auth: true } : { auth: true, retries: 2, onWait: notice.onWait };
    [me, batches] = await Promise.all([api("GET", "/v1/me", undefined, options), listBatches()]);
    notice.done();
    const now = JSON.stringify(me.steps);
    if (now !== seen) { seen = now; pollDelay = POLL_FIRST_MS; }
    render();
    schedulePoll(wantsPoll);
  } catch (err) {
    notice.stop();
    if (err.status === 401) return;
    // a poll that failed tries again later, longer when the API said so; busy is not news to the reader
    if (background) schedulePoll(polling, (err.retryAfter || 0) * 1000);
    if (!(background && (err.status === 429 || err.status === 503))) say(msg, err.message, "error");
  } finally {
    loading = false;
  }
}

if (initPage({ auth: true })) {
  onLangChange(render);
  $("#reload").addEventListener("click", async () => {
    const button = $("#reload");
    busy(button, true);
    say(msg, "");
    pollDelay = POLL_FIRST_MS;
    pollUntil = 0;
    await load();
    busy(button, false);
  });
  load();
}
