"""Load rehearsal of launch day against the local stack, with Locust; then proof that nothing was lost.

Usage: ``python bench/rehearsal.py [--users N] [--duration S] [--base-url http://127.0.0.1:PORT]``
(``make rehearsal USERS=.. DURATION=.. BASE_URL=..``). Not a capacity figure: ``make capacity``
derives those; this shows that under concurrent load every piece of work still arrives.

1. The stack: without ``--base-url`` a local stack of its own (``python -m prakerja_local`` on a
   free port, as ``make run`` starts it), with the sign-up route throttled (``--throttle``, default
   ``POST /v1/accounts=2/2``) so admission control answers some sign-ups 429 with Retry-After.
   A ``--base-url`` whose host is not 127.0.0.1 is refused (exit 2): traffic goes to 127.0.0.1 only.
2. The plan: the demo's synthetic applicants (``prakerja_local.synth``: people, KTP-like photos),
   registered with the ministry simulator; the test's best answers (``/_local/assessment/answer-key``);
   the open batch. A fresh random seed per run unless ``--seed``, so a reused stack gets new people.
3. The load: Locust (its own virtualenv, ``scripts/venv.sh load requirements/load.lock``) runs
   ``bench/rehearsal_locustfile.py`` headless with ``--users`` users for ``--duration`` seconds
   (then no new step starts; ``--stop-timeout`` lets running steps end). Each user walks one
   applicant after another through sign-up, the mailbox link, sign-in, the status page, KTP
   presign and upload, biodata, status polling with backoff, the test and joining the batch.
4. The drain: ``POST /_local/pumps/drain`` until every queue is empty (``--drain-timeout``).
5. The proof, per applicant whose sign-up was acknowledged: exactly one verification email; a
   verdict for every acknowledged biodata (NIK VERIFIED/REJECTED) and upload (KTP VALID/REJECTED),
   read from ``GET /v1/me`` after a fresh sign-in. Each miss is one ``lost``. Then the live funnel
   (``prakerja-ops --local URL funnel --json``, after minus before) must equal the rehearsal's own
   count per step. 429/503 with Retry-After were retried by the users and are not errors; any other
   5xx is in ``errors_5xx``.

Printed: requests per second and p50/p99 (ms, Locust's) per route; answers by status code; the
funnel comparison. Response times here are the local emulator's (one process, moto, a shared
machine), not the deployed design's. The last line is machine-readable:
``rehearsal: requests=<n> rps=<x> errors_5xx=<n> lost=<n>``. Exit status 0 only when there were
no 5xx, nothing lost, the funnel equal and no applicant's step cut off unacknowledged.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from prakerja import clock as prakerja_clock
from prakerja_local import journey, launch, synth

REPO = Path(__file__).resolve().parents[1]
ARTIFACTS = REPO / "artifacts"
LOCUSTFILE = REPO / "bench" / "rehearsal_locustfile.py"
ALLOWED_HOST = "127.0.0.1"
DEFAULT_THROTTLE = "POST /v1/accounts=2/2"
PHOTOS = 8  # distinct KTP photos, shared round-robin by the applicants
# funnel steps the rehearsal counts itself (``selected`` needs a draw, which a rehearsal never runs)
COUNTED = ("registered", "email_verified", "ktp_valid", "nik_verified", "assessment_passed", "joined_batch")


class Refused(SystemExit):
    """A target outside 127.0.0.1 (exit status 2)."""


def check_target(base_url: str) -> str:
    """``base_url`` without a trailing slash; Refused unless its host is 127.0.0.1 (http)."""
    parts = urlsplit(base_url)
    if parts.scheme != "http" or parts.hostname != ALLOWED_HOST:
        print(f"rehearsal: refusing {base_url!r}: only http://127.0.0.1:<port> is ever sent traffic", file=sys.stderr)
        raise Refused(2)
    return base_url.rstrip("/")


def load_venv() -> Path:
    """The load virtualenv (built on first use from requirements/load.lock)."""
    out = subprocess.run([str(REPO / "scripts" / "venv.sh"), "load", "requirements/load.lock"], cwd=REPO,
                         check=True, capture_output=True, text=True)
    return Path(out.stdout.strip().splitlines()[-1])


def live_funnel(base_url: str) -> dict[str, int]:
    """Every counted step of ``prakerja-ops --local URL funnel --json`` (``ktp_valid`` included)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(str(REPO / d) for d in ("src", "local", "ops"))}
    for name in ("AWS_ENDPOINT_URL", "APPLICANTS_TABLE", "BATCHES_TABLE", "AUDIT_BUCKET"):
        env.pop(name, None)
    out = subprocess.run([sys.executable, "-m", "prakerja_ops", "--local", base_url, "funnel", "--json"], env=env,
                         check=True, capture_output=True, text=True, timeout=120)
    return {s["step"]: int(s["people"]) for s in json.loads(out.stdout)["steps"]}


