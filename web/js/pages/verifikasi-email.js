// /verifikasi-email#token=...: the emailed link. Opening it changes nothing (mail scanners open
// links too): the page describes the link (GET) and confirms (POST) only when the reader
// presses the button. The token stays in the fragment, out of every access log.
import { api, session } from "../api.js";
import { formatDateTime, onLangChange, t } from "../i18n.js";
import { $, busy, h, initPage, tokenFromHash } from "../ui.js";

initPage();
const token = tokenFromHash();
const box = $("#state");
const actions = $("#actions");
// view: loading | ready | confirmed | used | expired | unknown | error | resent
let view = { name: "loading" };

const link = (href, key, primary = false) =>
  h("a", { class: `button ${primary ? "primary" : "secondary"}`, href, text: t(key) });

function nextLinks() {
  return session.signedIn()
    ? [link("/ktp", "verify.nextKtp", true), link("/status", "common.toStatusShort")]
    : [link("/masuk?next=%2Fstatus", "verify.signInToContinue", true)];
}

function resendButton() {
  if (!session.signedIn()) return [link("/masuk?next=%2Fstatus", "verify.signInToResend", true)];
  const button = h("button", { type: "button", class: "primary", id: "resend", text: t("verify.resend") });
  button.addEventListener("click", async () => {
    busy(button, true);
    try {
      await api("POST", "/v1/email-verifications", undefined, { auth: true });
      render({ name: "resent" });
    } catch (err) {
      render({ name: "error", message: err.message });
    }
  });
  return [button];
}

function render(next) {
  if (next) view = next;
  let kind = "info";
  let text = "";
  let buttons = [];
  switch (view.name) {
    case "loading": text = t("common.loading"); break;
    case "ready": {
      text = t(view.purpose === "change_email" ? "verify.readyChange" : "verify.ready", { until: formatDateTime(view.expires) });
      const button = h("button", { type: "button", class: "primary", id: "confirm", text: t("verify.confirm") });
      button.addEventListener("click", () => confirm(button));
      buttons = [button];
      break;
    }
    case "confirmed": kind = "success"; text = t("verify.confirmed"); buttons = nextLinks(); break;
    case "changed": kind = "success"; text = t("verify.changed"); buttons = [link("/status", "common.toStatusShort", true)]; break;
    case "used": kind = "warning"; text = t("verify.used"); buttons = nextLinks(); break;
    case "expired": kind = "error"; text = t("verify.expired"); buttons = resendButton(); break;
    case "unknown": kind = "error"; text = t("verify.unknown"); buttons = resendButton(); break;
    case "resent": kind = "success"; text = t("verify.resent"); buttons = [link("/status", "common.toStatusShort")]; break;
    default: {
      kind = "error";
      text = view.message || t("common.network");
      const retry = h("button", { type: "button", class: "secondary", text: t("common.retry") });
      retry.addEventListener("click", describe);
      buttons = [retry];
    }
  }
  box.className = `msg msg-${kind}`;
  box.setAttribute("role", kind === "error" ? "alert" : "status");
  box.textContent = text;
  actions.replaceChildren(...buttons);
}
onLangChange(() => render());

function fromError(err) {
  if (err.code === "TOKEN_USED") return { name: "used" };
  if (err.code === "TOKEN_EXPIRED") return { name: "expired" };
  if (err.code === "TOKEN_UNKNOWN" || err.status === 404 || err.status === 422) return { name: "unknown" };
  return { name: "error", message: err.message };
}

async function describe() {
  if (!token) return render({ name: "unknown" });
  render({ name: "loading" });
  try {
    const link = await api("GET", `/v1/email-verifications/${encodeURIComponent(token)}`, undefined, { retries: 2 });
    render({ name: "ready", expires: link.expires_at, purpose: link.purpose });
  } catch (err) {
    render(fromError(err));
  }
}

async function confirm(button) {
  busy(button, true);
  try {
    const done = await api("POST", `/v1/email-verifications/${encodeURIComponent(token)}`, undefined, { retries: 1 });
    render({ name: done.email_changed ? "changed" : "confirmed" });
  } catch (err) {
    render(fromError(err));
  }
  box.focus();
}

describe();
