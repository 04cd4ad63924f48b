// Where the API lives. Empty: the same origin as the site (CloudFront routes /v1/* to the HTTP
// API; the local stack serves both on one port). A deployment that must point elsewhere sets
// window.PRAKERJA_API_BASE before the modules load, or edits this line.
export const API_BASE = (globalThis.PRAKERJA_API_BASE || "").replace(/\/$/, "");
// The consent text's version shown on the sign-up page (the API's default consent_version).
export const CONSENT_VERSION = "2020-04";
