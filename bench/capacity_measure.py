"""Measured cost per request: every HTTP route and every worker through the real handlers, on moto.

Not a test. ``python bench/capacity.py`` (``make capacity``) runs :func:`measure` and writes
``bench/capacity_measured.json``; the plan (``bench/capacity_plan.py``) is a pure function of it.

**What runs.** One process: moto (``mock_aws``) with every resource from template.yaml, the real
handlers loaded as the local stack loads them (``tests/integration/harness.py``), the ministry
simulator in a child process (another system: its CPU is not the worker's), a clock that moves
only when told. ``JOURNEYS`` synthetic applicants (seeded, so every run makes the same requests)
go the launch-day way: sign up (with the ``Idempotency-Key`` the web client always sends), the
emailed link (described, then confirmed), sign in, ``GET /v1/me`` polls, biodata (preview, put,
read), the NIK check, the KTP presign, upload and check, the test (start, two answers, submit), a
session refresh, the batch list and the join. Every fifth does the rarer routes as well (resend,
password reset, password and email change, consent withdrawn and given, sign-out, an SES bounce,
account deletion of a second account). Queues are drained with the template's batch size per
source; then the batch closes (tick: close and draw; fan-out; tick: announce; bulk email), an idle
tick and an outbox sweep run.

**What is recorded per invocation** (label: the HTTP route key, or ``Function <- Queue`` for an
SQS source, or the function and what the tick did):

* CPU: ``time.process_time`` around the handler, minus this harness's own work inside it (moto's
  request processing, timed around ``BotocoreStubber.process_request``; the recorder's
  bookkeeping), so the figure is the handler's own code and botocore's client side, not the
  emulator's. The subtracted overhead is printed (per AWS call).
* every AWS call by service and operation (``botocore.client.BaseClient._make_api_call``, as
  ``tests/integration/iam_probe.py`` does);
* DynamoDB read and write units per table, index and key pattern, computed from item sizes by
  DynamoDB's rules (``bench/capacity_units.py``: moto's ConsumedCapacity is a fixed placeholder),
  the items before and after each write read from moto's backend (no API call);
* bytes the function wrote to stdout (its log lines and EMF metrics: CloudWatch Logs ingestion).

**Cold and warm.** The first invocation of each function is its cold start (the Secrets Manager,
SSM and KMS reads that fill its caches): it is kept apart (``cold``) and not in the per-request
figures, which are the steady state with warm caches. Caches that expire (the app secret
``MAX_AGE_SECONDS``, the registration switch's ``max_age``) are refreshed on a real-time clock:
the plan adds their refresh rate per instance.

Counts and units do not depend on the machine; CPU time does (2 shared cores here: other jobs'
load inflates it a little; process time, not wall time, so less than wall figures).
"""

from __future__ import annotations

import io
import json
import os
import random
import re
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
for _p in (ROOT, ROOT / "src", ROOT / "local", ROOT / "bench"):
    if str(_p) not in sys.path:
        sys.path.insert(0, str(_p))

import botocore.client  # noqa: E402
from capacity_units import Index, index_writes, item_size, read_units, write_units  # noqa: E402

JOURNEYS = 30
SEED = 2020
PHOTO = ROOT / "tests" / "fixtures" / "photos" / "jpg_mobile_HMD_Nokia_8.3_5G.jpg"
PASSWORD = "kucing-oranye-77"
START = datetime(2026, 4, 11, 3, 0, tzinfo=UTC)
#: services whose calls are counted per request (others are listed too, under their own name)
SERVICES = ("dynamodb", "sqs", "s3", "kms", "secretsmanager", "ssm", "sesv2", "ses", "logs", "cloudwatch", "sns")

#: calls that fill or refresh a per-instance cache (not made per request once warm)
CACHED_SERVICES = ("kms", "secretsmanager", "ssm")
_TICK = {"version": "0", "detail-type": "Scheduled Event", "source": "aws.events", "detail": {}}
_HEX = re.compile(r"^[0-9a-f]{16,}$")
_TOKENISH = re.compile(r"^[A-Za-z0-9_\-:=+/.]{16,}$")
_SHARD = re.compile(r"^\d{1,2}$")
_BATCH = re.compile(r"^\d{4}-\d{2}$")
_IP = re.compile(r"^\d{1,3}(\.\d{1,3}){3}$|^[0-9a-f:]+:[0-9a-f:]+$")
_WINDOW = re.compile(r"^\d{6,}$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")


