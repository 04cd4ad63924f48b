"""Batches (gelombang): create, list, join, reveal, and the tick that closes, draws and announces.

Timeline of a batch (stated by operators in WIB, stored and returned in UTC): created before
``opens_at`` with the ``commitment`` (sha256 of the draw secret) -> opens_at (joins accepted)
-> closes_at (a join counts when its server-stamped time is before it) -> the operator reveals
the secret -> (tick) CLOSED -> DRAWN -> at announce_at ANNOUNCED. The draw's seed is
``sha256(secret : digest(sorted participants))`` (``prakerja.domain.selection.draw_seed``): the
operator committed to the secret before the batch opened, and the participant digest is fixed
at the close, so neither side can steer it; an auditor re-runs it from the published audit
record (:func:`prakerja.domain.draw.verify_audit`, ``prakerja-ops draw verify``).

The secret: on AWS it is never stored before the close. ``create`` stores only the commitment;
``reveal`` (after closes_at) checks ``sha256(secret)`` against it and stores the secret; the
tick draws a closed batch only once its secret is revealed, and otherwise waits (and logs). The
local stack's seed stores the secret at start (local only, so its batches draw unattended).

The audit record (``draws/<batch_id>.json`` in the audit bucket) names no one: participants
appear by their applicant id, a random id (uuid4) that is not derived from any personal data,
with their province code and priority flag (needed to re-run the draw). Erasing an applicant
deletes everything the id leads to, so the id left in the audit record no longer leads to anyone.

The tick is idempotent: every stage is deterministic and moves the stored status on with a
conditional write, so a tick that runs twice or late redoes nothing harmful.
"""

from __future__ import annotations

import builtins
import json
import re
import tempfile
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from prakerja import clock
from prakerja.adapters.batches import BatchStore
from prakerja.adapters.draws import AuditArchive, DrawFanOut
from prakerja.adapters.membership import BatchMembership
from prakerja.domain import applicant as states
from prakerja.domain import selection
from prakerja.domain.accounts import mail_address
from prakerja.domain.draw import audit_rows, run_draw, verify_audit, write_audit
from prakerja.domain.errors import Conflict, FieldIssue, Forbidden, InvalidInput, NotFound
from prakerja.domain.nik import NikError, normalize_nik
from prakerja.domain.regions import is_known_province
from prakerja.observability import logger
from prakerja.services import mail
from prakerja.services.consent import require_active
from prakerja.services.security import lookup_keys
from prakerja.services.wiring import Wiring

PUBLIC_FIELDS = ("batch_id", "opens_at", "closes_at", "announce_at", "quota", "commitment")
OPTIONAL_PUBLIC_FIELDS = ("priority_share", "province_quotas")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_APPLICANT_ID = re.compile(r"^[0-9a-f]{32}$")
_WIB_FORMATS = ("%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S")


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


def wib_time(text: str) -> datetime:
    """A time as operators state it: ``YYYY-MM-DD HH:MM[:SS]`` in WIB (Asia/Jakarta), or ISO 8601
    with an explicit offset or ``Z``. Returns an aware UTC datetime; raises ValueError."""
    text = text.strip()
    for fmt in _WIB_FORMATS:
        try:
            return datetime.strptime(text, fmt).replace(tzinfo=clock.WIB).astimezone(UTC)
        except ValueError:
            continue
    return clock.parse_iso(text)


