"""``keys rotate hmac|jwt``, ``keys rekey`` and ``keys status``: new key ids for the JWT signing
key and the HMAC lookup key, and the background re-key (:mod:`prakerja.services.keys`).

An HMAC rotation, step by step: ``keys rotate hmac --yes`` writes a secret version with a new
kid (writes use it; lookups try it, then the previous kid); ``keys rekey`` moves every
applicant's email and NIK lookups to the new kid (run it again until it says the previous kid was
dropped: it drops it only when nothing is left under it and the functions' 5-minute secret cache
has run out since the rotation); ``keys status`` shows where it stands. A second HMAC rotation is
refused until the previous kid is dropped. A JWT rotation needs no re-key: tokens issued before
it verify until they expire.

A leaked JWT key: ``keys rotate jwt --emergency --yes`` makes a new kid current at once and drops
every other JWT kid, and ends every refresh token issued before: every session ends (that is the
point) and applicants sign in again. Functions pick the secret up within their 5-minute cache.
"""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING, Any

from prakerja import clock
from prakerja.services.keys import CONFLICT, FAILED, GONE, REKEYED, KeyManager
from prakerja.services.wiring import Wiring

if TYPE_CHECKING:
    from prakerja_ops.context import Context

LEFT = (("email_sentinels", "email sentinels"), ("nik_sentinels", "NIK sentinels"), ("profiles", "profiles"),
        ("biodata", "biodata"))