def prepare(http: httpx.Client, n: int, seed: int, workdir: Path) -> dict[str, Any]:
    """The plan for the Locust users: ``n`` synthetic people (registered with the ministry),
    photos, the answer key and the open batch (see the locustfile)."""
    today = prakerja_clock.parse_iso(http.get("/_local/clock").json()["now"]).astimezone(prakerja_clock.WIB).date()
    people = synth.people(n, seed, today)
    journey.expect(http.post("/_local/ministry/people/bulk", json=[p.ministry_record() for p in people]), 201,
                   "ministry population")
    photos = []
    for p in people[:PHOTOS]:
        path = workdir / f"ktp-{p.index}.jpg"
        path.write_bytes(synth.ktp_photo(p, seed=seed + p.index))
        photos.append(str(path))
    batch = journey.open_batch(http)
    return {"people": [{"email": p.email, "password": p.password, "biodata": p.biodata()} for p in people],
            "photos": photos, "answers": http.get("/_local/assessment/answer-key").json(),
            "batch_id": batch["batch_id"] if batch else None, "results": str(workdir / "results.json")}


def run_locust(venv: Path, base_url: str, plan_path: Path, users: int, spawn_rate: float, duration: int,
               stop_timeout: int, csv_prefix: Path, log_path: Path) -> int:
    """Locust headless in the load venv; its exit status (its own summary goes to ``log_path``)."""
    cmd = [str(venv / "bin" / "locust"), "-f", str(LOCUSTFILE), "--headless", "-u", str(users), "-r",
           str(spawn_rate), "-t", f"{duration}s", "--stop-timeout", str(stop_timeout), "--host", base_url,
           "--csv", str(csv_prefix), "--only-summary", "--exit-code-on-error", "0"]
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["REHEARSAL_PLAN"] = str(plan_path)
    with open(log_path, "w", encoding="utf-8") as log:
        return subprocess.run(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=REPO,
                              timeout=duration + stop_timeout + 300).returncode


