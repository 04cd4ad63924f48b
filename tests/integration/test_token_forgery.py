"""Forged and misused access tokens get 401 TOKEN_INVALID on a protected route, never data
(docs/security.md: `alg: none`, a changed signature, an unknown kid, a refresh token)."""

from __future__ import annotations

import base64
import json

import jwt
import pytest

from prakerja.adapters.secrets import keys_from_document, read_document
from tests.integration.support import sign_in, verified_applicant


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def forgeries(stack, session: dict) -> dict[str, str]:
    """Each way of forging or misusing a token, built from a real one."""
    real = session["access_token"]
    header = jwt.get_unverified_header(real)
    claims = jwt.decode(real, options={"verify_signature": False})
    head, body, sig = real.split(".")
    keys = keys_from_document(read_document(stack.env("SECRETS_NAME")))
    flipped = ("A" if sig[0] != "A" else "B") + sig[1:]
    return {
        "alg_none": f"{_b64({'alg': 'none', 'typ': 'JWT', 'kid': header['kid']})}.{body}.",
        "changed_signature": f"{head}.{body}.{flipped}",
        "changed_claims": f"{head}.{_b64(claims | {'sub': 'someone-else'})}.{sig}",
        "unknown_kid": jwt.encode(claims, keys.jwt_key(keys.jwt_kid), algorithm="HS256", headers={"kid": "k99"}),
        "other_key": jwt.encode(claims, "x" * 32, algorithm="HS256", headers={"kid": header["kid"]}),
        "refresh_as_access": session["refresh_token"],
    }


@pytest.mark.parametrize("kind", ["alg_none", "changed_signature", "changed_claims", "unknown_kid", "other_key",
                                  "refresh_as_access"])
def test_a_forged_or_misused_token_is_401_and_shows_nothing(stack, kind):
    # Given a signed-in applicant whose token works
    address = f"palsu.{kind.replace('_', '-')}@example.id"
    verified_applicant(stack, address)
    session = sign_in(stack, address)
    assert stack.call("GET", "/v1/me", token=session["access_token"]).status == 200
    # When a forged or misused token is presented
    r = stack.call("GET", "/v1/me", token=forgeries(stack, session)[kind])
    # Then the answer is 401 TOKEN_INVALID in the error shape, with no applicant data
    assert r.status == 401 and r.body["code"] == "TOKEN_INVALID"
    assert "applicant_id" not in r.body and "steps" not in r.body
