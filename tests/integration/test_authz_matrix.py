"""The authorization matrix (issue 15, item 3): every HTTP route of every function template.yaml
routes, called with every kind of bad token, and with applicant B's token on applicant A's ids
(upload id and key, batch id, question id, NIK, emailed links, applicant id in a body).

``ROWS`` states one expected outcome per route; ``BAD_TOKENS`` the 401 code of each bad token.
The cases are parametrised from the template's routes, and
``test_every_route_of_every_app_has_a_row`` compares the routes the FastAPI apps really serve
(and whether each one depends on the bearer check) with ``ROWS``: a new route without a row, or a
row saying "public" for a route that reads the token (or the other way round), fails, naming it.

Every case asserts: the stated status (never a 2xx for a bad token on a token route); every
error in the ``{code, message, fields}`` shape with a catalogued code; none of A's synthetic
identifiers (applicant id, email addresses, name, NIK and its HMAC, upload id and key, link and
session tokens) in B's or a forger's response; and, on token routes, none of A's items (table
items or KTP objects naming A) changed. One moto world is shared by the module (applicants are
built once); callers whose own call ends their account or session get a fresh one.
"""

from __future__ import annotations

import base64
import itertools
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import boto3
import jwt
import pytest
from fastapi.routing import APIRoute
from moto import mock_aws

from prakerja import clock as prakerja_clock
from prakerja.adapters import aws as aws_adapter
from prakerja.adapters.secrets import keys_from_document, read_document
from prakerja.api.i18n import MESSAGES
from prakerja_local.template import Template
from tests.integration.accounts_support import link, mails_to
from tests.integration.conftest import MovableClock
from tests.integration.harness import Response, Stack, start_stack
from tests.integration.support import PASSWORD, sign_in, verified_applicant
from tests.integration.test_privacy import form, journey, ops

TEMPLATE_ROUTES = sorted({(r.method, r.path) for r in Template.load().routes()})
A_PASSWORD = "jeruk-nipis-segar-31"  # A's password after spending a reset link
BATCH = "2026-05"


# ------------------------------------------------------------------ the bad tokens
def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


#: kind -> the 401 code every token route answers with it (prakerja.services.security)
BAD_TOKENS: dict[str, str] = {
    "no_token": "UNAUTHENTICATED",
    "not_bearer": "UNAUTHENTICATED",          # "Basic <A's token>"
    "expired": "TOKEN_EXPIRED_SESSION",       # A's claims, exp in the past, signed with the real key
    "changed_signature": "TOKEN_INVALID",
    "alg_none": "TOKEN_INVALID",
    "unknown_kid": "TOKEN_INVALID",           # signed with the real key under a kid the keys lack
    "refresh_as_access": "TOKEN_INVALID",     # A's live refresh token as the bearer
    "erased_account": "TOKEN_INVALID",        # a token of an account erased with DELETE /v1/me
    "erased_by_operator": "TOKEN_INVALID",    # ... erased by `prakerja-ops applicant delete --yes`
    "signed_out": "TOKEN_EXPIRED_SESSION",    # A's token from a session ended with DELETE /v1/sessions
    "sub_of_another": "TOKEN_INVALID",        # B's token with sub changed to A's applicant id
}


# ------------------------------------------------------------------ the shared world
@dataclass
class World:
    """The applicants and A's ids: ``a`` is the victim (every step done, joined ``BATCH``, an
    issued upload, a live and a spent reset link, a spent verification link, a live email-change
    link), ``b`` the intruder (verified email, test started: no other step)."""

    stack: Stack
    a: dict
    b: dict
    bad: dict[str, str] = field(default_factory=dict)
    bad_refresh: dict[str, str] = field(default_factory=dict)
    serial: Iterator[int] = field(default_factory=itertools.count)

    def needles(self) -> list[str]:
        """A's synthetic identifiers, lower-case: none may appear in a response to B or a forger."""
        a = self.a
        return [str(v).lower() for v in (a["aid"], a["email"], a["new_email"], a["name"], a["nik"], a["nik_key"],
                                         a["email_key"], a["upload_id"], a["ktp_key"], a["verify_used"],
                                         a["reset_used"], a["reset_live"], a["change_live"], a["token"],
                                         a["refresh"], a["signed_out_refresh"])]

    def throwaway(self) -> str:
        """A fresh verified applicant's access token (for calls that end the caller's account)."""
        return verified_applicant(self.stack, f"sekali.{next(self.serial)}@example.id")

    def intruder(self) -> str:
        """A new session of B (a case may end B's sessions; the next one signs in again)."""
        return sign_in(self.stack, self.b["email"])["access_token"]


