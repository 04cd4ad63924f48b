"""Batches: listing, joining with its gates, and the tick's close / draw / announce."""

from __future__ import annotations

import json
from datetime import timedelta

import boto3

from prakerja import clock as prakerja_clock
from prakerja.adapters.applicants import ApplicantStore
from prakerja.adapters.batches import BatchStore
from prakerja.domain import selection
from prakerja.domain.draw import verify_audit
from tests.integration.support import mailbox, sign_in, verified_applicant

TICK = {"version": "0", "detail-type": "Scheduled Event", "source": "aws.events", "detail": {}}
SECRET = "rahasia-undian-gelombang-uji-0001"


def add_batch(stack, batch_id: str, opens_h: float, closes_h: float, announce_h: float, quota: int) -> None:
    """A batch relative to the test clock's now (hours)."""
    now = prakerja_clock.now()
    at = lambda h: prakerja_clock.iso(now + timedelta(hours=h))  # noqa: E731
    BatchStore(stack.env("BATCHES_TABLE")).put_batch({
        "batch_id": batch_id, "opens_at": at(opens_h), "closes_at": at(closes_h), "announce_at": at(announce_h),
        "quota": quota, "commitment": selection.commitment(SECRET), "secret": SECRET, "status": "SCHEDULED"})


def make_eligible(stack, token: str) -> str:
    """Mark the KTP, NIK and test steps done (their own tests cover how); returns the applicant id."""
    applicant_id = stack.call("GET", "/v1/me", token=token).body["applicant_id"]
    store = ApplicantStore(stack.env("APPLICANTS_TABLE"))
    at = prakerja_clock.iso(prakerja_clock.now())
    store.update_profile(applicant_id, {f"steps.{s}": {"status": v, "reason": None, "updated_at": at}
                                        for s, v in {"ktp": "VALID", "nik": "VERIFIED",
                                                     "assessment": "PASSED"}.items()})
    return applicant_id


def ready(stack, email: str) -> tuple[str, str]:
    token = verified_applicant(stack, email)
    return token, make_eligible(stack, token)


def test_batches_are_listed_publicly_with_derived_status(stack):
    add_batch(stack, "2020-01", -1, 48, 72, 10)
    add_batch(stack, "2020-02", 96, 144, 168, 10)
    r = stack.call("GET", "/v1/batches")
    assert r.status == 200
    assert [(b["batch_id"], b["status"]) for b in r.body["batches"]] == [("2020-01", "OPEN"), ("2020-02", "SCHEDULED")]
    assert r.body["batches"][0]["commitment"] == selection.commitment(SECRET)
    assert "secret" not in r.body["batches"][0]


def test_joining_needs_every_step_and_lists_the_missing_ones(stack):
    add_batch(stack, "2020-01", -1, 48, 72, 10)
    token = verified_applicant(stack, "a@example.id")
    r = stack.call("POST", "/v1/batches/2020-01/participants", token=token)
    assert r.status == 403 and r.body["code"] == "NOT_ELIGIBLE"
    assert r.body["missing_steps"] == ["ktp", "nik", "assessment"]


def test_an_eligible_applicant_joins_once(stack):
    add_batch(stack, "2020-01", -1, 48, 72, 10)
    token, _ = ready(stack, "b@example.id")
    r = stack.call("POST", "/v1/batches/2020-01/participants", token=token)
    assert r.status == 201 and r.body["status"] == "JOINED"
    again = stack.call("POST", "/v1/batches/2020-01/participants", token=token)
    assert again.status == 409 and again.body["code"] == "ALREADY_JOINED"
    assert stack.call("GET", "/v1/me", token=token).body["steps"]["batch"]["status"] == "JOINED"


def test_unknown_and_scheduled_batches_refuse_joins(stack):
    add_batch(stack, "2020-02", 1, 48, 72, 10)
    token, _ = ready(stack, "c@example.id")
    assert stack.call("POST", "/v1/batches/nope/participants", token=token).body["code"] == "BATCH_NOT_FOUND"
    r = stack.call("POST", "/v1/batches/2020-02/participants", token=token)
    assert r.status == 409 and r.body["code"] == "BATCH_CLOSED"


def test_a_join_just_before_closes_at_counts_and_just_after_is_refused(stack, clock):
    add_batch(stack, "2020-01", -1, 1, 2, 10)
    _, early_id = ready(stack, "d@example.id")
    ready(stack, "e@example.id")
    clock.advance(3600 - 0.5)
    early, late = (sign_in(stack, e)["access_token"] for e in ("d@example.id", "e@example.id"))
    assert stack.call("POST", "/v1/batches/2020-01/participants", token=early).status == 201
    clock.advance(1)
    r = stack.call("POST", "/v1/batches/2020-01/participants", token=late)
    assert r.status == 409 and r.body["code"] == "BATCH_CLOSED"
    stack.registry.invoke("BatchTickFunction", TICK)
    members = BatchStore(stack.env("BATCHES_TABLE")).members("2020-01", joined_before="9999")
    assert [m["applicant_id"] for m in members] == [early_id]


