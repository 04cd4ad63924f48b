"""Admission control over HTTP (issue 12): a surge of sign-ups past a small route limit on a local
stack of its own. Every answer is 202 or a clean refusal (429/503 with Retry-After, never a 5xx),
and every address that got its 202 has exactly one account: one verification email, even though
its refused attempts were retried with the same Idempotency-Key and the accepted one replayed.

The stack runs with ``PRAKERJA_LOCAL_THROTTLE`` = 4 sign-ups a second, burst 4 (the template's
launch-day figure is thousands). Its gateway answers 429 as API Gateway does, plus a Retry-After
(API Gateway sends none; the web client then waits its own backoff). Request loops are bounded.
"""

from __future__ import annotations

import random
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from prakerja_local import launch

ARTIFACTS = Path(__file__).parents[2] / "artifacts"
PEOPLE, WORKERS, MAX_ATTEMPTS = 24, 12, 30
PASSWORD = "kopi-tubruk-2020"


@pytest.fixture(scope="module")
def throttled_stack() -> Iterator[str]:
    stack = launch.start(ARTIFACTS / "e2e-admission-stack.log",
                         env={"PRAKERJA_LOCAL_THROTTLE": "POST /v1/accounts=4/4"})
    try:
        yield stack.base_url
    finally:
        stack.stop()


@dataclass
class Attempts:
    """One person's sign-up: every status seen, and whether each refusal carried Retry-After."""

    email: str
    key: str = field(default_factory=lambda: str(uuid.uuid4()))
    statuses: list[int] = field(default_factory=list)
    refusals_without_retry_after: int = 0

    @property
    def accepted(self) -> bool:
        return 202 in self.statuses


def sign_up(client: httpx.Client, person: Attempts) -> Attempts:
    """POST /v1/accounts with the person's one Idempotency-Key until 202 or MAX_ATTEMPTS, waiting
    Retry-After (at most 2 s, plus jitter) after each refusal, as a well-behaved client does."""
    body = {"email": person.email, "password": PASSWORD, "consent": True}
    for _ in range(MAX_ATTEMPTS):
        r = client.post("/v1/accounts", json=body, headers={"Idempotency-Key": person.key})
        person.statuses.append(r.status_code)
        if r.status_code not in (429, 503):
            return person
        if "retry-after" not in r.headers:
            person.refusals_without_retry_after += 1
        time.sleep(min(2.0, float(r.headers.get("retry-after", 1))) * random.uniform(0.5, 1.0))  # noqa: S311
    return person


def test_a_sign_up_surge_past_the_limit_is_refused_cleanly_and_loses_no_one(throttled_stack: str) -> None:
    # Given 24 people signing up at once, 12 at a time, against a limit of 4 a second
    people = [Attempts(f"gelombang.{i:02d}.{uuid.uuid4().hex[:6]}@example.id") for i in range(PEOPLE)]
    with httpx.Client(base_url=throttled_stack, timeout=60) as client:
        # When each retries its refused attempts with its own key
        with ThreadPoolExecutor(WORKERS) as pool:
            done = list(pool.map(lambda p: sign_up(client, p), people))
        # and every accepted sign-up is replayed once more (a client that missed the answer)
        replays = [client.post("/v1/accounts", json={"email": p.email, "password": PASSWORD, "consent": True},
                               headers={"Idempotency-Key": p.key}).status_code for p in done if p.accepted]
        client.post("/_local/pumps/drain", params={"timeout": 60})
        mail = Counter(m["to"] for m in client.get("/_local/mailbox").json())

    # Then the limit was reached (the test would prove nothing otherwise) and nothing was a 5xx
    statuses = Counter(s for p in done for s in p.statuses)
    assert statuses[429] > 0, f"no sign-up was throttled: {statuses}"
    assert set(statuses) <= {202, 429, 503}, f"unexpected answers: {statuses}"
    # every refusal said when to come back
    assert sum(p.refusals_without_retry_after for p in done) == 0
    # every person was admitted in the end (the limit refills), each exactly once
    assert all(p.accepted for p in done), [p.statuses for p in done if not p.accepted]
    assert replays and set(replays) <= {202, 429}
    wrong = {p.email: mail[_mailbox_key(p.email, mail)] for p in done
             if mail[_mailbox_key(p.email, mail)] != (1 if p.accepted else 0)}
    assert not wrong, f"addresses without exactly one verification email: {wrong}"


def _mailbox_key(email: str, mail: Counter) -> str:
    """The mailbox's ``to`` for ``email`` (it may list the address as ``Name <address>``)."""
    return next((to for to in mail if email in to), email)
