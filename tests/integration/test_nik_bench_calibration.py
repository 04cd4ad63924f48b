"""The calibration test of issue 13: with the harness artificially slowed (a delay added to every
invocation of the NIK worker by the pump), ``bench/nik_pipeline.py`` measures a lower ceiling and
refuses the run, with its own exit status and no utilisation line: it never reports the harness's
slowness as the pipeline's utilisation. About 35 s (one small ceiling run; no drain follows)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))

import nik_pipeline as bench  # noqa: E402


def test_a_slowed_harness_is_refused_not_reported_as_utilisation() -> None:
    # 4 batches at once (MaximumConcurrency 4 x BatchSize 5) and 4 s added to each: at most
    # 20 checks per 4 s = 5/s, whatever the machine, below the 6/s minimum
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "nik_pipeline.py"), "--ceiling-checks", "40", "--harness-delay", "4",
         "--timeout", "120"],
        capture_output=True, text=True, timeout=240, cwd=ROOT,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(str(ROOT / p) for p in ("src", "local"))})
    assert result.returncode == bench.REFUSED, result.stdout + result.stderr[-3000:]
    refused = [line for line in result.stdout.splitlines() if line.startswith("nik_pipeline: refused ")]
    assert len(refused) == 1, result.stdout
    found = re.match(r"nik_pipeline: refused ceiling=([0-9.]+)/s minimum=6/s reason=\S", refused[0])
    assert found, refused[0]
    assert float(found.group(1)) < bench.MIN_CEILING
    assert "utilisation" not in result.stdout
    assert "capacity=" not in result.stdout  # no capacity was chosen, so no run was made
    # every check of the ceiling run was verified once (a redelivery after the local 5 s
    # visibility finds it done)
    assert re.search(r"^nik_pipeline_outcomes: run=ceiling .*\bVERIFIED=40\b", result.stdout, re.M), result.stdout