def test_the_tick_closes_draws_within_quota_and_announces_once(stack, clock):
    # Given five participants and a quota of two
    add_batch(stack, "2020-01", -1, 1, 2, 2)
    tokens = {}
    for i in range(5):
        token, applicant_id = ready(stack, f"p{i}@example.id")
        assert stack.call("POST", "/v1/batches/2020-01/participants", token=token).status == 201
        tokens[applicant_id] = token
    # When the clock passes closes_at and the tick runs twice
    clock.advance(3601)
    first = stack.registry.invoke("BatchTickFunction", TICK)
    second = stack.registry.invoke("BatchTickFunction", TICK)
    assert first["closed"] == ["2020-01"] and first["drawn"] == ["2020-01"]
    assert second["closed"] == [] and second["drawn"] == []
    stack.drain("DrawQueue", "DrawResultsFunction")
    # Then results stay hidden until announce_at
    fresh = {aid: stack.call("GET", "/v1/me", token=verified_token(stack, i)).body for i, aid in enumerate(tokens)}
    assert {b["steps"]["batch"]["status"] for b in fresh.values()} == {"JOINED"}
    # And at announce_at they appear, exactly the quota selected, one email each through the bulk queue
    clock.advance(3600)
    assert stack.registry.invoke("BatchTickFunction", TICK)["announced"] == ["2020-01"]
    assert stack.registry.invoke("BatchTickFunction", TICK)["announced"] == []
    stack.drain("DrawQueue", "DrawResultsFunction")
    stack.drain("BulkEmailQueue", "EmailSenderFunction")
    results = [stack.call("GET", "/v1/me", token=verified_token(stack, i)).body["steps"]["batch"]["status"]
               for i in range(5)]
    assert sorted(results) == ["NOT_SELECTED"] * 3 + ["SELECTED"] * 2
    assert len([m for m in mailbox() if "gelombang 2020-01" in m["subject"]]) == 5
    listing = stack.call("GET", "/v1/batches").body["batches"][0]
    assert listing["status"] == "ANNOUNCED" and listing["participants"] == 5 and listing["selected"] == 2


def verified_token(stack, i: int) -> str:
    return sign_in(stack, f"p{i}@example.id")["access_token"]


def test_the_audit_record_names_no_one_and_re_runs_to_the_same_result(stack, clock):
    # Given a drawn batch of four
    add_batch(stack, "2020-01", -1, 1, 2, 2)
    for i in range(4):
        token, _ = ready(stack, f"q{i}@example.id")
        stack.call("POST", "/v1/batches/2020-01/participants", token=token)
    clock.advance(3601)
    stack.registry.invoke("BatchTickFunction", TICK)
    body = boto3.client("s3").get_object(Bucket=stack.env("AUDIT_BUCKET"), Key="draws/2020-01.json")["Body"].read()
    audit = json.loads(body)
    # Then each row holds a random applicant id, the outcome, the rank, province and priority only
    assert audit["columns"] == ["participant_id", "outcome", "rank", "province_code", "priority"]
    assert all(len(row) == 5 and len(row[0]) == 32 for row in audit["ranking"])
    assert "@" not in body.decode()
    # And re-running it from the published values gives the same result
    ids = [row[0] for row in audit["ranking"]]
    assert selection.commitment(audit["secret"]) == audit["commitment"]
    seed = selection.draw_seed(audit["secret"], selection.participants_digest(ids))
    assert seed == audit["seed"]
    again = selection.draw([selection.Participant(i) for i in ids], quota=2, seed=seed)
    assert [[pid, "SELECTED" if sel else "NOT_SELECTED", rank] for pid, sel, rank in again.iter_ranking()] \
        == [row[:3] for row in audit["ranking"]]
    assert verify_audit(audit, selection.commitment(SECRET)) == []


def test_those_not_selected_can_join_the_next_batch_and_the_selected_cannot(stack, clock):
    add_batch(stack, "2020-01", -1, 1, 2, 1)
    add_batch(stack, "2020-02", 3, 10, 11, 5)
    for i in range(2):
        token, _ = ready(stack, f"p{i}@example.id")
        stack.call("POST", "/v1/batches/2020-01/participants", token=token)
    clock.advance(2 * 3600 + 1)
    stack.registry.invoke("BatchTickFunction", TICK)
    stack.drain("DrawQueue", "DrawResultsFunction")
    stack.registry.invoke("BatchTickFunction", TICK)
    stack.drain("DrawQueue", "DrawResultsFunction")
    clock.advance(3600)
    outcomes = {}
    for i in range(2):
        token = verified_token(stack, i)
        status = stack.call("GET", "/v1/me", token=token).body["steps"]["batch"]["status"]
        outcomes[status] = stack.call("POST", "/v1/batches/2020-02/participants", token=token)
    assert outcomes["NOT_SELECTED"].status == 201
    assert outcomes["SELECTED"].status == 409 and outcomes["SELECTED"].body["code"] == "ALREADY_SELECTED"
