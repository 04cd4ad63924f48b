// Account: change the email address (PUT /v1/me/email {email, password}: a link goes to the new
// address), the password (PUT /v1/me/password {current_password, new_password}: every other
// session ends and this one gets new tokens), withdraw consent (DELETE /v1/me/consent: biodata,
// the test and joining answer 403 CONSENT_WITHDRAWN until consent is given again on the status
// page) and delete the account (DELETE /v1/me {password}: everything is erased, the session
// with it).
import { api, session } from "../api.js";
import { onSubmit, requiredProblems } from "../forms.js";
import { codeText, formatDateTime, onLangChange, t } from "../i18n.js";
import { $, busy, initPage, renderHeader, say, showFieldErrors } from "../ui.js";

let consent = null; // {version, given_at, withdrawn_at}
let confirming = false;
let justWithdrawn = false;

if (initPage({ auth: true })) {
  api("GET", "/v1/me", undefined, { auth: true, retries: 2 })
    .then((me) => {
      $("#current-email").textContent = me.email;
      consent = me.consent || null;
      renderConsent();
    })
    .catch(() => { $("#current-email").textContent = "–"; });
  onLangChange(renderConsent);
}

// The words for an API error: its code's text, and how long to wait when the API says so.
function errorText(err, code = err.code) {
  const text = code === "NETWORK" ? err.message : codeText(code);
  const wait = err.retryAfter;
  if (!wait || (err.status !== 429 && err.status !== 503)) return text;
  return `${text} ${wait >= 60 ? t("common.retryMinutes", { n: Math.ceil(wait / 60) }) : t("common.retrySeconds", { n: wait })}`;
}

// ---------------------------------------------------------------- email and password
const emailForm = $("#change-email");
onSubmit(emailForm, {
  msg: $("#email-msg"),
  button: $("#email-submit"),
  check: () => requiredProblems(emailForm, ["email", "password"]),
  send: async () => {
    const email = emailForm.elements.email.value.trim();
    await api("PUT", "/v1/me/email", { email, password: emailForm.elements.password.value }, { auth: true });
    say($("#email-msg"), t("account.emailSent", { email }), "success");
    emailForm.reset();
  },
});

const passwordForm = $("#change-password");
onSubmit(passwordForm, {
  msg: $("#password-msg"),
  button: $("#password-submit"),
  check: () => {
    const problems = requiredProblems(passwordForm, ["current_password", "new_password"]);
    if (!problems.length && passwordForm.elements.new_password.value.length < 8) {
      problems.push({ field: "new_password", message: codeText("PASSWORD_TOO_SHORT") });
    }
    return problems;
  },
  send: async () => {
    const body = { current_password: passwordForm.elements.current_password.value,
                   new_password: passwordForm.elements.new_password.value };
    const pair = await api("PUT", "/v1/me/password", body, { auth: true });
    if (pair?.access_token) session.save(pair);
    say($("#password-msg"), t("account.passwordChanged"), "success");
    passwordForm.reset();
  },
});

// ---------------------------------------------------------------- consent
// Three states: the button; the confirmation (a second, explicit button); withdrawn (what it
// means, and the way to the status page, where consent can be given again).
function renderConsent() {
  const withdrawn = Boolean(consent?.withdrawn_at);
  $("#consent-start").hidden = withdrawn || confirming;
  $("#consent-confirm").hidden = withdrawn || !confirming;
  $("#consent-status").hidden = !withdrawn;
  if (withdrawn) {
    say($("#consent-msg"), justWithdrawn ? t("account.consentWithdrawn")
      : t("account.consentWasWithdrawn", { when: formatDateTime(consent.withdrawn_at) }), justWithdrawn ? "success" : "info");
  }
}

$("#consent-withdraw").addEventListener("click", () => {
  say($("#consent-msg"), "");
  confirming = true;
  renderConsent();
  $("#consent-confirm-yes").focus();
});

$("#consent-cancel").addEventListener("click", () => {
  confirming = false;
  renderConsent();
  $("#consent-withdraw").focus();
});

$("#consent-confirm-yes").addEventListener("click", async (event) => {
  const button = event.currentTarget;
  busy(button, true);
  try {
    const answer = await api("DELETE", "/v1/me/consent", undefined, { auth: true, retries: 1 });
    consent = answer.consent || { withdrawn_at: new Date().toISOString() };
    justWithdrawn = true;
    confirming = false;
    renderConsent();
    $("#consent-msg").focus();
  } catch (err) {
    say($("#consent-msg"), errorText(err), "error");
  } finally {
    busy(button, false);
  }
});

// ---------------------------------------------------------------- delete the account
const deleteForm = $("#delete-account");
const deleteMsg = $("#delete-msg");
onSubmit(deleteForm, {
  msg: deleteMsg,
  button: $("#delete-submit"),
  check: () => {
    const problems = requiredProblems(deleteForm, ["password"]);
    if (!deleteForm.elements.confirm.checked) problems.push({ field: "confirm", message: t("account.deleteConfirmNeeded") });
    return problems;
  },
  send: async () => {
    await api("DELETE", "/v1/me", { password: deleteForm.elements.password.value }, { auth: true });
    deleteForm.reset();
    session.clear(); // as signing out does: the tokens are dead anyway
    renderHeader();
    $("#account").hidden = true;
    $("#deleted").hidden = false;
    $("#deleted-title").focus();
  },
  // wrong password, too many attempts (with the wait), service busy: next to the password
  fail: (err) => {
    const fields = err.fields.length ? err.fields : [{ field: "password", code: err.code }];
    const placed = showFieldErrors(deleteForm, fields, (f) => errorText(err, f.code));
    if (!placed.length) say(deleteMsg, errorText(err), "error");
    else if (err.fields.length) say(deleteMsg, t("common.fixFields"), "error");
  },
});
