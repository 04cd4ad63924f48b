// Password reset. Without a token: ask for a link (POST /v1/password-resets {email}; the same
// reply whether or not the address has an account). With #token=... (the emailed link): set a
// new password (POST /v1/password-resets/{token} {password}); then sign in.
import { api } from "../api.js";
import { codeText, onLangChange, t } from "../i18n.js";
import { $, busy, clearFieldMessages, initPage, say, showFieldErrors, tokenFromHash } from "../ui.js";

initPage();
const token = tokenFromHash();
const msg = $("#form-msg");
let done = null;

function renderDone() {
  if (done === "requested") say(msg, t("reset.requested"), "success");
  if (done === "reset") say(msg, t("reset.done"), "success");
}
onLangChange(renderDone);

$(token ? "#reset-part" : "#request-part").hidden = false;

// Opening the emailed link spends nothing: only tell early when the link is no longer good.
if (token) {
  api("GET", `/v1/password-resets/${encodeURIComponent(token)}`, undefined, { retries: 1 }).catch((err) => {
    if (err.status === 404 || err.status === 410) {
      say(msg, tokenProblem(err), "error");
      $("#reset-part").hidden = true;
      $("#request-part").hidden = false;
    }
  });
}

function tokenProblem(err) {
  if (["TOKEN_USED", "TOKEN_EXPIRED", "TOKEN_UNKNOWN"].includes(err.code) || err.status === 404 || err.status === 410) {
    return `${err.message} ${t("reset.askAgain")}`;
  }
  return err.message;
}

$("#request").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  clearFieldMessages(form);
  say(msg, "");
  const email = form.elements.email.value.trim();
  if (!email) {
    showFieldErrors(form, [{ field: "email", message: codeText("REQUIRED") }]);
    return;
  }
  const button = $("#request-submit");
  busy(button, true);
  try {
    await api("POST", "/v1/password-resets", { email }, { retries: 1 });
    done = "requested";
    form.hidden = true;
    renderDone();
  } catch (err) {
    say(msg, err.message, "error");
    showFieldErrors(form, err.fields);
  } finally {
    busy(button, false);
  }
});

$("#reset").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  clearFieldMessages(form);
  say(msg, "");
  const password = form.elements.password.value;
  if (password.length < 8) {
    showFieldErrors(form, [{ field: "password", message: codeText(password ? "PASSWORD_TOO_SHORT" : "REQUIRED") }]);
    return;
  }
  const button = $("#reset-submit");
  busy(button, true);
  try {
    await api("POST", `/v1/password-resets/${encodeURIComponent(token)}`, { password }, { retries: 1 });
    done = "reset";
    form.hidden = true;
    renderDone();
    $("#after").hidden = false;
    $("#after a").href = "/masuk?reset=1";
  } catch (err) {
    say(msg, tokenProblem(err), "error");
    showFieldErrors(form, err.fields);
    if (err.status === 404 || err.status === 410) {
      $("#reset-part").hidden = true;
      $("#request-part").hidden = false;
    }
  } finally {
    busy(button, false);
  }
});
