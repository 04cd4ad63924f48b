"""``funnel [--json]``: the live funnel, as the April 2020 statement gave it a day late.

Distinct people per step and their share of the registered, read from the write-sharded
counters the functions keep as the steps happen (:mod:`prakerja.adapters.funnel`: one
BatchGetItem of known keys, no scan). The table has one row per counted step (``ktp_valid``
included); its last line is machine-readable, in the order and format of the demo's last line::

    funnel: registered=20 email_verified=18 nik_verified=17 assessment_passed=16 joined_batch=12 selected=10

``--json`` prints ``{"at", "target", "steps": [{"step", "people", "percent_of_registered"}],
"funnel": {step: people}}`` instead (``funnel`` holds the six reported steps).
"""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING

from prakerja import clock
from prakerja.services.funnel import REPORTED, percentages
from prakerja.services.wiring import Wiring
from prakerja_ops.target import TargetError

if TYPE_CHECKING:
    from prakerja_ops.context import Context


def register(groups: argparse._SubParsersAction) -> None:
    """Add the ``funnel`` command."""
    p = groups.add_parser("funnel", help="people per step and %% of registered, live (as the April 2020 statement)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(run=cmd_funnel)


def machine_line(totals: dict[str, int]) -> str:
    """``funnel: registered=… email_verified=… nik_verified=… assessment_passed=… joined_batch=… selected=…``."""
    return "funnel: " + " ".join(f"{step}={totals.get(step, 0)}" for step in REPORTED)


def cmd_funnel(ctx: Context) -> int:
    target = ctx.target
    if not target.settings.applicants_table:
        raise TargetError("no Applicants table: give --local URL, --endpoint URL or --stack-name NAME "
                          "(or set APPLICANTS_TABLE)")
    totals = Wiring(target.settings).funnel.totals()
    shares = percentages(totals)
    now = clock.now()
    if ctx.args.json:
        ctx.print(json.dumps({
            "at": clock.iso(now), "target": target.description,
            "steps": [{"step": step, "people": n, "percent_of_registered": round(shares[step], 2)}
                      for step, n in totals.items()],
            "funnel": {step: totals[step] for step in REPORTED},
        }, indent=2))
        return 0
    ctx.print(f"funnel at {now.astimezone(clock.WIB):%Y-%m-%d %H:%M} WIB ({target.description})")
    ctx.print(f"{'step':<20}{'people':>12}{'% of registered':>18}")
    for step, n in totals.items():
        ctx.print(f"{step:<20}{n:>12,}{shares[step]:>17.2f}%")
    ctx.print(machine_line(totals))
    return 0
