"""Drain a backlog of NIK checks through the real queue, pump and worker against the ministry
simulator at a set capacity. Not a test (``make bench-nik``).

Usage: ``python bench/nik_pipeline.py [--backlog 5000] [--rate 50] [--outage 60] [--no-outage]``

Each run starts the local stack in this process (``prakerja_local.stack.LocalStack``: resources
from template.yaml, pumps, handlers, the ministry simulator) with these changes: moto and the
ministry simulator run as child processes (this script with ``--moto-server`` and
``--ministry-server``; the ministry is another system, and the stack in one process shares one
GIL, which delays the worker's timed calls past their tokens), only the NIK worker's pump runs
(no schedules: the outbox sweeper and the batch tick are other functions, on AWS in other
instances), the worker's cold start (module, AWS clients) is done before the clock starts, and
moto's SQS gets two speed-ups (its receive
recomputes every queue attribute for each message it returns, and reads the time through
``datetime``; with thousands of messages a receive takes ~0.3 s, which no real SQS does) and a
fix for a race (a receive fails when a concurrent ChangeMessageVisibility changes the set of
in-flight messages it iterates). The DynamoDB guard of the local stack
(``prakerja_local.moto_guard``) is installed there too. The
pumps are held back until the backlog is written: ``--backlog`` pending checks (PROFILE and BIODATA items with the
NIK sealed as in production, one message each, written straight to the table and the queue: the
point is the worker, not sign-up on moto) and the same people in the simulator's register. The
simulator gets the capacity the worker's settings describe (``--rate`` calls per second,
``MinistryMaxInFlight`` = the event source's MaximumConcurrency x BatchSize in flight), the
worker's cold start is done, then the pumps start and the real worker drains the queue. Moto's
SQS visibility is capped at 5 s locally, as in ``make run``. The threads standing for Lambda
instances get the GIL every millisecond (``sys.setswitchinterval``).

Figures: **utilisation** = answered calls per second from the first call to the last ÷ the
rate capacity; **over_capacity** = calls the simulator refused for being above either limit
(429), with the busiest one-second window and the most calls in flight it saw; **lost** = checks
without a recorded outcome at the end, plus any in the DLQ; **drain_s** = from the pumps' start
to the last outcome recorded, against **ideal_s** = backlog ÷ rate. Two runs, each on a fresh
stack: first with a ``--outage``-second outage in the middle (the simulator answers 503; the
circuit breaker opens, records go back to the queue), then without. The last line is
machine-readable::

    nik_pipeline_outage: over_capacity=0 lost=0 drain_s=...
    nik_pipeline: utilisation=0.95 over_capacity=0 lost=0 drain_s=... ideal_s=100.0
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import logging
import math
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
for path in (ROOT / "src", ROOT / "local"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

# quiet handlers: one JSON log line per check would cost the run more CPU than the checks
os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")

from prakerja.adapters import aws  # noqa: E402
from prakerja.adapters.crypto import Envelopes  # noqa: E402
from prakerja.domain.nik import build_nik  # noqa: E402
from prakerja.services.nik_check import NikPolicy, nik_aad  # noqa: E402
from prakerja_local.provision import client_factory  # noqa: E402
from prakerja_local.pumps import build_pumps  # noqa: E402
from prakerja_local.stack import LocalStack, _aws_environment  # noqa: E402

WORKER = "NikWorkerFunction"
# Many threads stand for many Lambda instances: hand the GIL over sooner than the default 5 ms so
# a reply that arrived is not kept waiting behind another instance's work.
SWITCH_INTERVAL = 0.001
DISTRICTS = ("32.01.01", "31.71.01", "35.78.01", "51.71.01", "73.71.01", "12.71.01", "64.72.01")

# ---------------------------------------------------------------------- calibration
# The ceiling run drains CEILING_CHECKS checks with the ministry unlimited; the capacity given to
# the simulator is HEADROOM of the ceiling it measured (whole calls per second, the simulator's
# unit), at most the ministry's real figure (--rate). Half: the harness (moto's SQS, DynamoDB
# and KMS, the pump, the worker's threads) must carry the capacity with room to spare, or the
# figure is the harness's speed again. Below MIN_CAPACITY calls per second the run means nothing:
# the worker's burst (MINISTRY_BURST, 2 tokens, which the worker requires below the rate) would be
# most of a second's calls, and a backlog of 100 s at that rate is a handful of batches.
CEILING_CHECKS = 300
HEADROOM = 0.5
MIN_CAPACITY = 3  # calls per second
MIN_CEILING = MIN_CAPACITY / HEADROOM  # checks per second: 6
DRAIN_SECONDS = 100.0  # the default backlog is this many seconds at the chosen capacity
UNLIMITED = 1_000_000  # the simulator's limits in the ceiling run (calls per second, in flight)
REFUSED = 3  # exit status of a refused run (the ceiling is too low); 0: a result


@dataclass(frozen=True)
class Calibration:
    """The capacity chosen from a measured ceiling.

    ``ceiling``: checks per second the harness carried with the ministry unlimited. ``rate``
    (calls per second, whole) and ``in_flight`` (calls at once): the simulator's capacity for
    the run, both 0 when ``refused`` names why there is no run."""

    ceiling: float
    rate: int
    in_flight: int
    refused: str | None = None

    def line(self) -> str:
        """The machine-readable line: the ceiling and the capacity, or the refusal."""
        if self.refused:
            return (f"nik_pipeline: refused ceiling={self.ceiling:.1f}/s minimum={MIN_CEILING:g}/s "
                    f"reason={self.refused}")
        return (f"nik_pipeline_ceiling: ceiling={self.ceiling:.1f}/s capacity={self.rate}/s "
                f"in_flight={self.in_flight} headroom={HEADROOM:g}")


def calibrate(ceiling: float, ministry_rate: float, ministry_in_flight: int, headroom: float = HEADROOM,
              min_capacity: int = MIN_CAPACITY) -> Calibration:
    """The simulator's capacity for a harness that carries ``ceiling`` checks per second:
    ``floor(ceiling x headroom)`` calls per second, at most ``ministry_rate`` (the ministry's real
    capacity); calls in flight scaled the same way from ``ministry_in_flight`` (the template's
    MaximumConcurrency x BatchSize at the real rate), rounded up, at least 1. Refused (no
    capacity) when that rate is below ``min_capacity`` or the ceiling is not a positive number."""
    if not math.isfinite(ceiling) or ceiling <= 0:
        return Calibration(max(0.0, ceiling) if math.isfinite(ceiling) else 0.0, 0, 0,
                           "the harness carried no checks: this machine cannot run the benchmark")
    rate = min(int(ceiling * headroom), int(ministry_rate))
    if rate < min_capacity:
        return Calibration(ceiling, 0, 0, f"the harness (moto, pump, worker) is too slow on this machine: "
                                          f"{headroom:g} of its ceiling is {rate}/s, below the {min_capacity}/s a "
                                          f"meaningful run needs, so no run is made")
    in_flight = max(1, min(ministry_in_flight, math.ceil(ministry_in_flight * rate / ministry_rate)))
    return Calibration(ceiling, rate, in_flight)


@dataclass(frozen=True)
class _Unpaced(NikPolicy):
    """The worker's policy for the ceiling run: no call is ever too late for its token (the
    bucket is unlimited too), so the run measures the harness, not the pacing."""

    @property
    def late_tolerance(self) -> float:
        return math.inf


# ---------------------------------------------------------------------- moto in its own process
def serve_moto(port: int) -> None:
    """The ``--moto-server`` role: moto with the DynamoDB guard and the SQS speed-ups, until its
    standard input closes (the parent stopped it, or died)."""
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    from moto.server import ThreadedMotoServer

    from prakerja_local import moto_guard

    moto_guard.install()
    _speed_up_moto_sqs()
    sys.setswitchinterval(SWITCH_INTERVAL)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the parent, which closes our stdin
    print("ready", flush=True)
    sys.stdin.read()
    server.stop()


def _speed_up_moto_sqs() -> None:
    """Same answers, less work: the time without ``datetime``, and the retention check of each
    received message from the queue's own attribute instead of recomputing all of them. And
    moto's receive reads the set of in-flight messages while a concurrent ChangeMessageVisibility
    or delete changes it ("Set changed size during iteration", the receive fails): read it again
    then (a lock around every SQS request would hold long polls)."""
    import moto.sqs.models as sqs_models

    def pending_message_groups(self: Any) -> set[str]:
        while True:
            try:
                return {m.group_id for m in self._pending_messages if m.group_id is not None}
            except RuntimeError:
                continue

    sqs_models.Queue.pending_message_groups = property(pending_message_groups)  # type: ignore[assignment]

    def unix_time(dt: Any = None) -> float:
        return time.time() if dt is None else original_unix_time(dt)

    def unix_time_millis(dt: Any = None) -> float:
        return unix_time(dt) * 1000.0

    def retained(self: Any, queue_name: str, message: Any) -> bool:
        period = int(getattr(self.get_queue(queue_name), "message_retention_period", 345600))
        return period + message.sent_timestamp / 1000 > unix_time()

    original_unix_time = sqs_models.unix_time
    sqs_models.unix_time, sqs_models.unix_time_millis = unix_time, unix_time_millis
    sqs_models.SQSBackend.is_message_valid_based_on_retention_period = retained


def serve_ministry(port: int) -> None:
    """The ``--ministry-server`` role: the ministry simulator on its own, until its standard input
    closes. The ministry is another system: in its own process its HTTP work does not compete
    for the worker process's GIL (which would delay the worker's timed calls)."""
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    from prakerja_local.ministry import MinistryServer

    sys.setswitchinterval(SWITCH_INTERVAL)
    server = MinistryServer(port=port)
    server.start()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    print("ready", flush=True)
    sys.stdin.read()
    server.stop()


class _Child:
    """This script in another role (``--moto-server`` or ``--ministry-server``) on a free port."""

    def __init__(self, role: str) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = int(s.getsockname()[1])
        self.process = subprocess.Popen([sys.executable, __file__, role, str(self.port)],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        if self.process.stdout is None or self.process.stdout.readline().strip() != "ready":
            raise RuntimeError(f"{role} child did not start")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def start(self) -> None:
        """Already serving (the stack calls it)."""

    def stop(self) -> None:
        if self.process.stdin:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


class _RemoteSettings:
    """The simulator's settings over HTTP (``update``; ``outage`` as last set)."""

    def __init__(self, url: str) -> None:
        self.url, self.outage = url, False

    def update(self, values: dict[str, Any]) -> None:
        _post(self.url + "/settings", values)
        self.outage = bool(values.get("outage", self.outage))


