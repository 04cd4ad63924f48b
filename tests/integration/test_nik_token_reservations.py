"""Reserving tokens of the shared bucket ahead (the NIK worker's pacing): the schedule keeps the
bucket's bound, refuses beyond the wait, shares the item with try_acquire; and two takers that
read the bucket at the same instant cannot both win one token."""

from __future__ import annotations

import boto3

from prakerja.adapters.pacing import PacedBucket
from prakerja.adapters.rate_limit import TokenBucket
from tests.integration.harness import REGION


def test_a_reservation_schedules_each_token_when_it_exists(stack, clock):
    # Given a full bucket of 10 per second with a burst of 2
    bucket = PacedBucket(stack.env("LIMITS_TABLE"), "paced", rate=10, burst=2)
    now = clock.now.timestamp()

    # When two batches reserve 3 tokens each
    first, second = bucket.reserve(2.0, count=3), bucket.reserve(2.0, count=3)

    # Then the burst is usable at once and the rest one tenth of a second apart, in order
    assert first.ok and second.ok
    assert [round(t - now, 3) for t in first.times] == [0.0, 0.0, 0.1]
    assert [round(t - now, 3) for t in second.times] == [0.2, 0.3, 0.4]


def test_a_reservation_beyond_the_wait_takes_nothing(stack, clock):
    # Given a bucket whose next free token is 0.5 s away (2 at once, then 0.1 s apart)
    bucket = PacedBucket(stack.env("LIMITS_TABLE"), "paced", rate=10, burst=2)
    assert bucket.reserve(1.0, count=6).ok

    # When someone will wait at most 0.25 s
    refused = bucket.reserve(0.25)

    # Then nothing is reserved and the answer says how much longer: the next one still gets 0.5 s
    assert not refused.ok and round(refused.wait_seconds, 3) == 0.25
    assert round(bucket.reserve(1.0).times[0] - clock.now.timestamp(), 3) == 0.5


def test_reserved_tokens_are_no_tokens_for_try_acquire(stack, clock):
    # Given five tokens reserved: the last one exists in 0.3 s, the next free one in 0.4 s
    paced = PacedBucket(stack.env("LIMITS_TABLE"), "shared", rate=10, burst=2)
    plain = TokenBucket(stack.env("LIMITS_TABLE"), "shared", rate=10, burst=2)
    paced.reserve(1.0, count=5)

    # When a plain taker asks now, and once the reservations are used up
    now_answer = plain.try_acquire()
    clock.advance(0.41)
    later = plain.try_acquire()

    # Then it waits like everyone else
    assert not now_answer.ok and round(now_answer.wait_seconds, 3) == 0.4
    assert later.ok


def test_every_window_of_reserved_times_holds_rate_times_w_plus_burst(stack, clock):
    # Given batches of 1 to 5 reserving for 30 s of a moving clock
    bucket = PacedBucket(stack.env("LIMITS_TABLE"), "window", rate=10, burst=2)
    times: list[float] = []
    for step in range(300):
        got = bucket.reserve(2.0, count=1 + step % 5)
        if got.ok:
            times.extend(got.times)
        clock.advance(0.1)

    # Then in every window of W seconds the tokens are at most rate x W + burst, and used well
    for w in (0.5, 1.0, 5.0):
        worst = max(sum(1 for t in times if start <= t < start + w) for start in times)
        assert worst <= 10 * w + 2
    assert len(times) >= 10 * 29


def test_two_takers_reading_at_the_same_instant_cannot_both_win_one_token(stack, clock):
    # Given a bucket that holds one token, written at this very instant (the clock does not move)
    bucket = TokenBucket(stack.env("LIMITS_TABLE"), "aba", rate=10, burst=2)
    assert bucket.try_acquire().ok
    table = boto3.resource("dynamodb", region_name=REGION).Table(stack.env("LIMITS_TABLE"))
    key = {"pk": "BUCKET#aba#0", "sk": "BUCKET"}
    seen = table.get_item(Key=key, ConsistentRead=True)["Item"]
    now = clock.now.timestamp()
    assert bucket._refill(seen, now) == 1.0 and float(seen["updated_at"]) == now

    # When two takers that both read that item store their take, one after the other
    first = bucket._store(key, seen, 0.0, now)
    second = bucket._store(key, seen, 0.0, now)

    # Then only the first wins: the item changed although its time did not
    assert first and not second
