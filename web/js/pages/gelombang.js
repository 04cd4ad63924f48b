// Batches: every batch with its dates and state; join the open one (signed in).
import { api, session } from "../api.js";
import { joinOnClick, listBatches } from "../batch.js";
import { formatDateTime, onLangChange, t } from "../i18n.js";
import { $, h, initPage, say } from "../ui.js";

const msg = $("#msg");
let batches = [];
let mine = null;

function card(batch) {
  const facts = [
    ["batch.opens", formatDateTime(batch.opens_at)],
    ["batch.closes", formatDateTime(batch.closes_at)],
    ["batch.announce", formatDateTime(batch.announce_at)],
    ["batch.quota", Number(batch.quota).toLocaleString()],
  ];
  if (batch.participants !== undefined && batch.participants !== null) {
    facts.push(["batch.participants", Number(batch.participants).toLocaleString()],
      ["batch.selected", Number(batch.selected).toLocaleString()]);
  }
  let action = null;
  if (batch.status === "OPEN") {
    if (!session.signedIn()) {
      action = h("a", { class: "button primary", href: "/masuk?next=%2Fgelombang", text: t("batch.signInToJoin") });
    } else if (mine && mine.batch_id === batch.batch_id) {
      action = h("p", { class: "msg msg-success", text: t("batch.youJoined") });
    } else {
      action = joinOnClick(h("button", { type: "button", class: "primary", text: t("batch.join", { id: batch.batch_id }) }),
        batch, msg, load);
    }
  }
  return h("li", { class: "panel", id: `batch-${batch.batch_id}` },
    h("h2", {}, t("batch.name", { id: batch.batch_id }), " ",
      h("span", { class: `badge badge-${batch.status === "OPEN" ? "done" : "todo"}`, text: t(`batchState.${batch.status}`) })),
    h("dl", { class: "facts" }, facts.flatMap(([k, v]) => [h("dt", { text: t(k) }), h("dd", { text: v })])),
    action ? h("div", { class: "actions" }, action) : null);
}

function render() {
  const list = $("#batches");
  if (!batches.length) { list.replaceChildren(h("p", { text: t("batch.none") })); return; }
  list.replaceChildren(h("ol", { class: "steps" }, batches.map(card)));
}

async function load() {
  try {
    batches = await listBatches();
    if (session.signedIn()) {
      const me = await api("GET", "/v1/me", undefined, { auth: true, retries: 2 });
      mine = me.steps.batch;
    }
    render();
  } catch (err) {
    if (err.status !== 401) say(msg, err.message, "error");
  }
}

initPage();
onLangChange(render);
load();
