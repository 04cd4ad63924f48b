"""Locust users for the load rehearsal (``make rehearsal``, driven by ``bench/rehearsal.py``).

Runs in the load virtualenv (requirements/load.lock): the standard library, Locust and requests,
plus :mod:`prakerja_local.journey` (standard library only), which holds the same HTTP steps the
demo drives. Everything else comes from the plan file ``$REHEARSAL_PLAN`` (JSON, written by
``bench/rehearsal.py`` from the demo's synthetic applicants):

``{"people": [{"email", "password", "biodata"}], "photos": [path], "answers": {question_id:
option_id}, "batch_id": str | null, "results": path}``

Each Locust user takes the next applicant of the plan and walks the launch-day way: sign-up (own
Idempotency-Key), the verification link from the local mailbox, sign-in, the status page, KTP
presign and upload to the presigned POST, biodata, status polling of ``GET /v1/me`` with backoff
until both verdicts are in, the test, joining the open batch; then the next applicant. After the
run time no new step starts (``--stop-timeout`` lets the running step finish). 429 and 503 with
``Retry-After`` are waited out (Retry-After plus up to half of it again as jitter) and retried,
bounded; Locust counts them as successes and the tally as ``refused``. Any other 5xx, or no
answer, is a failure. Only 127.0.0.1 is ever sent a request.

At quit, ``results`` gets ``{"records": [...], "statuses": [[method, route, status, n]],
"refused": [[method, route, status, n]]}``; a record is ``{"index", "done": [step...], "pending": step
| null, "stopped": step | null, "error": str | null, "passed": bool | null}``, a step in ``done``
only once the stack acknowledged it.
"""

from __future__ import annotations

import json
import os
import random
import re
import sys
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from locust import HttpUser, constant, events, task

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "local"))
from prakerja_local import journey  # noqa: E402 (standard library only)

ALLOWED_HOST = "127.0.0.1"
MAX_REFUSALS = 30  # 429/503 with Retry-After per request before the step gives up
MAX_NO_ANSWER = 3  # connection errors / timeouts per request before the step gives up
RETRY_AFTER_CAP = 30.0  # seconds
TIMEOUT = 60.0  # seconds per request
MAIL_TIMEOUT = 180.0  # seconds for the verification email to arrive

PLAN: dict[str, Any] = json.loads(Path(os.environ["REHEARSAL_PLAN"]).read_text(encoding="utf-8"))
PEOPLE = iter(enumerate(PLAN["people"]))
PHOTOS = [Path(p).read_bytes() for p in PLAN["photos"]]
RECORDS: list[dict[str, Any]] = []
STATUSES: Counter[tuple[str, str, int]] = Counter()
REFUSED: Counter[tuple[str, str, int]] = Counter()
DEADLINE = [float("inf")]  # wall clock (time.time()) after which no new step starts

_ROUTES = (
    (re.compile(r"^/v1/email-verifications/[^/]+$"), "/v1/email-verifications/{token}"),
    (re.compile(r"^/v1/me/assessment/answers/[^/]+$"), "/v1/me/assessment/answers/{question_id}"),
    (re.compile(r"^/v1/batches/[^/]+/participants$"), "/v1/batches/{batch_id}/participants"),
)


def route(url: str) -> str:
    """The route a URL belongs to (ids replaced by placeholders); the presigned POST is ``S3``."""
    parts = urlsplit(url)
    if parts.scheme:
        return "S3 presigned POST"
    for pattern, name in _ROUTES:
        if pattern.match(parts.path):
            return name
    return parts.path


def retry_after(value: str | None) -> float | None:
    """Seconds of a ``Retry-After`` header (delta-seconds; an HTTP date counts as 1 s), or None."""
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return 1.0


class Http:
    """The journey's client over Locust's session: route names, Retry-After, 127.0.0.1 only."""

    def __init__(self, user: HttpUser) -> None:
        self.user = user

    def get(self, url: str, **kwargs: Any) -> Any:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> Any:
        return self.request("POST", url, **kwargs)

    def put(self, url: str, **kwargs: Any) -> Any:
        return self.request("PUT", url, **kwargs)

    def request(self, method: str, url: str, **kwargs: Any) -> Any:
        """One logical request: retried after 429/503 with Retry-After (honoured) and after no answer."""
        target = url if urlsplit(url).scheme else (self.user.host or "") + url
        if urlsplit(target).hostname != ALLOWED_HOST:
            raise journey.JourneyError(f"refusing to send traffic to {urlsplit(target).hostname!r}")
        name = route(url)
        refusals = no_answer = 0
        while True:
            with self.user.client.request(method, url, name=name, catch_response=True, timeout=TIMEOUT,
                                          **kwargs) as r:
                status = int(r.status_code or 0)
                wait = retry_after(r.headers.get("Retry-After")) if status in (429, 503) else None
                STATUSES[(method, name, status)] += 1
                if wait is not None:
                    r.success()  # admission control: a clean refusal, retried below
                elif status == 0 or status >= 500:
                    r.failure(f"HTTP {status}" if status else f"no answer: {r.error}")
                else:
                    r.success()
            if wait is not None:
                REFUSED[(method, name, status)] += 1
            if wait is not None and refusals < MAX_REFUSALS:
                refusals += 1
                wait = min(RETRY_AFTER_CAP, wait)
                time.sleep(wait + random.uniform(0, wait / 2))  # noqa: S311 (jitter, not crypto)
                continue
            if status == 0 and no_answer < MAX_NO_ANSWER:
                no_answer += 1
                time.sleep(2.0**no_answer)
                continue
            return r


