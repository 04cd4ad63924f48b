// KTP photo: take or pick a photo; shrink it in the browser when large (long side 1600 px,
// JPEG 0.85); upload it straight to S3 with the presigned POST (XMLHttpRequest, for the
// progress bar); retry after a dropped connection; then poll the status for the verdict.
import { api } from "../api.js";
import { codeText, locale, onLangChange, t } from "../i18n.js";
import { $, busy, h, initPage, say } from "../ui.js";

const LONG_SIDE = 1600;
const QUALITY = 0.85;
const SHRINK_ABOVE_BYTES = 1_000_000;
const MIN_LONG = 600;
const MIN_SHORT = 380;
const MIN_BYTES = 10_000;
const MAX_BYTES = 10_000_000;
const MAX_ATTEMPTS = 5;
const STALL_MS = 45_000;
const POLL_MS = 2_000;
const POLL_FOR_MS = 120_000;

const msg = $("#msg");
let prepared = null;   // {blob, type, width, height, originalSize, shrunk}
let view = null;       // what #msg and #next show, re-rendered on a language change
let ktpStep = null;

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const reasonText = (code) => codeText(code, { reason: true });

function kb(bytes) {
  return bytes >= 1_000_000 ? `${(bytes / 1_000_000).toLocaleString(locale(), { maximumFractionDigits: 1 })} MB`
    : `${Math.max(1, Math.round(bytes / 1000))} KB`;
}

// ---------------------------------------------------------------- what the page says
function show(next) {
  view = next;
  const links = (...items) => $("#next").replaceChildren(...items.map(([href, key, primary]) =>
    h("a", { class: `button ${primary ? "primary" : "secondary"}`, href, text: t(key) })));
  switch (view?.name) {
    case "refused": say(msg, `${reasonText(view.code)} ${t("ktp.chooseOther")}`, "error"); links(); break;
    case "valid": say(msg, t("ktp.valid"), "success"); links(["/biodata", "ktp.nextBiodata", true], ["/status", "common.toStatusShort"]); break;
    case "rejected": say(msg, `${t("ktp.rejected")} ${reasonText(view.code)} ${t("ktp.chooseOther")}`, "error"); links(); break;
    case "checking": say(msg, t("ktp.checking"), "info"); links(); break;
    case "slow": say(msg, t("ktp.slow"), "info"); links(["/status", "common.toStatusShort", true]); break;
    case "error": say(msg, view.text, "error"); links(); break;
    default: say(msg, ""); links();
  }
}

function showCurrent() {
  const box = $("#current");
  const s = ktpStep;
  if (!s || s.status === "NOT_STARTED") { box.hidden = true; return; }
  const text = { VALID: t("ktp.currentValid"), PROCESSING: t("ktp.currentProcessing"),
    REJECTED: `${t("ktp.currentRejected")} ${reasonText(s.reason)}` }[s.status] || "";
  say(box, text, s.status === "VALID" ? "success" : "info");
}

function showChosen() {
  const p = prepared;
  $("#chosen").hidden = !p;
  if (!p) return;
  const info = p.shrunk
    ? t("ktp.shrunk", { from: kb(p.originalSize), to: kb(p.blob.size), w: p.width, h: p.height })
    : p.width ? t("ktp.asIs", { size: kb(p.blob.size), w: p.width, h: p.height })
      : t("ktp.asIsNoPreview", { size: kb(p.blob.size) });
  $("#chosen-info").textContent = info;
}

onLangChange(() => { show(view); showCurrent(); showChosen(); });

