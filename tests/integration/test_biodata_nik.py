"""Biodata: local checks, the queued ministry check, corrections; the NIK worker's guarantees."""

from __future__ import annotations

from datetime import date

from prakerja.domain.nik import build_nik
from tests.integration.accounts_support import items as _items
from tests.integration.support import sign_in, sign_up, verified_applicant

DOB = date(1990, 5, 17)
NIK = build_nik("32.01.01", DOB, "M", 1)


def form(**changes) -> dict:
    base = {"nik": NIK, "kk_number": None, "full_name": "Budi Santoso", "place_of_birth": "Bogor",
            "date_of_birth": DOB.isoformat(), "sex": "M", "address": "Jl. Merdeka No. 1, RT 001/RW 002",
            "province_code": "32", "regency_code": "32.01", "district_code": "32.01.01", "education": "SMA",
            "work_status": "laid_off", "not_in_formal_education": True, "phone": "081234567890"}
    return base | changes


def register_person(ministry, nik: str = NIK, name: str = "Budi Santoso", **extra) -> None:
    ministry.simulator.add({"nik": nik, "full_name": name, "date_of_birth": DOB.isoformat(), **extra})


def status(stack, token: str) -> dict:
    return stack.call("GET", "/v1/me", token=token).body["steps"]["nik"]


def test_biodata_needs_a_verified_email(stack):
    sign_up(stack, "a@example.id")
    token = sign_in(stack, "a@example.id")["access_token"]
    r = stack.call("PUT", "/v1/me/biodata", form(), token=token)
    assert r.status == 403 and r.body["code"] == "EMAIL_NOT_VERIFIED"


def test_a_valid_form_is_queued_and_verified_by_the_ministry(stack, ministry):
    # Given a person the ministry knows, with a verified email
    register_person(ministry)
    token = verified_applicant(stack, "budi@example.id")
    # When the biodata is submitted
    r = stack.call("PUT", "/v1/me/biodata", form(full_name="  BUDI   santoso "), token=token)
    assert r.status == 202 and r.body["status"] == "PENDING"
    assert status(stack, token)["status"] == "PENDING"
    # Then the worker asks the ministry once and records VERIFIED (names compared loosely)
    assert stack.drain("NikQueue", "NikWorkerFunction") == 1
    assert status(stack, token) | {"updated_at": None} == {"status": "VERIFIED", "reason": None, "updated_at": None}
    assert ministry.simulator.counters["calls"] == 1


def test_the_stored_biodata_shows_the_nik_masked(stack, ministry):
    token = verified_applicant(stack, "c@example.id")
    stack.call("PUT", "/v1/me/biodata", form(), token=token)
    r = stack.call("GET", "/v1/me/biodata", token=token)
    assert r.body["biodata"]["nik"] == "*" * 12 + NIK[-4:]
    assert r.body["biodata"]["phone"] == "+6281234567890"


def test_local_mistakes_are_422_with_every_field_listed(stack):
    token = verified_applicant(stack, "d@example.id")
    bad = form(nik="9999991705900001", phone="12345", education="SMK", regency_code="33.01")
    r = stack.call("PUT", "/v1/me/biodata", bad, token=token)
    assert r.status == 422
    codes = {f["field"]: f["code"] for f in r.body["fields"]}
    assert codes["phone"] == "PHONE_INVALID" and codes["education"] == "EDUCATION_INVALID"
    assert codes["regency_code"] == "REGION_MISMATCH"


def test_an_unknown_nik_region_is_caught_before_the_ministry(stack, ministry):
    token = verified_applicant(stack, "e@example.id")
    r = stack.call("PUT", "/v1/me/biodata", form(nik="9999991705900001"), token=token)
    assert r.status == 422 and r.body["fields"] == [
        {"field": "nik", "code": "NIK_REGION_UNKNOWN", "message": "Kode wilayah pada NIK tidak dikenal."}]
    assert ministry.simulator.counters["calls"] == 0