class BatchSettings(BaseModel):
    """The settings of a new batch. Times are aware datetimes (UTC when stored)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    batch_id: str = Field(pattern=r"^[A-Za-z0-9_\-]{1,40}$")
    opens_at: datetime
    closes_at: datetime
    announce_at: datetime
    quota: int = Field(ge=1)
    priority_share: float = Field(default=0.0, ge=0.0, le=1.0)
    province_quotas: dict[str, int] | None = None
    commitment: str

    @field_validator("opens_at", "closes_at", "announce_at")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("TIME_NEEDS_OFFSET")
        return value

    @field_validator("commitment")
    @classmethod
    def _hex(cls, value: str) -> str:
        if not _HEX64.fullmatch(value):
            raise ValueError("COMMITMENT_INVALID")
        return value

    @field_validator("province_quotas")
    @classmethod
    def _provinces(cls, value: dict[str, int] | None) -> dict[str, int] | None:
        if value is None:
            return None
        for code, cap in value.items():
            if not is_known_province(code) or cap < 0:
                raise ValueError("PROVINCE_QUOTA_INVALID")
        return value

    @model_validator(mode="after")
    def _ordered(self) -> BatchSettings:
        if not self.opens_at < self.closes_at <= self.announce_at:
            raise ValueError("TIMES_OUT_OF_ORDER")
        return self

    @classmethod
    def parse(cls, values: Mapping[str, Any]) -> BatchSettings:
        """Validate ``values``; raises InvalidInput(BATCH_SETTINGS_INVALID) listing every field."""
        try:
            return cls(**values)
        except ValidationError as exc:
            issues = [FieldIssue(".".join(str(p) for p in e["loc"]) or "batch",
                                 str(e.get("ctx", {}).get("error", "")) or e["type"].upper())
                      for e in exc.errors()]
            raise InvalidInput("BATCH_SETTINGS_INVALID", issues) from None

    def item(self) -> dict[str, Any]:
        """The META item's attributes (times as ISO UTC strings; no secret)."""
        meta: dict[str, Any] = {"batch_id": self.batch_id, "opens_at": clock.iso(self.opens_at),
                                "closes_at": clock.iso(self.closes_at), "announce_at": clock.iso(self.announce_at),
                                "quota": self.quota, "commitment": self.commitment, "status": "SCHEDULED"}
        if self.priority_share:
            meta["priority_share"] = Decimal(repr(self.priority_share))
        if self.province_quotas is not None:
            meta["province_quotas"] = dict(self.province_quotas)
        return meta


