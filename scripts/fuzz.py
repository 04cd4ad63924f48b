"""``make fuzz``: schemathesis over every route of docs/openapi.json against the local stack.

Runs with the app's virtualenv (``PYTHONPATH=src:local``): starts a local stack of its own on a
free port (or uses ``--base-url``), signs up an applicant and confirms its email through the local
mailbox, then runs schemathesis from its own virtualenv (``requirements/fuzz.lock``, venv
``fuzz``; ``PRAKERJA_FUZZ_VENV`` or built with scripts/venv.sh) with that applicant signed in
(scripts/fuzz_hooks.py) and three checks on every response:

- ``not_a_server_error``: no 5xx;
- ``response_schema_conformance``: the body matches the route's documented response (2xx bodies
  and the ``Error`` schema of every documented error status);
- ``error_shape`` (scripts/fuzz_hooks.py): every error is ``{code, message, fields}`` with codes
  from docs/errors.md.

The examples, coverage and fuzzing phases run (``--max-examples`` per operation in the fuzzing
phase, a fixed ``--seed``: the same cases every run). The last line of output is::

    fuzz: examples=<test cases sent> server_errors=<n> schema_violations=<n>

``server_errors`` counts schemathesis' distinct ``not_a_server_error`` failures and
``schema_violations`` its distinct failures of the other two checks; exit status 0 only when both
are 0 and schemathesis reported no error. The JSON report and a pytest file reproducing each
failure are written to ``--report-dir`` (default ``artifacts/fuzz``).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SPEC = ROOT / "docs" / "openapi.json"
HOOKS = ROOT / "scripts" / "fuzz_hooks.py"
CHECKS = "not_a_server_error,response_schema_conformance,error_shape"
PHASES = "examples,coverage,fuzzing"

#: The fuzz stack's own settings. Every fuzzed sign-in with a random address fails from the same
#: client address (127.0.0.1), and every fuzzed ``DELETE /v1/me``, ``PUT /v1/me/password`` and
#: ``PUT /v1/me/email`` is a wrong password for the fuzz applicant's own account: with the deployed
#: limits of failed passwords (README "Limits": 20 per account and address, 100 per account, 1,000
#: per address, each per 15 minutes) the fuzz applicant would be locked out (429
#: ``TOO_MANY_ATTEMPTS``, as designed) after a few hundred cases and the rest of the run would test
#: nothing but 401s. The limits themselves are tested in tests/integration/test_accounts_limits.py.
#: A ``--base-url`` stack needs the same variables.
STACK_ENV = {"SIGNIN_MAX_FAILURES": "1000000", "SIGNIN_MAX_FAILURES_PER_ACCOUNT": "1000000",
             "SIGNIN_MAX_FAILURES_PER_ADDRESS": "1000000"}

for _path in (ROOT / "src", ROOT / "local"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))


def fuzz_venv() -> Path:
    """The schemathesis virtualenv: ``PRAKERJA_FUZZ_VENV`` or scripts/venv.sh's ``fuzz`` venv."""
    if os.environ.get("PRAKERJA_FUZZ_VENV"):
        return Path(os.environ["PRAKERJA_FUZZ_VENV"])
    done = subprocess.run([str(ROOT / "scripts" / "venv.sh"), "fuzz", str(ROOT / "requirements" / "fuzz.lock")],
                          capture_output=True, text=True, check=True)
    return Path(done.stdout.strip().splitlines()[-1])


def sign_up_applicant(base_url: str, seed: int) -> tuple[str, str]:
    """A new applicant with a confirmed email: ``(email, password)`` (synthetic, random)."""
    import httpx

    email = f"fuzz.{seed}.{secrets.token_hex(4)}@example.id"
    password = "Fz-" + secrets.token_urlsafe(18)
    with httpx.Client(base_url=base_url, timeout=30.0) as http:
        reply = http.post("/v1/accounts", json={"email": email, "password": password, "consent": True})
        if reply.status_code != 202:
            raise SystemExit(f"fuzz: sign-up failed: {reply.status_code} {reply.text[:200]}")
        deadline = time.monotonic() + 60
        while not (mail := http.get("/_local/mailbox", params={"to": email}).json()):
            if time.monotonic() > deadline:
                raise SystemExit("fuzz: no verification email within 60 s")
            time.sleep(0.2)
        token = re.search(r"(?:#token=|/v1/email-verifications/)([A-Za-z0-9_-]+)", mail[0]["text"]).group(1)
        reply = http.post(f"/v1/email-verifications/{token}")
        if reply.status_code != 200:
            raise SystemExit(f"fuzz: email confirmation failed: {reply.status_code}")
    return email, password