def _spend_reset(stack: Stack, email: str, password: str) -> str:
    """Request a reset link for ``email``, spend it setting ``password``; the spent link."""
    assert stack.call("POST", "/v1/password-resets", {"email": email}).status == 202
    token = link(mails_to(stack, email)[-1]["body"], "password-resets")
    assert stack.call("POST", f"/v1/password-resets/{token}", {"password": password}).status == 200
    return token


def _victim(stack: Stack, ministry) -> dict:
    """Applicant A with every step done and one id of each kind the API takes."""
    email = "ani.korban@example.id"
    a = journey(stack, ministry, email, 1, "Ani Korbanwati", BATCH)
    mails = mails_to(stack, email)
    a["verify_used"] = link(mails[0]["body"], "email-verifications")  # spent by verified_applicant
    a["reset_used"] = _spend_reset(stack, email, A_PASSWORD)           # ends A's sessions
    assert stack.call("POST", "/v1/password-resets", {"email": email}).status == 202
    a["reset_live"] = link(mails_to(stack, email)[-1]["body"], "password-resets")
    ended = sign_in(stack, email, A_PASSWORD)
    a["signed_out"], a["signed_out_refresh"] = ended["access_token"], ended["refresh_token"]
    assert stack.call("DELETE", "/v1/sessions", token=a["signed_out"]).status == 204
    session = sign_in(stack, email, A_PASSWORD)
    a["token"], a["refresh"] = session["access_token"], session["refresh_token"]
    a["new_email"] = "ani.baru@example.id"
    assert stack.call("PUT", "/v1/me/email", {"email": a["new_email"], "password": A_PASSWORD},
                      token=a["token"]).status == 202
    a["change_live"] = link(mails_to(stack, a["new_email"])[-1]["body"], "email-verifications")
    grant = stack.call("POST", "/v1/me/documents/ktp", {"content_type": "image/png"}, token=a["token"]).body
    a["upload_id"], a["ktp_key"] = grant["upload_id"], grant["fields"]["key"]
    a["question_ids"] = _attempt_questions(stack, a["aid"])  # A's scored attempt
    return a


def _attempt_questions(stack: Stack, applicant_id: str) -> list[str]:
    table = boto3.resource("dynamodb").Table(stack.env("APPLICANTS_TABLE"))
    return list(table.get_item(Key={"pk": f"APP#{applicant_id}", "sk": "ASSESSMENT"})["Item"]["question_ids"])


def _forge(stack: Stack, a: dict, b: dict, erased: str) -> dict[str, str]:
    real = a["token"]
    header = jwt.get_unverified_header(real)
    claims = jwt.decode(real, options={"verify_signature": False})
    head, body, sig = real.split(".")
    keys = keys_from_document(read_document(stack.env("SECRETS_NAME")))
    now = prakerja_clock.epoch()
    b_head, b_body, b_sig = b["token"].split(".")
    b_claims = jwt.decode(b["token"], options={"verify_signature": False})
    return {
        "not_bearer": f"Basic {real}",
        "expired": jwt.encode(claims | {"iat": now - 3600, "nbf": now - 3600, "exp": now - 60},
                              keys.jwt_key(keys.jwt_kid), algorithm="HS256", headers={"kid": keys.jwt_kid}),
        "changed_signature": f"{head}.{body}.{('A' if sig[0] != 'A' else 'B') + sig[1:]}",
        "alg_none": f"{_b64({'alg': 'none', 'typ': 'JWT', 'kid': header['kid']})}.{body}.",
        "unknown_kid": jwt.encode(claims, keys.jwt_key(keys.jwt_kid), algorithm="HS256", headers={"kid": "k99"}),
        "refresh_as_access": a["refresh"],
        "erased_account": erased,
        "signed_out": a["signed_out"],
        "sub_of_another": f"{b_head}.{_b64(b_claims | {'sub': a['aid']})}.{b_sig}",
    }


