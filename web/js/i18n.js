// Bahasa Indonesia first, English on request; the choice is kept in localStorage.
//
// Static text is written in Indonesian in the HTML and marked data-i18n="key" (or
// data-i18n-attr="attr:key;attr:key" for attributes); EN below holds its English. Text made by
// scripts goes through t(key), whose keys live in T as [Indonesian, English]. Codes of the API
// (errors, step reasons) come from codes.js, generated from the API's own table.
import { CODES, REASONS, GENERIC } from "./codes.js";
import { T, EN } from "./strings.js";

const STORE = "prakerja.lang";
let lang = "id";
try { lang = localStorage.getItem(STORE) === "en" ? "en" : "id"; } catch { /* storage blocked */ }
const listeners = [];
const originals = new WeakMap();
export const missing = new Set();

export const getLang = () => lang;
export const locale = () => (lang === "en" ? "en-GB" : "id-ID");

function fill(text, params) {
  return text.replace(/\{(\w+)\}/g, (m, k) => (params[k] ?? m));
}

export function t(key, params = {}) {
  const pair = T[key];
  if (!pair) { missing.add(key); console.warn(`i18n: no text for ${key}`); return key; }
  return fill(pair[lang === "en" ? 1 : 0], params);
}

// The text of an API code (error or field code); `reason` picks the step-reason table first.
export function codeText(code, { reason = false } = {}) {
  const pair = (reason && REASONS[code]) || CODES[code] || REASONS[code] || GENERIC;
  return pair[lang === "en" ? 1 : 0];
}

function translateAttrs(el) {
  const saved = originals.get(el) || {};
  for (const spec of el.dataset.i18nAttr.split(";")) {
    const [attr, key] = spec.split(":").map((s) => s.trim());
    if (!(attr in saved)) saved[attr] = el.getAttribute(attr);
    const en = EN[key] ?? T[key]?.[1];
    if (lang === "en" && en === undefined) { missing.add(key); console.warn(`i18n: no English for ${key}`); }
    el.setAttribute(attr, lang === "en" && en !== undefined ? en : saved[attr]);
  }
  originals.set(el, saved);
}

// Put every marked element of `root` in the current language.
export function translate(root = document) {
  document.documentElement.lang = lang;
  for (const el of root.querySelectorAll("[data-i18n]")) {
    const saved = originals.get(el) || {};
    if (!("html" in saved)) { saved.html = el.innerHTML; originals.set(el, saved); }
    const key = el.dataset.i18n;
    const en = EN[key] ?? T[key]?.[1];
    if (lang === "en" && en === undefined) { missing.add(key); console.warn(`i18n: no English for ${key}`); }
    // a key a script put on the element later (one of T) has its Indonesian there too
    el.innerHTML = lang === "en" && en !== undefined ? en : (T[key]?.[0] ?? saved.html);
  }
  for (const el of root.querySelectorAll("[data-i18n-attr]")) translateAttrs(el);
}

export function onLangChange(fn) { listeners.push(fn); }

export function setLang(next) {
  lang = next === "en" ? "en" : "id";
  try { localStorage.setItem(STORE, lang); } catch { /* private mode */ }
  translate();
  for (const fn of listeners) fn(lang);
}

// Dates and times: the programme runs on Jakarta time (WIB).
export function formatDateTime(iso) {
  if (!iso) return "";
  const text = new Intl.DateTimeFormat(locale(), {
    timeZone: "Asia/Jakarta", day: "numeric", month: "long", year: "numeric", hour: "2-digit", minute: "2-digit",
  }).format(new Date(iso));
  return `${text} WIB`;
}

export function formatDate(isoDate) {
  if (!isoDate) return "";
  return new Intl.DateTimeFormat(locale(), { timeZone: "UTC", day: "numeric", month: "long", year: "numeric" })
    .format(new Date(`${isoDate}T00:00:00Z`));
}
