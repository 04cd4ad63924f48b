// Sign up: email, password, consent (and its version); then "check your email".
import { api } from "../api.js";
import { CONSENT_VERSION } from "../config.js";
import { codeText, onLangChange, t } from "../i18n.js";
import { $, busy, clearFieldMessages, initPage, say, showFieldErrors } from "../ui.js";

initPage();
const form = $("#signup");
const msg = $("#form-msg");
let sentTo = "";

export const looksLikeEmail = (value) => /^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(value);

function showDone() {
  $("#done-text").textContent = t("daftar.sent", { email: sentTo });
}
onLangChange(() => { if (sentTo) showDone(); });

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  clearFieldMessages(form);
  say(msg, "");
  const email = form.elements.email.value.trim();
  const password = form.elements.password.value;
  const consent = form.elements.consent.checked;
  const problems = [];
  if (!email) problems.push({ field: "email", message: codeText("REQUIRED") });
  else if (!looksLikeEmail(email)) problems.push({ field: "email", message: codeText("EMAIL_INVALID") });
  if (!password) problems.push({ field: "password", message: codeText("REQUIRED") });
  else if (password.length < 8) problems.push({ field: "password", message: codeText("PASSWORD_TOO_SHORT") });
  if (!consent) problems.push({ field: "consent", message: codeText("CONSENT_REQUIRED") });
  if (problems.length) {
    say(msg, t("common.fixFields"), "error");
    showFieldErrors(form, problems);
    return;
  }
  const button = $("#submit");
  busy(button, true);
  try {
    await api("POST", "/v1/accounts", { email, password, consent, consent_version: CONSENT_VERSION }, { retries: 1 });
    sentTo = email;
    showDone();
    $("#form-part").hidden = true;
    $("#done").hidden = false;
    $("#done").focus();
  } catch (err) {
    say(msg, err.message, "error");
    showFieldErrors(form, err.fields);
  } finally {
    busy(button, false);
  }
});
