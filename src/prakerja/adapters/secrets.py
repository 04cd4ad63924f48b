"""Key material from Secrets Manager, through Powertools Parameters (cached for 5 minutes).

The secret (``AppSecrets`` in template.yaml) is JSON ``{"seed", "jwt_kid", "hmac_kid"}``; the
JWT signing key and the HMAC lookup key are derived from the seed per key id, so rotating is a
new key id (see the runbook). Keys never leave the process and are never logged.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from aws_lambda_powertools.utilities import parameters

from prakerja.adapters.aws import client

MAX_AGE_SECONDS = 300


@dataclass(frozen=True)
class Keys:
    """The current key ids and a way to derive each key (bytes)."""

    seed: bytes
    jwt_kid: str
    hmac_kid: str

    def jwt_key(self, kid: str) -> bytes:
        """The HS256 signing key for key id ``kid``."""
        return hmac.new(self.seed, f"jwt:{kid}".encode(), hashlib.sha256).digest()

    def hmac_key(self, kid: str) -> bytes:
        """The keyed-lookup (HMAC-SHA256) key for key id ``kid``."""
        return hmac.new(self.seed, f"hmac:{kid}".encode(), hashlib.sha256).digest()


def load_keys(secret_name: str) -> Keys:
    """Read the app secret (cached ``MAX_AGE_SECONDS``). Raises if the secret is malformed."""
    provider = _provider()
    value = provider.get(secret_name, transform="json", max_age=MAX_AGE_SECONDS)
    return Keys(seed=str(value["seed"]).encode(), jwt_kid=str(value["jwt_kid"]), hmac_kid=str(value["hmac_kid"]))


_PROVIDER: parameters.SecretsProvider | None = None


def _provider() -> parameters.SecretsProvider:
    global _PROVIDER
    if _PROVIDER is None:
        _PROVIDER = parameters.SecretsProvider(boto3_client=client("secretsmanager"))
    return _PROVIDER


def reset() -> None:
    """Forget the provider and its cache (tests)."""
    global _PROVIDER
    if _PROVIDER is not None:
        _PROVIDER.clear_cache()
    _PROVIDER = None
