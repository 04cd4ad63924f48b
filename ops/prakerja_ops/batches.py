"""``batches list|create|reveal|close-now|announce-now|new-secret`` and ``draw verify``.

Times are stated in WIB (``"2026-12-01 09:00"``, Asia/Jakarta) or ISO 8601 with an offset, and
stored in UTC; ``batches list`` shows WIB (its ``--json``, UTC).

The draw secret never goes into the table before the close: ``batches new-secret`` prints a
fresh secret and its commitment (keep the secret offline), ``batches create --commitment``
stores only the commitment, and ``batches reveal`` after the close stores the secret once it
hashes to the commitment; the tick draws only then.
"""

from __future__ import annotations

import argparse
import json
import secrets
from pathlib import Path
from typing import TYPE_CHECKING, Any

from prakerja import clock
from prakerja.adapters.batches import BatchStore
from prakerja.domain import selection
from prakerja.domain.draw import verify_audit
from prakerja.services.batches import Batches, BatchSettings, wib_time
from prakerja.services.wiring import Wiring

if TYPE_CHECKING:
    from prakerja_ops.context import Context


def register(groups: argparse._SubParsersAction) -> None:
    """Add the ``batches`` and ``draw`` command groups."""
    b = groups.add_parser("batches", help="list, create, reveal the secret, close or announce now")
    cmds = b.add_subparsers(dest="command", required=True, metavar="SUBCOMMAND")

    p = cmds.add_parser("list", help="every batch with its status, times (WIB; --json: UTC) and counts")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(run=cmd_list)

    p = cmds.add_parser("create", help="create a batch before it opens (stores only the commitment)")
    p.add_argument("--id", required=True, dest="batch_id", help="batch id, e.g. 2026-01")
    p.add_argument("--opens", required=True, help='opening time in WIB, e.g. "2026-12-01 09:00"')
    p.add_argument("--closes", required=True, help="closing time in WIB")
    p.add_argument("--announce", required=True, help="announcement time in WIB")
    p.add_argument("--quota", required=True, type=int, help="places in the batch")
    p.add_argument("--priority-share", type=float, default=0.0, help="share of places for the priority list")
    p.add_argument("--priority-file", type=Path, default=None,
                   help="priority list: one applicant id (32 hex) or NIK (16 digits, stored only as its "
                        "keyed HMAC) per line")
    p.add_argument("--province-quota", action="append", default=[], metavar="CODE=N",
                   help="at most N selected from province CODE (repeat per province)")
    p.add_argument("--commitment", required=True, help="sha256 hex of the draw secret (batches new-secret)")
    p.set_defaults(run=cmd_create)

    p = cmds.add_parser("reveal", help="after the close: store the secret if it matches the commitment")
    p.add_argument("batch_id")
    secret = p.add_mutually_exclusive_group(required=True)
    secret.add_argument("--secret", help="the draw secret")
    secret.add_argument("--secret-file", type=Path, help="a file holding the draw secret")
    p.set_defaults(run=cmd_reveal)

    p = cmds.add_parser("close-now", help="close a batch now (joins stop; the tick draws)")
    p.add_argument("batch_id")
    p.add_argument("--yes", action="store_true", help="confirm without asking")
    p.set_defaults(run=cmd_close_now)

    p = cmds.add_parser("announce-now", help="announce a closed batch now (the tick announces)")
    p.add_argument("batch_id")
    p.add_argument("--yes", action="store_true", help="confirm without asking")
    p.set_defaults(run=cmd_announce_now)

    p = cmds.add_parser("new-secret", help="print a fresh draw secret and its commitment (nothing is stored)")
    p.set_defaults(run=cmd_new_secret)

    d = groups.add_parser("draw", help="audit a draw")
    dcmds = d.add_subparsers(dest="command", required=True, metavar="SUBCOMMAND")
    p = dcmds.add_parser("verify", help="re-run a draw from its audit record; prints OK or MISMATCH")
    p.add_argument("batch_id")
    p.add_argument("--file", type=Path, default=None,
                   help="a published audit record (draws/<batch_id>.json) to check offline, without a stack")
    p.add_argument("--commitment", default=None, help="with --file: the commitment published before the batch opened")
    p.set_defaults(run=cmd_verify)


def service(ctx: Context) -> Batches:
    """The batches service for the target stack."""
    s = ctx.target.settings
    return Batches(Wiring(s), BatchStore(s.batches_table, s.member_shards))


def _wib(value: str | None) -> str:
    if not value:
        return "-"
    return clock.parse_iso(value).astimezone(clock.WIB).strftime("%Y-%m-%d %H:%M WIB")


def _time(value: str | None) -> str:
    return f"{value} ({_wib(value)})" if value else "-"