class _RemoteSimulator:
    """What the bench and the stack's seeding use of :class:`MinistrySimulator`, over HTTP."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.settings = _RemoteSettings(url)

    def add(self, person: dict[str, Any]) -> None:
        self.add_many([person])

    def add_many(self, people: list[dict[str, Any]]) -> None:
        for start in range(0, len(people), 1000):
            _post(self.url + "/people/bulk", people[start:start + 1000])

    def reset_counters(self) -> None:
        _post(self.url + "/reset-counters", {})

    def snapshot(self) -> dict[str, Any]:
        with urllib.request.urlopen(self.url + "/", timeout=10) as reply:  # noqa: S310 (local)
            return json.loads(reply.read())

    @property
    def counters(self) -> dict[str, Any]:
        return self.snapshot()


def _post(url: str, body: Any) -> Any:
    request = urllib.request.Request(url, json.dumps(body).encode(), {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as reply:  # noqa: S310 (local)
        return json.loads(reply.read())


class _MinistryChild(_Child):
    def __init__(self) -> None:
        super().__init__("--ministry-server")
        self.simulator = _RemoteSimulator(self.url)


class BenchStack(LocalStack):
    """The local stack with moto in a child process, and its pumps and schedules held back
    until :meth:`go`. ``harness_delay``: seconds added to every invocation of the worker (a
    slower harness, for the calibration test). :attr:`outcomes` tallies the worker's outcomes
    (``VERIFIED``, ``deferred:no_token``, ...; :class:`prakerja.services.nik_check.CheckOutcome`)."""

    harness_delay = 0.0

    def invoke(self, function_id: str, event: Any) -> Any:
        if self.harness_delay:
            time.sleep(self.harness_delay)
        return super().invoke(function_id, event)

    @functools.cached_property
    def outcomes(self) -> Counter[str]:
        return Counter()

    def tally_outcomes(self, unpaced: bool = False) -> None:
        """Count the worker's outcomes (and, for the ceiling run, take its pacing out of the way:
        :class:`_Unpaced`). Call after :meth:`warm`."""
        checks = self.functions.module(WORKER).checks
        if unpaced:
            checks.policy = _Unpaced(**dataclasses.asdict(checks.policy))
        run, lock, outcomes = checks.run, threading.Lock(), self.outcomes

        def counted(records: Any, remaining: Any = None) -> Any:
            result = run(records, remaining)
            with lock:
                outcomes.update(str(o) for o in result.values())
            return result

        checks.run = counted

    def _start_moto(self) -> None:
        self.env.set(_aws_environment(None))
        self.moto = _Child("--moto-server")  # type: ignore[assignment]
        self.moto_port = self.moto.port
        self.env.set({"AWS_ENDPOINT_URL": self.moto_endpoint})

    def _make_ministry(self) -> Any:
        return _MinistryChild()

    def _start_workers(self) -> None:
        pass

    def go(self) -> None:
        """Start the NIK worker's pump only: the other queues are empty and the schedules (outbox
        sweeper, batch tick) are other functions' work, which on AWS runs in other instances and
        here would share the worker's process and the emulator."""
        sqs = client_factory(self.moto_endpoint)
        sources = [s for s in self.template.sqs_sources() if s.function_id == WORKER]
        self.pumps = build_pumps(sources, self.resources.physical, lambda: sqs("sqs"), self.invoke)
        self.pumps.start()

    def warm(self) -> None:
        """The worker's cold start before the clock starts: its module (settings, wiring) and the
        AWS clients it uses (building a client parses the service model: ~0.1 s of the GIL each)."""
        self.functions.handler(WORKER)
        for service in ("sqs", "kms"):
            aws.client(service)
        for logical in ("ApplicantsTable", "LimitsTable"):
            aws.table(self.resources.ref(logical))

    @functools.cached_property
    def sqs(self) -> Any:
        """One SQS client for the bench's own reads."""
        return client_factory(self.moto_endpoint)("sqs")