def key_pattern(value: str) -> str:
    """A key's pattern: ``APP#<id>``, ``FUNNEL#registered#<shard>``, ``BATCH#<batch>#M#<shard>``.
    Segments (split on ``#``) that are ids, HMACs or tokens become ``<id>``, 1-2 digit numbers
    ``<shard>``, ``YYYY-MM`` batch ids ``<batch>``, addresses ``<ip>``, dates ``<date>``."""
    out = []
    for seg in str(value).split("#"):
        if _SHARD.fullmatch(seg):
            out.append("<shard>")
        elif _BATCH.fullmatch(seg):
            out.append("<batch>")
        elif _IP.fullmatch(seg):
            out.append("<ip>")
        elif _WINDOW.fullmatch(seg):
            out.append("<window>")
        elif _DATE.match(seg):
            out.append("<date>")
        elif _HEX.fullmatch(seg) or (_TOKENISH.fullmatch(seg) and any(c.isdigit() for c in seg)):
            out.append("<id>")
        else:
            out.append(seg)
    return "#".join(out)


# --------------------------------------------------------------------------- the recorder
@dataclass
class Invocation:
    """What one invocation did."""

    label: str
    function_id: str
    records: int = 0
    cpu: float = 0.0  # seconds of process time, handler only
    raw_cpu: float = 0.0  # seconds, including the harness's work inside the handler
    overhead: float = 0.0  # seconds of moto and recorder work inside the handler
    aws_calls: int = 0
    calls: Counter = field(default_factory=Counter)  # "service:Operation" -> n
    units: dict = field(default_factory=lambda: defaultdict(lambda: [0.0, 0.0]))  # (table, pattern) -> [rcu, wcu]
    log_bytes: int = 0


class _CountingStdout(io.TextIOBase):
    """stdout that counts what an invocation writes (and swallows it) and passes the rest on."""

    def __init__(self, recorder: Recorder, real: Any) -> None:
        self.recorder, self.real = recorder, real

    def write(self, text: str) -> int:
        current = self.recorder.current
        if current is None:
            return self.real.write(text)
        current.log_bytes += len(text.encode())
        return len(text)

    def flush(self) -> None:
        self.real.flush()


