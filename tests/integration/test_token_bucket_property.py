"""Property: the NIK worker's bucket (refill ``rate - burst``, burst ``burst``) never schedules more
than the ministry's rate in any whole second, nor in any sliding one-second window, whatever
the interleaving of concurrent reservers (threads racing on the same item) and batch sizes."""

from __future__ import annotations

import threading
import uuid

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto.dynamodb.models import DynamoDBBackend

from prakerja.adapters.pacing import PacedBucket

_ATOMIC = threading.Lock()
_UPDATE = DynamoDBBackend.update_item


def _atomic_update(self, *args, **kwargs):  # DynamoDB's conditional write is atomic; moto's is not
    with _ATOMIC:
        return _UPDATE(self, *args, **kwargs)


@settings(max_examples=12, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rate=st.integers(5, 40), burst=st.integers(1, 4), reservers=st.integers(2, 6),
       counts=st.lists(st.integers(1, 5), min_size=1, max_size=4), step=st.sampled_from([0.05, 0.1, 0.3]))
def test_concurrent_reservers_never_get_more_than_the_rate_in_any_second(stack, clock, rate, burst, reservers,
                                                                         counts, step):
    DynamoDBBackend.update_item = _atomic_update
    try:
        _run(stack, clock, rate, burst, reservers, counts, step)
    finally:
        DynamoDBBackend.update_item = _UPDATE


def _run(stack, clock, rate, burst, reservers, counts, step):
    # Given the ministry's rate and burst as the worker sets its bucket (refill rate - burst)
    burst = min(burst, rate - 1)
    bucket = PacedBucket(stack.env("LIMITS_TABLE"), f"prop-{uuid.uuid4().hex}", rate=rate - burst, burst=burst)
    times: list[float] = []
    lock = threading.Lock()

    def reserver(offset: int) -> None:
        for i in range(4):
            got = bucket.reserve(2.0, count=counts[(offset + i) % len(counts)])
            if got.ok:
                with lock:
                    times.extend(got.times)

    # When several reservers race on the bucket at each tick of a moving clock, for about 3 s
    for _ in range(int(3 / step)):
        threads = [threading.Thread(target=reserver, args=(n,)) for n in range(reservers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        clock.advance(step)

    # Then no whole second and no sliding one-second window holds more than the rate
    assert times
    per_second: dict[int, int] = {}
    for t in times:
        per_second[int(t)] = per_second.get(int(t), 0) + 1
    worst = max(per_second, key=per_second.get)
    assert per_second[worst] <= rate, (rate, burst, sorted(t - worst for t in times if int(t) == worst))
    ordered = sorted(times)
    assert max(sum(1 for u in ordered if s <= u < s + 1.0 - 1e-9) for s in ordered) <= rate