@dataclass
class Run:
    """One drained backlog's figures (monotonic seconds of this process)."""

    backlog: int
    rate: float
    started: float = 0.0
    first_call: float | None = None
    last_call: float | None = None
    finished: float | None = None
    outage_over_at: float | None = None  # when the simulator answered again
    first_after_outage: float | None = None  # the first answered call after that
    samples: list[tuple[float, int]] = field(default_factory=list)
    counters: dict[str, Any] = field(default_factory=dict)
    outcomes: dict[str, int] = field(default_factory=dict)
    recorded: int = 0
    dead_lettered: int = 0

    @property
    def lost(self) -> int:
        return self.backlog - self.recorded + self.dead_lettered

    @property
    def drain_s(self) -> float:
        return (self.finished or time.monotonic()) - self.started

    @property
    def ideal_s(self) -> float:
        return self.backlog / self.rate

    @property
    def calls_per_second(self) -> float:
        """Answered calls per second from the first answered call to the last (as sampled)."""
        answered = self.counters.get("answered", 0)
        if not self.first_call or not self.last_call or self.last_call <= self.first_call:
            return 0.0
        return answered / (self.last_call - self.first_call)

    @property
    def throughput(self) -> float:
        """Answered calls per second from the pumps' start to the last answered call: what the
        ceiling run measures (the first batch's wait counts, unlike in :attr:`calls_per_second`)."""
        answered = self.counters.get("answered", 0)
        if not self.last_call or self.last_call <= self.started:
            return 0.0
        return answered / (self.last_call - self.started)

    @property
    def utilisation(self) -> float:
        return self.calls_per_second / self.rate

    @property
    def drain_start_s(self) -> float | None:
        """Seconds from the ministry answering again to the first answered call (outage run)."""
        if self.outage_over_at is None or self.first_after_outage is None:
            return None
        return self.first_after_outage - self.outage_over_at