def verdicts_in(status: dict) -> bool:
    """Both checks of the status page have a verdict."""
    steps = status["steps"]
    return steps["ktp"]["status"] in {"VALID", "REJECTED"} and steps["nik"]["status"] in {"VERIFIED", "REJECTED"}


class Stopped(Exception):
    """The run time is over: no new step starts."""


class Applicant(HttpUser):
    """One applicant after another through the launch-day way (one task = one applicant)."""

    wait_time = constant(0)

    @task
    def one_applicant(self) -> None:
        taken = next(PEOPLE, None)
        if taken is None or time.time() >= DEADLINE[0]:
            time.sleep(1.0)  # nothing more to do; Locust stops the user at the end of the run
            return
        index, person = taken
        record: dict[str, Any] = {"index": index, "done": [], "pending": None, "stopped": None, "error": None,
                                  "passed": None}
        RECORDS.append(record)
        try:
            self.walk(Http(self), person, index, record)
        except Stopped:
            record["stopped"] = record["pending"]
            record["pending"] = None
        except journey.JourneyError as exc:
            record["error"] = str(exc)[:300]
            record["pending"] = None

    def walk(self, http: Http, person: dict, index: int, record: dict) -> None:
        def step(name: str, work: Any) -> Any:
            if time.time() >= DEADLINE[0]:
                record["pending"] = name
                raise Stopped
            record["pending"] = name
            value = work()
            record["pending"] = None
            record["done"].append(name)
            return value

        email, password = person["email"], person["password"]
        key = str(uuid.uuid4())
        step("signed_up", lambda: journey.sign_up(http, email, password, key))
        token = step("mail_received", lambda: journey.verification_token(http, email, MAIL_TIMEOUT, interval=0.5,
                                                                          backoff=1.5))
        step("email_verified", lambda: journey.confirm_email(http, token))
        tokens = step("signed_in", lambda: journey.sign_in(http, email, password))
        step("status_seen", lambda: journey.me(http, tokens))
        photo = PHOTOS[index % len(PHOTOS)]
        step("ktp_uploaded", lambda: journey.upload_ktp(http, tokens, photo))
        step("biodata", lambda: journey.submit_biodata(http, tokens, person["biodata"]))

        def poll() -> dict:
            remaining = DEADLINE[0] - time.time()
            if remaining <= 0:
                raise Stopped
            try:
                return journey.wait_for("verdicts", lambda: (lambda s: s if verdicts_in(s) else None)(
                    journey.me(http, tokens)), remaining, interval=1.0, backoff=1.6, max_interval=8.0)
            except journey.JourneyError as exc:
                if not str(exc).startswith("timed out"):
                    raise
                raise Stopped from None

        status = step("verdicts_seen", poll)
        answers = PLAN["answers"]
        record["passed"] = step("test_taken", lambda: journey.take_test(http, tokens, answers.__getitem__))
        steps = status["steps"]
        if (PLAN["batch_id"] and record["passed"] and steps["ktp"]["status"] == "VALID"
                and steps["nik"]["status"] == "VERIFIED"):
            step("joined", lambda: journey.join_batch(http, tokens, PLAN["batch_id"]))


@events.test_start.add_listener
def _started(environment: Any, **_kwargs: Any) -> None:
    run_time = getattr(environment.parsed_options, "run_time", None)
    if run_time:
        DEADLINE[0] = time.time() + float(run_time)


@events.quitting.add_listener
def _write_results(environment: Any, **_kwargs: Any) -> None:
    body = {"records": RECORDS,
            "statuses": [[m, n, s, c] for (m, n, s), c in sorted(STATUSES.items())],
            "refused": [[m, n, s, c] for (m, n, s), c in sorted(REFUSED.items())]}
    Path(PLAN["results"]).write_text(json.dumps(body), encoding="utf-8")
