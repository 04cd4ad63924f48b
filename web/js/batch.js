// Batches (gelombang): the list and joining the open one; shared by the status and batch pages.
import { api } from "./api.js";
import { formatDateTime, t } from "./i18n.js";
import { busy, say } from "./ui.js";

export async function listBatches() {
  return (await api("GET", "/v1/batches", undefined, { retries: 2 })).batches || [];
}

export const openBatch = (batches) => batches.find((b) => b.status === "OPEN") || null;

// Join; resolves to the API's answer or rejects with an ApiError whose message is in words
// (NOT_ELIGIBLE lists the steps still missing).
export async function joinBatch(batchId) {
  try {
    return await api("POST", `/v1/batches/${encodeURIComponent(batchId)}/participants`, undefined,
      { auth: true, retries: 1 });
  } catch (err) {
    const missing = err.body?.missing_steps;
    if (err.code === "NOT_ELIGIBLE" && Array.isArray(missing) && missing.length) {
      err.message = `${err.message} ${t("batch.missing", { steps: missing.map((s) => t(`step.${s}`)).join(", ") })}`;
    }
    throw err;
  }
}

// Make `button` join `batch` when pressed: the outcome goes to the message area `msg`; after a
// join `joined()` runs (the page loads its state again).
export function joinOnClick(button, batch, msg, joined) {
  button.addEventListener("click", async () => {
    busy(button, true);
    try {
      await joinBatch(batch.batch_id);
      say(msg, t("batch.joined", { id: batch.batch_id, when: formatDateTime(batch.announce_at) }), "success");
      await joined();
    } catch (err) {
      say(msg, err.message, "error");
      busy(button, false);
    }
  });
  return button;
}