def people(n: int, prefix: str) -> list[dict[str, str]]:
    """``n`` synthetic people: applicant id, NIK on real district codes, name, birth date."""
    out = []
    for i in range(n):
        born = date(1970, 1, 1) + timedelta(days=(i * 37) % 12000)
        district = DISTRICTS[i % len(DISTRICTS)]
        serial = 1 + i // len(DISTRICTS)
        nik = build_nik(district, born, "MF"[i % 2], serial % 9999 + 1)
        out.append({"applicant_id": f"{prefix}{i:06d}", "nik": nik, "full_name": f"Peserta {i}",
                    "date_of_birth": born.isoformat()})
    return out


def seed(stack: BenchStack, backlog: list[dict[str, str]]) -> None:
    """Write the pending checks (PROFILE, BIODATA, message) and the register entries."""
    clients = client_factory(stack.moto_endpoint)
    table = stack.resources.ref("ApplicantsTable")
    envelopes = Envelopes(stack.resources.att("PiiKey", "Arn"))
    ddb, sqs = clients("dynamodb"), clients("sqs")
    stack.ministry.simulator.add_many([{k: p[k] for k in ("nik", "full_name", "date_of_birth")} for p in backlog])
    pending = {"M": {"status": {"S": "PENDING"}, "reason": {"NULL": True}, "updated_at": {"NULL": True}}}
    for start in range(0, len(backlog), 25):
        writes = []
        for p in backlog[start:start + 25]:
            pk = {"S": f"APP#{p['applicant_id']}"}
            sealed = envelopes.seal(p["nik"], nik_aad(p["applicant_id"]))
            writes.append({"PutRequest": {"Item": {
                "pk": pk, "sk": {"S": "PROFILE"}, "nik_version": {"N": "1"}, "steps": {"M": {"nik": pending}}}}})
            writes.append({"PutRequest": {"Item": {
                "pk": pk, "sk": {"S": "BIODATA"}, "version": {"N": "1"}, "check": {"NULL": True},
                "data": {"M": {"full_name": {"S": p["full_name"]}, "date_of_birth": {"S": p["date_of_birth"]}}},
                "nik_enc": {"M": {k: {"N": str(v)} if k == "v" else {"S": v} for k, v in sealed.items()}}}}})
        for chunk in (writes[:25], writes[25:]):
            if chunk:
                _batch_write(ddb, table, chunk)
    url = stack.resources.ref("NikQueue")
    for start in range(0, len(backlog), 10):
        entries = [{"Id": str(i), "MessageBody": json.dumps({"applicant_id": p["applicant_id"], "version": 1})}
                   for i, p in enumerate(backlog[start:start + 10])]
        sqs.send_message_batch(QueueUrl=url, Entries=entries)


