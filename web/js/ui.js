// Shared page furniture: header (menu, language switch), sign-in guard, messages, form errors.
import { api, session, signInUrl } from "./api.js";
import { getLang, onLangChange, setLang, t, translate } from "./i18n.js";

export const $ = (selector, root = document) => root.querySelector(selector);
export const $$ = (selector, root = document) => [...root.querySelectorAll(selector)];

// Build an element: h("p", {class: "x", text: "..."}, child, ...). Text is always set as text.
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "text") el.textContent = value;
    else if (key === "class") el.className = value;
    else if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else el.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

// The menu, for the reader as signed in or out now (again after a sign-out on the page).
export function renderHeader() {
  const nav = $("#nav");
  if (!nav) return;
  const here = location.pathname.replace(/\.html$/, "");
  const link = (href, key) => h("a", { href, "aria-current": here === href ? "page" : null, text: t(key) });
  const items = session.signedIn()
    ? [link("/status", "nav.status"), link("/akun", "nav.account"),
       h("button", { type: "button", class: "link", id: "sign-out", text: t("nav.signOut"), onclick: signOut })]
    : [link("/masuk", "nav.signIn"), link("/daftar", "nav.signUp")];
  const other = getLang() === "en" ? "id" : "en";
  items.push(h("button", {
    type: "button", class: "link lang", id: "lang-switch", lang: other,
    text: other === "en" ? "English" : "Bahasa Indonesia",
    "aria-label": other === "en" ? "English (ganti bahasa)" : "Bahasa Indonesia (change language)",
    onclick: () => setLang(other),
  }));
  nav.replaceChildren(h("ul", {}, items.map((item) => h("li", {}, item))));
}

async function signOut() {
  try { await api("DELETE", "/v1/sessions", undefined, { auth: true, redirect: false }); } catch { /* gone anyway */ }
  session.clear();
  location.assign("/masuk");
}

// Call once per page. `auth`: the page needs a signed-in reader (else: to the sign-in page).
export function initPage({ auth = false } = {}) {
  translate();
  renderHeader();
  for (const box of $$("input[data-toggles]")) {
    box.addEventListener("change", () => {
      document.getElementById(box.dataset.toggles).type = box.checked ? "text" : "password";
    });
  }
  onLangChange(renderHeader);
  if (auth && !session.signedIn()) {
    location.replace(signInUrl());
    return false;
  }
  return true;
}

// A message in a live region. kind: info | success | error (errors are alerts).
export function say(el, text, kind = "info") {
  el.hidden = !text;
  el.className = `msg msg-${kind}`;
  el.setAttribute("role", kind === "error" ? "alert" : "status");
  el.textContent = text || "";
}

export function busy(button, on, key = "common.wait") {
  if (on) {
    button.dataset.label = button.textContent;
    button.textContent = t(key);
    button.disabled = true;
    button.setAttribute("aria-busy", "true");
  } else {
    if (button.dataset.label) button.textContent = button.dataset.label;
    button.disabled = false;
    button.removeAttribute("aria-busy");
  }
}

// The element that holds a field's error text (created next to the field once).
function errorSlot(form, name) {
  const id = `${form.id || "f"}-${name.replace(/\W/g, "_")}-error`;
  let slot = document.getElementById(id);
  const field = form.elements.namedItem(name);
  if (!slot) {
    const anchor = field instanceof RadioNodeList ? field[0]?.closest("fieldset") : field;
    if (!anchor) return null;
    slot = h("p", { class: "field-error", id, "data-field": name, hidden: true });
    const holder = anchor.closest(".field") || anchor.closest("fieldset") || anchor.parentElement;
    holder.append(slot);
  }
  return slot;
}

function fieldControls(form, name) {
  const field = form.elements.namedItem(name);
  if (!field) return [];
  return field instanceof RadioNodeList ? [...field] : [field];
}

function describe(control, id, on) {
  const ids = new Set((control.getAttribute("aria-describedby") || "").split(/\s+/).filter(Boolean));
  if (on) ids.add(id); else ids.delete(id);
  if (ids.size) control.setAttribute("aria-describedby", [...ids].join(" "));
  else control.removeAttribute("aria-describedby");
}

// Show `text` (or clear it, when empty) under the field `name`; kind: error | warning.
export function fieldMessage(form, name, text, kind = "error") {
  const slot = errorSlot(form, name);
  if (!slot) return false;
  slot.hidden = !text;
  slot.textContent = text || "";
  slot.className = kind === "warning" ? "field-warning" : "field-error";
  for (const control of fieldControls(form, name)) {
    describe(control, slot.id, Boolean(text));
    if (kind === "error" && text) control.setAttribute("aria-invalid", "true");
    else control.removeAttribute("aria-invalid");
  }
  return true;
}

export function clearFieldMessages(form) {
  for (const slot of $$(".field-error, .field-warning", form)) {
    fieldMessage(form, slot.dataset.field, "");
  }
}

// Field errors of an API error next to their fields; returns the names it could place.
export function showFieldErrors(form, fields, textOf = (f) => f.message) {
  const placed = [];
  for (const f of fields) {
    if (fieldMessage(form, f.field, textOf(f))) placed.push(f.field);
  }
  const first = placed.length ? fieldControls(form, placed[0])[0] : null;
  if (first) first.focus();
  return placed;
}

// The site's own pages a sign-in may return to (web/*.html, without the sign-in page itself).
const RETURN_PAGES = new Set(["/", "/index", "/akun", "/biodata", "/daftar", "/gelombang", "/ktp",
  "/lupa-kata-sandi", "/status", "/tes", "/verifikasi-email"]);

// Where to go after signing in: `?next=` when it is one of this site's pages, else `fallback`.
// The value is parsed as the browser would resolve it (a backslash counts as a slash, tabs and
// newlines are dropped: "/%5Cevil.com" and "/%09/evil.com" name another host), then its origin and
// its path are checked; the normalised path, query and fragment are returned.
export function nextParam(fallback = "/status") {
  const next = new URLSearchParams(location.search).get("next") || "";
  if (!next.startsWith("/")) return fallback;
  let url;
  try { url = new URL(next, location.origin); } catch { return fallback; }
  if (url.origin !== location.origin) return fallback;
  if (!RETURN_PAGES.has(url.pathname.replace(/\.html$/, ""))) return fallback;
  return url.pathname + url.search + url.hash;
}

// The token of an emailed link (#token=...). A new link opened in the same tab changes only the
// fragment, which reloads nothing: start the page afresh then.
export function tokenFromHash() {
  window.addEventListener("hashchange", () => location.reload(), { once: true });
  return new URLSearchParams(location.hash.slice(1)).get("token") || "";
}
