// Account: change the email address (PUT /v1/me/email {email, password}: a link goes to the new
// address) and the password (PUT /v1/me/password {current_password, new_password}: every other
// session ends and this one gets new tokens).
import { api, session } from "../api.js";
import { codeText, t } from "../i18n.js";
import { $, busy, clearFieldMessages, initPage, say, showFieldErrors } from "../ui.js";

if (initPage({ auth: true })) {
  api("GET", "/v1/me", undefined, { auth: true, retries: 2 })
    .then((me) => { $("#current-email").textContent = me.email; })
    .catch(() => { $("#current-email").textContent = "–"; });
}

function required(form, names) {
  const problems = names.filter((n) => !form.elements[n].value.trim())
    .map((n) => ({ field: n, message: codeText("REQUIRED") }));
  if (problems.length) showFieldErrors(form, problems);
  return problems.length === 0;
}

$("#change-email").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  const msg = $("#email-msg");
  clearFieldMessages(form);
  say(msg, "");
  if (!required(form, ["email", "password"])) return;
  const email = form.elements.email.value.trim();
  const button = $("#email-submit");
  busy(button, true);
  try {
    await api("PUT", "/v1/me/email", { email, password: form.elements.password.value }, { auth: true });
    say(msg, t("account.emailSent", { email }), "success");
    form.reset();
  } catch (err) {
    say(msg, err.message, "error");
    showFieldErrors(form, err.fields);
  } finally {
    busy(button, false);
  }
});

$("#change-password").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  const msg = $("#password-msg");
  clearFieldMessages(form);
  say(msg, "");
  if (!required(form, ["current_password", "new_password"])) return;
  const body = { current_password: form.elements.current_password.value,
                 new_password: form.elements.new_password.value };
  if (body.new_password.length < 8) {
    showFieldErrors(form, [{ field: "new_password", message: codeText("PASSWORD_TOO_SHORT") }]);
    return;
  }
  const button = $("#password-submit");
  busy(button, true);
  try {
    const pair = await api("PUT", "/v1/me/password", body, { auth: true });
    if (pair?.access_token) session.save(pair);
    say(msg, t("account.passwordChanged"), "success");
    form.reset();
  } catch (err) {
    say(msg, err.message, "error");
    showFieldErrors(form, err.fields);
  } finally {
    busy(button, false);
  }
});
