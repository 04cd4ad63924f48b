// The API client: JSON in and out, the reader's language, the session's tokens.
//
// Tokens live in sessionStorage (this tab only; gone when the tab closes). An access token lasts
// 15 minutes: on 401 TOKEN_EXPIRED_SESSION the refresh token is rotated once through
// POST /v1/sessions/refresh and the request is repeated, as every real client must (the local
// clock can be moved days ahead). A session that cannot be refreshed sends the reader to sign in.
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

async function send(method, path, body, token) {
  const headers = { Accept: "application/json", "Accept-Language": getLang() };
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
    const retry = Number(res.headers.get("Retry-After"));
    throw new ApiError(res.status, data, Number.isFinite(retry) ? retry : null);
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
// redirect (on a lost session go to the sign-in page, default true), retries (how often a 503
// or 429 is retried after its Retry-After; for idempotent calls).
export async function api(method, path, body, { auth = false, redirect = true, retries = 0 } = {}) {
  for (let attempt = 0; ; attempt += 1) {
    try {
      if (!auth) return await send(method, path, body);
      if (!session.access) await refreshSession();
      try {
        return await send(method, path, body, session.access);
      } catch (err) {
        if (err.status !== 401 || err.code !== "TOKEN_EXPIRED_SESSION") throw err;
        await refreshSession();
        return await send(method, path, body, session.access);
      }
    } catch (err) {
      if (auth && err.status === 401 && SESSION_LOST.has(err.code)) {
        session.clear();
        if (redirect) location.assign(signInUrl());
        throw err;
      }
      if ((err.status === 503 || err.status === 429) && attempt < retries) {
        await sleep(Math.min(10, Math.max(1, err.retryAfter || 2)) * 1000);
        continue;
      }
      throw err;
    }
  }
}