@pytest.fixture(scope="module")
def world(ministry) -> Iterator[World]:
    """One moto world for the module: A, B, an erased account and the forged tokens."""
    c = MovableClock(datetime(2026, 4, 11, 3, 0, tzinfo=UTC))
    prakerja_clock.set_source(lambda: c.now)
    ministry.simulator.__init__()
    try:
        with mock_aws():
            aws_adapter.reset()
            stack = start_stack({"MinistryUrl": ministry.url, "SesBurst": "100000"})
            from tests.integration.test_batches import add_batch

            add_batch(stack, BATCH, -1, 48, 72, 10)
            a = _victim(stack, ministry)
            b = {"email": "bayu.penyusup@example.id"}
            b["token"] = verified_applicant(stack, b["email"])
            b["aid"] = stack.call("GET", "/v1/me", token=b["token"]).body["applicant_id"]
            b_questions = [q["question_id"] for q in
                           stack.call("POST", "/v1/me/assessment", token=b["token"]).body["questions"]]
            foreign = [q for q in a["question_ids"] if q not in b_questions]
            assert foreign, "A's and B's tests drew the same questions: no question id of A's to try"
            a["foreign_question"] = foreign[0]
            verified_applicant(stack, "terhapus@example.id")
            erased = sign_in(stack, "terhapus@example.id")
            assert stack.call("DELETE", "/v1/me", {"password": PASSWORD}, token=erased["access_token"]).status == 204
            gone = verified_applicant(stack, "dihapus.operator@example.id")
            assert ops("applicant", "delete", "dihapus.operator@example.id", "--yes")[0] == 0
            w = World(stack, a, b)
            w.bad = _forge(stack, a, b, erased["access_token"]) | {"erased_by_operator": gone}
            w.bad_refresh = {"never_issued": NEVER_ISSUED, "erased_account": erased["refresh_token"],
                             "signed_out": a["signed_out_refresh"], "access_as_refresh": a["token"]}
            yield w
            aws_adapter.reset()
    finally:
        prakerja_clock.set_source(None)


# ------------------------------------------------------------------ the rows
Call = Callable[[World], tuple[str, Any]]


@dataclass(frozen=True)
class Row:
    """One route's expected outcomes.

    ``call`` builds the path and body carrying A's ids; it is sent with B's token (the
    ``b_on_a`` case, expected ``status``/``code``) and with each bad token (token routes: 401 and
    the kind's code; public routes: the same ``status``, the header being ignored). ``public`` is
    the reason a route needs no token (None: it needs one). ``throwaway``: the call ends the
    caller's account or consent, so B's case uses a fresh applicant. ``a_may_change``: a public
    route that by design acts on A's address or link (A's items are then not compared)."""

    call: Call
    status: int
    code: str | None = None
    why: str = ""
    public: str | None = None
    throwaway: bool = False
    a_may_change: bool = False


def _p(path: str, body: Any = None) -> Call:
    return lambda w: (path, body)


A_IDS: Callable[[World], dict] = lambda w: {  # noqa: E731  ids of A's a careless handler might trust
    "applicant_id": w.a["aid"], "upload_id": w.a["upload_id"], "key": w.a["ktp_key"]}

NEVER_ISSUED = "x" * 43

