"""The bounded fuzz run of ``make test`` (issue 15, item 2): schemathesis over every route of
docs/openapi.json against a local stack of its own, with a signed-in applicant. A fixed seed and a
fixed number of examples per operation; ``make fuzz`` is the longer run (scripts/fuzz.py)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts" / "fuzz-bounded"
EXAMPLES = 50  # per operation in the fuzzing phase: about a minute on 2 idle cores
SUMMARY = re.compile(r"fuzz: examples=(\d+) server_errors=(\d+) schema_violations=(\d+)")


@pytest.fixture(scope="module")
def fuzz_venv() -> Path:
    done = subprocess.run([str(ROOT / "scripts" / "venv.sh"), "fuzz", str(ROOT / "requirements" / "fuzz.lock")],
                          capture_output=True, text=True, check=True, timeout=600)
    return Path(done.stdout.strip().splitlines()[-1])


def test_the_error_shape_check_refuses_what_breaks_the_contract(fuzz_venv):
    """The custom check is live: FastAPI's own ``{"detail"}``, an unknown code, a field issue
    without a message, a bare string; the contract's own body passes."""
    probe = """
import json, sys
sys.path.insert(0, "scripts")
import fuzz_hooks as h
print(json.dumps([h._problems(b) for b in json.loads(sys.stdin.read())]))
"""
    bodies = [{"detail": [{"loc": ["body"], "msg": "x"}]},
              {"code": "NO_SUCH_CODE", "message": "m", "fields": []},
              {"code": "VALIDATION_FAILED", "message": "m", "fields": [{"field": "email", "code": "EMAIL_INVALID"}]},
              "Internal Server Error",
              {"code": "VALIDATION_FAILED", "message": "Data yang dikirim belum benar.",
               "fields": [{"field": "email", "code": "EMAIL_INVALID", "message": "Alamat email tidak valid."}]}]
    done = subprocess.run([str(fuzz_venv / "bin" / "python"), "-c", probe], input=json.dumps(bodies), cwd=ROOT,
                          capture_output=True, text=True, check=True, timeout=60)
    problems = json.loads(done.stdout)
    assert all(problems[:4]) and problems[4] == []
    assert "code 'NO_SUCH_CODE' is not in docs/errors.md" in problems[1]


def test_a_bounded_fuzz_run_finds_no_server_error_and_no_schema_violation(fuzz_venv):
    env = {**os.environ, "PRAKERJA_FUZZ_VENV": str(fuzz_venv),
           "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT / "local")])}
    done = subprocess.run([sys.executable, "scripts/fuzz.py", "--max-examples", str(EXAMPLES), "--seed", "2020",
                           "--report-dir", str(ARTIFACTS)], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=900, check=False)
    (ARTIFACTS / "output.txt").write_text(done.stdout + done.stderr, encoding="utf-8")
    last = done.stdout.strip().splitlines()[-1]
    match = SUMMARY.fullmatch(last)
    assert match, done.stdout[-3000:] + done.stderr[-2000:]
    examples, server_errors, schema_violations = map(int, match.groups())
    assert (server_errors, schema_violations) == (0, 0), done.stdout[-6000:]
    assert done.returncode == 0, done.stdout[-6000:]
    report = json.loads((ARTIFACTS / "report.json").read_text(encoding="utf-8"))
    routes = sum(len(item) for item in json.loads((ROOT / "docs" / "openapi.json").read_text())["paths"].values())
    assert report["operations"]["tested"] == report["operations"]["total"] == routes  # every route is fuzzed
    assert examples >= routes * EXAMPLES
