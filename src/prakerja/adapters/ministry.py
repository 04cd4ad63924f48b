"""The ministry's NIK verification service (Dukcapil), reached only by the verify_nik worker.

Every call carries a deterministic ``request_id`` (applicant + biodata version) so that the
ministry de-duplicates a retry after a crash. 429, 5xx, timeouts, connection errors and replies
that do not parse are *transient* (:class:`MinistryUnavailable`): the message goes back to the
queue. A parsed reply is a definitive outcome.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

if TYPE_CHECKING:
    import httpx

Outcome = Literal["VERIFIED", "REJECTED"]
Reason = Literal["NOT_FOUND", "DATA_MISMATCH", "DECEASED", "INACTIVE", "NOT_CITIZEN", "EXCLUDED"]


class MinistryUnavailable(Exception):
    """A transient failure; ``retry_after`` (seconds) when the ministry said so. ``kind`` is a
    code (``timeout``, ``connection``, ``http_<status>``, ``bad_reply``, ``wrong_request_id``);
    no message ever carries the request's personal data."""

    def __init__(self, kind: str, retry_after: float | None = None) -> None:
        super().__init__(kind)
        self.kind = kind
        self.retry_after = retry_after

    @property
    def overload(self) -> bool:
        """Whether the failure says the service is down or overloaded (timeouts, connection
        errors, 429, 5xx): what a circuit breaker counts. Other failures concern one request."""
        if self.kind in ("timeout", "connection"):
            return True
        if self.kind.startswith("http_"):
            status = int(self.kind.removeprefix("http_"))
            return status == 429 or status >= 500
        return False


class MinistryReply(BaseModel):
    """A definitive answer for one request."""

    model_config = ConfigDict(extra="ignore")

    request_id: str
    result: Outcome
    reason: Reason | None = None
    mismatched_fields: list[str] = []
    citizenship: Literal["WNI", "WNA"] | None = None
    excluded: str | None = None


class Ministry:
    """HTTP client of the ministry service (one per process, connection pooling).

    httpx is imported here, not with the module: the biodata function imports this module
    (through ``services.nik_check``, for the envelope context) but never calls the ministry, so
    its cold start does without httpx."""

    def __init__(self, base_url: str, timeout_seconds: float) -> None:
        import httpx

        self.http = httpx.Client(base_url=base_url.rstrip("/"), timeout=timeout_seconds)

    def verify(self, request_id: str, nik: str, full_name: str, date_of_birth: str) -> MinistryReply:
        """Ask the ministry to verify one person. Raises MinistryUnavailable when transient."""
        import httpx

        try:
            response = self.http.post("/v1/nik/verify", json={
                "request_id": request_id, "nik": nik, "full_name": full_name, "date_of_birth": date_of_birth})
        except httpx.TimeoutException as exc:
            raise MinistryUnavailable("timeout") from exc
        except httpx.HTTPError as exc:
            raise MinistryUnavailable("connection") from exc
        if response.status_code == 429 or response.status_code >= 500:
            raise MinistryUnavailable(f"http_{response.status_code}", _retry_after(response))
        if response.status_code != 200:
            raise MinistryUnavailable(f"http_{response.status_code}")
        try:
            reply = MinistryReply.model_validate_json(response.content)
        except ValidationError as exc:
            raise MinistryUnavailable("bad_reply") from exc
        if reply.request_id != request_id:
            raise MinistryUnavailable("wrong_request_id")
        return reply


def _retry_after(response: httpx.Response) -> float | None:
    try:
        return float(response.headers.get("retry-after", ""))
    except ValueError:
        return None
