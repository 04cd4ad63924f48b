// Biodata: the form, a live check through POST /v1/me/biodata/preview (what the NIK decodes to,
// so a typo shows before sending), field errors next to the fields, warnings (the form differs
// from the NIK) confirmed explicitly, then PUT /v1/me/biodata.
import { api } from "../api.js";
import { codeText, formatDate, onLangChange, t } from "../i18n.js";
import { $, busy, clearFieldMessages, fieldMessage, h, initPage, say, showFieldErrors } from "../ui.js";

const FIELDS = ["nik", "kk_number", "full_name", "place_of_birth", "date_of_birth", "sex", "address",
  "province_code", "regency_code", "district_code", "education", "work_status", "not_in_formal_education", "phone"];
const DEBOUNCE_MS = 400;
const form = $("#biodata");
const msg = $("#msg");
const touched = new Set();
let submitted = false;
let preview = null;
let sequence = 0;
let timer = null;
let mismatched = [];
let view = null;
const regionFiles = new Map();

const digits = (value) => value.replace(/[\s.-]/g, "");
const el = (name) => form.elements.namedItem(name);

// ---------------------------------------------------------------- regions (three selects)
async function regionFile(name) {
  if (!regionFiles.has(name)) {
    regionFiles.set(name, fetch(`/data/regions/${name}.json`).then((r) => {
      if (!r.ok) throw new Error(`regions ${name}: HTTP ${r.status}`);
      return r.json();
    }));
  }
  return regionFiles.get(name);
}

function fillSelect(select, rows, placeholderKey) {
  select.replaceChildren(h("option", { value: "", text: t(placeholderKey) }),
    ...rows.map(([code, name]) => h("option", { value: code, text: name })));
  select.disabled = rows.length === 0;
}

async function chooseProvince(code) {
  el("province_code").value = code;
  fillSelect(el("regency_code"), [], "biodata.chooseRegency");
  fillSelect(el("district_code"), [], "biodata.chooseDistrict");
  if (!code) return;
  const data = await regionFile(code);
  if (el("province_code").value !== code) return;
  fillSelect(el("regency_code"), data.regencies, "biodata.chooseRegency");
}

async function chooseRegency(code) {
  el("regency_code").value = code;
  fillSelect(el("district_code"), [], "biodata.chooseDistrict");
  if (!code) return;
  const data = await regionFile(code.slice(0, 2));
  if (el("regency_code").value !== code) return;
  fillSelect(el("district_code"), data.districts[code] || [], "biodata.chooseDistrict");
}

async function setRegion(province, regency, district) {
  await chooseProvince(province || "");
  if (regency) await chooseRegency(regency);
  if (district) el("district_code").value = district;
}

async function loadProvinces() {
  const rows = await regionFile("provinces");
  const select = el("province_code");
  const chosen = select.value;
  fillSelect(select, rows, "biodata.chooseProvince");
  select.value = chosen;
}

el("province_code").addEventListener("change", async (e) => { await chooseProvince(e.target.value); schedule(); });
el("regency_code").addEventListener("change", async (e) => { await chooseRegency(e.target.value); schedule(); });

// ---------------------------------------------------------------- the live check
function payload() {
  const out = {};
  for (const name of FIELDS) {
    if (name === "not_in_formal_education") { out[name] = el(name).checked; continue; }
    const value = (name === "sex" ? form.elements.sex.value : el(name).value).trim();
    if (value) out[name] = name === "nik" || name === "kk_number" ? digits(value) : value;
  }
  return out;
}

function visible(field) {
  return submitted || touched.has(field) || (field === "nik" && digits(el("nik").value).length >= 16);
}

// Warnings the browser can see itself from the decoded NIK (the server adds the same ones once
// the whole form is valid): birth date, sex and district against the form.
function localWarnings(decoded) {
  if (!decoded) return [];
  const out = [];
  const dob = el("date_of_birth").value;
  if (dob && dob.slice(2) !== decoded.date_of_birth.slice(2)) out.push({ field: "date_of_birth", code: "NIK_DOB_MISMATCH" });
  const sex = form.elements.sex.value;
  if (sex && sex !== decoded.sex) out.push({ field: "sex", code: "NIK_SEX_MISMATCH" });
  const district = el("district_code").value;
  if (district && district !== decoded.district.code) out.push({ field: "district_code", code: "NIK_REGION_MISMATCH" });
  return out;
}

