"""Batches (gelombang): list, join, and the tick that closes, draws and announces.

Timeline of a batch (times stored and returned in UTC, stated by operators in WIB): opens_at ->
closes_at -> (tick) CLOSED -> DRAWN -> at announce_at ANNOUNCED. A join counts when its
server-stamped time is before closes_at; the draw reads only those. The draw's seed is
``sha256(secret : digest(sorted participants))`` (``prakerja.domain.selection.draw_seed``): the
operator committed to the secret (its hash is published as ``commitment``) before the batch
opened, and the participant digest is fixed at the close, so neither side can steer it; an
auditor re-runs it from the published participant list and the revealed secret.

The tick is idempotent: every stage is deterministic and moves the stored status on with a
conditional write, so a tick that runs twice or late redoes nothing harmful.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from prakerja import clock
from prakerja.adapters.aws import client
from prakerja.adapters.batches import BatchStore
from prakerja.domain import applicant as states
from prakerja.domain import selection
from prakerja.domain.errors import Conflict, Forbidden, NotFound
from prakerja.observability import logger
from prakerja.services import mail
from prakerja.services.wiring import Wiring

PUBLIC_FIELDS = ("batch_id", "opens_at", "closes_at", "announce_at", "quota", "commitment")


def shown_status(meta: dict, now: datetime) -> str:
    """The batch status shown to clients: stored CLOSED/DRAWN/ANNOUNCED, else OPEN or SCHEDULED
    by the time (a batch past closes_at shows CLOSED even before the tick runs)."""
    stored = meta.get("status", "SCHEDULED")
    if stored != "SCHEDULED":
        return stored
    at = clock.iso(now)
    if at >= meta["closes_at"]:
        return "CLOSED"
    return "OPEN" if at >= meta["opens_at"] else "SCHEDULED"


class Batches:
    """Use cases of the batch step."""

    def __init__(self, w: Wiring, batches: BatchStore) -> None:
        self.w = w
        self.batches = batches

    def list(self) -> list[dict]:
        """Every batch as ``{batch_id, status, opens_at, closes_at, announce_at, quota, commitment}``."""
        now = clock.now()
        out = []
        for meta in self.batches.list_batches():
            row = {k: meta.get(k) for k in PUBLIC_FIELDS} | {"status": shown_status(meta, now)}
            if meta.get("status") in {"DRAWN", "ANNOUNCED"}:
                row |= {"participants": meta.get("participants"), "selected": meta.get("selected")}
            out.append(row)
        return out

    def join(self, applicant_id: str, batch_id: str) -> dict:
        """Join an open batch. Raises NotFound(BATCH_NOT_FOUND), Conflict(BATCH_CLOSED |
        ALREADY_JOINED | ALREADY_SELECTED), Forbidden(NOT_ELIGIBLE, detail lists missing steps)."""
        meta = self.batches.get_batch(batch_id)
        if not meta:
            raise NotFound("BATCH_NOT_FOUND")
        now = clock.now()
        at = now.isoformat(timespec="microseconds").replace("+00:00", "Z")
        if shown_status(meta, now) != "OPEN":
            raise Conflict("BATCH_CLOSED")
        store = self.w.store
        profile = store.get_profile(applicant_id) or {"steps": {}}
        missing = states.missing_for_join(profile["steps"])
        if missing:
            raise Forbidden("NOT_ELIGIBLE", detail={"missing_steps": missing})
        if profile.get("selected_batch"):
            raise Conflict("ALREADY_SELECTED")
        biodata = store.get_item(applicant_id, "BIODATA") or {}
        province = (biodata.get("data") or {}).get("province_code")
        member = {"joined_at": at, "province_code": province, "priority": False}
        joined = store.transact([
            self.batches.member_put(batch_id, applicant_id, member),
            store.put_item(applicant_id, f"MEMBER#{batch_id}", {"batch_id": batch_id, "joined_at": at},
                           condition="attribute_not_exists(pk)"),
            store.update_item(applicant_id, "PROFILE", {"active_batch": batch_id,
                                                        "active_batch_closes_at": meta["closes_at"]},
                              condition="attribute_not_exists(selected_batch) AND "
                                        "(attribute_not_exists(active_batch_closes_at)"
                                        " OR active_batch_closes_at <= :now)",
                              cond_values={":now": clock.iso(now)}),
        ])
        if not joined:
            raise Conflict("ALREADY_JOINED")
        return {"batch_id": batch_id, "status": "JOINED", "joined_at": clock.iso(now)}

    # ------------------------------------------------------------------ the tick
    def tick(self) -> dict[str, list[str]]:
        """Close, draw and announce whatever is due. Returns what it did per stage."""
        done: dict[str, list[str]] = {"closed": [], "drawn": [], "announced": []}
        now = clock.now()
        for meta in self.batches.list_batches():
            batch_id, status = meta["batch_id"], meta.get("status", "SCHEDULED")
            if status == "SCHEDULED" and clock.iso(now) >= meta["closes_at"]:
                if self.batches.advance(batch_id, "SCHEDULED", {"status": "CLOSED", "closed_at": clock.iso(now)}):
                    done["closed"].append(batch_id)
                status = "CLOSED"
            if status == "CLOSED":
                self._draw(meta)
                done["drawn"].append(batch_id)
                status = "DRAWN"
            if status == "DRAWN" and clock.iso(now) >= meta["announce_at"]:
                self._announce(batch_id)
                done["announced"].append(batch_id)
        return done

    def _draw(self, meta: dict) -> None:
        batch_id = meta["batch_id"]
        members = self.batches.members(batch_id, joined_before=meta["closes_at"])
        participants = [selection.Participant(m["applicant_id"], m.get("province_code"), bool(m.get("priority")))
                        for m in members]
        secret = meta["secret"]
        digest = selection.participants_digest(p.participant_id for p in participants)
        seed = selection.draw_seed(secret, digest)
        result = selection.draw(participants, quota=int(meta["quota"]), seed=seed,
                                priority_share=float(meta.get("priority_share") or 0.0),
                                province_quotas={k: int(v) for k, v in (meta.get("province_quotas") or {}).items()}
                                or None)
        key = f"draws/{batch_id}.json"
        audit = {"batch_id": batch_id, "closes_at": meta["closes_at"], "quota": meta["quota"],
                 "commitment": meta["commitment"], "secret": secret, "participants_digest": digest,
                 "seed": seed, "ranking": [[pid, "SELECTED" if sel else "NOT_SELECTED", rank]
                                           for pid, sel, rank in result.iter_ranking()]}
        client("s3").put_object(Bucket=self.w.settings.audit_bucket, Key=key, Body=json.dumps(audit).encode(),
                                ContentType="application/json")
        self._fan_out("results", batch_id, audit["ranking"])
        self.batches.advance(batch_id, "CLOSED", {"status": "DRAWN", "seed": seed, "participants_digest": digest,
                                                  "participants": len(participants),
                                                  "selected": result.selected_count, "result_key": key,
                                                  "drawn_at": clock.iso(clock.now())})
        logger.info("batch drawn", extra={"batch_id": batch_id, "participants": len(participants),
                                          "selected": result.selected_count})

    def _announce(self, batch_id: str) -> None:
        audit = self.read_audit(batch_id)
        self._fan_out("announce", batch_id, audit["ranking"])
        self.batches.advance(batch_id, "DRAWN", {"status": "ANNOUNCED", "announced_at": clock.iso(clock.now())})

    def read_audit(self, batch_id: str) -> dict:
        """The draw's audit record from S3 (``ranking``: ``[participant_id, outcome, rank]``)."""
        body = client("s3").get_object(Bucket=self.w.settings.audit_bucket, Key=f"draws/{batch_id}.json")["Body"]
        return json.loads(body.read())

    def _fan_out(self, kind: str, batch_id: str, rows: list) -> None:
        size = self.w.settings.draw_chunk_size
        sqs = client("sqs")
        for start in range(0, len(rows), size):
            sqs.send_message(QueueUrl=self.w.settings.draw_queue_url,
                             MessageBody=json.dumps({"kind": kind, "batch_id": batch_id,
                                                     "rows": rows[start:start + size]}))

    # ------------------------------------------------------------------ fan-out chunks
    def apply_chunk(self, body: dict[str, Any]) -> int:
        """Write one chunk: results on each member, or announcement emails. Idempotent."""
        kind, batch_id, rows = body["kind"], body["batch_id"], body["rows"]
        for applicant_id, outcome, rank in rows:
            if kind == "results":
                self._write_result(applicant_id, batch_id, outcome, int(rank))
            else:
                self._notify(applicant_id, batch_id, outcome)
        return len(rows)

    def _write_result(self, applicant_id: str, batch_id: str, outcome: str, rank: int) -> None:
        store = self.w.store
        items = [store.update_item(applicant_id, f"MEMBER#{batch_id}", {"result": outcome, "rank": rank},
                                   condition="attribute_exists(pk)")]
        if outcome == "SELECTED":
            items.append(store.update_item(applicant_id, "PROFILE", {"selected_batch": batch_id},
                                           condition="attribute_exists(pk)"))
        if not store.transact(items):
            logger.info("result for a member that no longer exists", extra={"batch_id": batch_id})

    def _notify(self, applicant_id: str, batch_id: str, outcome: str) -> None:
        store = self.w.store
        member = store.get_item(applicant_id, f"MEMBER#{batch_id}")
        profile = store.get_profile(applicant_id)
        if not member or not profile or member.get("notified_at"):
            return
        message = mail.email_message(mail.BULK, "batch_result", profile["email"],
                                     {"batch_id": batch_id, "result": outcome,
                                      "base": self.w.settings.public_base_url}, ref=f"{applicant_id}:{batch_id}")
        # the chunk message itself is the durable record: send directly, then mark notified
        self.w.outbox.send(message)
        store.transact([store.update_item(applicant_id, f"MEMBER#{batch_id}",
                                          {"notified_at": clock.iso(clock.now())})])