class Recorder:
    """Wraps botocore's ``_make_api_call``, moto's request processing and
    ``FunctionRegistry.invoke``; collects one :class:`Invocation` per handler call."""

    def __init__(self, template: Any) -> None:
        self.template = template
        self.current: Invocation | None = None
        self.done: list[Invocation] = []
        self.moto_seconds = 0.0
        self.seen_functions: set[str] = set()
        self.cache_calls: dict[str, Counter] = defaultdict(Counter)
        self._lock = threading.Lock()
        self.cold: dict[str, Invocation] = {}
        self.names: dict[str, str] = {}  # physical table name -> logical id
        self.tables: dict[str, tuple[tuple[str, ...], list[Index]]] = {}  # logical -> (keys, GSIs)
        self._read_tables()

    def _read_tables(self) -> None:
        for logical, res in self.template.resources_of_type("AWS::DynamoDB::Table").items():
            props = res.get("Properties", {})
            keys = tuple(k["AttributeName"] for k in props.get("KeySchema", []))
            indexes = []
            for gsi in props.get("GlobalSecondaryIndexes", []) or []:
                proj = gsi.get("Projection", {})
                indexes.append(Index(gsi["IndexName"], tuple(k["AttributeName"] for k in gsi["KeySchema"]),
                                     proj.get("ProjectionType", "ALL"), tuple(proj.get("NonKeyAttributes", []))))
            self.tables[logical] = (keys, indexes)

    def bind(self, resources: Any) -> None:
        """Learn the physical names of the tables (after provisioning)."""
        for logical in self.tables:
            self.names[resources.ref(logical)] = logical

    @contextmanager
    def installed(self) -> Iterator[None]:
        """Patch while the block runs."""
        from moto.core.botocore_stubber import BotocoreStubber

        from prakerja_local.functions import FunctionRegistry

        recorder = self
        original_call = botocore.client.BaseClient._make_api_call
        original_process = BotocoreStubber.process_request
        original_invoke = FunctionRegistry.invoke

        def process_request(stubber: Any, request: Any) -> Any:
            started = time.thread_time()  # this thread's CPU: a handler's thread pool runs calls at once
            try:
                return original_process(stubber, request)
            finally:
                recorder.charge(time.thread_time() - started, moto=True)

        def make_api_call(client: Any, operation: str, params: dict[str, Any]) -> Any:
            current = recorder.current
            if current is None:
                return original_call(client, operation, params)
            t0 = time.thread_time()
            service = client.meta.service_model.service_name
            before = recorder._before(service, operation, params)
            recorder.charge(time.thread_time() - t0)
            try:
                response = original_call(client, operation, params)
            except Exception as exc:
                t2 = time.thread_time()
                recorder._after(current, service, operation, params, getattr(exc, "response", {}) or {}, before)
                recorder.charge(time.thread_time() - t2)
                raise
            t2 = time.thread_time()
            recorder._after(current, service, operation, params, response, before)
            recorder.charge(time.thread_time() - t2)
            return response

        def invoke(registry: Any, function_id: str, event: Any, label: str | None = None) -> Any:
            return recorder.invoke(original_invoke, registry, function_id, event, label)

        real_stdout = sys.stdout
        sys.stdout = _CountingStdout(self, real_stdout)
        botocore.client.BaseClient._make_api_call = make_api_call
        BotocoreStubber.process_request = process_request
        FunctionRegistry.invoke = invoke
        try:
            yield
        finally:
            botocore.client.BaseClient._make_api_call = original_call
            BotocoreStubber.process_request = original_process
            FunctionRegistry.invoke = original_invoke
            sys.stdout = real_stdout

    def charge(self, seconds: float, moto: bool = False) -> None:
        """Count ``seconds`` of harness work inside the running invocation (not the handler's)."""
        with self._lock:
            if self.current is not None:
                self.current.overhead += seconds
                if moto:
                    self.moto_seconds += seconds

    def invoke(self, original: Any, registry: Any, function_id: str, event: Any, label: str | None) -> Any:
        """One measured invocation (the cold start, a first import, is outside the timing)."""
        registry.handler(function_id)  # import on first use: cold start, not a request
        inv = Invocation(label or _label(function_id, event), function_id,
                         len(event.get("Records", [])) if isinstance(event, dict) else 0)
        self.current = inv
        started = time.process_time()
        try:
            return original(registry, function_id, event)
        finally:
            inv.raw_cpu = time.process_time() - started
            inv.cpu = max(0.0, inv.raw_cpu - inv.overhead)
            self.current = None
            if function_id not in self.seen_functions:
                self.seen_functions.add(function_id)
                self.cold[function_id] = inv
            else:
                self.done.append(inv)

    # ------------------------------------------------------------------ DynamoDB units
    def _backend_item(self, table_name: str, key: dict[str, Any]) -> dict[str, Any] | None:
        from moto.core import DEFAULT_ACCOUNT_ID
        from moto.dynamodb.models import dynamodb_backends

        backend = dynamodb_backends[DEFAULT_ACCOUNT_ID][os.environ["AWS_DEFAULT_REGION"]]
        try:
            item = backend.get_item(table_name, key)
        except Exception:
            return None
        return item.to_json()["Attributes"] if item else None

    def _key_of(self, table_name: str, item: dict[str, Any] | None) -> dict[str, Any]:
        item = item or {}
        keys, _ = self.tables.get(self.names.get(table_name, table_name), ((), []))
        return {k: item[k] for k in keys if k in item}

    def _writes(self, operation: str, params: dict[str, Any]) -> list[tuple[str, dict[str, Any], float]]:
        """(table name, key, factor) of each item a write call touches."""
        if operation in {"PutItem"}:
            return [(params["TableName"], self._key_of(params["TableName"], low(params["Item"])), 1.0)]
        if operation in {"UpdateItem", "DeleteItem"}:
            return [(params["TableName"], low(params["Key"]), 1.0)]
        if operation == "BatchWriteItem":
            out = []
            for table, requests in params.get("RequestItems", {}).items():
                for r in requests:
                    if "PutRequest" in r:
                        out.append((table, self._key_of(table, low(r["PutRequest"]["Item"])), 1.0))
                    else:
                        out.append((table, low(r["DeleteRequest"]["Key"]), 1.0))
            return out
        if operation == "TransactWriteItems":
            out = []
            for entry in params.get("TransactItems", []):
                (kind, body), = entry.items()
                key = self._key_of(body["TableName"], low(body["Item"])) if kind == "Put" else low(body["Key"])
                out.append((body["TableName"], key, 2.0))
            return out
        return []

    def _before(self, service: str, operation: str, params: dict[str, Any]) -> list[Any]:
        if service != "dynamodb":
            return []
        return [self._backend_item(t, k) for t, k, _ in self._writes(operation, params)]

    def _after(self, inv: Invocation, service: str, operation: str, params: dict[str, Any], response: Any,
               before: list[Any]) -> None:
        inv.aws_calls += 1
        name = f"{service}:{operation}"
        if service in CACHED_SERVICES:  # cache fills and refreshes: modelled from the cache ages
            self.cache_calls[inv.function_id][name] += 1
            return
        inv.calls[name] += 1
        if service == "dynamodb":
            self._dynamo_units(inv, operation, params, response or {}, before)

    def _add(self, inv: Invocation, table_name: str, pattern: str, rcu: float = 0.0, wcu: float = 0.0) -> None:
        slot = inv.units[(self.names.get(table_name, table_name), pattern)]
        slot[0] += rcu
        slot[1] += wcu

    def _pattern(self, key: dict[str, Any]) -> str:
        parts = [key_pattern(next(iter(v.values()))) for v in key.values()]
        return " / ".join(parts)

    def _dynamo_units(self, inv: Invocation, operation: str, params: dict[str, Any], response: dict[str, Any],
                      before: list[Any]) -> None:
        consistent = bool(params.get("ConsistentRead"))
        if operation == "GetItem":
            self._add(inv, params["TableName"], self._pattern(low(params["Key"]) or {}),
                      rcu=read_units(item_size(low(response.get("Item"))), consistent))
        elif operation == "BatchGetItem":
            found = response.get("Responses", {})
            for table, spec in params.get("RequestItems", {}).items():
                by_key = {json.dumps(self._key_of(table, low(i)), sort_keys=True): low(i) for i in found.get(table, [])}
                for key in map(low, spec.get("Keys", [])):
                    got = by_key.get(json.dumps(key, sort_keys=True))
                    self._add(inv, table, self._pattern(key),
                              rcu=read_units(item_size(got), bool(spec.get("ConsistentRead"))))
        elif operation in {"Query", "Scan"}:
            size = sum(item_size(low(i)) for i in response.get("Items", []))
            where = params.get("IndexName") or ""
            value = self._hash_value(params) if operation == "Query" else "*"
            pattern = (f"{where} " if where else "") + f"{operation.lower()} " + key_pattern(value)
            self._add(inv, params["TableName"], pattern, rcu=read_units(size, consistent))
        elif operation == "TransactGetItems":
            for entry, got in zip(params.get("TransactItems", []), response.get("Responses", []), strict=False):
                body = entry["Get"]
                self._add(inv, body["TableName"], self._pattern(low(body["Key"]) or {}),
                          rcu=2 * read_units(item_size(low((got or {}).get("Item"))), True))
        else:
            self._write_units(inv, operation, params, before)

    def _write_units(self, inv: Invocation, operation: str, params: dict[str, Any], before: list[Any]) -> None:
        """Write units of each item a write touches (``before``: the items before it), and its index writes."""
        for (table, key, factor), old in zip(self._writes(operation, params), before, strict=True):
            new = self._backend_item(table, key)
            if operation == "TransactWriteItems":
                kind = self._transact_kind(params, table, key)
                if kind == "ConditionCheck":
                    new = old
            self._add(inv, table, self._pattern(key), wcu=factor * write_units(old, new))
            keys, indexes = self.tables.get(self.names.get(table, table), ((), []))
            for index in indexes:
                units = index_writes(index, keys, old, new)
                if units:
                    entry = index.entry(new, keys) or index.entry(old, keys) or {}
                    hash_value = next(iter(entry.get(index.keys[0], {"S": ""}).values()))
                    self._add(inv, table, f"{index.name} {key_pattern(hash_value)}", wcu=units)

    def _hash_value(self, params: dict[str, Any]) -> str:
        """The partition key value a Query reads (from a boto3 condition or an expression string)."""
        keys, indexes = self.tables.get(self.names.get(params["TableName"], params["TableName"]), ((), []))
        index = next((i for i in indexes if i.name == params.get("IndexName")), None)
        hash_name = index.keys[0] if index else (keys[0] if keys else "")
        condition = params.get("KeyConditionExpression")
        if isinstance(condition, str):
            names = params.get("ExpressionAttributeNames", {})
            for name, placeholder in re.findall(r"([#\w]+)\s*=\s*(:\w+)", condition):
                if names.get(name, name) == hash_name:
                    value = params.get("ExpressionAttributeValues", {}).get(placeholder)
                    return str(next(iter(value.values())) if isinstance(value, dict) else value)
            return "?"
        return _condition_value(condition, hash_name)

    @staticmethod
    def _transact_kind(params: dict[str, Any], table: str, key: dict[str, Any]) -> str:
        for entry in params.get("TransactItems", []):
            (kind, body), = entry.items()
            if body["TableName"] == table and (kind == "Put" or low(body.get("Key")) == key):
                return kind
        return ""


