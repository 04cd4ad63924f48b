"""The NIK benchmark's calibration (issue 13 item 1): the simulated ministry's capacity is a share
of the ceiling the harness measured on this machine, or the run is refused; a refusal never
looks like a utilisation."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))

import nik_pipeline as bench  # noqa: E402


def test_half_the_ceiling_in_whole_calls_with_in_flight_scaled() -> None:
    c = bench.calibrate(10.6, 50.0, 20)
    assert (c.rate, c.in_flight, c.refused) == (5, 2, None)
    assert c.line() == "nik_pipeline_ceiling: ceiling=10.6/s capacity=5/s in_flight=2 headroom=0.5"


def test_never_above_the_ministrys_real_capacity() -> None:
    c = bench.calibrate(400.0, 50.0, 20)
    assert (c.rate, c.in_flight) == (50, 20)


@pytest.mark.parametrize("ceiling", [30.0, 17.3, 12.0, 7.9, 6.0])
def test_a_slower_harness_gets_a_lower_capacity_with_headroom(ceiling: float) -> None:
    c = bench.calibrate(ceiling, 50.0, 20)
    assert c.refused is None
    assert bench.MIN_CAPACITY <= c.rate <= ceiling * bench.HEADROOM
    assert 1 <= c.in_flight <= 20
    assert c.in_flight >= math.ceil(20 * c.rate / 50)
    slower = bench.calibrate(ceiling / 2, 50.0, 20)
    assert slower.refused or slower.rate < c.rate


@pytest.mark.parametrize("ceiling", [5.99, 4.0, 0.5, 0.0, -1.0, math.nan, math.inf * 0])
def test_refused_below_the_minimum(ceiling: float) -> None:
    c = bench.calibrate(ceiling, 50.0, 20)
    assert c.refused
    assert (c.rate, c.in_flight) == (0, 0)
    line = c.line()
    assert line.startswith("nik_pipeline: refused ceiling=")
    assert "reason=" in line and "utilisation" not in line.split("reason=")[0]
    assert "utilisation=" not in line


def test_minimum_ceiling_is_the_minimum_capacity_over_the_headroom() -> None:
    assert bench.MIN_CEILING == bench.MIN_CAPACITY / bench.HEADROOM == 6
    assert bench.calibrate(bench.MIN_CEILING, 50.0, 20).rate == bench.MIN_CAPACITY
    assert bench.REFUSED not in (0, 1, 2)  # distinct from success, a crash and argparse's usage error


def test_ceiling_run_measures_from_the_pumps_start() -> None:
    run = bench.Run(40, 1.0, started=100.0, first_call=104.0, last_call=110.0, counters={"answered": 40})
    assert run.throughput == pytest.approx(4.0)  # 40 checks in 10 s, not 40 in the 6 s between calls
    assert run.calls_per_second == pytest.approx(40 / 6)


def test_drain_start_is_from_the_ministry_answering_again() -> None:
    run = bench.Run(10, 5.0, outage_over_at=50.0, first_after_outage=52.8)
    assert run.drain_start_s == pytest.approx(2.8)
    assert bench.Run(10, 5.0).drain_start_s is None