def test_preview_decodes_the_nik_and_stores_nothing(stack):
    token = verified_applicant(stack, "f@example.id")
    r = stack.call("POST", "/v1/me/biodata/preview", form(sex="F"), token=token)
    assert r.status == 200 and r.body["valid"] is True
    assert r.body["decoded"]["district"]["name"] == "Cibinong"
    assert r.body["warnings"] == [{"field": "sex", "code": "NIK_SEX_MISMATCH"}]
    assert stack.call("GET", "/v1/me/biodata", token=token).status == 404


def test_preview_refuses_unknown_keys_naming_them(stack):
    token = verified_applicant(stack, "f2@example.id")
    r = stack.call("POST", "/v1/me/biodata/preview", form() | {"is_admin": True, "nama_ibu": "x"}, token=token)
    assert r.status == 422 and r.body["code"] == "VALIDATION_FAILED"
    assert [(f["field"], f["code"]) for f in r.body["fields"]] == [("is_admin", "INVALID"), ("nama_ibu", "INVALID")]
    # a partial form of known fields is still previewed (the page checks as the person types)
    r = stack.call("POST", "/v1/me/biodata/preview", {"nik": form()["nik"]}, token=token)
    assert r.status == 200 and r.body["valid"] is False and r.body["decoded"]


def test_under_18_is_refused_at_once(stack, clock):
    token = verified_applicant(stack, "g@example.id")
    young = date(clock.now.year - 17, 1, 1)
    r = stack.call("PUT", "/v1/me/biodata", form(nik=build_nik("32.01.01", young, "M", 1),
                                                 date_of_birth=young.isoformat()), token=token)
    assert r.status == 422 and r.body["fields"][0]["code"] == "UNDER_AGE"


def test_a_nik_verified_for_another_account_is_409(stack, ministry):
    # Given a NIK the ministry verified for one account
    register_person(ministry)
    first = verified_applicant(stack, "h@example.id")
    second = verified_applicant(stack, "i@example.id")
    assert stack.call("PUT", "/v1/me/biodata", form(), token=first).status == 202
    stack.drain("NikQueue", "NikWorkerFunction")
    assert status(stack, first)["status"] == "VERIFIED"
    # When another account submits it / Then 409
    r = stack.call("PUT", "/v1/me/biodata", form(), token=second)
    assert r.status == 409 and r.body["code"] == "NIK_ALREADY_USED"


def test_a_rejected_claim_does_not_lock_the_owner_out(stack, ministry):
    # Given someone who submitted the owner's NIK with a wrong name and was rejected
    register_person(ministry)
    squatter = verified_applicant(stack, "squat+1@example.id")
    assert stack.call("PUT", "/v1/me/biodata", form(full_name="Orang Lain"), token=squatter).status == 202
    stack.drain("NikQueue", "NikWorkerFunction")
    assert status(stack, squatter)["status"] == "REJECTED"
    # When the owner submits the NIK with the right data
    owner = verified_applicant(stack, "pemilik@example.id")
    r = stack.call("PUT", "/v1/me/biodata", form(), token=owner)
    # Then it is accepted and verified
    assert r.status == 202
    stack.drain("NikQueue", "NikWorkerFunction")
    assert status(stack, owner)["status"] == "VERIFIED"


def test_a_pending_claim_does_not_block_and_loses_the_nik_to_the_verified_owner(stack, ministry):
    # Given someone whose submission of the owner's NIK (with the owner's data) is still pending
    register_person(ministry)
    squatter = verified_applicant(stack, "squat+2@example.id")
    assert stack.call("PUT", "/v1/me/biodata", form(), token=squatter).status == 202
    early = stack.sqs_event("NikQueue")  # taken off the queue, not yet checked
    # When the owner submits the same NIK
    owner = verified_applicant(stack, "pemilik2@example.id")
    assert stack.call("PUT", "/v1/me/biodata", form(), token=owner).status == 202
    # and the owner's check is processed first
    stack.drain("NikQueue", "NikWorkerFunction")
    assert status(stack, owner)["status"] == "VERIFIED"
    # Then the pending claim, checked afterwards, does not get the NIK
    stack.registry.invoke("NikWorkerFunction", early)
    assert status(stack, squatter) | {"updated_at": None} == {"status": "REJECTED", "reason": "NIK_ALREADY_USED",
                                                               "updated_at": None}
    assert status(stack, owner)["status"] == "VERIFIED"
    # and one sentinel names the owner
    owner_id = stack.call("GET", "/v1/me", token=owner).body["applicant_id"]
    assert [i["applicant_id"] for i in _items(stack) if str(i["pk"]).startswith("NIK#")] == [owner_id]