ROWS: dict[tuple[str, str], Row] = {
    # register
    ("POST", "/v1/accounts"): Row(
        lambda w: ("/v1/accounts", {"email": w.a["email"], "password": PASSWORD, "consent": True}), 202,
        public="sign-up: no account yet", a_may_change=True,
        why="A's address gets the same neutral 202 as any other (A is mailed a notice, limited per target)"),
    ("POST", "/v1/sessions"): Row(
        lambda w: ("/v1/sessions", {"email": w.b["email"], "password": PASSWORD}), 200,
        public="sign-in: the credentials are the body", why="B's own session; the bearer header is ignored"),
    ("POST", "/v1/sessions/refresh"): Row(
        _p("/v1/sessions/refresh", {"refresh_token": NEVER_ISSUED}), 401, "REFRESH_INVALID",
        public="the refresh token in the body is the credential (rotating; reuse revokes the family)",
        why="a refresh token never issued"),
    ("DELETE", "/v1/sessions"): Row(
        _p("/v1/sessions"), 204, why="ends B's own sessions only (no id in the request)"),
    ("GET", "/v1/me"): Row(_p("/v1/me"), 200, why="B's own status only"),
    ("DELETE", "/v1/me"): Row(
        lambda w: ("/v1/me", {"password": PASSWORD} | A_IDS(w)), 204, throwaway=True,
        why="erases the caller only; A's ids in the body are ignored"),
    ("PUT", "/v1/me/password"): Row(
        lambda w: ("/v1/me/password", {"current_password": PASSWORD, "new_password": A_PASSWORD} | A_IDS(w)),
        200, throwaway=True, why="changes the caller's password only"),
    ("PUT", "/v1/me/email"): Row(
        lambda w: ("/v1/me/email", {"email": w.a["email"], "password": PASSWORD} | A_IDS(w)), 202,
        why="A's address as B's new one: the same neutral 202, nothing of A's told or changed"),
    ("DELETE", "/v1/me/consent"): Row(
        lambda w: ("/v1/me/consent", None), 200, throwaway=True, why="withdraws the caller's consent only"),
    ("PUT", "/v1/me/consent"): Row(
        lambda w: ("/v1/me/consent", {"consent": True} | A_IDS(w)), 200, why="B's own consent only"),
    ("POST", "/v1/password-resets"): Row(
        lambda w: ("/v1/password-resets", {"email": w.a["email"]}), 202, a_may_change=True,
        public="forgotten password: no session", why="neutral 202; the link goes to A's inbox, not to the caller"),
    ("GET", "/v1/password-resets/{token}"): Row(
        lambda w: (f"/v1/password-resets/{w.a['reset_live']}", None), 200,
        public="the emailed link is the credential (random, single use, expiring)",
        why="A's live link tells purpose and expiry only, no identifier"),
    ("POST", "/v1/password-resets/{token}"): Row(
        lambda w: (f"/v1/password-resets/{w.a['reset_used']}", {"password": "nanas-madu-manis-9"}), 410,
        "TOKEN_USED", public="the emailed link is the credential (random, single use, expiring)",
        why="A's spent link stays spent"),
    # verify_email
    ("GET", "/v1/email-verifications/{token}"): Row(
        lambda w: (f"/v1/email-verifications/{w.a['change_live']}", None), 200,
        public="the emailed link is the credential (random, single use, expiring)",
        why="A's live email-change link tells purpose and expiry only, neither address"),
    ("POST", "/v1/email-verifications/{token}"): Row(
        lambda w: (f"/v1/email-verifications/{w.a['verify_used']}", None), 410, "TOKEN_USED",
        public="the emailed link is the credential (random, single use, expiring)",
        why="A's spent verification link stays spent"),
    ("POST", "/v1/email-verifications"): Row(
        lambda w: ("/v1/email-verifications", A_IDS(w)), 202, why="resends to B's own address only"),
    # upload_ktp
    ("POST", "/v1/me/documents/ktp"): Row(
        lambda w: ("/v1/me/documents/ktp", {"content_type": "image/jpeg"} | A_IDS(w)), 200,
        why="a grant for a new upload under B's own prefix; A's upload id and key are ignored"),
    # verify_nik
    ("PUT", "/v1/me/biodata"): Row(
        lambda w: ("/v1/me/biodata", form(w.a["nik"], "Bayu Penyusup")), 409, "NIK_ALREADY_USED",
        why="A's verified NIK on B's form"),
    ("GET", "/v1/me/biodata"): Row(_p("/v1/me/biodata"), 404, why="B has no biodata; A's is never shown"),
    ("POST", "/v1/me/biodata/preview"): Row(
        lambda w: ("/v1/me/biodata/preview", form(w.a["nik"], "Bayu Penyusup")), 200,
        why="checks the form alone: says nothing of whether the NIK is registered"),
    # assessment
    ("POST", "/v1/me/assessment"): Row(_p("/v1/me/assessment"), 200, why="B's own attempt only"),
    ("PUT", "/v1/me/assessment/answers/{question_id}"): Row(
        lambda w: (f"/v1/me/assessment/answers/{w.a['foreign_question']}", {"option_id": "a"}), 422,
        "QUESTION_INVALID", why="a question of A's attempt is not in B's"),
    ("POST", "/v1/me/assessment/submit"): Row(
        lambda w: ("/v1/me/assessment/submit", {"answers": {w.a["foreign_question"]: "a"}}), 422,
        "QUESTION_INVALID", why="a question of A's attempt is not in B's"),
    # batches
    ("GET", "/v1/batches"): Row(_p("/v1/batches"), 200, public="the batch calendar is public",
                                why="lists batches, never members"),
    ("POST", "/v1/batches/{batch_id}/participants"): Row(
        lambda w: (f"/v1/batches/{BATCH}/participants", A_IDS(w)), 403, "NOT_ELIGIBLE",
        why="A's batch: B joins (or not) as B only, and B has not done the steps"),
}


