"""A simulator of the ministry's NIK verification service (Dukcapil), for local runs and tests.

Its own HTTP server (werkzeug, threaded) on 127.0.0.1, in the stack's process. It has a set
capacity (concurrent calls, calls per second in each whole second), latency and faults, and
counts every call above capacity (answered 429, as a real gateway would). Routes::

    POST /v1/nik/verify     {request_id, nik, full_name, date_of_birth} -> 200 result | 429 | 500 | 503
    POST /people            one person -> 201        POST /people/bulk   [people] -> 201 {added}
    GET  /people/<nik>      one person -> 200 | 404
    GET  /                  counters, settings and population size
    POST /settings          {max_in_flight, rate_per_second, latency_ms, latency_jitter_ms,
                             slow_rate, slow_ms, error_rate, outage, outages}
    POST /reset-counters    counters back to zero

Settings: latency is ``latency_ms`` plus a uniform ``0..latency_jitter_ms``, and a share
``slow_rate`` of the calls takes ``slow_ms`` instead (a tail that trips client timeouts);
``error_rate`` of the admitted calls answer 500; ``outage`` true answers 503 to everything, and
so does every window of ``outages`` (``[[start, end], ...]``, ISO times on the simulator's clock,
by default :func:`prakerja.clock.now`, which the local stack and the tests move). Counters:
``calls``, ``answered``, ``over_capacity``, ``duplicates`` (a repeated request id: the same
answer again), ``errors``, ``outages``, ``max_in_flight_seen`` and ``max_rate_seen`` (admitted
calls in the busiest sliding one-second window).
"""

from __future__ import annotations

import json
import logging
import random
import re
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from typing import Any

from werkzeug.wrappers import Request, Response

from prakerja import clock as prakerja_clock
from prakerja_local.servers import HttpServer

log = logging.getLogger("prakerja_local.ministry")

CITIZENSHIPS = ("WNI", "WNA")
STATUSES = ("ACTIVE", "DECEASED", "INACTIVE")
_NIK_RE = re.compile(r"[0-9]{16}")
_COUNTERS = ("calls", "answered", "over_capacity", "duplicates", "errors", "outages", "max_in_flight_seen",
             "max_rate_seen")


def normalise_name(name: str) -> str:
    """Compare form of a name: trimmed, case-folded, spaces collapsed, ’ and ‘ read as '."""
    return " ".join(name.replace("\u2019", "'").replace("\u2018", "'").split()).casefold()


@dataclass
class MinistrySettings:
    """Capacity and faults of the simulated service."""

    max_in_flight: int = 20
    rate_per_second: int = 50
    latency_ms: int = 20
    latency_jitter_ms: int = 0
    slow_rate: float = 0.0
    slow_ms: int = 0
    error_rate: float = 0.0
    outage: bool = False
    outages: list = field(default_factory=list)

    def update(self, values: dict[str, Any]) -> None:
        """Set the given fields (unknown keys raise ``ValueError``), coerced to their types."""
        for key, value in values.items():
            if key not in MinistrySettings.__dataclass_fields__:
                raise ValueError(f"unknown setting {key}")
            if key == "outages":  # kept as ISO strings (JSON-ready), whole seconds
                self.outages = [[prakerja_clock.iso(a), prakerja_clock.iso(b)] for a, b in _windows(value)]
                continue
            current = getattr(self, key)
            setattr(self, key, bool(value) if isinstance(current, bool) else type(current)(value))

    def down_at(self, now: datetime) -> bool:
        """Whether the service is out at ``now`` (``outage``, or inside one of ``outages``)."""
        return self.outage or any(start <= now < end for start, end in _windows(self.outages))


def _windows(value: Any) -> list[list[datetime]]:
    """``[[start, end], ...]`` (ISO strings or aware datetimes) as aware datetimes; ValueError."""
    if not isinstance(value, list | tuple):
        raise ValueError("outages: a list of [start, end] pairs")
    windows = []
    for pair in value:
        if not isinstance(pair, list | tuple) or len(pair) != 2:
            raise ValueError("outages: a list of [start, end] pairs")
        start, end = (p if isinstance(p, datetime) else prakerja_clock.parse_iso(str(p)) for p in pair)
        windows.append([start, end])
    return windows


@dataclass
class Person:
    """One person in the simulated population register."""

    nik: str
    full_name: str
    date_of_birth: str
    citizenship: str = "WNI"
    status: str = "ACTIVE"
    excluded: str | None = None