function warnings() {
  const all = [...(preview?.warnings || []), ...localWarnings(preview?.decoded)];
  return [...new Map(all.map((w) => [w.field, w])).values()];
}

function renderDecoded() {
  const box = $("#decoded");
  const nik = digits(el("nik").value);
  const d = preview?.decoded;
  if (!d) {
    const key = nik.length === 16 && preview ? "biodata.nikUnreadable" : "biodata.decodedEmpty";
    box.replaceChildren(h("p", { class: key === "biodata.nikUnreadable" ? "field-error" : "muted", text: t(key) }));
    return;
  }
  const rows = [
    ["biodata.province", d.province.name || d.province.code],
    ["biodata.regency", d.regency.name || d.regency.code],
    ["biodata.district", d.district.name || d.district.code],
    ["biodata.dob", formatDate(d.date_of_birth)],
    ["biodata.sex", t(d.sex === "F" ? "biodata.female" : "biodata.male")],
  ];
  const parts = [h("dl", { class: "facts", id: "decoded-facts" }, rows.flatMap(([k, v]) => [h("dt", { text: t(k) }), h("dd", { text: v })])),
    h("p", { class: "small muted", text: t("biodata.decodedHelp") })];
  if (!el("district_code").value && d.district.name) {
    const use = h("button", { type: "button", class: "secondary", id: "use-region", text: t("biodata.useRegion") });
    use.addEventListener("click", async () => {
      try { await setRegion(d.province.code, d.regency.code, d.district.code); } catch { /* not in today's list */ }
      schedule(0);
    });
    parts.push(h("div", { class: "actions" }, use));
  }
  box.replaceChildren(...parts);
}

function renderChecks() {
  renderDecoded();
  const issues = new Map();
  for (const e of preview?.errors || []) {
    if (visible(e.field) && !issues.has(e.field)) issues.set(e.field, [codeText(e.code), "error"]);
  }
  const warned = warnings();
  for (const w of warned) if (!issues.has(w.field)) issues.set(w.field, [codeText(w.code), "warning"]);
  for (const field of mismatched) if (!issues.has(field)) issues.set(field, [t("biodata.mismatch"), "warning"]);
  for (const name of FIELDS) {
    const [text, kind] = issues.get(name) || ["", "error"];
    fieldMessage(form, name, text, kind);
  }
  $("#warn-box").hidden = warned.length === 0;
  if (!warned.length) fieldMessage(form, "confirm_warnings", "");
}

async function runPreview() {
  const mine = ++sequence;
  try {
    const result = await api("POST", "/v1/me/biodata/preview", payload(), { auth: true, retries: 1 });
    if (mine === sequence) { preview = result; renderChecks(); }
  } catch (err) {
    if (mine === sequence && err.status !== 401) say(msg, err.message, "error");
  }
  return preview;
}

function schedule(delay = DEBOUNCE_MS) {
  clearTimeout(timer);
  timer = setTimeout(runPreview, delay);
}

form.addEventListener("input", (e) => { if (e.target.name !== "confirm_warnings") schedule(); });
form.addEventListener("change", (e) => {
  if (e.target.name && e.target.name !== "confirm_warnings") { touched.add(e.target.name); schedule(); }
  if (e.target.name === "confirm_warnings" && e.target.checked) fieldMessage(form, "confirm_warnings", "");
});
form.addEventListener("focusout", (e) => { if (FIELDS.includes(e.target.name) && e.target.value) touched.add(e.target.name); });