// ---------------------------------------------------------------- preparing the photo
async function sniff(file) {
  const b = new Uint8Array(await file.slice(0, 16).arrayBuffer());
  if (b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return "image/jpeg";
  if (b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47) return "image/png";
  const ascii = String.fromCharCode(...b.slice(4, 12));
  if (ascii.startsWith("ftyp")) {
    const brand = ascii.slice(4);
    if (["heic", "heix", "hevc", "hevx", "heim", "heis"].includes(brand)) return "image/heic";
    if (["mif1", "msf1"].includes(brand)) return "image/heif";
  }
  return null;
}

async function shrink(bitmap, width, height) {
  const scale = Math.min(1, LONG_SIDE / Math.max(width, height));
  const w = Math.round(width * scale);
  const hgt = Math.round(height * scale);
  const canvas = document.createElement("canvas");
  canvas.width = w;
  canvas.height = hgt;
  const ctx = canvas.getContext("2d");
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, w, hgt);
  ctx.drawImage(bitmap, 0, 0, w, hgt);
  const blob = await new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", QUALITY));
  return { blob, w, h: hgt };
}

async function prepare(file) {
  show(null);
  prepared = null;
  showChosen();
  const preview = $("#preview");
  if (preview.src) URL.revokeObjectURL(preview.src);
  preview.hidden = true;
  const type = await sniff(file);
  if (!type) return show({ name: "refused", code: "UNSUPPORTED_TYPE" });
  let next = { blob: file, type, width: 0, height: 0, originalSize: file.size, shrunk: false };
  if (type === "image/jpeg" || type === "image/png") {
    let bitmap = null;
    try {
      bitmap = await createImageBitmap(file, { imageOrientation: "from-image" });
    } catch {
      bitmap = null; // this browser cannot read it: send it as it is, the server decides
    }
    if (bitmap) {
      const { width, height } = bitmap;
      if (Math.max(width, height) < MIN_LONG || Math.min(width, height) < MIN_SHORT) {
        bitmap.close();
        return show({ name: "refused", code: "LOW_RESOLUTION" });
      }
      next = { ...next, width, height };
      if (Math.max(width, height) > LONG_SIDE || file.size > SHRINK_ABOVE_BYTES) {
        const small = await shrink(bitmap, width, height);
        if (small.blob && small.blob.size < file.size) {
          next = { ...next, blob: small.blob, type: "image/jpeg", width: small.w, height: small.h, shrunk: true };
        }
      }
      bitmap.close();
    }
  }
  if (next.blob.size > MAX_BYTES) return show({ name: "refused", code: "TOO_LARGE" });
  if (next.blob.size < MIN_BYTES) return show({ name: "refused", code: "TOO_SMALL" });
  prepared = next;
  if (next.width) {
    preview.src = URL.createObjectURL(next.blob);
    preview.hidden = false;
  }
  showChosen();
  $("#upload").focus();
}

function chosen(input) {
  const file = input.files?.[0];
  input.value = "";
  if (file) prepare(file);
}
for (const input of [$("#take"), $("#pick")]) {
  input.addEventListener("change", () => chosen(input));
  // on a slow connection a photo may be picked before this script has arrived
  if (input.files?.length) chosen(input);
}

// ---------------------------------------------------------------- uploading
class Dropped extends Error {}

function setProgress(fraction) {
  const percent = Math.round(fraction * 100);
  $("#progress").value = percent;
  const text = $("#progress-text");
  const step = Math.floor(percent / 25) * 25;
  if (text.dataset.step !== String(step)) {
    text.dataset.step = String(step);
    text.textContent = t("ktp.percent", { percent: step });
  }
}

// One multipart POST to S3: the policy's fields first, the file last.
function postOnce(grant, blob, type) {
  return new Promise((resolve, reject) => {
    const form = new FormData();
    for (const [key, value] of Object.entries(grant.fields)) form.append(key, value);
    form.append("file", new File([blob], type === "image/png" ? "ktp.png" : type === "image/jpeg" ? "ktp.jpg" : "ktp.heic", { type }));
    const xhr = new XMLHttpRequest();
    let stall = null;
    const arm = () => { clearTimeout(stall); stall = setTimeout(() => xhr.abort(), STALL_MS); };
    xhr.upload.addEventListener("progress", (e) => { arm(); if (e.lengthComputable) setProgress(e.loaded / e.total); });
    xhr.addEventListener("load", () => { clearTimeout(stall); resolve({ status: xhr.status, text: xhr.responseText }); });
    xhr.addEventListener("error", () => { clearTimeout(stall); reject(new Dropped("network")); });
    xhr.addEventListener("abort", () => { clearTimeout(stall); reject(new Dropped("stalled")); });
    xhr.open("POST", grant.url);
    xhr.send(form);
    arm();
  });
}