def _person_errors(data: Any) -> list[dict[str, str]]:
    if not isinstance(data, dict):
        return [{"field": "body", "code": "INVALID", "message": "expected an object"}]
    errors = []
    if not (isinstance(data.get("nik"), str) and _NIK_RE.fullmatch(data["nik"])):
        errors.append({"field": "nik", "code": "NIK_FORMAT", "message": "16 digits"})
    if not (isinstance(data.get("full_name"), str) and data["full_name"].strip()):
        errors.append({"field": "full_name", "code": "REQUIRED", "message": "a non-empty name"})
    try:
        date.fromisoformat(str(data.get("date_of_birth")))
    except ValueError:
        errors.append({"field": "date_of_birth", "code": "DATE_FORMAT", "message": "YYYY-MM-DD"})
    if data.get("citizenship", "WNI") not in CITIZENSHIPS:
        errors.append({"field": "citizenship", "code": "INVALID", "message": "WNI or WNA"})
    if data.get("status", "ACTIVE") not in STATUSES:
        errors.append({"field": "status", "code": "INVALID", "message": "ACTIVE, DECEASED or INACTIVE"})
    if data.get("excluded") is not None and not isinstance(data["excluded"], str):
        errors.append({"field": "excluded", "code": "INVALID", "message": "null or a category"})
    return errors


def _person(data: dict[str, Any]) -> Person:
    fields = {k: data[k] for k in Person.__dataclass_fields__ if data.get(k) is not None}
    return Person(**fields)


def evaluate(person: Person | None, full_name: str, date_of_birth: str) -> dict[str, Any]:
    """The ministry's verdict for a request against the register entry (``None``: unknown NIK)."""
    if person is None:
        return {
            "result": "REJECTED",
            "reason": "NOT_FOUND",
            "mismatched_fields": [],
            "citizenship": None,
            "excluded": None,
        }
    mismatched = []
    if normalise_name(full_name) != normalise_name(person.full_name):
        mismatched.append("full_name")
    if str(date_of_birth).strip() != person.date_of_birth:
        mismatched.append("date_of_birth")
    reason = _rejection_reason(person, mismatched)
    disclose = not mismatched
    return {
        "result": "REJECTED" if reason else "VERIFIED",
        "reason": reason,
        "mismatched_fields": mismatched,
        "citizenship": person.citizenship if disclose else None,
        "excluded": person.excluded if disclose else None,
    }


def _rejection_reason(person: Person, mismatched: list[str]) -> str | None:
    if mismatched:
        return "DATA_MISMATCH"
    if person.status in ("DECEASED", "INACTIVE"):
        return person.status
    if person.citizenship == "WNA":
        return "NOT_CITIZEN"
    if person.excluded:
        return "EXCLUDED"
    return None


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(body), status=status, headers=headers, mimetype="application/json")


@dataclass
class _Window:
    second: int = 0
    count: int = 0