def register(groups: argparse._SubParsersAction) -> None:
    """Add the ``keys`` command group."""
    k = groups.add_parser("keys", help="rotate the JWT or HMAC key, re-key lookups, show the state")
    cmds = k.add_subparsers(dest="command", required=True, metavar="SUBCOMMAND")

    p = cmds.add_parser("rotate", help="new key id with fresh key material (a new secret version)")
    p.add_argument("kind", choices=("hmac", "jwt"), help="hmac: email/NIK lookups; jwt: access tokens")
    p.add_argument("--emergency", action="store_true",
                   help="jwt only, for a leaked key: the new kid is current at once and every other JWT kid and "
                        "every session is dropped (everyone signs in again)")
    p.add_argument("--yes", action="store_true", help="confirm without asking")
    p.set_defaults(run=cmd_rotate)

    p = cmds.add_parser("rekey", help="move every HMAC lookup to the current key id (resumable; run until done)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(run=cmd_rekey)

    p = cmds.add_parser("status", help="current and previous key ids and what is left to re-key")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(run=cmd_status)


def service(ctx: Context) -> KeyManager:
    """The key manager for the target stack."""
    return KeyManager(Wiring(ctx.target.settings))


def _wib(value: str | None) -> str:
    if not value:
        return "-"
    return f"{value} ({clock.parse_iso(value).astimezone(clock.WIB).strftime('%Y-%m-%d %H:%M WIB')})"


def _left(counts: dict[str, int]) -> str:
    return ", ".join(f"{counts.get(k, 0)} {label}" for k, label in LEFT)


def cmd_rotate(ctx: Context) -> int:
    kind = ctx.args.kind
    if ctx.args.emergency:
        return _rotate_emergency(ctx)
    if not ctx.confirm(f"Rotate the {kind} key of {ctx.target.description}?", kind):
        return 1
    done = service(ctx).rotate(kind)
    old, new = done["old_kid"], done["new_kid"]
    ctx.print(f"{kind} key rotated: {old} -> {new} (secret version {done['version_id']})")
    ctx.print(f"functions pick up the new secret within {done['cache_seconds']} s (Powertools Parameters cache), "
              f"so {new} becomes current only at {_wib(done['active_from'])}; until then {old} stays current "
              f"and {new} is already accepted")
    if kind == "jwt":
        ctx.print(f"from then new access tokens carry kid {new}; tokens signed with {', '.join(done['previous'])} "
                  "still verify until they expire (15 minutes)")
    else:
        ctx.print(f"from then writes use {new}; every lookup tries both {new} and {old}")
    if kind == "hmac":
        ctx.print(f"next: prakerja-ops keys rekey (run until it drops {old}; that is possible from "
                  f"{_wib(done['rekey_from'])})")
    return 0


def _rotate_emergency(ctx: Context) -> int:
    if ctx.args.kind != "jwt":
        print("refused: --emergency is for the jwt key only (an hmac key is rotated, then re-keyed)", file=ctx.err)
        return 2
    if not ctx.confirm(f"Emergency JWT rotation of {ctx.target.description}: every session ends and every "
                       "applicant must sign in again.", "emergency"):
        return 1
    done = service(ctx).rotate("jwt", emergency=True)
    ctx.print(f"jwt key rotated in an emergency: {done['old_kid']} -> {done['new_kid']} "
              f"(secret version {done['version_id']}); {done['new_kid']} is current now")
    ctx.print(f"dropped {', '.join(done['dropped'])}: every access token signed with them and every refresh token "
              "issued before now is refused; applicants sign in again")
    ctx.print(f"functions pick up the new secret within {done['cache_seconds']} s (their cache); "
              "check with prakerja-ops keys status")
    return 0


def cmd_rekey(ctx: Context) -> int:
    done = service(ctx).rekey()
    if ctx.args.json:
        ctx.print(json.dumps(done, indent=2, sort_keys=True))
    elif done.get("waiting_until"):
        ctx.print(f"re-key not started: {done['current']} becomes current at {_wib(done['waiting_until'])} "
                  "(every function must know it first); run keys rekey again then")
        return 0
    elif not done["previous"]:
        ctx.print(f"nothing to re-key: every lookup is under the current kid {done['current']}")
    else:
        a = done["applicants"]
        previous = ", ".join(done["previous"])
        ctx.print(f"rekey {previous} -> {done['current']}: {a[REKEYED]} applicants re-keyed, {a['current']} already "
                  f"current, {a[GONE]} gone, {a[CONFLICT]} conflicts, {a[FAILED]} failed; "
                  f"{done['stale_sentinels_removed']} stale sentinels removed")
        ctx.print(f"left under {previous}: {_left(done['remaining'])}")
        if done["dropped"]:
            ctx.print(f"re-key complete: previous kid {', '.join(done['dropped'])} dropped from the secret")
        elif any(done["remaining"].values()):
            ctx.print("re-key unfinished: run prakerja-ops keys rekey again")
        else:
            ctx.print(f"nothing left under {previous}; it can be dropped from {_wib(done.get('drop_from'))} "
                      "(functions may still hold the old secret until then): run keys rekey again then")
    return 1 if done["applicants"][CONFLICT] or done["applicants"][FAILED] else 0


def cmd_status(ctx: Context) -> int:
    state: dict[str, Any] = service(ctx).status()
    if ctx.args.json:
        ctx.print(json.dumps(state, indent=2, sort_keys=True))
        return 0
    h, j = state["hmac"], state["jwt"]
    if h["previous"]:
        previous = ", ".join(h["previous"])
        ctx.print(f"hmac: current {h['current']}, previous {previous} (rotated {_wib(h['rotated_at'])})")
        ctx.print(f"  left under {previous}: {_left(h['remaining'])}")
        if h["rekey_complete"]:
            ctx.print(f"  re-key complete: nothing is left under {previous}; run keys rekey to drop it")
        elif any(h["remaining"].values()):
            ctx.print("  re-key unfinished: run prakerja-ops keys rekey")
        else:
            ctx.print(f"  nothing left under {previous}; it can be dropped from {_wib(h['drop_from'])}")
    else:
        ctx.print(f"hmac: current {h['current']}, no previous kid (nothing to re-key; "
                  f"rotated {_wib(h['rotated_at'])})")
    for kind, part in (("hmac", h), ("jwt", j)):
        if part.get("next"):
            ctx.print(f"{kind}: {part['next']} becomes current at {_wib(part['active_from'])} (already accepted)")
    previous_jwt = ", ".join(f"{p['kid']} (retired {_wib(p['retired_at'])})" for p in j["previous"]) or "none"
    ctx.print(f"jwt: current {j['current']}, previous {previous_jwt}")
    if j.get("sessions_ended_at"):
        ctx.print(f"jwt: sessions issued before {_wib(j['sessions_ended_at'])} were ended (emergency rotation)")
    if state["seed"]:
        ctx.print("seed: still in the secret (some kid in use derives from it; rotating both kinds and "
                  "finishing the re-key removes it)")
    for batch_id in state["stale_priority_lists"]:
        ctx.print(f"warning: batch {batch_id}'s priority list is keyed without {h.get('next') or h['current']}: "
                  "its NIK entries "
                  "match only biodata still keyed under an older kid (applicant-id entries still match)")
    return 0
