"""Key material from Secrets Manager, through Powertools Parameters (cached for 5 minutes).

The secret (``AppSecrets`` in template.yaml) is a JSON document. The original shape
``{"seed", "jwt_kid", "hmac_kid"}`` is still read as is; rotation (``prakerja-ops keys rotate``,
:mod:`prakerja.services.keys`) adds optional fields::

    {"seed": "<text>",                        # legacy: key of any kid missing from "keys"
     "jwt_kid": "k2", "hmac_kid": "h2",       # current key ids: every write and signature
     "previous_jwt_kids": ["k1"],             # still accepted when verifying access tokens
     "previous_hmac_kids": ["h1"],            # still tried by every lookup until re-keyed
     "keys": {"k2": "<base64url, 32 random bytes>", "h2": "..."},
     "rotated_at": {"jwt": "<ISO UTC>", "hmac": "<ISO UTC>"},
     "active_from": {"jwt": "<ISO UTC>", "hmac": "<ISO UTC>"},
     "retired_at": {"k1": "<ISO UTC>", "h1": "<ISO UTC>"},
     "session_epoch": 1}                      # raised by an emergency JWT rotation: older refresh tokens are dead

**Two phases.** Functions cache the secret for up to ``MAX_AGE_SECONDS``, so right after a
rotation some still hold the version before it. A new kid therefore becomes current only at its
``active_from`` (the rotation + ``MAX_AGE_SECONDS`` + a margin): until then every reader treats
it as a previous kid (tried by every lookup and guarded by every sentinel write, accepted on
tokens) and keeps writing and signing with the old kid, which it treats as current. By the time
the new kid is current everywhere, no function holds a version that does not know it, so one
account per address and per NIK holds throughout and no valid token is refused. The switch is
evaluated on every read (:func:`keys_from_document`), against :mod:`prakerja.clock`.

A kid listed in ``keys`` uses that fresh random material (so a new kid owes nothing to a leaked
seed); any other kid is derived from the seed (HMAC-SHA256 of ``"jwt:<kid>"`` or
``"hmac:<kid>"``), which is how the first kids ``k1``/``h1`` work. Keys never leave the process
and are never logged.

Functions read the secret through :func:`load_keys` (cached ``MAX_AGE_SECONDS``, so a new
version reaches every function within that time). Operators' commands read and write the
document without the cache (:func:`read_document`, :func:`write_document`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from aws_lambda_powertools.utilities import parameters

from prakerja import clock
from prakerja.adapters.aws import client, on_reset

MAX_AGE_SECONDS = 300


class UnknownKeyId(KeyError):
    """A key id that is neither current nor previous (and cannot be derived: no seed)."""


@dataclass(frozen=True)
class Keys:
    """The current and previous key ids and a way to get each key (bytes).

    ``material`` maps kids to their own random keys; other kids derive from ``seed``."""

    seed: bytes
    jwt_kid: str
    hmac_kid: str
    previous_jwt_kids: tuple[str, ...] = ()
    previous_hmac_kids: tuple[str, ...] = ()
    material: Mapping[str, bytes] = field(default_factory=dict)
    #: refresh tokens carry the epoch they were issued in; one from a lower epoch is refused (an
    #: emergency JWT rotation raises it; 0 when the secret has none)
    session_epoch: int = 0

    @property
    def jwt_kids(self) -> tuple[str, ...]:
        """Kids whose access tokens verify: the current one first, then the previous ones."""
        return (self.jwt_kid, *[k for k in self.previous_jwt_kids if k != self.jwt_kid])

    @property
    def hmac_kids(self) -> tuple[str, ...]:
        """Kids every lookup tries: the current one first, then the previous ones."""
        return (self.hmac_kid, *[k for k in self.previous_hmac_kids if k != self.hmac_kid])

    def _key(self, purpose: str, kid: str) -> bytes:
        if kid in self.material:
            return self.material[kid]
        if not self.seed:
            raise UnknownKeyId(kid)
        return hmac.new(self.seed, f"{purpose}:{kid}".encode(), hashlib.sha256).digest()

    def jwt_key(self, kid: str) -> bytes:
        """The HS256 signing key for key id ``kid``."""
        return self._key("jwt", kid)

    def hmac_key(self, kid: str) -> bytes:
        """The keyed-lookup (HMAC-SHA256) key for key id ``kid``."""
        return self._key("hmac", kid)


def keys_from_document(value: Mapping[str, Any]) -> Keys:
    """Parse the secret document (both shapes, see the module docstring) as it reads now: a kid
    whose ``active_from`` is still ahead is a previous kid and the kid before it is current.
    Raises KeyError or ValueError when it is malformed."""
    material = {str(kid): _decode(str(text)) for kid, text in (value.get("keys") or {}).items()}
    active_from = value.get("active_from") or {}
    jwt_kid, previous_jwt = _as_of(str(value["jwt_kid"]), value.get("previous_jwt_kids"), active_from.get("jwt"))
    hmac_kid, previous_hmac = _as_of(str(value["hmac_kid"]), value.get("previous_hmac_kids"),
                                     active_from.get("hmac"))
    return Keys(seed=str(value.get("seed") or "").encode(), jwt_kid=jwt_kid, hmac_kid=hmac_kid,
                previous_jwt_kids=previous_jwt, previous_hmac_kids=previous_hmac, material=material,
                session_epoch=int(value.get("session_epoch") or 0))


def pending(value: Mapping[str, Any], kind: str) -> bool:
    """Whether the document's ``kind`` (``jwt``/``hmac``) kid is not yet current (its
    ``active_from`` is ahead)."""
    at = (value.get("active_from") or {}).get(kind)
    return bool(at) and clock.now() < clock.parse_iso(str(at))


def _as_of(kid: str, previous: Any, active_from: Any) -> tuple[str, tuple[str, ...]]:
    """``(current, previous)`` now: the document's kid, or the one before it until ``active_from``."""
    before = tuple(str(k) for k in previous or ())
    if active_from and before and clock.now() < clock.parse_iso(str(active_from)):
        return before[0], (kid, *before[1:])
    return kid, before


