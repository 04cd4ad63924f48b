"""The ministry simulator's settings added for issue 5: outage windows on its clock, a latency
distribution with a slow tail, and the busiest one-second window it saw."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from werkzeug.test import Client

from prakerja_local.ministry import MinistrySettings, MinistrySimulator

PAYLOAD = {"request_id": "r", "nik": "3201010101900001", "full_name": "Budi Santoso", "date_of_birth": "1990-01-01"}


def test_outage_windows_follow_the_simulator_clock():
    # Given a simulator whose clock we move, with an outage from 10:00 to 10:01
    now = [datetime(2026, 4, 11, 9, 59, 30, tzinfo=UTC)]
    sim = MinistrySimulator(MinistrySettings(latency_ms=0), now=lambda: now[0])
    sim.add({"nik": PAYLOAD["nik"], "full_name": "Budi Santoso", "date_of_birth": "1990-01-01"})
    Client(sim).post("/settings", json={"outages": [["2026-04-11T10:00:00Z", "2026-04-11T10:01:00Z"]]})

    # When it is called before, inside and after the window
    statuses = []
    for moment in (0, 31, 89, 91):
        now[0] = datetime(2026, 4, 11, 9, 59, 30, tzinfo=UTC) + timedelta(seconds=moment)
        statuses.append(sim.verify({**PAYLOAD, "request_id": f"r{moment}"})[0])

    # Then only the calls inside it are refused with 503, and counted
    assert statuses == [200, 503, 503, 200] and sim.counters["outages"] == 2
    assert sim.snapshot()["settings"]["outages"] == [["2026-04-11T10:00:00Z", "2026-04-11T10:01:00Z"]]


def test_malformed_outage_windows_are_refused():
    response = Client(MinistrySimulator()).post("/settings", json={"outages": [["yesterday"]]})
    assert response.status_code == 422


def test_latency_has_a_jitter_and_a_slow_tail():
    # Given 10 ms plus up to 20 ms, and every call slow (300 ms) once the tail is set to all
    sim = MinistrySimulator(MinistrySettings(latency_ms=10, latency_jitter_ms=20))

    # When calls are timed
    def timed(i: int) -> float:
        started = time.monotonic()
        sim.verify({**PAYLOAD, "request_id": f"t{i}"})
        return time.monotonic() - started

    quick = [timed(i) for i in range(10)]
    sim.settings.update({"slow_rate": 1.0, "slow_ms": 300})
    slow = timed(99)

    # Then
    assert all(0.009 <= t < 0.2 for t in quick) and max(quick) - min(quick) > 0.002
    assert slow >= 0.29


def test_the_busiest_one_second_window_is_counted():
    # Given a clock we set, and a simulator that admits up to 50 per whole second
    mono = [100.0]
    sim = MinistrySimulator(MinistrySettings(latency_ms=0, rate_per_second=50), monotonic=lambda: mono[0])

    # When 5 calls come at 100.9 s and 5 at 101.1 s (two whole seconds, one sliding window)
    for i, at in enumerate([100.9] * 5 + [101.1] * 5 + [102.5]):
        mono[0] = at
        sim.verify({**PAYLOAD, "request_id": f"w{i}"})

    # Then the sliding window saw 10 at once, and none was over the whole-second capacity
    assert sim.counters["max_rate_seen"] == 10 and sim.counters["over_capacity"] == 0