def read_stats(csv_prefix: Path) -> list[dict[str, str]]:
    """Locust's ``<prefix>_stats.csv`` rows (one per route, then ``Aggregated``)."""
    with open(f"{csv_prefix}_stats.csv", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def settle(http: httpx.Client, plan: dict, results: dict) -> tuple[dict[str, int], int, list[str]]:
    """After the drain: the rehearsal's own funnel count, ``lost`` and what each loss was.

    Per applicant whose sign-up was acknowledged: one verification email exactly; a NIK verdict
    if its biodata was acknowledged and a KTP verdict if its upload was (from ``GET /v1/me``)."""
    counted = dict.fromkeys(COUNTED, 0)
    lost, why = 0, []
    for record in results["records"]:
        done = set(record["done"])
        if "signed_up" not in done:
            continue
        person = plan["people"][record["index"]]
        counted["registered"] += 1
        counted["email_verified"] += "email_verified" in done
        counted["assessment_passed"] += bool(record["passed"])
        counted["joined_batch"] += "joined" in done
        mails = len(journey.verification_mails(http, person["email"]))
        if mails != 1:
            lost += 1
            why.append(f"applicant {record['index']}: {mails} verification emails")
        if not done & {"ktp_uploaded", "biodata"}:
            continue
        steps = journey.me(http, journey.sign_in(http, person["email"], person["password"]))["steps"]
        ktp, nik = steps["ktp"]["status"], steps["nik"]["status"]
        counted["ktp_valid"] += ktp == "VALID"
        counted["nik_verified"] += nik == "VERIFIED"
        if "ktp_uploaded" in done and ktp not in {"VALID", "REJECTED"}:
            lost += 1
            why.append(f"applicant {record['index']}: upload without a verdict (ktp {ktp})")
        if "biodata" in done and nik not in {"VERIFIED", "REJECTED"}:
            lost += 1
            why.append(f"applicant {record['index']}: biodata without a verdict (nik {nik})")
    return counted, lost, why


def main(argv: list[str] | None = None) -> int:
    """Command line (see the module docstring); exit status 0, 1 (a check failed) or 2 (refused)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=20, help="concurrent Locust users (default 20)")
    parser.add_argument("--duration", type=int, default=120, help="seconds of load (default 120)")
    parser.add_argument("--spawn-rate", type=float, default=None, help="users started a second (default users/5)")
    parser.add_argument("--base-url", default=None, help="a running stack on 127.0.0.1 (default: start one)")
    parser.add_argument("--applicants", type=int, default=None,
                        help="synthetic people prepared (default users x duration/3, at least 2 per user)")
    parser.add_argument("--seed", type=int, default=None, help="synthetic people's seed (default: random)")
    parser.add_argument("--throttle", default=DEFAULT_THROTTLE,
                        help=f"the own stack's route throttles (default {DEFAULT_THROTTLE!r}; '' for the template's)")
    parser.add_argument("--drain-timeout", type=float, default=300.0, help="seconds to wait for empty queues")
    parser.add_argument("--stop-timeout", type=int, default=180, help="seconds Locust lets a running step finish")
    args = parser.parse_args(argv)
    if args.users < 1 or args.duration < 1:
        parser.error("--users and --duration must be at least 1")
    if args.base_url:
        base_url = check_target(args.base_url)
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1, 2**31)
    applicants = args.applicants or max(2 * args.users, args.users * args.duration // 3)
    spawn_rate = args.spawn_rate or max(1.0, args.users / 5)
    venv = load_venv()
    ARTIFACTS.mkdir(exist_ok=True)
    stack = None
    if not args.base_url:
        env = {"PRAKERJA_LOCAL_THROTTLE": args.throttle} if args.throttle else {}
        stack = launch.start(ARTIFACTS / "rehearsal-stack.log", env=env)
        base_url = check_target(stack.base_url)
        print(f"rehearsal: local stack at {base_url} (log: {stack.log_path}; throttle {args.throttle or 'template'})",
              flush=True)
    try:
        return rehearse(base_url, venv, args, seed, applicants, spawn_rate)
    finally:
        if stack is not None:
            stack.stop()


def rehearse(base_url: str, venv: Path, args: argparse.Namespace, seed: int, applicants: int,
             spawn_rate: float) -> int:
    """Plan, load, drain, prove; prints the report and returns the exit status."""
    with httpx.Client(base_url=base_url, timeout=60) as http, tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        before = live_funnel(base_url)
        plan = prepare(http, applicants, seed, workdir)
        plan_path = workdir / "plan.json"
        plan_path.write_text(json.dumps(plan), encoding="utf-8")
        print(f"rehearsal: {args.users} users for {args.duration} s, {applicants} synthetic applicants ready "
              f"(seed {seed}), batch {plan['batch_id']}", flush=True)
        log_path = ARTIFACTS / "rehearsal-locust.log"
        code = run_locust(venv, base_url, plan_path, args.users, spawn_rate, args.duration, args.stop_timeout,
                          workdir / "stats", log_path)
        if not Path(plan["results"]).exists():
            print(f"rehearsal: Locust wrote no results (exit {code}); see {log_path}", file=sys.stderr)
            return 1
        results = json.loads(Path(plan["results"]).read_text(encoding="utf-8"))
        stats = read_stats(workdir / "stats")
        drained = http.post("/_local/pumps/drain", json={"timeout": args.drain_timeout},
                            timeout=args.drain_timeout + 60).json()
        counted, lost, why = settle(http, plan, results)
        after = live_funnel(base_url)
    return report(stats, results, drained, counted, lost, why, before, after, len(plan["people"]))


def report(stats: list[dict[str, str]], results: dict, drained: dict, counted: dict[str, int], lost: int,
           why: list[str], before: dict[str, int], after: dict[str, int], prepared: int) -> int:
    """Print the figures and the proof; the exit status."""
    print("")
    print(f"{'route':<48}{'requests':>9}{'req/s':>8}{'p50 ms':>8}{'p99 ms':>8}{'fails':>7}")
    total = None
    for row in stats:
        if row["Name"] == "Aggregated":
            total = row
            continue
        print(f"{row['Type'] + ' ' + row['Name']:<48}{row['Request Count']:>9}{float(row['Requests/s']):>8.2f}"
              f"{row['50%']:>8}{row['99%']:>8}{row['Failure Count']:>7}")
    assert total is not None, "Locust's stats have no Aggregated row"
    print(f"{'all routes':<48}{total['Request Count']:>9}{float(total['Requests/s']):>8.2f}{total['50%']:>8}"
          f"{total['99%']:>8}{total['Failure Count']:>7}")
    by_status: Counter[int] = Counter()
    for _method, _name, status, n in results["statuses"]:
        by_status[int(status)] += n
    refused = sum(n for _m, _n, _s, n in results["refused"])
    print("answers by status: " + " ".join(f"{s}={n}" for s, n in sorted(by_status.items())))
    print(f"refused with Retry-After and retried (429/503, not errors): {refused}")
    # a 503 that carried Retry-After was a refusal (retried); any other 5xx is an error
    refused_503 = sum(n for _m, _n, s, n in results["refused"] if int(s) == 503)
    errors_5xx = sum(n for s, n in by_status.items() if s >= 500) - refused_503
    no_answer = by_status.get(0, 0)
    records = results["records"]
    journey_errors = [r for r in records if r["error"]]
    unfinished = [r for r in records if r["pending"]]
    stopped = Counter(r["stopped"] for r in records if r["stopped"])
    print(f"applicants: {len(records)} started, "
          f"{sum(1 for r in records if 'joined' in r['done'] or r['done'][-1:] == ['test_taken'])} walked to the end, "
          f"stopped by the run time at {dict(stopped)}, unexpected answers {len(journey_errors)}, "
          f"unfinished {len(unfinished)}, no answer {no_answer}")
    for r in journey_errors[:10]:
        print(f"  applicant {r['index']}: {r['error']}")
    if len(records) >= prepared:
        print("all prepared applicants were used: the users idled at the end (give --applicants)")
    pending = {q: n for q, n in (drained.get("pending") or {}).items() if n}
    print(f"queues drained: {'yes' if drained.get('drained') else 'no'}{f' (pending {pending})' if pending else ''}")
    for line in why[:20]:
        print(f"  lost: {line}")
    live = {step: after.get(step, 0) - before.get(step, 0) for step in COUNTED}
    equal = live == counted
    print(f"{'step':<20}{'rehearsal':>10}{'live funnel':>12}")
    for step in COUNTED:
        mark = "" if live[step] == counted[step] else "  <-- differs"
        print(f"{step:<20}{counted[step]:>10}{live[step]:>12}{mark}")
    print(f"funnel equal: {'yes' if equal else 'no'}")
    print("(response times are the local emulator's on this machine, not the deployed design's)")
    requests = int(total["Request Count"])
    ok = errors_5xx == 0 and lost == 0 and equal and not unfinished and drained.get("drained")
    print(f"rehearsal: requests={requests} rps={float(total['Requests/s']):.2f} errors_5xx={errors_5xx} lost={lost}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