class MinistrySimulator:
    """The simulator's state and rules (a WSGI app; no server of its own)."""

    def __init__(
        self,
        settings: MinistrySettings | None = None,
        seed: int = 7,
        monotonic: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = prakerja_clock.now,
    ) -> None:
        self.settings = settings or MinistrySettings()
        self._monotonic = monotonic
        self._now = now
        self._admitted: deque[float] = deque()
        self.population: dict[str, Person] = {}
        self.answers: dict[str, dict[str, Any]] = {}
        self.counters = dict.fromkeys(_COUNTERS, 0)
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._in_flight = 0
        self._window = _Window()
        self._routes = {
            ("POST", "/v1/nik/verify"): self._verify,
            ("POST", "/people"): self._add_person,
            ("POST", "/people/bulk"): self._add_people,
            ("GET", "/"): lambda _r: _json(self.snapshot()),
            ("POST", "/settings"): self._settings,
            ("POST", "/reset-counters"): self._reset_counters,
        }

    # ------------------------------------------------------------------ state
    def add(self, data: dict[str, Any]) -> Person:
        """Add or replace a person (``ValueError`` listing the invalid fields)."""
        errors = _person_errors(data)
        if errors:
            raise ValueError(errors)
        person = _person(data)
        with self._lock:
            self.population[person.nik] = person
        return person

    def snapshot(self) -> dict[str, Any]:
        """Counters, settings and population size."""
        with self._lock:
            return {
                **self.counters,
                "in_flight": self._in_flight,
                "settings": asdict(self.settings),
                "population": len(self.population),
            }

    def reset_counters(self) -> None:
        """Zero every counter (the population and the remembered answers stay)."""
        with self._lock:
            self.counters = dict.fromkeys(_COUNTERS, 0)
            self._admitted.clear()

    def _count(self, name: str) -> None:
        with self._lock:
            self.counters[name] += 1

    # ------------------------------------------------------------------ capacity
    def _admit(self) -> bool:
        mono = self._monotonic()
        now_second = int(mono)
        with self._lock:
            self.counters["calls"] += 1
            if self._window.second != now_second:
                self._window = _Window(now_second, 0)
            s = self.settings
            if self._in_flight >= s.max_in_flight or self._window.count >= s.rate_per_second:
                self.counters["over_capacity"] += 1
                return False
            self._in_flight += 1
            self._window.count += 1
            self.counters["max_in_flight_seen"] = max(self.counters["max_in_flight_seen"], self._in_flight)
            self._admitted.append(mono)
            while self._admitted[0] <= mono - 1.0:
                self._admitted.popleft()
            self.counters["max_rate_seen"] = max(self.counters["max_rate_seen"], len(self._admitted))
            return True

    def _release(self) -> None:
        with self._lock:
            self._in_flight -= 1

    # ------------------------------------------------------------------ verify
    def verify(self, payload: Any) -> tuple[int, dict[str, Any], dict[str, str]]:
        """Answer one verification call: ``(status, body, headers)``."""
        if self.settings.down_at(self._now()):
            self._count("calls")
            self._count("outages")
            return 503, {"code": "UNAVAILABLE", "message": "service unavailable"}, {"Retry-After": "5"}
        if not self._admit():
            return 429, {"code": "TOO_MANY_REQUESTS", "message": "over capacity"}, {"Retry-After": "1"}
        try:
            time.sleep(self._latency_seconds())
            return self._answer(payload)
        finally:
            self._release()

    def _latency_seconds(self) -> float:
        s = self.settings
        with self._lock:
            if s.slow_rate and self._rng.random() < s.slow_rate:
                return s.slow_ms / 1000
            jitter = self._rng.uniform(0, s.latency_jitter_ms) if s.latency_jitter_ms else 0.0
        return (s.latency_ms + jitter) / 1000

    def _random_error(self) -> bool:
        with self._lock:
            return self._rng.random() < self.settings.error_rate

    def _answer(self, payload: Any) -> tuple[int, dict[str, Any], dict[str, str]]:
        if self._random_error():
            self._count("errors")
            return 500, {"code": "INTERNAL", "message": "simulated failure"}, {}
        missing = [
            k
            for k in ("request_id", "nik", "full_name", "date_of_birth")
            if not isinstance(payload, dict) or not isinstance(payload.get(k), str)
        ]
        if missing:
            return 422, {"code": "VALIDATION_FAILED", "message": "missing fields", "fields": missing}, {}
        with self._lock:
            stored = self.answers.get(payload["request_id"])
            if stored is not None:
                self.counters["duplicates"] += 1
                self.counters["answered"] += 1
                return 200, stored, {}
            verdict = evaluate(self.population.get(payload["nik"]), payload["full_name"], payload["date_of_birth"])
            answer = {"request_id": payload["request_id"], **verdict}
            self.answers[payload["request_id"]] = answer
            self.counters["answered"] += 1
        return 200, answer, {}

    # ------------------------------------------------------------------ HTTP
    def _verify(self, request: Request) -> Response:
        status, body, headers = self.verify(request.get_json(silent=True, force=True))
        return _json(body, status, headers)

    def _add_person(self, request: Request) -> Response:
        try:
            person = self.add(request.get_json(silent=True, force=True))
        except ValueError as exc:
            return _json({"code": "VALIDATION_FAILED", "message": "invalid person", "fields": exc.args[0]}, 422)
        return _json(asdict(person), 201)

    def _add_people(self, request: Request) -> Response:
        data = request.get_json(silent=True, force=True)
        people = data.get("people") if isinstance(data, dict) else data
        if not isinstance(people, list):
            return _json({"code": "VALIDATION_FAILED", "message": "expected a list", "fields": []}, 422)
        errors = [{"index": i, **e} for i, p in enumerate(people) for e in _person_errors(p)]
        if errors:
            return _json({"code": "VALIDATION_FAILED", "message": "invalid people", "fields": errors}, 422)
        for person in people:
            self.add(person)
        return _json({"added": len(people)}, 201)

    def _get_person(self, nik: str) -> Response:
        person = self.population.get(nik)
        if person is None:
            return _json({"code": "NOT_FOUND", "message": "no such person"}, 404)
        return _json(asdict(person))

    def _settings(self, request: Request) -> Response:
        try:
            self.settings.update(request.get_json(silent=True, force=True) or {})
        except (ValueError, TypeError) as exc:
            return _json({"code": "VALIDATION_FAILED", "message": str(exc), "fields": []}, 422)
        return _json(asdict(self.settings))

    def _reset_counters(self, _request: Request) -> Response:
        self.reset_counters()
        return _json(self.snapshot())

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        path = request.path.rstrip("/") or "/"
        route = self._routes.get((request.method, path))
        if route is not None:
            response = route(request)
        elif request.method == "GET" and path.startswith("/people/"):
            response = self._get_person(path.removeprefix("/people/"))
        else:
            response = _json({"code": "NOT_FOUND", "message": "no such route"}, 404)
        return response(environ, start_response)


class MinistryServer(HttpServer):
    """Runs a :class:`MinistrySimulator` on its own threaded HTTP server on 127.0.0.1."""

    def __init__(self, simulator: MinistrySimulator | None = None, port: int = 0) -> None:
        self.simulator = simulator or MinistrySimulator()
        super().__init__(self.simulator, port, "ministry")