def _batch_write(ddb: Any, table: str, writes: list[dict]) -> None:
    request = {table: writes}
    while request:
        request = ddb.batch_write_item(RequestItems=request).get("UnprocessedItems") or {}


def recorded(stack: BenchStack, backlog: list[dict[str, str]]) -> int:
    """How many of the backlog's BIODATA items carry an outcome."""
    ddb = client_factory(stack.moto_endpoint)("dynamodb")
    table = stack.resources.ref("ApplicantsTable")
    done = 0
    for start in range(0, len(backlog), 100):
        keys = [{"pk": {"S": f"APP#{p['applicant_id']}"}, "sk": {"S": "BIODATA"}} for p in backlog[start:start + 100]]
        request: dict[str, Any] = {table: {"Keys": keys, "ProjectionExpression": "#c", "ConsistentRead": True,
                                           "ExpressionAttributeNames": {"#c": "check"}}}
        while request:
            response = ddb.batch_get_item(RequestItems=request)
            done += sum(1 for item in response["Responses"][table] if "M" in item.get("check", {}))
            request = response.get("UnprocessedKeys") or {}
    return done


def queue_count(stack: BenchStack, queue: str) -> int:
    attrs = stack.sqs.get_queue_attributes(
        QueueUrl=stack.resources.ref(queue), AttributeNames=["All"])["Attributes"]
    return sum(int(attrs[k]) for k in ("ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
                                       "ApproximateNumberOfMessagesDelayed"))


