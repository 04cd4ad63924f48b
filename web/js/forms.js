// Sending a form, the same way on every page: the old messages go, the form is checked here
// first (problems next to their fields), the button shows it is busy while the request runs, and
// the API's errors go to the form's message area and next to their fields.
import { codeText, t } from "./i18n.js";
import { busy, clearFieldMessages, say, showFieldErrors } from "./ui.js";

// A field problem for each of `names` (form control names) left empty.
export function requiredProblems(form, names) {
  return names.filter((n) => !form.elements[n].value.trim())
    .map((n) => ({ field: n, message: codeText("REQUIRED") }));
}

// On submit: `check()` returns field problems ([{field, message}]) or []; then `send()` runs.
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
    try {
      await send();
      left = leaves;
    } catch (err) {
      if (fail) fail(err);
      else {
        say(msg, err.message, "error");
        showFieldErrors(form, err.fields);
      }
    } finally {
      if (!left) busy(button, false);
    }
  });
}
