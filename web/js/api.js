// The API client: JSON in and out, the reader's language, the session's tokens.
//
// Tokens live in sessionStorage (this tab only; gone when the tab closes). An access token lasts
// 15 minutes: on 401 TOKEN_EXPIRED_SESSION the refresh token is rotated once through
// POST /v1/sessions/refresh and the request is repeated, as every real client must (the local
// clock can be moved days ahead). A session that cannot be refreshed sends the reader to sign in.
//
// Admission control (README "Admission control"): a call refused for capacity (503, API Gateway's
// own 429 when a route is throttled, 409 REQUEST_IN_PROGRESS) is retried on its own when the
// caller allows it (`retries`): after the answer's Retry-After (never earlier; up to half again
// later, so a crowd told the same number spreads out), or, without one (API Gateway's 429 has
// none), after an exponential backoff with full jitter. A refusal about the reader's own attempts
// (429 TOO_MANY_ATTEMPTS and the like) or a wait longer than MAX_AUTO_WAIT_S is not retried.
import { API_BASE } from "./config.js";
import { getLang, t } from "./i18n.js";

const SESSION_LOST = new Set(["UNAUTHENTICATED", "TOKEN_INVALID", "TOKEN_EXPIRED_SESSION", "REFRESH_INVALID"]);
const ACCESS = "prakerja.access";
const REFRESH = "prakerja.refresh";

export class ApiError extends Error {
  constructor(status, body = {}, retryAfter = null) {
    super(body.message || `HTTP ${status}`);
    this.status = status;
    this.code = body.code || (status ? "HTTP_" + status : "NETWORK");
    this.fields = Array.isArray(body.fields) ? body.fields : [];
    this.body = body;
    this.retryAfter = retryAfter;
  }
}

function store() {
  try { return window.sessionStorage; } catch { return null; }
}

export const session = {
  get access() { return store()?.getItem(ACCESS) || null; },
  get refresh() { return store()?.getItem(REFRESH) || null; },
  signedIn() { return Boolean(this.refresh || this.access); },
  save(pair) {
    store()?.setItem(ACCESS, pair.access_token);
    if (pair.refresh_token) store()?.setItem(REFRESH, pair.refresh_token);
  },
  clear() { store()?.removeItem(ACCESS); store()?.removeItem(REFRESH); },
};

export function signInUrl() {
  const here = location.pathname + location.search + location.hash;
  return `/masuk?next=${encodeURIComponent(here)}`;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export const BACKOFF = { firstMs: 2000, maxMs: 30000, floorMs: 1000 };
export const MAX_AUTO_WAIT_S = 120;

// Seconds from a Retry-After header (delta-seconds or an HTTP date), or null.
export function parseRetryAfter(value, now = Date.now()) {
  if (value === null || value === undefined || String(value).trim() === "") return null;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds);
  const at = Date.parse(value);
  return Number.isNaN(at) ? null : Math.max(0, Math.ceil((at - now) / 1000));
}

// Milliseconds to wait before retry number `attempt` (0 for the first retry): Retry-After x [1, 1.5)
// when the answer gave one, else BACKOFF.floorMs + full jitter over min(maxMs, firstMs x 2^attempt).
export function retryDelayMs(attempt, retryAfter, random = Math.random) {
  if (retryAfter !== null && retryAfter !== undefined) return Math.round(retryAfter * 1000 * (1 + random() / 2));
  return Math.round(BACKOFF.floorMs + random() * Math.min(BACKOFF.maxMs, BACKOFF.firstMs * 2 ** attempt));
}

// Whether `err` is a refusal for capacity that the same request may simply repeat later.
export function isCapacityRefusal(err) {
  if (err.status === 503) return true;
  if (err.status === 429) return !err.body?.code; // API Gateway's throttle; coded 429s are the reader's own limits
  return err.status === 409 && err.code === "REQUEST_IN_PROGRESS";
}

// A new Idempotency-Key (a random UUID).
export function newIdempotencyKey() {
  if (globalThis.crypto?.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const hex = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

async function send(method, path, body, token, extra = {}) {
  const headers = { Accept: "application/json", "Accept-Language": getLang(), ...extra };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (token) headers.Authorization = `Bearer ${token}`;
  let res;
  try {
    res = await fetch(API_BASE + path, {
      method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: "omit",
    });
  } catch {
    throw new ApiError(0, { code: "NETWORK", message: t("common.network") });
  }
  const text = await res.text();
  let data = {};
  try { data = text ? JSON.parse(text) : {}; } catch { data = {}; }
  if (!res.ok) {
    // API Gateway's own answers (a throttled route: {"message": "Too Many Requests"}) have no code
    // and an English message: the reader gets ours
    if (!data.code && (res.status === 429 || res.status === 503)) data = { message: t("wait.busyGiveUp") };
    throw new ApiError(res.status, data, parseRetryAfter(res.headers.get("Retry-After")));
  }
  return data;
}

let refreshing = null;

async function refreshSession() {
  if (!refreshing) {
    refreshing = (async () => {
      const token = session.refresh;
      if (!token) throw new ApiError(401, { code: "UNAUTHENTICATED", message: t("common.signInAgain") });
      try {
        session.save(await send("POST", "/v1/sessions/refresh", { refresh_token: token }));
      } catch (err) {
        if (err.status === 401) session.clear();
        throw err;
      }
    })().finally(() => { refreshing = null; });
  }
  return refreshing;
}

// One API call. Options: auth (send the access token; refresh once when it expired),
// redirect (on a lost session go to the sign-in page, default true), retries (how often a
// capacity refusal is retried on its own; only for calls safe to repeat: reads, or writes with an
// Idempotency-Key), onWait(ms, attempt) (called before each such wait: the page shows a
// countdown), headers (extra request headers, e.g. {"Idempotency-Key": key}, sent on every try).
export async function api(method, path, body, { auth = false, redirect = true, retries = 0, onWait, headers } = {}) {
  for (let attempt = 0; ; attempt += 1) {
    try {
      if (!auth) return await send(method, path, body, null, headers);
      if (!session.access) await refreshSession();
      try {
        return await send(method, path, body, session.access, headers);
      } catch (err) {
        if (err.status !== 401 || err.code !== "TOKEN_EXPIRED_SESSION") throw err;
        await refreshSession();
        return await send(method, path, body, session.access, headers);
      }
    } catch (err) {
      if (auth && err.status === 401 && SESSION_LOST.has(err.code)) {
        session.clear();
        if (redirect) location.assign(signInUrl());
        throw err;
      }
      if (attempt < retries && isCapacityRefusal(err) && !(err.retryAfter > MAX_AUTO_WAIT_S)) {
        const ms = retryDelayMs(attempt, err.retryAfter);
        if (onWait) onWait(ms, attempt + 1);
        await sleep(ms);
        continue;
      }
      throw err;
    }
  }
}