# ------------------------------------------------------------------ checks
def _a_state(w: World) -> list[str]:
    """Every table item and KTP object naming A, serialised (to compare before and after)."""
    aid, found = w.a["aid"], []
    for name in ("APPLICANTS_TABLE", "BATCHES_TABLE"):
        table = boto3.resource("dynamodb").Table(w.stack.env(name))
        page: dict = {"LastEvaluatedKey": None}
        kwargs: dict = {}
        while "LastEvaluatedKey" in page:
            page = table.scan(**kwargs)
            found += [s for s in (json.dumps(i, sort_keys=True, default=str) for i in page["Items"]) if aid in s]
            kwargs["ExclusiveStartKey"] = page.get("LastEvaluatedKey")
    listed = boto3.client("s3").list_object_versions(Bucket=w.stack.env("KTP_BUCKET"))
    found += sorted(f"{v['Key']}@{v['VersionId']}" for v in listed.get("Versions", []) if aid in v["Key"])
    return sorted(found)


def _shows_nothing_of_a(w: World, r: Response) -> None:
    text = (json.dumps(r.body, default=str) + json.dumps(r.headers)).lower()
    leaked = [n for n in w.needles() if n in text]
    assert not leaked, f"A's identifiers in the response: {leaked}"


def _error_shape(r: Response) -> None:
    if r.status < 400:
        return
    assert isinstance(r.body, dict) and {"code", "message", "fields"} <= set(r.body), r.body
    assert r.body["code"] in MESSAGES and isinstance(r.body["message"], str) and isinstance(r.body["fields"], list)


def _send(w: World, method: str, row: Row, token: str | None, kind: str) -> Response:
    path, body = row.call(w)
    if kind == "not_bearer":
        return w.stack.call(method, path, body, headers={"Authorization": token or ""})
    return w.stack.call(method, path, body, token=token)


def _row(method: str, path: str) -> Row:
    row = ROWS.get((method, path))
    if row is None:
        pytest.fail(f"{method} {path} has no row in ROWS: state its expected outcomes")
    return row


CASES = [pytest.param(m, p, k, id=f"{m} {p} | {k}") for m, p in TEMPLATE_ROUTES for k in [*BAD_TOKENS, "b_on_a"]]


@pytest.mark.parametrize(("method", "path", "kind"), CASES)
def test_every_route_with_every_bad_token_and_b_on_as_ids(world, method, path, kind):
    # Given the route's row and A's state
    row = _row(method, path)
    before = _a_state(world)
    # When it is called with a bad token, or with B's (or a throwaway caller's) on A's ids
    if kind == "b_on_a":
        token = world.throwaway() if row.throwaway else world.intruder()
    else:
        token = None if kind == "no_token" else world.bad[kind]
    r = _send(world, method, row, token, kind)
    # Then the stated outcome, in the error shape, with nothing of A's shown or changed
    if kind != "b_on_a" and row.public is None:
        expected: tuple[int, str | None] = (401, BAD_TOKENS[kind])
    else:
        expected = (row.status, row.code)
    code = r.body.get("code") if expected[1] and isinstance(r.body, dict) else None
    assert (r.status, code) == expected, (row.why, r.body)
    _error_shape(r)
    _shows_nothing_of_a(world, r)
    if not row.a_may_change:
        assert _a_state(world) == before, f"A's items changed by {kind} on {method} {path}"