def _condition_value(condition: Any, name: str) -> str:
    """The value ``name`` is compared equal to in a boto3 ``Key(...)`` condition, or "?"."""
    from boto3.dynamodb.conditions import Equals, Key

    if isinstance(condition, Equals):
        left, right = condition.get_expression()["values"]
        if isinstance(left, Key) and left.name == name:
            return str(right)
    for part in getattr(condition, "get_expression", lambda: {"values": ()})()["values"]:
        if hasattr(part, "get_expression"):
            found = _condition_value(part, name)
            if found != "?":
                return found
    return "?"


_TYPES = {"S", "N", "B", "SS", "NS", "BS", "M", "L", "NULL", "BOOL"}


def low(item: Any) -> dict[str, Any] | None:
    """An item or key in DynamoDB's low-level JSON, whether boto3's resource layer (Python values,
    before its ``before-parameter-build`` transformation) or a client (typed values) gave it."""
    if not item:
        return None
    from boto3.dynamodb.types import TypeSerializer

    serializer = TypeSerializer()
    return {k: v if isinstance(v, dict) and len(v) == 1 and next(iter(v)) in _TYPES else serializer.serialize(v)
            for k, v in item.items()}


def _label(function_id: str, event: Any) -> str:
    if isinstance(event, dict) and "routeKey" in event:
        return str(event["routeKey"])
    if isinstance(event, dict) and event.get("Records"):
        arn = event["Records"][0].get("eventSourceARN", "")
        return f"{function_id} <- {arn.rsplit(':', 1)[-1]}"
    return function_id


