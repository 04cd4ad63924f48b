"""The shared token bucket keeps rate * W + burst in every window, across shards and clock moves."""

from __future__ import annotations

from prakerja.adapters.rate_limit import TokenBucket


def test_a_bucket_allows_the_burst_then_the_rate(stack, clock):
    # Given a bucket of 20 per second with a burst of 20
    bucket = TokenBucket(stack.env("LIMITS_TABLE"), "ses", rate=20, burst=20)
    # When 30 acquisitions come at one instant
    results = [bucket.try_acquire() for _ in range(30)]
    # Then the burst passes and the rest are told how long to wait
    assert sum(r.ok for r in results) == 20
    assert all(0 < r.wait_seconds <= 0.05 + 1e-9 for r in results[20:])
    # And after half a second ten more tokens exist
    clock.advance(0.5)
    assert sum(bucket.try_acquire().ok for _ in range(15)) == 10


def test_every_window_holds_rate_times_w_plus_burst(stack, clock):
    bucket = TokenBucket(stack.env("LIMITS_TABLE"), "ministry", rate=10, burst=5, shards=2)
    stamps = []
    for _ in range(400):  # 40 seconds of trying every 0.1 s
        if bucket.try_acquire().ok:
            stamps.append(clock.now.timestamp())
        clock.advance(0.1)
    for w in (1.0, 5.0):
        worst = max(sum(1 for t in stamps if start <= t < start + w) for start in stamps)
        assert worst <= 10 * w + 5
    assert len(stamps) >= 10 * 39  # and the capacity is used
