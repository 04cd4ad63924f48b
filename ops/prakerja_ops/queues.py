"""``queues`` (every queue and its DLQ) and ``dlq redrive <queue>``.

``queues`` prints, per queue, SQS's approximate counts (visible, in flight, delayed), the oldest
message's age (CloudWatch ``ApproximateAgeOfOldestMessage``, maximum over the last 5 minutes; only
on a deployed stack: ``n/a`` on the local stack) and its DLQ's depth.

``dlq redrive <queue>`` moves the queue's DLQ back to it: SQS's message-move task on AWS (the
task handle and its progress are printed; the move runs in the background), or receive, send and
delete on the local stack, whose emulator lacks that API (the number moved is printed).
"""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING, Any

from prakerja.services.queues import QUEUES, Queues

if TYPE_CHECKING:
    from prakerja_ops.context import Context


def register(groups: argparse._SubParsersAction) -> None:
    """Add the ``queues`` and ``dlq`` command groups."""
    q = groups.add_parser("queues", help="depth of every queue and its DLQ (oldest-message age when deployed)")
    q.add_argument("--json", action="store_true", help="print JSON")
    q.set_defaults(run=cmd_queues)

    d = groups.add_parser("dlq", help="dead-letter queues")
    cmds = d.add_subparsers(dest="command", required=True, metavar="SUBCOMMAND")
    p = cmds.add_parser("redrive", help="move a DLQ's messages back to their queue")
    p.add_argument("queue", choices=list(QUEUES), help="the queue whose DLQ to move back")
    p.add_argument("--yes", action="store_true", help="confirm without asking")
    p.set_defaults(run=cmd_redrive)


def service(ctx: Context) -> Queues:
    """The queues of the target stack."""
    return Queues(ctx.target.settings, emulated=ctx.target.emulated)


def _age(row: dict[str, Any]) -> str:
    if row["age_source"] == "n/a":
        return "n/a"
    age = row["oldest_age_seconds"]
    return "-" if age is None else f"{age:.0f}s"


def cmd_queues(ctx: Context) -> int:
    rows = service(ctx).overview()
    if ctx.args.json:
        ctx.print(json.dumps(rows, indent=2, sort_keys=True))
        return 0
    ctx.print(f"queues on {ctx.target.description}")
    ctx.print(f"{'queue':<12}{'visible':>9}{'in flight':>11}{'delayed':>9}{'oldest':>9}{'DLQ':>7}")
    for row in rows:
        ctx.print(f"{row['queue']:<12}{row['visible']:>9}{row['in_flight']:>11}{row['delayed']:>9}"
                  f"{_age(row):>9}{row['dlq']['depth']:>7}")
    if any(row["dlq"]["depth"] for row in rows):
        ctx.print("messages in a DLQ: see docs/runbook.md, then `prakerja-ops dlq redrive <queue>`")
    return 0


def cmd_redrive(ctx: Context) -> int:
    a = ctx.args
    svc = service(ctx)
    svc.urls(a.queue)  # fail on a missing queue before asking
    if not ctx.confirm(f"Move every message of the {a.queue} DLQ back to its queue on {ctx.target.description}?",
                       a.queue):
        return 1
    done = svc.redrive(a.queue)
    if done["mode"] == "move_task":
        task = done.get("task") or {}
        ctx.print(f"move task started: {done['dlq']} -> {done['queue']} ({done['before']} messages in the DLQ)")
        ctx.print(f"  task handle  {done['task_handle']}")
        ctx.print(f"  status       {task.get('Status', '-')} moved={task.get('ApproximateNumberOfMessagesMoved', 0)}"
                  f" to_move={task.get('ApproximateNumberOfMessagesToMove', '-')}")
        ctx.print("  progress: `prakerja-ops queues` (DLQ depth) or `aws sqs list-message-move-tasks`; "
                  "cancel: `aws sqs cancel-message-move-task --task-handle ...`")
        return 0
    ctx.print(f"moved {done['moved']} messages: {done['dlq']} -> {done['queue']} (receive, send, delete)")
    if done["failed"]:
        ctx.print(f"  {done['failed']} could not be sent and stay in the DLQ")
        return 1
    return 0