@pytest.mark.parametrize(("kind", "status", "code"), [
    ("never_issued", 401, "REFRESH_INVALID"), ("erased_account", 401, "REFRESH_INVALID"),
    ("signed_out", 401, "REFRESH_INVALID"),
    ("access_as_refresh", 422, "VALIDATION_FAILED"),  # a JWT is longer than any refresh token (200)
])
def test_a_bad_refresh_token_is_refused_and_shows_nothing(world, kind, status, code):
    # Given a refresh token never issued, of an erased account, of an ended session, or an access token
    before = _a_state(world)
    # When it is presented to the refresh route (whose body is its credential)
    r = world.stack.call("POST", "/v1/sessions/refresh", {"refresh_token": world.bad_refresh[kind]})
    # Then 401 REFRESH_INVALID (422 for an access token) in the error shape, nothing of A's shown or changed
    assert (r.status, r.body["code"]) == (status, code), r.body
    _error_shape(r)
    _shows_nothing_of_a(world, r)
    assert _a_state(world) == before


def _needs_token(route: APIRoute) -> bool:
    """Whether the route depends (at any depth) on :func:`prakerja.api.auth.bearer`'s check."""
    stack_ = list(route.dependant.dependencies)
    while stack_:
        dep = stack_.pop()
        call = dep.call
        if getattr(call, "__module__", "") == "prakerja.api.auth" and \
                getattr(call, "__qualname__", "") == "bearer.<locals>.dependency":
            return True
        stack_ += dep.dependencies
    return False


def test_every_route_of_every_app_has_a_row(world):
    # Given the routes each HTTP function's FastAPI app serves (functions routed by template.yaml)
    served: dict[tuple[str, str], bool] = {}
    for function_id in sorted({r.function_id for r in world.stack.template.routes()}):
        app = world.stack.registry.module(function_id).app
        for route in app.routes:
            if isinstance(route, APIRoute):
                for method in route.methods:
                    served[(method, route.path)] = _needs_token(route)
    # Then each has a row, each row a route, the template routes exactly these, and a row is
    # public exactly when its route reads no token
    assert not (missing := sorted(set(served) - set(ROWS))), f"routes without a row in ROWS: {missing}"
    assert not (stale := sorted(set(ROWS) - set(served))), f"rows for routes no app serves: {stale}"
    assert set(TEMPLATE_ROUTES) == set(served), sorted(set(TEMPLATE_ROUTES) ^ set(served))
    wrong = sorted(f"{m} {p}: {'needs a token' if token else 'reads no token'}"
                   for (m, p), token in served.items() if token == (ROWS[(m, p)].public is not None))
    assert not wrong, f"rows whose public/token access is not the route's: {wrong}"


def test_the_checks_see_as_data_and_as_items(world):
    # Given A's own token on A's own status: the leak check must see A there
    r = world.stack.call("GET", "/v1/me", token=world.a["token"])
    assert r.status == 200
    with pytest.raises(AssertionError, match="A's identifiers"):
        _shows_nothing_of_a(world, r)
    # And a change to one of A's items shows in the compared state
    before = _a_state(world)
    assert before
    table = boto3.resource("dynamodb").Table(world.stack.env("APPLICANTS_TABLE"))
    table.update_item(Key={"pk": f"APP#{world.a['aid']}", "sk": "PROFILE"}, UpdateExpression="SET probe = :p",
                      ExpressionAttributeValues={":p": 1})
    assert _a_state(world) != before
    table.update_item(Key={"pk": f"APP#{world.a['aid']}", "sk": "PROFILE"}, UpdateExpression="REMOVE probe")
