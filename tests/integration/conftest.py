"""Fixtures for integration tests: a fresh moto world per test, resources from template.yaml,
the real handlers, and a movable clock."""

from __future__ import annotations

import json
import os
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import fastapi.routing
import pytest
import yaml
from fastapi.encoders import jsonable_encoder
from moto import mock_aws

from prakerja import clock as prakerja_clock
from prakerja.adapters import aws as aws_adapter
from prakerja_local.ministry import MinistryServer
from tests.integration.harness import Stack, start_stack
from tests.integration.iam_probe import IamProbe

IAM_NEEDS = Path(__file__).parents[1] / "infra" / "iam_needs.yaml"


class MovableClock:
    """A test clock: starts at a fixed UTC time and moves only when told."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def advance(self, seconds: float) -> datetime:
        self.now += timedelta(seconds=seconds)
        return self.now

    def set(self, when: datetime) -> None:
        self.now = when


@pytest.fixture(autouse=True)
def _bodies_are_what_the_services_return(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every JSON body a route sends is the dict its handler returned, key for key and in order:
    the routes' response models (``prakerja.api.responses``) describe the bodies and never add,
    drop, null or reorder a key (issue 14 item 4). Wraps FastAPI's serialisation step; a
    mismatch fails the test that made the request."""
    serialize = fastapi.routing.serialize_response
    mismatches: list[str] = []

    async def checked(**kwargs: object) -> object:
        out = await serialize(**kwargs)
        if kwargs.get("field") is not None:
            sent = json.loads(out) if isinstance(out, bytes | str) else jsonable_encoder(out)
            returned = jsonable_encoder(kwargs["response_content"])
            if json.dumps(sent) != json.dumps(returned):
                mismatches.append(f"sent {json.dumps(sent)[:600]}\nreturned {json.dumps(returned)[:600]}")
        return out

    monkeypatch.setattr(fastapi.routing, "serialize_response", checked)
    yield
    assert not mismatches, "a response model changed a body:\n" + "\n".join(mismatches)


@pytest.fixture(scope="session", autouse=True)
def iam_probe() -> Iterator[IamProbe | None]:
    """Every AWS call a function makes in these tests must be in tests/infra/iam_needs.yaml (the
    reviewed list template.yaml's grants are checked against): a call made here but not listed
    would be refused on AWS. Fails the session's last test at teardown, naming each call.
    PRAKERJA_IAM_PROBE=0 turns the recorder off."""
    if os.environ.get("PRAKERJA_IAM_PROBE") == "0":
        yield None
        return
    needs = yaml.safe_load(IAM_NEEDS.read_text(encoding="utf-8"))
    probe = IamProbe(needs)  # also checks each item call against its grant's dynamodb: condition
    with pytest.MonkeyPatch.context() as patch:
        probe.install(patch)
        yield probe
    if os.environ.get("PRAKERJA_IAM_PROBE_DUMP"):  # every recorded call, for a review of the list
        Path(os.environ["PRAKERJA_IAM_PROBE_DUMP"]).write_text("\n".join(
            f"{f}\t{a}\t{r}\t{t}" for f, calls in sorted(probe.calls.items()) for (a, r), t in sorted(calls.items())))
    missing = probe.missing(needs)
    assert not missing, (
        f"AWS calls the functions made in the integration tests that {IAM_NEEDS.name} does not list "
        "(on AWS they would be AccessDenied unless template.yaml grants them; add each to template.yaml and "
        f"{IAM_NEEDS.name} with the adapter call that needs it):\n  " + "\n  ".join(missing))


@pytest.fixture(autouse=True)
def _iam_probe_test(request: pytest.FixtureRequest, iam_probe: IamProbe | None) -> None:
    if iam_probe is not None:
        iam_probe.test = request.node.nodeid


@pytest.fixture
def probe(iam_probe: IamProbe | None) -> Iterator[IamProbe]:
    """The session's probe, recording this test's calls apart (then added to the session's)."""
    if iam_probe is None:
        pytest.skip("PRAKERJA_IAM_PROBE=0")
    session, iam_probe.calls = iam_probe.calls, defaultdict(dict)
    session_items, iam_probe.item_calls = iam_probe.item_calls, defaultdict(set)
    try:
        yield iam_probe
    finally:
        for function_id, calls in iam_probe.calls.items():
            for call, test in calls.items():
                session[function_id].setdefault(call, test)
        for function_id, items in iam_probe.item_calls.items():
            session_items[function_id] |= items
        iam_probe.calls, iam_probe.item_calls = session, session_items


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
