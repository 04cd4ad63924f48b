"""``registration pause|resume|status``: the switch that makes sign-up answer 503.

While paused, ``POST /v1/accounts`` answers 503 ``REGISTRATION_PAUSED`` with ``Retry-After``
(``--retry-after``, default 900 s); sign-in, email links, biodata, the NIK queue and every worker
keep going. Each sign-up instance caches the switch for ``REGISTRATION_SWITCH_MAX_AGE_SECONDS``
(10 s), so a change takes effect within that time. If the switch cannot be read, sign-up stays
open (fail open) and logs a warning: ``status`` says ``readable: no`` then.
"""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING, Any

from prakerja.adapters.switch import SwitchStore
from prakerja.domain.registration import DEFAULT_RETRY_AFTER
from prakerja.services.registration import Registration
from prakerja.settings import SettingsError

if TYPE_CHECKING:
    from prakerja_ops.context import Context


def register(groups: argparse._SubParsersAction) -> None:
    """Add the ``registration`` command group."""
    r = groups.add_parser("registration", help="pause or resume sign-up (503 with Retry-After), or show the switch")
    cmds = r.add_subparsers(dest="command", required=True, metavar="SUBCOMMAND")

    p = cmds.add_parser("pause", help="sign-up answers 503 REGISTRATION_PAUSED; everything else keeps flowing")
    p.add_argument("--retry-after", type=int, default=DEFAULT_RETRY_AFTER, metavar="SECONDS",
                   help=f"Retry-After sent to clients, 1..86400 (default {DEFAULT_RETRY_AFTER})")
    p.add_argument("--yes", action="store_true", help="confirm without asking")
    p.set_defaults(run=cmd_pause)

    p = cmds.add_parser("resume", help="open sign-up again")
    p.set_defaults(run=cmd_resume)

    p = cmds.add_parser("status", help="whether sign-up is paused")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(run=cmd_status)


def service(ctx: Context) -> Registration:
    """The switch of the target stack. Raises SettingsError when the target names none."""
    s = ctx.target.settings
    if not s.registration_switch_parameter:
        raise SettingsError("the target names no registration switch (REGISTRATION_SWITCH_PARAMETER)")
    return Registration(SwitchStore(s.registration_switch_parameter, s.registration_switch_max_age_seconds))


def _show(ctx: Context, state: dict[str, Any]) -> None:
    word = "PAUSED" if state["paused"] else "OPEN"
    ctx.print(f"registration {word} on {ctx.target.description}")
    ctx.print(f"  parameter    {state['parameter']}")
    ctx.print(f"  retry_after  {state['retry_after']} s")
    ctx.print(f"  changed_at   {state.get('changed_at') or '-'}")
    if not state["readable"]:
        ctx.print("  readable     no: sign-up treats the switch as open (fail open)")


def cmd_pause(ctx: Context) -> int:
    a = ctx.args
    if not ctx.confirm(f"Pause sign-up on {ctx.target.description} (Retry-After {a.retry_after} s)?", "pause"):
        return 1
    state = service(ctx).pause(a.retry_after)
    _show(ctx, state)
    ctx.print("  sign-up answers 503 REGISTRATION_PAUSED once each instance's cached switch expires "
              "(REGISTRATION_SWITCH_MAX_AGE_SECONDS, 10 s by default); resume with `prakerja-ops registration resume`")
    return 0


def cmd_resume(ctx: Context) -> int:
    state = service(ctx).resume()
    _show(ctx, state)
    ctx.print("  sign-up is open again once each instance's cached switch expires "
              "(REGISTRATION_SWITCH_MAX_AGE_SECONDS, 10 s by default)")
    return 0


def cmd_status(ctx: Context) -> int:
    state = service(ctx).status()
    if ctx.args.json:
        ctx.print(json.dumps(state, indent=2, sort_keys=True))
    else:
        _show(ctx, state)
    return 0