# --------------------------------------------------------------------------- the journeys
class _Clock:
    def __init__(self) -> None:
        self.now = START

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


_MINISTRY_CHILD = r"""
import logging, sys
logging.getLogger("werkzeug").setLevel(logging.ERROR)
from prakerja_local.ministry import MinistryServer
server = MinistryServer()
server.start()
print(server.port, flush=True)
sys.stdin.read()
server.stop()
"""


class _Ministry:
    """The ministry simulator in a child process (its own CPU is not the worker's)."""

    def __init__(self) -> None:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(str(ROOT / p) for p in ("src", "local"))}
        self.process = subprocess.Popen([sys.executable, "-c", _MINISTRY_CHILD], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, text=True, env=env)
        assert self.process.stdout is not None
        self.url = f"http://127.0.0.1:{int(self.process.stdout.readline())}"

    def add_people(self, people: list[dict[str, Any]]) -> None:
        import urllib.request

        request = urllib.request.Request(self.url + "/people/bulk", json.dumps(people).encode(),
                                         {"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as reply:  # noqa: S310 (loopback)
            reply.read()

    def stop(self) -> None:
        if self.process.stdin:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()


class Driver:
    """The journeys, through ``stack`` (a harness Stack) with ``recorder`` installed."""

    def __init__(self, stack: Any, clock: _Clock, ministry: _Ministry, journeys: int) -> None:
        from prakerja.domain.assessment import load_bank

        self.stack, self.clock, self.ministry, self.journeys = stack, clock, ministry, journeys
        self.rng = random.Random(SEED)
        self.bank = {q.question_id: q for q in load_bank().items}
        self.photo = PHOTO.read_bytes()
        self.sources = {s.queue_id: s for s in stack.template.sqs_sources()}
        self.batch_id = "2026-01"

    # ------------------------------------------------------------------ helpers
    def call(self, method: str, path: str, body: Any = None, token: str | None = None, expect: int = 200,
             headers: dict[str, str] | None = None) -> Any:
        r = self.stack.call(method, path, body, token=token, headers=headers)
        if r.status != expect:
            raise RuntimeError(f"{method} {path}: {r.status} {r.body} (expected {expect})")
        return r.body

    def drain(self, queue: str) -> int:
        """Feed a queue to its function with the template's batch size until it is empty."""
        import boto3

        source = self.sources[queue]
        sqs = boto3.client("sqs")
        url = self.stack.resources.ref(queue)
        handled = 0
        for _ in range(1000):
            event = self.stack.sqs_event(queue, max_messages=source.batch_size)
            if not event["Records"]:
                return handled
            result = self.stack.registry.invoke(source.function_id, event) or {}
            failed = {f["itemIdentifier"] for f in result.get("batchItemFailures", [])}
            for record in event["Records"]:
                if record["messageId"] in failed:
                    raise RuntimeError(f"{queue}: a message failed in {source.function_id}")
                sqs.delete_message(QueueUrl=url, ReceiptHandle=record["receiptHandle"])
                handled += 1
        return handled

    def token_for(self, address: str, marker: str) -> str:
        from moto.core import DEFAULT_ACCOUNT_ID
        from moto.ses.models import ses_backends

        sent = ses_backends[DEFAULT_ACCOUNT_ID][os.environ["AWS_DEFAULT_REGION"]].sent_messages
        for m in reversed(sent):
            to = m.destinations["ToAddresses"][0] if isinstance(m.destinations, dict) else m.destinations[0]
            found = re.search(marker + r"#token=([A-Za-z0-9_\-%]+)", m.body)
            if to.lower() == address.lower() and found:
                return found.group(1)
        raise RuntimeError(f"no {marker} link for {address}")

    def person(self, i: int) -> dict[str, Any]:
        from prakerja.domain.nik import build_nik

        dob = date(1985 + i % 15, 1 + i % 12, 1 + i % 27)
        sex = "M" if i % 2 else "F"
        return {"nik": build_nik("32.01.01", dob, sex, 1 + i), "full_name": f"Peserta Uji {_words(i)}",
                "date_of_birth": dob.isoformat(), "sex": sex}

    def form(self, p: dict[str, Any]) -> dict[str, Any]:
        return {"nik": p["nik"], "kk_number": None, "full_name": p["full_name"], "place_of_birth": "Bogor",
                "date_of_birth": p["date_of_birth"], "sex": p["sex"], "address": "Jl. Merdeka No. 1, RT 001/RW 002",
                "province_code": "32", "regency_code": "32.01", "district_code": "32.01.01", "education": "SMA",
                "work_status": "laid_off", "not_in_formal_education": True, "phone": "081234567890"}

    def best(self, ids: list[str]) -> dict[str, str]:
        out = {}
        for qid in ids:
            q = self.bank[qid]
            out[qid] = q.correct or q.options[0 if q.reverse else -1].option_id
        return out

    # ------------------------------------------------------------------ the way through
    def run(self) -> None:
        from prakerja import clock as prakerja_clock
        from prakerja.adapters.batches import BatchStore
        from prakerja.domain import selection

        secret = "rahasia-undian-kapasitas-0001"
        at = lambda h: prakerja_clock.iso(self.clock.now + timedelta(hours=h))  # noqa: E731
        BatchStore(self.stack.env("BATCHES_TABLE")).put_batch({
            "batch_id": self.batch_id, "opens_at": at(-1), "closes_at": at(6), "announce_at": at(7),
            "quota": max(1, self.journeys // 2), "commitment": selection.commitment(secret), "secret": secret,
            "status": "SCHEDULED"})
        people = [self.person(i) for i in range(self.journeys)]
        self.ministry.add_people([{k: p[k] for k in ("nik", "full_name", "date_of_birth")} for p in people])
        topic = self._bounce_topic()
        for i, p in enumerate(people):
            self.journey(i, p, topic)
        self.close_batch()

    def journey(self, i: int, p: dict[str, Any], topic: str) -> None:
        email = f"peserta{i:05d}@example.id"
        rare = i % 5 == 0
        self.call("POST", "/v1/accounts", {"email": email, "password": PASSWORD, "consent": True}, expect=202,
                  headers={"Idempotency-Key": f"{SEED}-{i:08d}-0000-0000-000000000000"})
        self.drain("EmailQueue")
        if rare:  # a resend before the link is used (needs a session)
            first = self.call("POST", "/v1/sessions", {"email": email, "password": PASSWORD})["access_token"]
            self.call("POST", "/v1/email-verifications", token=first, expect=202)
            self.drain("EmailQueue")
        link = self.token_for(email, "verifikasi-email")
        self.call("GET", f"/v1/email-verifications/{link}")
        self.call("POST", f"/v1/email-verifications/{link}")
        session = self.call("POST", "/v1/sessions", {"email": email, "password": PASSWORD})
        token = session["access_token"]
        for _ in range(3):
            self.call("GET", "/v1/me", token=token)
        self.call("POST", "/v1/me/biodata/preview", {"nik": p["nik"]}, token=token)
        self.call("PUT", "/v1/me/biodata", self.form(p), token=token, expect=202)
        self.call("GET", "/v1/me/biodata", token=token)
        self.drain("NikQueue")
        grant = self.call("POST", "/v1/me/documents/ktp", {"content_type": "image/jpeg"}, token=token)
        self._browser_upload(grant)
        self.drain("UploadQueue")
        self.drain("KtpVerdictQueue")  # the parser's verdict -> the recorder (issue 16 item 11)
        started = self.call("POST", "/v1/me/assessment", token=token)
        ids = [q["question_id"] for q in started["questions"]]
        answers = self.best(ids)
        for qid in ids[:2]:
            self.call("PUT", f"/v1/me/assessment/answers/{qid}", {"option_id": answers[qid]}, token=token)
        self.call("POST", "/v1/me/assessment/submit", {"answers": answers}, token=token)
        self.call("GET", "/v1/me", token=token)
        token = self.call("POST", "/v1/sessions/refresh", {"refresh_token": session["refresh_token"]})["access_token"]
        self.call("GET", "/v1/batches")
        self.call("POST", f"/v1/batches/{self.batch_id}/participants", token=token, expect=201)
        if rare:
            self.rare(i, email, token, topic)
        self.clock.advance(1)

    def rare(self, i: int, email: str, token: str, topic: str) -> None:
        """The routes a few applicants use: password reset and change, email change, consent,
        sign-out, a bounce, and the deletion of a second account."""
        import boto3

        self.call("POST", "/v1/password-resets", {"email": email}, expect=202)
        self.drain("EmailQueue")
        reset = self.token_for(email, "lupa-kata-sandi")
        self.call("GET", f"/v1/password-resets/{reset}")
        self.call("POST", f"/v1/password-resets/{reset}", {"password": PASSWORD + "-b"})
        token = self.call("POST", "/v1/sessions", {"email": email, "password": PASSWORD + "-b"})["access_token"]
        token = self.call("PUT", "/v1/me/password", {"current_password": PASSWORD + "-b", "new_password": PASSWORD},
                          token=token)["access_token"]
        self.call("PUT", "/v1/me/email", {"email": f"baru{i:05d}@example.id", "password": PASSWORD}, token=token,
                  expect=202)
        self.drain("EmailQueue")
        self.call("DELETE", "/v1/me/consent", token=token)
        self.call("PUT", "/v1/me/consent", {"consent": True}, token=token)
        self.call("DELETE", "/v1/sessions", token=token, expect=204)
        boto3.client("sns").publish(TopicArn=topic, Message=json.dumps({
            "eventType": "Bounce", "bounce": {"bounceType": "Permanent", "bounceSubType": "General",
                                              "bouncedRecipients": [{"emailAddress": f"baru{i:05d}@example.id"}],
                                              "timestamp": "2026-04-11T03:00:05.000Z"},
            "mail": {"source": "noreply@prakerja.example.id", "destination": [f"baru{i:05d}@example.id"]}}))
        self.drain("BounceQueue")
        other = f"hapus{i:05d}@example.id"
        self.call("POST", "/v1/accounts", {"email": other, "password": PASSWORD, "consent": True}, expect=202,
                  headers={"Idempotency-Key": f"{SEED}-{i:08d}-0000-0000-000000000001"})
        self.drain("EmailQueue")
        gone = self.call("POST", "/v1/sessions", {"email": other, "password": PASSWORD})["access_token"]
        self.call("DELETE", "/v1/me", {"password": PASSWORD}, token=gone, expect=204)

    def _browser_upload(self, grant: dict[str, Any]) -> None:
        import boto3

        boto3.client("s3").put_object(Bucket=self.stack.env("KTP_BUCKET"), Key=grant["fields"]["key"], Body=self.photo,
                                      ContentType=grant["fields"]["Content-Type"])

    def _bounce_topic(self) -> str:
        import boto3

        arn = self.stack.resources.ref("SesNotificationsTopic")
        boto3.client("sns").subscribe(TopicArn=arn, Protocol="sqs",
                                      Endpoint=self.stack.resources.att("BounceQueue", "Arn"))
        return arn

    def close_batch(self) -> None:
        invoke = self.stack.registry.invoke
        invoke("OutboxSweeperFunction", _TICK)  # the first (cold) sweep
        invoke("BatchTickFunction", _TICK)  # the first (cold) tick, nothing due
        invoke("BatchTickFunction", _TICK, label="BatchTickFunction (nothing due)")
        invoke("OutboxSweeperFunction", _TICK, label="OutboxSweeperFunction (nothing to queue)")
        self.clock.advance(6 * 3600 + 1)
        invoke("BatchTickFunction", _TICK, label=f"BatchTickFunction (close and draw, {self.journeys} joined)")
        self.drain("DrawQueue")
        self.clock.advance(3600)
        invoke("BatchTickFunction", _TICK, label="BatchTickFunction (announce)")
        self.drain("DrawQueue")
        self.drain("BulkEmailQueue")


def _words(i: int) -> str:
    names = ("Ani", "Budi", "Citra", "Dewi", "Eko", "Fajar", "Gita", "Hadi", "Indah", "Joko")
    return f"{names[i % 10]} {names[(i // 10) % 10]}"


# --------------------------------------------------------------------------- the summary
def _cpu_summary(values: list[float]) -> dict[str, float]:
    ms = sorted(v * 1000 for v in values)
    p95 = ms[min(len(ms) - 1, max(0, round(0.95 * len(ms)) - 1))]
    return {"median": round(statistics.median(ms), 3), "p95": round(p95, 3), "mean": round(statistics.fmean(ms), 3)}


def _exact(total: float, n: int) -> float:
    return round(total / n, 4)


def summarise(recorder: Recorder, template: Any, journeys: int, seconds: float) -> dict[str, Any]:
    """The measured table (JSON-ready)."""
    from prakerja.adapters.funnel import SHARDS
    from prakerja.services.assessment import DUE_SHARDS
    from prakerja.settings import Settings

    functions = template.functions()
    by_label: dict[str, list[Invocation]] = defaultdict(list)
    for inv in recorder.done:
        by_label[inv.label].append(inv)
    table: dict[str, Any] = {}
    for label, invs in sorted(by_label.items()):
        fn = functions[invs[0].function_id]
        n = len(invs)
        calls: Counter = Counter()
        units: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0.0, 0.0])
        for inv in invs:
            calls.update(inv.calls)
            for k, (r, w) in inv.units.items():
                units[k][0] += r
                units[k][1] += w
        dynamo: dict[str, dict[str, dict[str, float]]] = defaultdict(dict)
        for (t, pattern), (r, w) in sorted(units.items()):
            dynamo[t][pattern] = {"rcu": _exact(r, n), "wcu": _exact(w, n)}
        table[label] = {
            "function": fn.logical_id, "memory_mb": fn.memory_size, "invocations": n,
            "kind": "http" if " /" in label else ("sqs" if " <- " in label else "schedule"),
            "records_per_invocation": _exact(sum(i.records for i in invs), n),
            "cpu_ms": _cpu_summary([i.cpu for i in invs]),
            "raw_cpu_ms": _cpu_summary([i.raw_cpu for i in invs]),
            "harness_overhead_ms_mean": round(statistics.fmean(i.overhead for i in invs) * 1000, 3),
            "calls": {k: _exact(v, n) for k, v in sorted(calls.items())},
            "dynamodb": {t: dict(p) for t, p in dynamo.items()},
            "log_bytes": round(statistics.fmean(i.log_bytes for i in invs), 1),
        }
    cold = {fid: {"label": inv.label, "calls": dict(sorted(inv.calls.items()))}
            for fid, inv in sorted(recorder.cold.items())}
    from prakerja.adapters.crypto import MAX_KEY_AGE_SECONDS
    from prakerja.adapters.secrets import MAX_AGE_SECONDS
    cached = {fid: dict(sorted(c.items())) for fid, c in sorted(recorder.cache_calls.items())}
    all_invs = recorder.done + list(recorder.cold.values())
    aws_calls = sum(i.aws_calls for i in all_invs)
    overhead = sum(i.overhead for i in all_invs)
    defaults = Settings.model_fields
    return {
        "schema": 1,
        "journeys": journeys,
        "seed": SEED,
        "routes_in_template": sorted(r.route_key for r in template.routes()),
        "measured": table,
        "cold": cold,
        "cached_calls": cached,
        "cache_seconds": {
            "secretsmanager:GetSecretValue": MAX_AGE_SECONDS,
            "ssm:GetParameter": defaults["registration_switch_max_age_seconds"].default,
            "ssm:GetParameters": defaults["registration_switch_max_age_seconds"].default,
            "kms:GenerateDataKey": MAX_KEY_AGE_SECONDS,
            "kms:Decrypt": None,
        },
        "harness": {
            "aws_calls": aws_calls,
            "overhead_ms_per_aws_call": round(overhead * 1000 / max(1, aws_calls), 3),
            "note": "moto's request processing and the recorder's bookkeeping inside handlers, subtracted from cpu_ms",
            "wall_seconds": round(seconds, 1),
            "python": sys.version.split()[0],
        },
        "sources": {f"{src.function_id} <- {src.queue_id}": {"batch_size": src.batch_size,
                                                              "max_concurrency": src.max_concurrency}
                    for src in template.sqs_sources()},
        "key_spread": {
            "FUNNEL#<step>#<shard>": SHARDS,
            "BATCH#<batch>#M#<shard>": defaults["member_shards"].default,
            "OutboxIndex <shard>": defaults["outbox_shards"].default,
            "DueIndex <shard>": DUE_SHARDS,
            "BUCKET#ministry#<shard>": defaults["ministry_bucket_shards"].default,
        },
        "method": {
            "cpu": "time.process_time around the handler minus moto's request processing and the recorder's work",
            "dynamodb": "units computed from item sizes by DynamoDB's rules (bench/capacity_units.py); moto's "
                        "ConsumedCapacity is a fixed placeholder",
            "calls": "botocore _make_api_call per invocation; the first invocation of each function is under "
                     "'cold', not in the per-request figures; KMS, Secrets Manager and SSM calls fill or refresh "
                     "per-instance caches: 'cached_calls' lists the functions that make them (counts depend on "
                     "the run's real time), the plan derives their rate from 'cache_seconds'",
        },
    }


def measure(journeys: int = JOURNEYS) -> dict[str, Any]:
    """Run the journeys and return the measured table. Needs no AWS: moto and a child simulator."""
    from moto import mock_aws

    from prakerja import clock as prakerja_clock
    from prakerja.adapters import aws as aws_adapter
    from tests.integration.harness import aws_env, start_stack

    os.environ.update(aws_env())
    os.environ["POWERTOOLS_METRICS_DISABLED"] = "false"  # the EMF lines are part of the log volume
    started = time.monotonic()
    clock = _Clock()
    prakerja_clock.set_source(lambda: clock.now)
    ministry = _Ministry()
    try:
        with mock_aws():
            aws_adapter.reset()
            stack = start_stack({"MinistryUrl": ministry.url, "SesBurst": "100000"})
            os.environ["POWERTOOLS_METRICS_DISABLED"] = "false"  # the EMF lines are part of the log volume
            recorder = Recorder(stack.template)
            recorder.bind(stack.resources)
            with recorder.installed():
                Driver(stack, clock, ministry, journeys).run()
            aws_adapter.reset()
    finally:
        prakerja_clock.set_source(None)
        ministry.stop()
    return summarise(recorder, stack.template, journeys, time.monotonic() - started)