def test_a_mismatch_shows_the_citizen_one_generic_reason_and_no_field_list(stack, ministry):
    # Given the ministry knows the person under another name, and one deceased person
    register_person(ministry, name="Budi Santosa")
    dead = build_nik("32.01.01", DOB, "M", 2)
    register_person(ministry, nik=dead, status="DECEASED")
    token = verified_applicant(stack, "oracle@example.id")
    other = verified_applicant(stack, "oracle+2@example.id")
    # When both are checked
    stack.call("PUT", "/v1/me/biodata", form(), token=token)
    stack.call("PUT", "/v1/me/biodata", form(nik=dead), token=other)
    stack.drain("NikQueue", "NikWorkerFunction")
    # Then each sees the generic reason, no field list and nothing about death
    for t in (token, other):
        shown = stack.call("GET", "/v1/me/biodata", token=t).body
        assert shown["check"]["reason"] == "DATA_NOT_MATCHING_DUKCAPIL" and shown["mismatched_fields"] == []
        assert status(stack, t)["reason"] == "DATA_NOT_MATCHING_DUKCAPIL"
        assert "DECEASED" not in str(shown) and "full_name" not in str(shown["check"])
    # While the operators' record keeps the ministry's detail
    checks = {i["check"]["reason"]: i["check"]["fields"] for i in _items(stack) if i["sk"] == "BIODATA"}
    assert checks == {"DATA_MISMATCH": ["full_name"], "DECEASED": []}


def test_ministry_checks_of_one_nik_are_limited_per_day_across_accounts(stack, clock):
    # Given three checks of one NIK today, by three accounts
    tokens = [verified_applicant(stack, f"coba+{n}@example.id") for n in range(4)]
    replies = [stack.call("PUT", "/v1/me/biodata", form(full_name=f"Nama Tebakan {c}"), token=t)
               for c, t in zip("ABCD", tokens, strict=True)]
    # Then the fourth is refused until midnight WIB (17:00 UTC; it is 03:00 UTC), with Retry-After
    assert [r.status for r in replies] == [202, 202, 202, 429]
    assert replies[3].body["code"] == "TOO_MANY_NIK_CHECKS" and replies[3].headers["retry-after"] == str(14 * 3600)
    # and another NIK is not affected; the next WIB day allows the NIK again
    assert stack.call("PUT", "/v1/me/biodata", form(nik=build_nik("32.01.01", DOB, "M", 9)),
                      token=tokens[3]).status == 202
    clock.advance(14 * 3600)
    token = sign_in(stack, "coba+0@example.id")["access_token"]
    assert stack.call("PUT", "/v1/me/biodata", form(full_name="Nama Tebakan E"), token=token).status == 202


def test_a_rejected_applicant_corrects_and_is_verified(stack, ministry):
    # Given the ministry knows the person under a slightly different name
    register_person(ministry, name="Budi Santosa")
    token = verified_applicant(stack, "j@example.id")
    stack.call("PUT", "/v1/me/biodata", form(), token=token)
    stack.drain("NikQueue", "NikWorkerFunction")
    assert status(stack, token)["status"] == "REJECTED"
    assert status(stack, token)["reason"] == "DATA_NOT_MATCHING_DUKCAPIL"
    # When the applicant corrects the name
    r = stack.call("PUT", "/v1/me/biodata", form(full_name="Budi Santosa"), token=token)
    assert r.status == 202 and r.body["version"] == 2
    stack.drain("NikQueue", "NikWorkerFunction")
    # Then the new version is verified
    assert status(stack, token)["status"] == "VERIFIED"


