"""cfn-lint and ``sam validate --lint`` on template.yaml, run from the sam virtualenv.

The tools live in their own virtualenv (aws-sam-cli pins old boto3/pydantic/urllib3), found via
``PRAKERJA_SAM_VENV`` (the Makefile sets it from ``scripts/venv.sh sam requirements/sam.lock``).
Both work offline. cfn-lint must exit 0: a warning is acceptable only when it is silenced for one
resource in its ``Metadata: cfn-lint: config: ignore_checks`` with the reason next to it.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
TEMPLATE = REPO / "template.yaml"
REGION = "ap-southeast-3"


@pytest.fixture(scope="module")
def sam_bin() -> Path:
    venv = os.environ.get("PRAKERJA_SAM_VENV")
    if not venv:
        pytest.skip("PRAKERJA_SAM_VENV is not set: point it at the sam virtualenv "
                    "(`scripts/venv.sh sam requirements/sam.lock` prints it; `make test` sets it)")
    bin_dir = Path(venv) / "bin"
    assert (bin_dir / "sam").is_file() and (bin_dir / "cfn-lint").is_file(), (
        f"PRAKERJA_SAM_VENV={venv} has no bin/sam or bin/cfn-lint")
    return bin_dir


def _run(cmd: list[str]) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SAM_CLI_TELEMETRY": "0", "AWS_DEFAULT_REGION": REGION}
    started = time.monotonic()
    result = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    print(f"{Path(cmd[0]).name}: {time.monotonic() - started:.1f} s, exit {result.returncode}")
    return result


def test_cfn_lint_passes(sam_bin: Path) -> None:
    result = _run([str(sam_bin / "cfn-lint"), "--format", "parseable", str(TEMPLATE)])
    # exit codes are bit flags: 2 errors, 4 warnings, 8 informational
    assert result.returncode == 0, f"cfn-lint findings:\n{result.stdout}{result.stderr}"


def test_sam_validate_lint_passes(sam_bin: Path) -> None:
    result = _run([str(sam_bin / "sam"), "validate", "--lint", "--template", str(TEMPLATE), "--region", REGION])
    assert result.returncode == 0, f"sam validate --lint:\n{result.stdout}{result.stderr}"
    assert "is a valid SAM Template" in result.stdout + result.stderr