# --------------------------------------------------------------------------- batches
def cmd_list(ctx: Context) -> int:
    rows = service(ctx).describe()
    if ctx.args.json:
        ctx.print(json.dumps(rows, indent=2, sort_keys=True))
        return 0
    ctx.print(f"{'batch':<10}{'status':<11}{'opens (WIB)':<22}{'closes (WIB)':<22}{'announce (WIB)':<22}"
              f"{'quota':>8}{'joined':>9}{'selected':>9}  secret")
    for b in rows:
        ctx.print(f"{b['batch_id']:<10}{b['status']:<11}{_wib(b.get('opens_at')):<22}{_wib(b.get('closes_at')):<22}"
                  f"{_wib(b.get('announce_at')):<22}{b.get('quota', '-'):>8}{b.get('participants', '-'):>9}"
                  f"{b.get('selected', '-'):>9}  {'revealed' if b['revealed'] else 'committed'}")
        extras = [f"{k}={b[k]}" for k in ("priority_share", "priority_list", "province_quotas") if b.get(k)]
        if extras:
            ctx.print(f"{'':<10}" + " ".join(extras))
    return 0


def _province_quotas(pairs: list[str]) -> dict[str, Any] | None:
    if not pairs:
        return None
    out: dict[str, Any] = {}
    for pair in pairs:
        code, _, count = pair.partition("=")
        out[code.strip()] = int(count) if count.strip().isdigit() else count
    return out


def _times(args: argparse.Namespace) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, text in (("opens_at", args.opens), ("closes_at", args.closes), ("announce_at", args.announce)):
        try:
            out[name] = wib_time(text)
        except ValueError:
            out[name] = text  # BatchSettings names the field
    return out


def cmd_create(ctx: Context) -> int:
    a = ctx.args
    batch = BatchSettings.parse({"batch_id": a.batch_id, **_times(a), "quota": a.quota,
                                 "priority_share": a.priority_share,
                                 "province_quotas": _province_quotas(a.province_quota),
                                 "commitment": a.commitment.strip().lower()})
    entries = a.priority_file.read_text(encoding="utf-8").splitlines() if a.priority_file else []
    created = service(ctx).create(batch, entries)
    ctx.print(f"created batch {created['batch_id']} on {ctx.target.description}")
    for key in ("opens_at", "closes_at", "announce_at"):
        ctx.print(f"  {key:<12}{_time(created[key])}")
    for key in ("quota", "priority_share", "priority_list", "province_quotas", "commitment"):
        if created.get(key) is not None:
            ctx.print(f"  {key:<12}{created[key]}")
    ctx.print("  the secret is not stored: reveal it after the close with `prakerja-ops batches reveal`")
    return 0


def cmd_reveal(ctx: Context) -> int:
    a = ctx.args
    secret = a.secret if a.secret is not None else a.secret_file.read_text(encoding="utf-8").strip()
    done = service(ctx).reveal(a.batch_id, secret)
    ctx.print(f"secret of batch {done['batch_id']} revealed (matches the commitment); "
              f"status {done['status']}: the next tick draws")
    return 0


def cmd_close_now(ctx: Context) -> int:
    a = ctx.args
    if not ctx.confirm(f"Close batch {a.batch_id} now on {ctx.target.description}?", a.batch_id):
        return 1
    done = service(ctx).close_now(a.batch_id)
    ctx.print(f"batch {done['batch_id']} closed at {_time(done['closes_at'])}; the tick draws once the secret "
              "is revealed")
    return 0


def cmd_announce_now(ctx: Context) -> int:
    a = ctx.args
    if not ctx.confirm(f"Announce batch {a.batch_id} now on {ctx.target.description}?", a.batch_id):
        return 1
    done = service(ctx).announce_now(a.batch_id)
    ctx.print(f"batch {done['batch_id']} ({done['status']}): announcement at {_time(done['announce_at'])}; "
              "the next tick announces")
    return 0


def cmd_new_secret(ctx: Context) -> int:
    secret = secrets.token_hex(32)
    ctx.print(f"secret:     {secret}")
    ctx.print(f"commitment: {selection.commitment(secret)}")
    ctx.print("publish the commitment (batches create --commitment); keep the secret offline until the close")
    return 0


# --------------------------------------------------------------------------- draw
def cmd_verify(ctx: Context) -> int:
    a = ctx.args
    if a.file is not None:
        audit = json.loads(a.file.read_text(encoding="utf-8"))
        problems = verify_audit(audit, a.commitment)
        if audit.get("batch_id") not in (None, a.batch_id):
            problems.append(f"the record is for batch {audit.get('batch_id')}, not {a.batch_id}")
        result = {"batch_id": a.batch_id, "ok": not problems, "problems": problems,
                  "participants": len(audit.get("ranking") or []), "selected": audit.get("selected"),
                  "seed": audit.get("seed")}
    else:
        result = service(ctx).verify_draw(a.batch_id)
    verdict = "OK" if result["ok"] else "MISMATCH"
    ctx.print(f"draw {result['batch_id']}: {verdict} (participants={result['participants']} "
              f"selected={result['selected']} seed={result['seed']})")
    for problem in result["problems"]:
        ctx.print(f"  - {problem}")
    return 0 if result["ok"] else 1