def test_a_redelivered_check_after_an_outcome_makes_no_second_call(stack, ministry):
    register_person(ministry)
    token = verified_applicant(stack, "k@example.id")
    stack.call("PUT", "/v1/me/biodata", form(), token=token)
    event = stack.sqs_event("NikQueue")
    stack.registry.invoke("NikWorkerFunction", event)
    # SQS delivers the same message again (at-least-once)
    stack.registry.invoke("NikWorkerFunction", event)
    assert ministry.simulator.counters["calls"] == 1


def test_a_superseded_version_is_never_sent_to_the_ministry(stack, ministry):
    register_person(ministry)
    token = verified_applicant(stack, "l@example.id")
    stack.call("PUT", "/v1/me/biodata", form(full_name="Budi Salah"), token=token)
    stack.call("PUT", "/v1/me/biodata", form(), token=token)
    stack.drain("NikQueue", "NikWorkerFunction")
    assert ministry.simulator.counters["calls"] == 1
    assert status(stack, token)["status"] == "VERIFIED"


def test_a_ministry_outage_loses_nothing(stack, ministry):
    register_person(ministry)
    token = verified_applicant(stack, "m@example.id")
    stack.call("PUT", "/v1/me/biodata", form(), token=token)
    ministry.simulator.settings.update({"outage": True})
    event = stack.sqs_event("NikQueue")
    result = stack.registry.invoke("NikWorkerFunction", event)
    assert len(result["batchItemFailures"]) == 1
    assert status(stack, token)["status"] == "PENDING"
    # the ministry comes back; the message becomes visible again and is processed
    ministry.simulator.settings.update({"outage": False})
    stack.release("NikQueue", event)
    stack.drain("NikQueue", "NikWorkerFunction")
    assert status(stack, token)["status"] == "VERIFIED"


def test_a_retry_after_a_crash_carries_the_same_request_id(stack, ministry):
    # Given the ministry answered but the worker crashed before recording
    register_person(ministry)
    token = verified_applicant(stack, "n@example.id")
    stack.call("PUT", "/v1/me/biodata", form(), token=token)
    from prakerja.services.nik_check import request_id

    me = stack.call("GET", "/v1/me", token=token).body
    ministry.simulator.verify({"request_id": request_id(me["applicant_id"], 1), "nik": NIK,
                               "full_name": "Budi Santoso", "date_of_birth": DOB.isoformat()})
    # When the message is retried
    stack.drain("NikQueue", "NikWorkerFunction")
    # Then the ministry saw the same request id again and de-duplicated it
    assert ministry.simulator.counters["duplicates"] == 1
    assert status(stack, token)["status"] == "VERIFIED"


def _table(stack):
    import boto3

    from tests.integration.harness import REGION

    return boto3.resource("dynamodb", region_name=REGION).Table(stack.env("APPLICANTS_TABLE"))


def test_a_claim_written_at_submission_before_the_fix_gives_way_to_the_verified_owner(stack, ministry):
    # Given a squatter's claim on the owner's NIK as the code before issue 16 wrote it (a
    # sentinel at submission, without verified_at), the squatter's check still pending
    register_person(ministry)
    squatter = verified_applicant(stack, "lama+1@example.id")
    assert stack.call("PUT", "/v1/me/biodata", form(full_name="Orang Lain"), token=squatter).status == 202
    squatter_id = stack.call("GET", "/v1/me", token=squatter).body["applicant_id"]
    nik_key = next(i for i in _items(stack) if i["sk"] == "BIODATA")["nik_key"]
    _table(stack).put_item(Item={"pk": f"NIK#{nik_key}", "sk": "SENTINEL", "applicant_id": squatter_id, "kid": "h1"})
    # When the owner submits the NIK with the right data
    owner = verified_applicant(stack, "pemilik3@example.id")
    assert stack.call("PUT", "/v1/me/biodata", form(), token=owner).status == 202
    stack.drain("NikQueue", "NikWorkerFunction")
    # Then the owner is verified and holds the NIK; the squatter is rejected
    owner_id = stack.call("GET", "/v1/me", token=owner).body["applicant_id"]
    assert status(stack, owner)["status"] == "VERIFIED" and status(stack, squatter)["status"] == "REJECTED"
    sentinel = _table(stack).get_item(Key={"pk": f"NIK#{nik_key}", "sk": "SENTINEL"})["Item"]
    assert sentinel["applicant_id"] == owner_id and sentinel["verified_at"]


