// Sign in: email and password; the tokens go to sessionStorage; then where the reader was going.
import { api, session } from "../api.js";
import { codeText, t } from "../i18n.js";
import { $, busy, clearFieldMessages, initPage, nextParam, say, showFieldErrors } from "../ui.js";

initPage();
const form = $("#signin");
const msg = $("#form-msg");
const params = new URLSearchParams(location.search);
if (params.get("reset") === "1") say(msg, t("masuk.afterReset"), "success");
else if (params.get("next")) say(msg, t("masuk.needed"), "info");

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  clearFieldMessages(form);
  say(msg, "");
  const email = form.elements.email.value.trim();
  const password = form.elements.password.value;
  const problems = [];
  if (!email) problems.push({ field: "email", message: codeText("REQUIRED") });
  if (!password) problems.push({ field: "password", message: codeText("REQUIRED") });
  if (problems.length) {
    say(msg, t("common.fixFields"), "error");
    showFieldErrors(form, problems);
    return;
  }
  const button = $("#submit");
  busy(button, true);
  try {
    session.save(await api("POST", "/v1/sessions", { email, password }, { retries: 1 }));
    location.assign(nextParam("/status"));
  } catch (err) {
    say(msg, err.message, "error");
    showFieldErrors(form, err.fields);
    busy(button, false);
  }
});
