"""Every work queue with its DLQ (``prakerja-ops queues``) and putting a DLQ back (``dlq redrive``).

Queues by short name: ``email``, ``bulk-email``, ``nik``, ``upload``, ``ktp-verdict``, ``draw``, ``bounce`` (each
``<Name>Queue`` with ``<Name>DLQ`` in template.yaml). A redrive on AWS starts SQS's message-move
task, which moves at SQS's pace in the background (progress via ``ListMessageMoveTasks``); on an
emulator (the local stack's moto lacks that API) the messages are received, sent and deleted
here, until the DLQ is empty. Either way the consumers treat a redriven message like a new one:
the NIK worker gives it the full number of attempts again (its count was reset when it was
dead-lettered).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from prakerja import clock
from prakerja.adapters import queues as sqs
from prakerja.adapters.aws import error_code
from prakerja.domain.errors import Conflict, NotFound, Unavailable
from prakerja.settings import Settings

#: short name -> (queue URL setting, DLQ URL setting)
QUEUES: dict[str, tuple[str, str]] = {
    "email": ("email_queue_url", "email_dlq_url"),
    "bulk-email": ("bulk_email_queue_url", "bulk_email_dlq_url"),
    "nik": ("nik_queue_url", "nik_dlq_url"),
    "upload": ("upload_queue_url", "upload_dlq_url"),
    "ktp-verdict": ("ktp_verdict_queue_url", "ktp_verdict_dlq_url"),
    "draw": ("draw_queue_url", "draw_dlq_url"),
    "bounce": ("bounce_queue_url", "bounce_dlq_url"),
}


@contextmanager
def _aws_errors() -> Iterator[None]:
    """An AWS error (access denied, throttled, a missing queue) becomes Unavailable(QUEUES_UNAVAILABLE, aws=<code>)."""
    try:
        yield
    except Exception as exc:
        code = error_code(exc)
        if not code:
            raise
        raise Unavailable("QUEUES_UNAVAILABLE", detail={"aws": code}) from None


class Queues:
    """The queues named in ``settings``; ``emulated``: moto (no move API, no CloudWatch data)."""

    def __init__(self, settings: Settings, emulated: bool = False) -> None:
        self.settings, self.emulated = settings, emulated

    def urls(self, short: str) -> tuple[str, str]:
        """``(queue URL, DLQ URL)`` of ``short``. Raises NotFound(QUEUE_UNKNOWN |
        QUEUE_NOT_CONFIGURED) naming the missing setting."""
        if short not in QUEUES:
            raise NotFound("QUEUE_UNKNOWN", detail={"queue": short, "known": ",".join(QUEUES)})
        fields = QUEUES[short]
        missing = [f.upper() for f in fields if not getattr(self.settings, f)]
        if missing:
            raise NotFound("QUEUE_NOT_CONFIGURED", detail={"queue": short, "missing": ",".join(missing)})
        return getattr(self.settings, fields[0]), getattr(self.settings, fields[1])

    def overview(self) -> list[dict[str, Any]]:
        """One row per configured queue: ``{"queue", "name", "visible", "in_flight", "delayed",
        "oldest_age_seconds", "dlq": {"name", "visible", "in_flight", "delayed", "depth"}}``.
        ``oldest_age_seconds`` is CloudWatch's maximum over the last 5 minutes (None without a data
        point, or on an emulator, where ``age_source`` is ``"n/a"``). Raises Unavailable(QUEUES_UNAVAILABLE)."""
        rows = []
        for short in QUEUES:
            try:
                url, dlq_url = self.urls(short)
            except NotFound:
                continue
            with _aws_errors():
                main, dead = sqs.depth(url), sqs.depth(dlq_url)
                age = None if self.emulated else sqs.oldest_age(url, clock.now())
            rows.append({"queue": short, "name": sqs.queue_name(url), "visible": main.visible,
                         "in_flight": main.in_flight, "delayed": main.delayed,
                         "oldest_age_seconds": age, "age_source": "n/a" if self.emulated else "cloudwatch",
                         "dlq": {"name": sqs.queue_name(dlq_url), "visible": dead.visible,
                                 "in_flight": dead.in_flight, "delayed": dead.delayed, "depth": dead.total}})
        return rows

    def redrive(self, short: str) -> dict[str, Any]:
        """Move ``short``'s DLQ back to its queue. Returns ``{"queue", "dlq", "mode", "before"}``
        plus, for ``mode == "move_task"``, ``task_handle`` and ``task`` (SQS's progress record),
        or, for ``mode == "copy"``, ``moved`` and ``failed``. Raises NotFound (see :meth:`urls`)
        Conflict(MOVE_TASK_REFUSED, aws=<code>) and Unavailable(QUEUES_UNAVAILABLE, aws=<code>)."""
        url, dlq_url = self.urls(short)
        with _aws_errors():
            return self._redrive(url, dlq_url)

    def _redrive(self, url: str, dlq_url: str) -> dict[str, Any]:
        before = sqs.depth(dlq_url).total
        result: dict[str, Any] = {"queue": sqs.queue_name(url), "dlq": sqs.queue_name(dlq_url), "before": before}
        if not self.emulated:
            source = sqs.arn(dlq_url)
            try:
                handle = sqs.start_move(source, sqs.arn(url))
            except sqs.MoveRefused as exc:
                raise Conflict("MOVE_TASK_REFUSED", detail={"aws": exc.code}) from None
            except sqs.MoveUnavailable:
                pass  # an emulator behind a real-looking target: copy instead
            else:
                return result | {"mode": "move_task", "task_handle": handle, "task": sqs.move_task(source)}
        # only what was there when asked: a message that fails again must not come round twice
        moved, failed = sqs.copy_messages(dlq_url, url, limit=before)
        return result | {"mode": "copy", "moved": moved, "failed": failed}
