"""The short load rehearsal of ``make test`` (issue 12 item 6): Locust users walk the launch-day
mix for about a minute against a local stack of its own, with sign-up throttled so that some
answers are 429 with Retry-After; afterwards no 5xx, nothing lost and the live funnel equal to
what the rehearsal counted. Its timings are printed (``pytest -s``), never asserted.

The load virtualenv (requirements/load.lock) is built by the rehearsal itself with
``scripts/venv.sh load`` (warm: a few stat calls), as on a fresh clone in CI.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
LAST_LINE = re.compile(r"rehearsal: requests=(\d+) rps=([0-9.]+) errors_5xx=(\d+) lost=(\d+)")


def rehearsal(*argv: str, timeout: float = 900) -> subprocess.CompletedProcess:
    """``python bench/rehearsal.py ARGV`` in its own process, as ``make rehearsal`` runs it."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(str(REPO / d) for d in ("src", "local", "ops"))}
    for name in ("AWS_ENDPOINT_URL", "APPLICANTS_TABLE", "BATCHES_TABLE", "AUDIT_BUCKET"):
        env.pop(name, None)
    return subprocess.run([sys.executable, str(REPO / "bench" / "rehearsal.py"), *argv], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def short_run() -> subprocess.CompletedProcess:
    # sign-up at one token every 2 s: six users starting within 5 s are refused some, whatever the
    # machine's speed (at the default 2/2 a slow, shared machine never reached the limit)
    done = rehearsal("--users", "6", "--duration", "60", "--throttle", "POST /v1/accounts=0.5/1")
    print(done.stdout)  # the figures (shown with -s); timings are the shared machine's
    (REPO / "artifacts").mkdir(exist_ok=True)
    (REPO / "artifacts" / "e2e-rehearsal.txt").write_text(done.stdout + done.stderr, encoding="utf-8")
    return done


def test_the_short_rehearsal_has_no_5xx_loses_nothing_and_its_funnel_equals_the_live_one(short_run):
    lines = short_run.stdout.splitlines()
    assert short_run.returncode == 0, short_run.stdout[-4000:] + short_run.stderr[-4000:]
    # the machine-readable last line: traffic, no 5xx, nothing lost
    found = LAST_LINE.fullmatch(lines[-1])
    assert found, lines[-1]
    requests, _rps, errors_5xx, lost = found.groups()
    assert int(requests) > 0 and int(errors_5xx) == 0 and int(lost) == 0
    # the live funnel (prakerja-ops) equals the rehearsal's own count on every step
    assert "funnel equal: yes" in lines
    registered = next(line for line in lines if line.startswith("registered "))
    assert registered.split()[1] == registered.split()[2] and int(registered.split()[1]) > 0
    assert "queues drained: yes" in lines


def test_the_rehearsal_prints_rate_and_percentiles_per_route_and_answers_by_status(short_run):
    out = short_run.stdout
    for route in ("POST /v1/accounts", "GET /v1/me", "PUT /v1/me/biodata", "POST /v1/me/documents/ktp",
                  "POST S3 presigned POST", "POST /v1/me/assessment/submit", "POST /v1/sessions",
                  "POST /v1/batches/{batch_id}/participants"):
        assert re.search(rf"^{re.escape(route)} +\d+ +[0-9.]+ +\d+ +\d+ +0$", out, re.M), route
    assert re.search(r"^answers by status: .*202=\d+", out, re.M)
    # admission control answered some sign-ups 429 with Retry-After; the users waited and retried
    refused = re.search(r"^refused with Retry-After and retried \(429/503, not errors\): (\d+)$", out, re.M)
    assert refused and int(refused.group(1)) > 0


def test_a_target_outside_127_0_0_1_is_refused_before_any_traffic():
    for url in ("http://localhost:8000", "http://10.0.0.1:8000", "https://127.0.0.1:8000", "http://example.id"):
        done = rehearsal("--base-url", url, "--users", "1", "--duration", "1", timeout=60)
        assert done.returncode == 2 and "only http://127.0.0.1" in done.stderr, (url, done.stderr)