def encode_key(raw: bytes) -> str:
    """The text form of a key in the document's ``keys`` map (base64url)."""
    return base64.urlsafe_b64encode(raw).decode()


def _decode(text: str) -> bytes:
    raw = base64.urlsafe_b64decode(text.encode())
    if len(raw) < 32:
        raise ValueError("a key in the secret is shorter than 32 bytes")
    return raw


def load_keys(secret_name: str) -> Keys:
    """Read the app secret (cached ``MAX_AGE_SECONDS``). Raises if the secret is malformed."""
    provider = _provider()
    value = provider.get(secret_name, transform="json", max_age=MAX_AGE_SECONDS)
    return keys_from_document(value)


def load_text(secret_name: str) -> str:
    """A plain-text secret (the CloudFront origin secret), cached ``MAX_AGE_SECONDS``."""
    return str(_provider().get(secret_name, max_age=MAX_AGE_SECONDS))


def read_document(secret_name: str) -> dict[str, Any]:
    """The secret's current version as a dict, bypassing every cache (operators' commands)."""
    response = client("secretsmanager").get_secret_value(SecretId=secret_name)
    return json.loads(response["SecretString"])


def write_document(secret_name: str, document: Mapping[str, Any]) -> str:
    """Store ``document`` as the secret's new current version (``PutSecretValue``); returns its
    version id. This process forgets its cached copy; functions see it within ``MAX_AGE_SECONDS``."""
    keys_from_document(document)  # never store a document the functions could not read
    response = client("secretsmanager").put_secret_value(SecretId=secret_name,
                                                         SecretString=json.dumps(document, sort_keys=True))
    reset()
    return str(response.get("VersionId", ""))


_PROVIDER: parameters.SecretsProvider | None = None


def _provider() -> parameters.SecretsProvider:
    global _PROVIDER
    if _PROVIDER is None:
        _PROVIDER = parameters.SecretsProvider(boto3_client=client("secretsmanager"))
    return _PROVIDER


def reset() -> None:
    """Forget the provider and its cache (tests, after this process wrote a new version, and the
    local stack when its clock moves). The provider is dropped, not cleared: a thread in the
    middle of a read keeps the old one intact and the next read starts a fresh cache."""
    global _PROVIDER
    _PROVIDER = None


on_reset(reset)  # a fresh emulator or a reset test forgets the cached secrets too
