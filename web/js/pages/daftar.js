// Sign up: email, password, consent (and its version); then "check your email". Every sign-up
// carries an Idempotency-Key: one per set of details, kept across the automatic retries of a busy
// moment and a second press of the button, so a sign-up that did arrive is never made twice.
import { api, newIdempotencyKey } from "../api.js";
import { CONSENT_VERSION } from "../config.js";
import { onSubmit } from "../forms.js";
import { codeText, onLangChange, t } from "../i18n.js";
import { $, initPage } from "../ui.js";

initPage();
const form = $("#signup");
let sentTo = "";
let pending = null; // {details, key}: the key of the details last sent

function idempotencyKey(email, password) {
  const details = JSON.stringify([email, password]);
  if (pending?.details !== details) pending = { details, key: newIdempotencyKey() };
  return pending.key;
}

export const looksLikeEmail = (value) => /^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(value);

function showDone() {
  $("#done-text").textContent = t("daftar.sent", { email: sentTo });
}
onLangChange(() => { if (sentTo) showDone(); });

function check() {
  const email = form.elements.email.value.trim();
  const password = form.elements.password.value;
  const problems = [];
  if (!email) problems.push({ field: "email", message: codeText("REQUIRED") });
  else if (!looksLikeEmail(email)) problems.push({ field: "email", message: codeText("EMAIL_INVALID") });
  if (!password) problems.push({ field: "password", message: codeText("REQUIRED") });
  else if (password.length < 8) problems.push({ field: "password", message: codeText("PASSWORD_TOO_SHORT") });
  if (!form.elements.consent.checked) problems.push({ field: "consent", message: codeText("CONSENT_REQUIRED") });
  return problems;
}

onSubmit(form, {
  msg: $("#form-msg"),
  button: $("#submit"),
  check,
  send: async ({ onWait }) => {
    const email = form.elements.email.value.trim();
    const password = form.elements.password.value;
    await api("POST", "/v1/accounts", { email, password, consent: true, consent_version: CONSENT_VERSION },
              { retries: 5, onWait, headers: { "Idempotency-Key": idempotencyKey(email, password) } });
    sentTo = email;
    showDone();
    $("#form-part").hidden = true;
    $("#done").hidden = false;
    $("#done").focus();
  },
});
