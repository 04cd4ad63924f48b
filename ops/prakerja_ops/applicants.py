"""``applicant show|export|delete <email>``: personal-data rights under Law 27/2022.

* ``show`` prints a masked summary (the address as ``b***@e***.id``, the NIK as
  ``************0001``), safe on a shared terminal.
* ``export`` writes every item held about the person as one JSON document to a new file created
  with mode 0600 (default ``applicant-export-<UTC time>.json`` in the current directory; never an
  existing file nor through a symbolic link: ``O_EXCL | O_NOFOLLOW``) and prints its path;
  ``--out -`` prints the document instead. ``--photo-urls SECONDS`` adds presigned GET URLs for
  the KTP photo versions. Hand the file over through the channel the request came in on, then
  delete it. Pending emails' single-use links are redacted (they would still work).
* ``delete`` erases everything (every version of the photos included) after a confirmation
  (type the address again, or ``--yes``); it prints what went and checks nothing is left.

Each run writes an audit record (operator, action, time, applicant id; never the email) to the
Audit bucket under ``privacy/YYYY/MM/DD/``. The operator is the AWS principal
(``sts:GetCallerIdentity``) on a deployed stack, ``$USER`` on the local stack. The service and
what stays (the draw's pseudonymous audit record): :mod:`prakerja.services.privacy`.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from prakerja import clock
from prakerja.adapters.crypto import Envelopes
from prakerja.adapters.personal_data import PrivacyAuditLog, caller_identity
from prakerja.services.privacy import PersonalData
from prakerja.services.wiring import Wiring

if TYPE_CHECKING:
    from prakerja_ops.context import Context

#: KMS Decrypt finds the key from the ciphertext; this id is only used to seal, which these
#: commands never do, so a stack whose key id is not known here can still be exported.
DECRYPT_ONLY_KEY = "decrypt-only"


def register(groups: argparse._SubParsersAction) -> None:
    """Add the ``applicant`` command group."""
    a = groups.add_parser("applicant", help="show, export or erase one applicant's data (audited)")
    cmds = a.add_subparsers(dest="command", required=True, metavar="SUBCOMMAND")

    p = cmds.add_parser("show", help="a masked summary: steps, batches, what is held")
    p.add_argument("email")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(run=cmd_show)

    p = cmds.add_parser("export", help="everything held about the person, as JSON (file mode 0600)")
    p.add_argument("email")
    p.add_argument("--out", default=None, metavar="FILE", help="where to write ('-': standard output)")
    p.add_argument("--photo-urls", type=int, default=0, metavar="SECONDS",
                   help="add presigned GET URLs to the photo versions, valid SECONDS")
    p.set_defaults(run=cmd_export)

    p = cmds.add_parser("delete", help="erase everything held about the person (photos: every version)")
    p.add_argument("email")
    p.add_argument("--yes", action="store_true", help="confirm without asking")
    p.set_defaults(run=cmd_delete)


def service(ctx: Context) -> PersonalData:
    """The personal-data service for the target stack, auditing to its Audit bucket."""
    s = ctx.target.settings
    return PersonalData.from_wiring(Wiring(s), envelopes=Envelopes(s.pii_key_id or DECRYPT_ONLY_KEY),
                                    audit=PrivacyAuditLog(s.audit_bucket))


def operator(ctx: Context) -> str:
    """Who runs the command: ``local:$USER`` on an emulated stack, else the AWS principal's ARN
    (falling back to ``$USER``)."""
    user = os.environ.get("USER") or getpass.getuser()
    if getattr(ctx.target, "emulated", False) or ctx.args.local or ctx.args.endpoint:
        return f"local:{user}"
    return caller_identity() or user


def cmd_show(ctx: Context) -> int:
    view = service(ctx).show(ctx.args.email, operator(ctx))
    if ctx.args.json:
        ctx.print(json.dumps(view, indent=2, sort_keys=True))
        return 0
    ctx.print(f"applicant {view['applicant_id']}  email {view['email']}  created {view['created_at']}")
    consent = view["consent"]
    ctx.print(f"  consent   {consent['version']} given {consent['given_at']}"
              + (f", withdrawn {consent['withdrawn_at']}" if consent.get("withdrawn_at") else ""))
    for step, state in view["steps"].items():
        ctx.print(f"  step {step:<12} {state['status']}" + (f" ({state['reason']})" if state.get("reason") else ""))
    ctx.print(f"  NIK       {view['nik'] or '-'}")
    for b in view["batches"]:
        result = f" {b['result']}" if b.get("result") else ""
        ctx.print(f"  batch     {b['batch_id']} joined {b['joined_at']}{result}")
    ctx.print(f"  held      {view['items']} items, {view['photos']} photo versions, {view['sessions']} refresh tokens")
    return 0


def _default_path(at: datetime) -> Path:
    """``applicant-export-<UTC time>.json`` in the current directory (no id: chosen before the
    applicant is looked up, so that nothing is read when the file cannot be written)."""
    return Path(f"applicant-export-{at:%Y%m%dT%H%M%SZ}.json")


def cmd_export(ctx: Context) -> int:
    a = ctx.args
    if a.out == "-":
        document: dict[str, Any] = service(ctx).export(a.email, operator(ctx), presign_seconds=a.photo_urls)
        ctx.out.write(json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n")
        return 0
    path = Path(a.out) if a.out else _default_path(clock.now())
    try:  # the file first: nothing is read (or audited) when it cannot be written
        # a new file only: an existing one (or a symlink planted where the file goes) is refused
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    except OSError as exc:
        print(f"error: cannot write {path}: {exc.strerror}", file=ctx.err)
        return 2
    try:
        os.fchmod(fd, 0o600)
        document = service(ctx).export(a.email, operator(ctx), presign_seconds=a.photo_urls)
        os.write(fd, (json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode())
    except BaseException:
        os.close(fd)
        path.unlink(missing_ok=True)
        raise
    os.close(fd)
    ctx.print(str(path))
    print("(personal data: keep the file safe and delete it once the request is answered)", file=ctx.err)
    return 0


def cmd_delete(ctx: Context) -> int:
    a = ctx.args
    if not ctx.confirm(f"Erase everything held about this applicant on {ctx.target.description}? "
                       "This cannot be undone.", a.email.strip(), fold_case=True):
        return 1
    done = service(ctx).delete(a.email, operator(ctx))
    counts = " ".join(f"{k}={v}" for k, v in done["deleted"].items())
    ctx.print(f"applicant {done['applicant_id']} erased: {counts}")
    if done["remaining"]:
        ctx.print(f"WARNING: {done['remaining']} items still found; run the command again")
        return 1
    ctx.print("nothing of the applicant is left (the draw's audit records keep only the pseudonymous id)")
    return 0
