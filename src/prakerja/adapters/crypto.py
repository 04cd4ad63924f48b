"""Envelope encryption of identity numbers (NIK, KK) with AWS KMS and AES-256-GCM.

A data key comes from KMS ``GenerateDataKey`` (AES-256) and is cached by this process for at most
``MAX_KEY_AGE_SECONDS`` or ``MAX_KEY_USES`` encryptions, so a burst of sign-ups costs one KMS call
per instance, not one per applicant. Each value is sealed with AES-GCM under a fresh 96-bit
nonce; the associated data binds the ciphertext to its owner and field (``aad``, e.g.
``"<applicant_id>:nik"``), so a ciphertext copied onto another applicant does not open. The
stored envelope holds the KMS key id beside the ciphertext, so keys can rotate::

    {"v": 1, "kid": <KMS key ARN>, "edk": <encrypted data key, b64>, "iv": <b64>, "ct": <b64>}

Opening asks KMS to ``Decrypt`` the data key once per distinct ``edk`` (cached, bounded). No
plaintext, key or ciphertext is ever logged; errors carry codes only.
"""

from __future__ import annotations

import base64
import os
import threading
from collections import OrderedDict
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from prakerja import clock
from prakerja.adapters.aws import client

VERSION = 1
MAX_KEY_AGE_SECONDS = 300
MAX_KEY_USES = 100_000
OPEN_CACHE_SIZE = 64
# The KMS encryption context of every data key (logged by CloudTrail; no personal data).
KMS_CONTEXT = {"purpose": "prakerja-pii"}


class EnvelopeError(Exception):
    """An envelope is malformed, was tampered with, or its key cannot be used (code only)."""


class Envelopes:
    """Seals and opens values under one KMS key (``key_id``: id, ARN or alias)."""

    def __init__(self, key_id: str) -> None:
        if not key_id:
            raise ValueError("a KMS key id is required")
        self.key_id = key_id
        self._lock = threading.Lock()
        self._current: tuple[bytes, dict[str, str], float, int] | None = None  # key, meta, born, uses
        self._opened: OrderedDict[str, bytes] = OrderedDict()

    def seal(self, plaintext: str, aad: str) -> dict[str, Any]:
        """The envelope of ``plaintext`` bound to ``aad`` (a JSON-ready dict)."""
        key, meta = self._data_key()
        nonce = os.urandom(12)
        sealed = AESGCM(key).encrypt(nonce, plaintext.encode(), aad.encode())
        return {"v": VERSION, "kid": meta["kid"], "edk": meta["edk"], "iv": _b64(nonce), "ct": _b64(sealed)}

    def open(self, envelope: Any, aad: str) -> str:
        """The plaintext of an envelope made by :meth:`seal` with the same ``aad``.

        Raises EnvelopeError (malformed, wrong ``aad``, tampered, or KMS refused the data key)."""
        if not isinstance(envelope, dict) or envelope.get("v") != VERSION:
            raise EnvelopeError("ENVELOPE_MALFORMED")
        try:
            nonce, sealed, edk = (base64.b64decode(envelope[k]) for k in ("iv", "ct", "edk"))
        except (KeyError, TypeError, ValueError) as exc:
            raise EnvelopeError("ENVELOPE_MALFORMED") from exc
        key = self._open_data_key(envelope["edk"], edk)
        try:
            return AESGCM(key).decrypt(nonce, sealed, aad.encode()).decode()
        except (InvalidTag, ValueError) as exc:
            raise EnvelopeError("ENVELOPE_INVALID") from exc

    def _data_key(self) -> tuple[bytes, dict[str, str]]:
        now = clock.now().timestamp()
        with self._lock:
            current = self._current
            if current and now - current[2] < MAX_KEY_AGE_SECONDS and current[3] < MAX_KEY_USES:
                self._current = (current[0], current[1], current[2], current[3] + 1)
                return current[0], current[1]
        response = client("kms").generate_data_key(KeyId=self.key_id, KeySpec="AES_256",
                                                   EncryptionContext=KMS_CONTEXT)
        key = response["Plaintext"]
        meta = {"kid": response["KeyId"], "edk": _b64(response["CiphertextBlob"])}
        with self._lock:
            self._current = (key, meta, now, 1)
            self._remember(meta["edk"], key)
        return key, meta

    def _open_data_key(self, edk_text: str, edk: bytes) -> bytes:
        with self._lock:
            key = self._opened.get(edk_text)
            if key is not None:
                self._opened.move_to_end(edk_text)
                return key
        try:
            response = client("kms").decrypt(CiphertextBlob=edk, EncryptionContext=KMS_CONTEXT)
        except Exception as exc:  # botocore errors: the message names no plaintext, but keep codes only
            raise EnvelopeError("ENVELOPE_KEY_UNAVAILABLE") from exc
        key = response["Plaintext"]
        with self._lock:
            self._remember(edk_text, key)
        return key

    def _remember(self, edk_text: str, key: bytes) -> None:
        self._opened[edk_text] = key
        self._opened.move_to_end(edk_text)
        while len(self._opened) > OPEN_CACHE_SIZE:
            self._opened.popitem(last=False)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def nik_aad(applicant_id: str) -> str:
    """The associated data (``aad``) binding an applicant's NIK envelope to them (biodata seals,
    the NIK worker, key rotation and privacy open with it)."""
    return f"{applicant_id}:nik"


def kk_aad(applicant_id: str) -> str:
    """The associated data binding an applicant's KK envelope to them."""
    return f"{applicant_id}:kk"