// ---------------------------------------------------------------- sending
function showView(next) {
  if (next !== undefined) view = next;
  const links = (...items) => $("#next").replaceChildren(...items.map(([href, key, primary]) =>
    h("a", { class: `button ${primary ? "primary" : "secondary"}`, href, text: t(key) })));
  if (!view) { links(); return; }
  say(msg, view.text ? view.text() : "", view.kind);
  links(...(view.links || []));
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  submitted = true;
  clearTimeout(timer);
  say(msg, "");
  const button = $("#submit");
  busy(button, true);
  try {
    const checked = await runPreview();
    if (!checked) return;
    if (checked.errors.length) {
      say(msg, t("common.fixFields"), "error");
      const first = checked.errors.map((e) => el(e.field)).find(Boolean);
      (first instanceof RadioNodeList ? first[0] : first)?.focus();
      return;
    }
    if (warnings().length && !el("confirm_warnings").checked) {
      $("#warn-box").hidden = false;
      fieldMessage(form, "confirm_warnings", t("biodata.confirmNeeded"));
      el("confirm_warnings").focus();
      return;
    }
    await api("PUT", "/v1/me/biodata", payload(), { auth: true, retries: 1 });
    form.hidden = true;
    showView({ kind: "success", text: () => t("biodata.sent"),
      links: [["/tes", "biodata.nextTest", true], ["/status", "common.toStatusShort"]] });
    msg.setAttribute("tabindex", "-1");
    msg.focus();
  } catch (err) {
    if (err.status === 401) return;
    say(msg, err.message, "error");
    clearFieldMessages(form);
    showFieldErrors(form, err.fields);
  } finally {
    busy(button, false);
  }
});

// ---------------------------------------------------------------- the page
async function prefill() {
  let stored;
  try { stored = await api("GET", "/v1/me/biodata", undefined, { auth: true }); } catch { return; }
  const data = stored.biodata || {};
  for (const name of ["full_name", "place_of_birth", "date_of_birth", "address", "education", "work_status"]) {
    if (data[name]) el(name).value = data[name];
  }
  if (data.phone) el("phone").value = data.phone.replace(/^\+62/, "0");
  if (data.sex) form.elements.sex.value = data.sex;
  el("not_in_formal_education").checked = Boolean(data.not_in_formal_education);
  await setRegion(data.province_code, data.regency_code, data.district_code);
  mismatched = stored.mismatched_fields || [];
  fieldMessage(form, "nik", t("biodata.retypeNik"), "warning");
}

function showSummary(stored) {
  const d = stored.biodata;
  $("#summary").hidden = false;
  $("#summary").replaceChildren(h("dl", { class: "facts panel" },
    [["biodata.name", d.full_name], ["NIK", d.nik], ["biodata.dob", formatDate(d.date_of_birth)]]
      .flatMap(([k, v]) => [h("dt", { text: k === "NIK" ? k : t(k) }), h("dd", { text: v })])));
}

async function start() {
  try {
    await loadProvinces();
    const me = await api("GET", "/v1/me", undefined, { auth: true, retries: 2 });
    const nik = me.steps.nik;
    if (me.steps.email.status !== "VERIFIED") {
      return showView({ kind: "info", text: () => t("biodata.emailFirst"), links: [["/status", "common.toStatusShort", true]] });
    }
    if (nik.status === "VERIFIED") {
      showView({ kind: "success", text: () => t("biodata.verified"), links: [["/status", "common.toStatusShort", true]] });
      showSummary(await api("GET", "/v1/me/biodata", undefined, { auth: true }));
      return;
    }
    if (nik.status === "PENDING") showView({ kind: "info", text: () => t("biodata.pending") });
    if (nik.status === "REJECTED") showView({ kind: "error", text: () => `${codeText(nik.reason, { reason: true })} ${t("biodata.fix")}` });
    form.hidden = false;
    if (nik.status !== "NOT_STARTED") await prefill();
    renderChecks();
  } catch (err) {
    if (err.status !== 401) say(msg, err.message, "error");
  }
}

if (initPage({ auth: true })) {
  onLangChange(() => {
    showView();
    renderChecks();
    for (const [name, key] of [["province_code", "biodata.chooseProvince"], ["regency_code", "biodata.chooseRegency"],
      ["district_code", "biodata.chooseDistrict"]]) el(name).options[0].text = t(key);
  });
  start();
}
