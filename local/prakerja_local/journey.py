"""One applicant's way through the HTTP API, step by step, with nothing but the standard library.

Shared by the demo (:mod:`prakerja_local.demo`, over an ``httpx.Client``) and the load
rehearsal's Locust users (``bench/rehearsal_locustfile.py``, over Locust's ``requests`` session),
so both drive the same requests. ``http`` is any client with ``get``/``post``/``put(url,
**kwargs)`` that accepts paths relative to the stack's base URL (and absolute URLs, for the
presigned S3 POST), with ``json=``, ``headers=``, ``params=``, ``data=`` and ``files=`` as
``httpx`` and ``requests`` both take them; responses have ``status_code``, ``headers``,
``content``, ``text`` and ``json()``.

``tokens`` is the dict ``POST /v1/sessions`` answers (``access_token``, ``refresh_token``, ...);
:func:`refresh` replaces its content in place, so every holder sees the new tokens.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

# the emailed link is the web client's page, {base}/verifikasi-email#token=<token>
VERIFY_LINK = re.compile(r"(?:#token=|/v1/email-verifications/)([A-Za-z0-9_-]+)")
VERIFICATION_SUBJECT = "Konfirmasi email"  # start of the verification email's subject (services/mail.py)


class JourneyError(RuntimeError):
    """The stack answered something the journey did not expect."""


def expect(response: Any, status: int, what: str) -> dict:
    """``response.json()`` (``{}`` when empty) if its status is ``status``, else JourneyError."""
    if response.status_code != status:
        raise JourneyError(f"{what}: expected {status}, got {response.status_code} {response.text[:200]}")
    return response.json() if response.content else {}


def wait_for(what: str, check: Callable[[], Any], timeout: float, interval: float = 0.2, backoff: float = 1.0,
             max_interval: float = 8.0, sleep: Callable[[float], None] = time.sleep) -> Any:
    """``check()``'s first truthy value, polling every ``interval`` s, the pause multiplied by
    ``backoff`` after each miss (at most ``max_interval`` s). JourneyError after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    pause = interval
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        sleep(min(pause, max(0.0, deadline - time.monotonic())))
        pause = min(max_interval, pause * backoff)
    raise JourneyError(f"timed out waiting for {what}")


def auth(tokens: dict) -> dict[str, str]:
    """The ``Authorization`` header for ``tokens``."""
    return {"Authorization": f"Bearer {tokens['access_token']}"}


def sign_up(http: Any, email: str, password: str, idempotency_key: str | None = None) -> None:
    """``POST /v1/accounts`` (with consent); 202 expected."""
    headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
    expect(http.post("/v1/accounts", json={"email": email, "password": password, "consent": True},
                     headers=headers), 202, "sign-up")


def verification_mails(http: Any, email: str) -> list[dict]:
    """The verification emails the local mailbox (``GET /_local/mailbox?to=``) holds for ``email``."""
    mails = http.get("/_local/mailbox", params={"to": email}).json()
    return [m for m in mails if str(m.get("subject", "")).startswith(VERIFICATION_SUBJECT)]


def verification_token(http: Any, email: str, timeout: float, interval: float = 0.2, backoff: float = 1.0,
                       sleep: Callable[[float], None] = time.sleep) -> str:
    """The token of the verification link mailed to ``email``, once the mailbox holds it."""
    mails = wait_for("verification email", lambda: verification_mails(http, email), timeout, interval, backoff,
                     sleep=sleep)
    found = VERIFY_LINK.search(mails[0]["text"])
    if found is None:
        raise JourneyError("verification email without a link")
    return found.group(1)


def confirm_email(http: Any, token: str) -> None:
    """Open the link (``GET``, 200) and confirm it (``POST``, 200)."""
    expect(http.get(f"/v1/email-verifications/{token}"), 200, "describe link")
    expect(http.post(f"/v1/email-verifications/{token}"), 200, "confirm link")


def sign_in(http: Any, email: str, password: str) -> dict:
    """``POST /v1/sessions``; the tokens (200 expected)."""
    return expect(http.post("/v1/sessions", json={"email": email, "password": password}), 200, "sign-in")


def refresh(http: Any, tokens: dict) -> None:
    """Refresh the access token as a real client does after time moved on (``tokens`` in place)."""
    r = http.post("/v1/sessions/refresh", json={"refresh_token": tokens["refresh_token"]})
    if r.status_code != 200:
        raise JourneyError(f"refresh failed: {r.status_code}")
    fresh = r.json()
    tokens.clear()
    tokens.update(fresh)


def authorized(http: Any, method: str, url: str, tokens: dict, **kwargs: Any) -> Any:
    """``method`` ``url`` with the access token; once more after a refresh if it answers 401."""
    r = getattr(http, method)(url, headers=auth(tokens), **kwargs)
    if r.status_code == 401:
        refresh(http, tokens)
        r = getattr(http, method)(url, headers=auth(tokens), **kwargs)
    return r


def me(http: Any, tokens: dict) -> dict:
    """``GET /v1/me`` (the status page), refreshing the token on 401; JourneyError if not 200."""
    return expect(authorized(http, "get", "/v1/me", tokens), 200, "status")


def upload_ktp(http: Any, tokens: dict, photo: bytes) -> None:
    """Presign (``POST /v1/me/documents/ktp``) and upload ``photo`` (JPEG bytes) with the POST."""
    grant = expect(authorized(http, "post", "/v1/me/documents/ktp", tokens, json={"content_type": "image/jpeg"}),
                   200, "presign")
    r = http.post(grant["url"], data=grant["fields"], files={"file": ("ktp.jpg", photo, "image/jpeg")})
    if r.status_code not in (200, 201, 204):
        raise JourneyError(f"upload to S3 failed: {r.status_code}")


def submit_biodata(http: Any, tokens: dict, body: dict, status: int = 202) -> None:
    """``PUT /v1/me/biodata`` with ``body``; ``status`` expected (202, or 422 for a caught typo)."""
    expect(authorized(http, "put", "/v1/me/biodata", tokens, json=body), status, "biodata")


def take_test(http: Any, tokens: dict, choose: Callable[[str], str]) -> bool:
    """Start the test, answer each question with ``choose(question_id)`` (an option id), submit;
    whether it passed."""
    started = expect(authorized(http, "post", "/v1/me/assessment", tokens), 200, "start test")
    for q in started["questions"]:
        expect(authorized(http, "put", f"/v1/me/assessment/answers/{q['question_id']}", tokens,
                          json={"option_id": choose(q["question_id"])}), 200, "answer")
    return bool(expect(authorized(http, "post", "/v1/me/assessment/submit", tokens), 200, "submit")["passed"])


def join_batch(http: Any, tokens: dict, batch_id: str, status: int = 201) -> None:
    """``POST /v1/batches/<id>/participants``; ``status`` expected (201, or 409 when closed)."""
    expect(authorized(http, "post", f"/v1/batches/{batch_id}/participants", tokens), status, f"join {batch_id}")


def open_batch(http: Any) -> dict | None:
    """The first batch the public listing shows as OPEN, or None."""
    found = [b for b in http.get("/v1/batches").json()["batches"] if b["status"] == "OPEN"]
    return found[0] if found else None