function waitOnline() {
  if (navigator.onLine !== false) return Promise.resolve();
  return new Promise((resolve) => window.addEventListener("online", resolve, { once: true }));
}

async function send(p) {
  const before = await api("GET", "/v1/me", undefined, { auth: true, retries: 2 });
  let grant = null;
  let grantGoodUntil = 0;
  let regranted = false;
  for (let attempt = 1; ; attempt += 1) {
    if (!grant || performance.now() > grantGoodUntil) {
      grant = await api("POST", "/v1/me/documents/ktp", { content_type: p.type }, { auth: true, retries: 2 });
      const seconds = (Date.parse(grant.expires_at) - Date.parse(before.as_of)) / 1000;
      grantGoodUntil = performance.now() + Math.max(30, seconds - 60) * 1000;
    }
    try {
      const res = await postOnce(grant, p.blob, p.type);
      if (res.status >= 200 && res.status < 300) return before.as_of;
      if (res.status === 403 && !regranted) { regranted = true; grant = null; continue; }
      const code = /<Code>([^<]+)<\/Code>/.exec(res.text)?.[1] || `HTTP ${res.status}`;
      throw new Error(code === "EntityTooLarge" ? reasonText("TOO_LARGE") : code === "EntityTooSmall"
        ? reasonText("TOO_SMALL") : t("ktp.storageRefused", { code }));
    } catch (err) {
      if (!(err instanceof Dropped) || attempt >= MAX_ATTEMPTS) {
        throw err instanceof Dropped ? new Error(t("ktp.droppedGiveUp")) : err;
      }
      $("#progress-text").textContent = t("ktp.dropped", { n: attempt + 1, max: MAX_ATTEMPTS });
      await waitOnline();
      await sleep(Math.min(8000, 1000 * 2 ** (attempt - 1)));
    }
  }
}

async function verdict(asOf) {
  show({ name: "checking" });
  const until = performance.now() + POLL_FOR_MS;
  while (performance.now() < until) {
    await sleep(POLL_MS);
    let me;
    try { me = await api("GET", "/v1/me", undefined, { auth: true, retries: 2 }); } catch { continue; }
    const k = me.steps.ktp;
    if (k.updated_at && k.updated_at >= asOf && (k.status === "VALID" || k.status === "REJECTED")) {
      ktpStep = k;
      showCurrent();
      $("#current").hidden = true;
      return show(k.status === "VALID" ? { name: "valid" } : { name: "rejected", code: k.reason });
    }
  }
  return show({ name: "slow" });
}

$("#upload").addEventListener("click", async (event) => {
  const button = event.currentTarget;
  if (!prepared) return;
  busy(button, true, "ktp.sending");
  show(null);
  $("#choose").hidden = true;
  $("#progress-box").hidden = false;
  $("#progress-text").dataset.step = "";
  setProgress(0);
  try {
    const asOf = await send(prepared);
    setProgress(1);
    $("#progress-box").hidden = true;
    $("#chosen").hidden = true;
    prepared = null;
    await verdict(asOf);
  } catch (err) {
    $("#progress-box").hidden = true;
    show({ name: "error", text: err.message || t("common.network") });
  } finally {
    busy(button, false);
    $("#choose").hidden = false;
  }
});

if (initPage({ auth: true })) {
  api("GET", "/v1/me", undefined, { auth: true, retries: 2 })
    .then((me) => { ktpStep = me.steps.ktp; showCurrent(); })
    .catch((err) => { if (err.status !== 401) show({ name: "error", text: err.message }); });
}