def drain(backlog_size: int, rate: float, in_flight: int, outage: float, timeout: float, say: Any,
          unlimited: bool = False, harness_delay: float = 0.0) -> Run:
    """One fresh stack, one backlog, drained at ``rate`` calls per second and ``in_flight`` calls
    at once; an outage of ``outage`` seconds in the middle. ``unlimited``: the ceiling run (the
    simulator without limits, the worker's bucket unlimited and its pacing out of the way)."""
    aws.reset()  # boto3 clients of an earlier run point at its moto
    stack = BenchStack(port=0)
    stack.harness_delay = harness_delay
    stack.start()
    try:
        sim = stack.ministry.simulator
        env = stack.functions.environments[WORKER]
        if unlimited:
            sim.settings.update({"rate_per_second": UNLIMITED, "max_in_flight": UNLIMITED, "latency_ms": 20,
                                 "latency_jitter_ms": 10})
            # a bucket that never runs dry: refill and burst far above what the harness carries
            env.update({"MINISTRY_RATE_PER_SECOND": str(UNLIMITED), "MINISTRY_BURST": str(UNLIMITED // 2),
                        "MINISTRY_MAX_IN_FLIGHT": str(UNLIMITED)})
        else:
            sim.settings.update({"rate_per_second": int(rate), "max_in_flight": in_flight, "latency_ms": 20,
                                 "latency_jitter_ms": 10})
            env.update({"MINISTRY_RATE_PER_SECOND": str(rate), "MINISTRY_MAX_IN_FLIGHT": str(in_flight)})
        backlog = people(backlog_size, "c" if unlimited else "o" if outage else "b")
        started = time.monotonic()
        seed(stack, backlog)
        capacity = "unlimited" if unlimited else f"capacity {rate:g}/s, {in_flight} in flight"
        say(f"  seeded {backlog_size} checks in {time.monotonic() - started:.1f} s; draining "
            f"({capacity}{f', outage {outage:g} s' if outage else ''})")
        stack.warm()
        stack.tally_outcomes(unpaced=unlimited)
        sim.reset_counters()
        run = Run(backlog_size, rate, started=time.monotonic())
        stack.go()
        _watch(stack, run, outage, timeout, say)
        run.counters = sim.snapshot()
        run.outcomes = dict(stack.outcomes)
        run.recorded = recorded(stack, backlog)
        run.dead_lettered = queue_count(stack, "NikDLQ")
        return run
    finally:
        stack.stop()


def _watch(stack: BenchStack, run: Run, outage: float, timeout: float, say: Any) -> None:
    sim = stack.ministry.simulator
    outage_at = run.ideal_s / 2 if outage else None
    last_report = time.monotonic()
    while time.monotonic() - run.started < timeout:
        time.sleep(0.1 if run.outage_over_at and run.first_after_outage is None else 0.25)
        now = time.monotonic()
        counters = sim.counters
        answered = counters["answered"]
        if answered and run.first_call is None:
            run.first_call = now
        if run.samples and answered != run.samples[-1][1]:
            run.last_call = now
            if run.outage_over_at is not None and run.first_after_outage is None:
                run.first_after_outage = now
        run.samples.append((now, answered))
        elapsed = now - run.started
        if outage_at is not None and not sim.settings.outage and run.outage_over_at is None and elapsed >= outage_at:
            sim.settings.update({"outage": True})
            say(f"  outage starts at {elapsed:.0f} s")
        if outage_at is not None and sim.settings.outage and elapsed >= outage_at + outage:
            sim.settings.update({"outage": False})
            run.outage_over_at = time.monotonic()
            run.samples.append((run.outage_over_at, sim.counters["answered"]))
            say(f"  outage ends at {elapsed:.0f} s")
        if now - last_report >= 10:
            last_report = now
            say(f"  {elapsed:5.0f} s: answered {answered}, queue {queue_count(stack, 'NikQueue')}")
        if (not sim.settings.outage and answered - counters["duplicates"] >= run.backlog
                and stack.pumps.busy() == 0 and queue_count(stack, "NikQueue") == 0):
            break
    run.finished = time.monotonic()
    if run.last_call is None:
        run.last_call = run.finished


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backlog", type=int, default=None,
                        help=f"pending checks to drain (default: {DRAIN_SECONDS:g} s at the chosen capacity)")
    parser.add_argument("--rate", type=float, default=50.0,
                        help="the ministry's real calls per second, the most the run uses (default 50)")
    parser.add_argument("--in-flight", type=int, default=None,
                        help="the ministry's real calls at once at --rate (default: the template's "
                             "MaximumConcurrency x BatchSize)")
    parser.add_argument("--ceiling-checks", type=int, default=CEILING_CHECKS,
                        help=f"checks of the ceiling run (default {CEILING_CHECKS})")
    parser.add_argument("--outage", type=float, default=60.0, help="outage in the middle, seconds (default 60)")
    parser.add_argument("--no-outage", action="store_true", help="skip the run with an outage")
    parser.add_argument("--ceiling-only", action="store_true", help="measure the ceiling, print the capacity, stop")
    parser.add_argument("--harness-delay", type=float, default=0.0,
                        help="seconds added to every worker invocation: a slower harness (calibration test)")
    parser.add_argument("--timeout", type=float, default=1800.0, help="give up a run after this many seconds")
    parser.add_argument("--moto-server", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--ministry-server", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.moto_server is not None:
        serve_moto(args.moto_server)
        return 0
    if args.ministry_server is not None:
        serve_ministry(args.ministry_server)
        return 0
    sys.setswitchinterval(SWITCH_INTERVAL)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    for name in ("werkzeug", "prakerja_local"):
        logging.getLogger(name).setLevel(logging.WARNING)

    def say(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    in_flight = args.in_flight or _template_in_flight()
    say(f"nik_pipeline_ceiling: {args.ceiling_checks} checks, the ministry unlimited")
    ceiling_run = drain(args.ceiling_checks, float(UNLIMITED), UNLIMITED, 0, args.timeout, say, unlimited=True,
                        harness_delay=args.harness_delay)
    say(_details(ceiling_run))
    calibration = calibrate(ceiling_run.throughput, args.rate, in_flight)
    lines = [f"nik_pipeline_outcomes: run=ceiling {_outcomes(ceiling_run)}", calibration.line()]
    if calibration.refused or args.ceiling_only:
        for line in lines:
            print(line, flush=True)
        return REFUSED if calibration.refused else 0
    rate, in_flight = calibration.rate, calibration.in_flight
    backlog = args.backlog or int(rate * DRAIN_SECONDS)
    tail = f"capacity={rate}/s ceiling={calibration.ceiling:.1f}/s in_flight={in_flight}"
    if not args.no_outage:
        say(f"nik_pipeline_outage: {backlog} checks, {args.outage:g} s outage in the middle")
        out = drain(backlog, rate, in_flight, args.outage, args.timeout, say, harness_delay=args.harness_delay)
        say(_details(out))
        start = "none" if out.drain_start_s is None else f"{out.drain_start_s:.1f}"
        lines.append(f"nik_pipeline_outcomes: run=outage {_outcomes(out)}")
        lines.append(f"nik_pipeline_outage: over_capacity={out.counters['over_capacity']} lost={out.lost} "
                     f"drain_start_s={start} max_window={out.counters['max_rate_seen']} "
                     f"max_in_flight={out.counters['max_in_flight_seen']} drain_s={out.drain_s:.1f} "
                     f"outage_s={args.outage:g} {tail}")
        say("  " + lines[-1])
    say(f"nik_pipeline: {backlog} checks")
    run = drain(backlog, rate, in_flight, 0, args.timeout, say, harness_delay=args.harness_delay)
    say(_details(run))
    lines.append(f"nik_pipeline_outcomes: run=main {_outcomes(run)}")
    lines.append(f"nik_pipeline: utilisation={run.utilisation:.3f} over_capacity={run.counters['over_capacity']} "
                 f"lost={run.lost} {tail} max_window={run.counters['max_rate_seen']} "
                 f"max_in_flight={run.counters['max_in_flight_seen']} drain_s={run.drain_s:.1f} "
                 f"ideal_s={run.ideal_s:.1f}")
    for line in lines:
        print(line, flush=True)
    return 0


def _template_in_flight() -> int:
    """MaximumConcurrency x BatchSize of the worker's event source: the calls it makes at once."""
    from prakerja_local.template import Template

    source = next(s for s in Template.load(ROOT / "template.yaml").sqs_sources() if s.function_id == WORKER)
    return source.max_concurrency * source.batch_size


def _outcomes(run: Run) -> str:
    """The worker's outcomes, ``kind=count`` by count (``VERIFIED=500 deferred:no_token=3``)."""
    return " ".join(f"{k}={v}" for k, v in sorted(run.outcomes.items(), key=lambda kv: (-kv[1], kv[0]))) or "none"


def _details(run: Run) -> str:
    c = run.counters
    return (f"  calls={c.get('calls')} answered={c.get('answered')} duplicates={c.get('duplicates')} "
            f"outages={c.get('outages')} over_capacity={c.get('over_capacity')} "
            f"max_rate_seen={c.get('max_rate_seen')} max_in_flight_seen={c.get('max_in_flight_seen')} "
            f"recorded={run.recorded}/{run.backlog} dlq={run.dead_lettered} "
            f"calls_per_s={run.calls_per_second:.1f} throughput={run.throughput:.1f}/s")


if __name__ == "__main__":
    raise SystemExit(main())
