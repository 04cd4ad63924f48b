"""Fixtures for integration tests: a fresh moto world per test, resources from template.yaml,
the real handlers, and a movable clock."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from moto import mock_aws

from prakerja import clock as prakerja_clock
from prakerja.adapters import aws as aws_adapter
from prakerja_local.ministry import MinistryServer
from tests.integration.harness import Stack, start_stack


class MovableClock:
    """A test clock: starts at a fixed UTC time and moves only when told."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def advance(self, seconds: float) -> datetime:
        self.now += timedelta(seconds=seconds)
        return self.now

    def set(self, when: datetime) -> None:
        self.now = when


@pytest.fixture
def clock() -> Iterator[MovableClock]:
    c = MovableClock(datetime(2026, 4, 11, 3, 0, tzinfo=UTC))
    prakerja_clock.set_source(lambda: c.now)
    yield c
    prakerja_clock.set_source(None)


@pytest.fixture(scope="session")
def ministry() -> Iterator[MinistryServer]:
    """The ministry simulator on a free loopback port (state reset per test by ``stack``)."""
    server = MinistryServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def stack(clock: MovableClock, ministry: MinistryServer) -> Iterator[Stack]:
    ministry.simulator.__init__()  # fresh population, counters and settings
    with mock_aws():
        aws_adapter.reset()
        # The test clock stands still unless a test moves it, so the SES token bucket would never
        # refill: a burst far above any test's mail lets tests send at one instant (the rate
        # itself is tested in test_sender_rate.py, which sets its own SES_SEND_RATE/SES_BURST).
        yield start_stack({"MinistryUrl": ministry.url, "SesBurst": "100000"})
        aws_adapter.reset()