class Batches:
    """Use cases of the batch step."""

    def __init__(self, w: Wiring, batches: BatchStore | None = None) -> None:
        """``batches``: the Batches table; None for the draw results' fan-out (``apply_chunk``),
        which never reads it."""
        self.w = w
        self.batches: BatchStore = batches  # type: ignore[assignment]

    @property
    def membership(self) -> BatchMembership:
        """Joining, results and announcement marks (adapters/membership.py)."""
        return BatchMembership(self.w.store, self.batches)

    def list(self) -> list[dict]:
        """Every batch as ``{batch_id, status, opens_at, closes_at, announce_at, quota, commitment}``
        (plus ``priority_share``/``province_quotas`` when set, and the counts once drawn)."""
        now = clock.now()
        out = []
        for meta in self.batches.list_batches():
            row = {k: meta.get(k) for k in PUBLIC_FIELDS} | {"status": shown_status(meta, now)}
            row |= {k: meta[k] for k in OPTIONAL_PUBLIC_FIELDS if meta.get(k) is not None}
            if meta.get("status") in {"DRAWN", "ANNOUNCED"}:
                row |= {"participants": meta.get("participants"), "selected": meta.get("selected")}
            out.append(row)
        return out

    def describe(self) -> builtins.list[dict]:
        """Every batch for operators: the META item without the secret, the shown status and
        ``revealed`` (whether the secret has been revealed)."""
        now = clock.now()
        return [{k: v for k, v in meta.items() if k not in {"pk", "sk", "secret"}}
                | {"status": shown_status(meta, now), "revealed": bool(meta.get("secret"))}
                for meta in self.batches.list_batches()]

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
        require_active(profile)
        missing = states.missing_for_join(profile["steps"])
        if missing:
            raise Forbidden("NOT_ELIGIBLE", detail={"missing_steps": missing})
        if profile.get("selected_batch"):
            raise Conflict("ALREADY_SELECTED")
        biodata = store.biodata(applicant_id) or {}
        province = (biodata.get("data") or {}).get("province_code")
        member = {"joined_at": at, "province_code": province,
                  "priority": self._on_priority_list(meta, applicant_id, biodata.get("nik_key"))}
        if not self.membership.join_batch(applicant_id, batch_id, meta["closes_at"], member, now):
            raise Conflict("ALREADY_JOINED")
        self.w.funnel.reached(applicant_id, "joined_batch")
        return {"batch_id": batch_id, "status": "JOINED", "joined_at": clock.iso(now)}

    def _on_priority_list(self, meta: dict, applicant_id: str, nik_key: str | None) -> bool:
        if not meta.get("priority_list"):
            return False
        keys = [BatchStore.applicant_entry(applicant_id)] + ([BatchStore.nik_entry(nik_key)] if nik_key else [])
        return self.batches.is_priority(meta["batch_id"], keys)

    # ------------------------------------------------------------------ operators
    def create(self, batch: BatchSettings, priority_entries: Iterable[str] = ()) -> dict:
        """Create a batch before it opens, with only the commitment to its secret, and its
        priority list. Raises InvalidInput(BATCH_OPENS_IN_PAST | PRIORITY_ENTRY_INVALID),
        Conflict(BATCH_EXISTS)."""
        if batch.opens_at <= clock.now():
            raise InvalidInput("BATCH_OPENS_IN_PAST", [FieldIssue("opens_at", "BATCH_OPENS_IN_PAST")])
        keys = self.priority_keys(priority_entries)
        meta = batch.item() | {"created_at": clock.iso(clock.now())}
        if keys:
            meta["priority_list"] = len(keys)
            # NIK entries are keyed under these HMAC key ids (``prakerja-ops keys status`` warns
            # when a batch still to close lacks the current one)
            meta["priority_kids"] = list(self.w.keys().hmac_kids)
        if not self.batches.put_batch(meta):
            raise Conflict("BATCH_EXISTS")
        if keys:
            self.batches.put_priority(batch.batch_id, keys)
        logger.info("batch created", extra={"batch_id": batch.batch_id, "priority_list": len(keys)})
        return {k: v for k, v in (self.batches.get_batch(batch.batch_id) or meta).items() if k not in {"pk", "sk"}}

    def priority_keys(self, entries: Iterable[str]) -> builtins.list[str]:
        """The priority list's item keys: a 16-digit NIK becomes ``N#<keyed HMAC>`` under every
        HMAC key id in use (the current one, as biodata stores it, and any previous one not yet
        re-keyed; the NIK itself is never stored), an applicant id (32 hex) ``A#<id>``. Blank lines
        and ``#`` comments are skipped. Raises InvalidInput(PRIORITY_ENTRY_INVALID) naming the
        first bad line."""
        keys: set[str] = set()
        secret = self.w.keys()
        for number, raw in enumerate(entries, start=1):
            entry = raw.split("#", 1)[0].strip()
            if not entry:
                continue
            if _APPLICANT_ID.fullmatch(entry):
                keys.add(BatchStore.applicant_entry(entry))
                continue
            try:
                nik = normalize_nik(entry)
            except NikError:
                raise InvalidInput("PRIORITY_ENTRY_INVALID", [FieldIssue(f"line {number}", "PRIORITY_ENTRY_INVALID")]
                                   ) from None
            keys.update(BatchStore.nik_entry(key) for key, _ in lookup_keys(secret, nik))
        return sorted(keys)

    def _meta(self, batch_id: str) -> dict:
        meta = self.batches.get_batch(batch_id)
        if not meta:
            raise NotFound("BATCH_NOT_FOUND")
        return meta

    def reveal(self, batch_id: str, secret: str) -> dict:
        """Store the draw secret after the close if it hashes to the batch's commitment; the next
        tick draws. Idempotent for the same secret. Raises NotFound(BATCH_NOT_FOUND),
        InvalidInput(SECRET_INVALID), Conflict(SECRET_MISMATCH | BATCH_NOT_CLOSED)."""
        meta = self._meta(batch_id)
        try:
            hashed = selection.commitment(secret)
        except selection.SelectionError:
            raise InvalidInput("SECRET_INVALID", [FieldIssue("secret", "SECRET_INVALID")]) from None
        if hashed != meta["commitment"]:
            raise Conflict("SECRET_MISMATCH")
        now = clock.iso(clock.now())
        if now < meta["closes_at"]:
            raise Conflict("BATCH_NOT_CLOSED", detail={"closes_at": meta["closes_at"]})
        if meta.get("secret") != secret and not self.batches.reveal_secret(batch_id, secret, hashed, now):
            raise Conflict("SECRET_MISMATCH")
        logger.info("draw secret revealed", extra={"batch_id": batch_id})
        return {"batch_id": batch_id, "revealed": True, "status": shown_status(meta, clock.now())}

    def close_now(self, batch_id: str) -> dict:
        """Close a batch at once (an operator's decision): closes_at becomes now, joins stop, the
        next tick draws (once the secret is revealed). Raises NotFound(BATCH_NOT_FOUND),
        Conflict(BATCH_ALREADY_CLOSED)."""
        meta = self._meta(batch_id)
        now = clock.iso(clock.now())
        closes_at = min(now, meta["closes_at"])
        if meta.get("status", "SCHEDULED") != "SCHEDULED" or not self.batches.close_by_operator(batch_id, closes_at,
                                                                                                now):
            raise Conflict("BATCH_ALREADY_CLOSED")
        logger.info("batch closed by an operator", extra={"batch_id": batch_id})
        return {"batch_id": batch_id, "status": "CLOSED", "closes_at": closes_at}

    def announce_now(self, batch_id: str) -> dict:
        """Bring the announcement forward to now for a closed batch; the next tick announces
        (after drawing, if not drawn yet). Raises NotFound(BATCH_NOT_FOUND),
        Conflict(BATCH_NOT_CLOSED | BATCH_ALREADY_ANNOUNCED)."""
        meta = self._meta(batch_id)
        now = clock.iso(clock.now())
        if meta.get("status") == "ANNOUNCED":
            raise Conflict("BATCH_ALREADY_ANNOUNCED")
        if shown_status(meta, clock.now()) not in {"CLOSED", "DRAWN"}:
            raise Conflict("BATCH_NOT_CLOSED", detail={"closes_at": meta["closes_at"]})
        announce_at = min(now, meta["announce_at"])
        if not self.batches.bring_announcement_forward(batch_id, announce_at, now):
            raise Conflict("BATCH_ALREADY_ANNOUNCED")
        logger.info("announcement brought forward by an operator", extra={"batch_id": batch_id})
        return {"batch_id": batch_id, "status": shown_status(meta, clock.now()), "announce_at": announce_at}

    def verify_draw(self, batch_id: str) -> dict:
        """Re-run a batch's draw from its audit record: ``{batch_id, ok, problems, participants,
        selected, seed}``. Raises NotFound(BATCH_NOT_FOUND | DRAW_NOT_FOUND)."""
        meta = self._meta(batch_id)
        if meta.get("status") not in {"DRAWN", "ANNOUNCED"}:
            raise NotFound("DRAW_NOT_FOUND")
        audit = self.read_audit(batch_id)
        problems = verify_audit(audit, meta["commitment"])
        if audit.get("seed") != meta.get("seed"):
            problems.append("the seed in the record is not the one stored with the batch")
        return {"batch_id": batch_id, "ok": not problems, "problems": problems,
                "participants": len(audit.get("ranking") or []), "selected": audit.get("selected"),
                "seed": audit.get("seed")}

    # ------------------------------------------------------------------ the tick
    def tick(self) -> dict[str, builtins.list[str]]:
        """Close, draw and announce whatever is due. Returns what it did per stage."""
        done: dict[str, list[str]] = {"closed": [], "waiting": [], "drawn": [], "announced": []}
        now = clock.now()
        for meta in self.batches.list_batches():
            batch_id, status = meta["batch_id"], meta.get("status", "SCHEDULED")
            if status == "SCHEDULED" and clock.iso(now) >= meta["closes_at"]:
                if self.batches.advance(batch_id, "SCHEDULED", {"status": "CLOSED", "closed_at": clock.iso(now)}):
                    done["closed"].append(batch_id)
                status = "CLOSED"
            if status == "CLOSED" and not meta.get("secret"):
                logger.info("batch closed; the draw waits for the secret (prakerja-ops batches reveal)",
                            extra={"batch_id": batch_id})
                done["waiting"].append(batch_id)
                continue
            if status == "CLOSED":
                self._draw(meta)
                done["drawn"].append(batch_id)
                status = "DRAWN"
            if status == "DRAWN" and clock.iso(now) >= meta["announce_at"]:
                self._announce(batch_id)
                done["announced"].append(batch_id)
        return done

    def _draw(self, meta: dict) -> None:
        """Read the members as columns, draw, stream the audit record to S3 (one row per line,
        spilled to /tmp beyond 64 MB) and fan the results out while writing it."""
        batch_id = meta["batch_id"]
        ids, provinces, flags = self.batches.member_columns(batch_id, joined_before=meta["closes_at"])
        quotas = {k: int(v) for k, v in meta["province_quotas"].items()} if meta.get("province_quotas") else None
        header, rows = run_draw(batch_id=batch_id, closes_at=meta["closes_at"], quota=int(meta["quota"]),
                                priority_share=float(meta.get("priority_share") or 0.0), province_quotas=quotas,
                                commitment=meta["commitment"], secret=meta["secret"], ids=ids,
                                provinces=provinces, flags=flags)
        fan_out = self._fan_out("results", batch_id)
        with tempfile.SpooledTemporaryFile(max_size=64 * 2**20) as spool:
            write_audit(header, rows, spool, on_row=fan_out.add)
            spool.seek(0)
            key = self._archive().upload(batch_id, spool)
        fan_out.flush()
        self.batches.advance(batch_id, "CLOSED", {"status": "DRAWN", "seed": header["seed"],
                                                  "participants_digest": header["participants_digest"],
                                                  "participants": header["participants"],
                                                  "selected": header["selected"], "result_key": key,
                                                  "drawn_at": clock.iso(clock.now())})
        logger.info("batch drawn", extra={"batch_id": batch_id, "participants": header["participants"],
                                          "selected": header["selected"], "chunks": fan_out.sent})

    def _announce(self, batch_id: str) -> None:
        fan_out = self._fan_out("announce", batch_id)
        body = self._audit_body(batch_id)
        for row in audit_rows(body.iter_lines()):
            fan_out.add(row)
        fan_out.flush()
        self.batches.advance(batch_id, "DRAWN", {"status": "ANNOUNCED", "announced_at": clock.iso(clock.now())})

    def _fan_out(self, kind: str, batch_id: str) -> DrawFanOut:
        return DrawFanOut(self.w.settings.draw_queue_url, kind, batch_id, self.w.settings.draw_chunk_size)

    def _archive(self) -> AuditArchive:
        return AuditArchive(self.w.settings.audit_bucket)

    def _audit_body(self, batch_id: str) -> Any:
        body = self._archive().open(batch_id)
        if body is None:
            raise NotFound("DRAW_NOT_FOUND")
        return body

    def read_audit(self, batch_id: str) -> dict:
        """The draw's audit record from S3, whole (``ranking``: ``[participant_id, outcome, rank,
        province_code, priority]`` in rank order). Raises NotFound(DRAW_NOT_FOUND)."""
        return json.loads(self._audit_body(batch_id).read())

    # ------------------------------------------------------------------ fan-out chunks
    def apply_chunk(self, body: dict[str, Any]) -> int:
        """Write one chunk: results on each member, or announcement emails. Idempotent."""
        kind, batch_id, rows = body["kind"], body["batch_id"], body["rows"]
        not_selected = 0
        for applicant_id, outcome, rank in rows:
            if kind == "results":
                if self._write_result(applicant_id, batch_id, outcome, int(rank)) and outcome != "SELECTED":
                    not_selected += 1
            else:
                self._notify(applicant_id, batch_id, outcome)
        if not_selected:
            self.w.funnel.outcome("NotSelected", not_selected)  # one metric value per chunk
        return len(rows)

    def _write_result(self, applicant_id: str, batch_id: str, outcome: str, rank: int) -> bool:
        """Record one member's result; the selected are counted in the funnel. False when the
        member no longer exists."""
        if not self.membership.record_result(applicant_id, batch_id, outcome, rank):
            logger.info("result for a member that no longer exists", extra={"batch_id": batch_id})
            return False
        if outcome == "SELECTED":
            self.w.funnel.reached(applicant_id, "selected")
        return True

    def _notify(self, applicant_id: str, batch_id: str, outcome: str) -> None:
        member = self.membership.member(applicant_id, batch_id)
        profile = self.w.store.get_profile(applicant_id)
        if not member or not profile or member.get("notified_at"):
            return
        message = mail.email_message(mail.BULK, "batch_result", mail_address(profile["email"]),
                                     {"batch_id": batch_id, "result": outcome,
                                      "base": self.w.settings.public_base_url}, ref=f"{applicant_id}:{batch_id}",
                                     # one result email per member and batch, whichever copy of
                                     # the chunk builds it (the sender sends one per id)
                                     dedupe_id=mail.stable_dedupe_id("batch_result", applicant_id, batch_id))
        # the chunk message itself is the durable record. Marked notified first (conditionally:
        # a redelivered chunk or a racing copy sends nothing), then sent; a failed send takes the
        # mark back before the chunk is retried. Sending first and marking after sent the email
        # again whenever the mark failed (DynamoDB throttled after SQS accepted: issue 15). The
        # cost: a process dying between the mark and the send loses that email (its result still
        # shows in the status); one more UpdateItem only when the send fails.
        if not self.membership.mark_notified(applicant_id, batch_id, clock.iso(clock.now())):
            return
        try:
            self.w.outbox.send(message)
        except Exception:
            self.membership.unmark_notified(applicant_id, batch_id)
            raise