def summarise(report: dict[str, Any]) -> tuple[int, int, int, list[str]]:
    """``(examples, server_errors, schema_violations, problems)`` of a schemathesis JSON report;
    ``problems`` names errors of the run itself (a fatal error, an operation that errored)."""
    examples = int(report["test_cases"]["generated"])
    server = sum(g["count"] for g in report["failures"] if g["type"] == "ServerError")
    schema = sum(g["count"] for g in report["failures"] if g["type"] != "ServerError")
    problems = [f"{e['title']} ({e['count']})" for e in report.get("errors") or []]
    if not report.get("complete"):
        problems.append(f"run incomplete ({report.get('stop_reason')})")
    return examples, server, schema, problems


def run(base_url: str, max_examples: int, seed: int, report_dir: Path, workers: int) -> int:
    """Fuzz the stack at ``base_url``; print the summary line; 0 when clean."""
    venv = fuzz_venv()
    email, password = sign_up_applicant(base_url, seed)
    report_dir.mkdir(parents=True, exist_ok=True)
    report_path = report_dir / "report.json"
    report_path.unlink(missing_ok=True)
    env = {**os.environ, "SCHEMATHESIS_HOOKS": str(HOOKS), "PRAKERJA_FUZZ_BASE_URL": base_url,
           "PRAKERJA_FUZZ_EMAIL": email, "PRAKERJA_FUZZ_PASSWORD": password, "NO_COLOR": "1"}
    command = [str(venv / "bin" / "schemathesis"), "run", str(SPEC), "--url", base_url,
               "--checks", CHECKS, "--phases", PHASES, "--max-examples", str(max_examples), "--seed", str(seed),
               "--workers", str(workers), "--generation-database", "none", "--no-color",
               "--request-timeout", "30", "--suppress-health-check", "all",
               "--report", "json,pytest", "--report-dir", str(report_dir),
               "--report-json-path", str(report_path)]
    done = subprocess.run(command, env=env, cwd=ROOT, check=False)
    if not report_path.exists():
        print(f"fuzz: schemathesis wrote no report (exit {done.returncode})")
        return 2
    examples, server, schema, problems = summarise(json.loads(report_path.read_text(encoding="utf-8")))
    for problem in problems:
        print(f"fuzz: error: {problem}")
    print(f"fuzz: examples={examples} server_errors={server} schema_violations={schema}")
    return 0 if server == 0 and schema == 0 and not problems else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", help="a running stack (default: start one on a free port)")
    parser.add_argument("--max-examples", type=int, default=200, help="test cases per operation (fuzzing phase)")
    parser.add_argument("--seed", type=int, default=2020)
    # One worker by default: with two, schemathesis runs hypothesis in two threads, and Python 3.11's
    # ast.parse (hypothesis describes filter lambdas with it) is not thread-safe: now and then
    # "SystemError: AST constructor recursion depth mismatch" ends the run as a Runtime Error
    # (seen about one run in two with the response-model schemas). The server-side work is the
    # same; the run takes a little longer.
    parser.add_argument("--workers", type=int, default=1,
                        help="schemathesis workers (default 1: see the comment above)")
    parser.add_argument("--report-dir", type=Path, default=ROOT / "artifacts" / "fuzz")
    args = parser.parse_args(argv)
    if args.base_url:
        return run(args.base_url, args.max_examples, args.seed, args.report_dir, args.workers)
    from prakerja_local import launch

    stack = launch.start(args.report_dir / "stack.log", env=STACK_ENV)
    try:
        return run(stack.base_url, args.max_examples, args.seed, args.report_dir, args.workers)
    finally:
        stack.stop()


if __name__ == "__main__":
    sys.exit(main())