def test_an_account_with_a_lost_claim_can_still_be_deleted_and_the_owner_keeps_the_nik(stack, ministry):
    # Given a squatter's pending claim on a NIK the owner then got verified
    from tests.integration.support import PASSWORD

    register_person(ministry)
    squatter = verified_applicant(stack, "hapus+1@example.id")
    owner = verified_applicant(stack, "pemilik4@example.id")
    assert stack.call("PUT", "/v1/me/biodata", form(full_name="Orang Lain"), token=squatter).status == 202
    assert stack.call("PUT", "/v1/me/biodata", form(), token=owner).status == 202
    stack.drain("NikQueue", "NikWorkerFunction")
    assert status(stack, owner)["status"] == "VERIFIED"
    # When the squatter deletes the account
    assert stack.call("DELETE", "/v1/me", {"password": PASSWORD}, token=squatter).status == 204
    # Then the owner's sentinel stays: the NIK still counts as used
    rival = verified_applicant(stack, "pesaing2@example.id")
    r = stack.call("PUT", "/v1/me/biodata", form(), token=rival)
    assert r.status == 409 and r.body["code"] == "NIK_ALREADY_USED"


def test_two_verified_checks_of_one_nik_racing_leave_exactly_one_holder(stack, ministry, monkeypatch):
    # Given two accounts that both submitted the NIK with the right data, and the second check's
    # first read of the sentinel coming before the first check's write (a race). (Checked one at
    # a time: moto rolls a failed transaction back over writes other threads made meanwhile.)
    from prakerja.services import nik_check
    from tests.integration.test_nik_worker import deliver

    real, stale = nik_check.nik_sentinels, {"left": 1}

    def read_too_early(store, keys, nik):
        found = real(store, keys, nik)
        if stale["left"] and found[0][2] is not None:
            stale["left"] -= 1
            return [(key, kid, None) for key, kid, _ in found]
        return found

    monkeypatch.setattr(nik_check, "nik_sentinels", read_too_early)
    register_person(ministry)
    tokens = [verified_applicant(stack, f"kembar+{n}@example.id") for n in range(2)]
    for token in tokens:
        assert stack.call("PUT", "/v1/me/biodata", form(), token=token).status == 202
    # When both checks are answered VERIFIED
    assert deliver(stack, max_messages=1) == set() and deliver(stack, max_messages=1) == set()
    # Then the conditional write let exactly one account hold the NIK; the other ends REJECTED
    # NIK_ALREADY_USED
    assert stale["left"] == 0
    outcomes = sorted((status(stack, t)["status"], status(stack, t)["reason"]) for t in tokens)
    assert outcomes == [("REJECTED", "NIK_ALREADY_USED"), ("VERIFIED", None)]
    holder = next(t for t in tokens if status(stack, t)["status"] == "VERIFIED")
    holder_id = stack.call("GET", "/v1/me", token=holder).body["applicant_id"]
    assert [i["applicant_id"] for i in _items(stack) if str(i["pk"]).startswith("NIK#")] == [holder_id]


def test_operators_see_the_ministrys_reason_the_citizen_does_not(stack, ministry):
    # Given an applicant rejected for a name that differs from the registry's
    from tests.integration.test_keys import ops

    register_person(ministry, name="Budi Santosa")
    token = verified_applicant(stack, "detail@example.id")
    stack.call("PUT", "/v1/me/biodata", form(), token=token)
    stack.drain("NikQueue", "NikWorkerFunction")
    # When an operator looks the applicant up
    code, shown, err = ops("applicant", "show", "detail@example.id")
    # Then the summary names the ministry's reason and field, while the citizen sees the generic one
    assert code == 0, err
    assert "REJECTED (DATA_MISMATCH: full_name)" in shown
    assert status(stack, token)["reason"] == "DATA_NOT_MATCHING_DUKCAPIL"
