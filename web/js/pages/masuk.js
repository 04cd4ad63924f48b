// Sign in: email and password; the tokens go to sessionStorage; then where the reader was going.
import { api, session } from "../api.js";
import { onSubmit, requiredProblems } from "../forms.js";
import { t } from "../i18n.js";
import { $, initPage, nextParam, say } from "../ui.js";

initPage();
const form = $("#signin");
const msg = $("#form-msg");
const params = new URLSearchParams(location.search);
if (params.get("reset") === "1") say(msg, t("masuk.afterReset"), "success");
else if (params.get("next")) say(msg, t("masuk.needed"), "info");

onSubmit(form, {
  msg,
  button: $("#submit"),
  leaves: true,
  check: () => requiredProblems(form, ["email", "password"]),
  send: async () => {
    const body = { email: form.elements.email.value.trim(), password: form.elements.password.value };
    session.save(await api("POST", "/v1/sessions", body, { retries: 1 }));
    location.assign(nextParam("/status"));
  },
});
