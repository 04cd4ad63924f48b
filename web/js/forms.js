// Sending a form, the same way on every page: the old messages go, the form is checked here
// first (problems next to their fields), the button shows it is busy while the request runs, and
// the API's errors go to the form's message area and next to their fields.
import { codeText, t } from "./i18n.js";
import { busy, clearFieldMessages, h, say, showFieldErrors } from "./ui.js";

// While api() waits to retry a refused call: a calm message with a countdown in the live region
// `el` (role=status; only the number changes each second). `onWait(ms)` starts it, `stop()` ends
// the countdown (the page then says what happened).
export function waitNotice(el) {
  let timer = null;
  const stop = () => { clearInterval(timer); timer = null; };
  const onWait = (ms) => {
    stop();
    const until = Date.now() + ms;
    const count = h("span", { class: "countdown" });
    const [before, after] = t("wait.busy", { n: "\u0001" }).split("\u0001");
    const tick = () => {
      const left = Math.ceil((until - Date.now()) / 1000);
      if (left > 0) { count.textContent = String(left); return; }
      stop();
      el.replaceChildren(t("wait.retrying"));
    };
    el.hidden = false;
    el.className = "msg msg-info msg-wait"; // say() replaces the class: then the page has spoken
    el.setAttribute("role", "status");
    el.replaceChildren(before, count, after);
    // on a phone the form's message area is above the button just pressed: bring it into view
    el.scrollIntoView?.({ block: "nearest" });
    tick();
    timer = setInterval(tick, 1000);
  };
  // the countdown ends; the message goes unless the page has put its own there
  const done = () => {
    stop();
    if (el.classList.contains("msg-wait")) say(el, "");
  };
  return { onWait, stop, done };
}

// The words for an error, with how long to wait when a busy service said so.
export function errorWithWait(err) {
  const wait = err.retryAfter;
  if (!wait || (err.status !== 429 && err.status !== 503)) return err.message;
  return `${err.message} ${wait >= 60 ? t("common.retryMinutes", { n: Math.ceil(wait / 60) }) : t("common.retrySeconds", { n: wait })}`;
}

// A field problem for each of `names` (form control names) left empty.
export function requiredProblems(form, names) {
  return names.filter((n) => !form.elements[n].value.trim())
    .map((n) => ({ field: n, message: codeText("REQUIRED") }));
}

// On submit: `check()` returns field problems ([{field, message}]) or []; then `send({onWait})`
// runs (pass onWait to api() with retries: the waiting message and its countdown go to `msg`).
// `fail(err)` replaces the usual handling of an error; `leaves`: a successful send goes to
// another page, so the button stays busy.
export function onSubmit(form, { msg, button, check = () => [], send, fail, leaves = false }) {
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearFieldMessages(form);
    say(msg, "");
    const problems = check();
    if (problems.length) {
      say(msg, t("common.fixFields"), "error");
      showFieldErrors(form, problems);
      return;
    }
    busy(button, true);
    let left = false;
    const notice = waitNotice(msg);
    try {
      await send({ onWait: notice.onWait });
      notice.done();
      left = leaves;
    } catch (err) {
      notice.stop();
      if (fail) fail(err);
      else {
        say(msg, errorWithWait(err), "error");
        showFieldErrors(form, err.fields);
      }
    } finally {
      notice.stop();
      if (!left) busy(button, false);
    }
  });
}
