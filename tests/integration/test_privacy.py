"""Personal-data rights (Law 27/2022) through ``prakerja-ops applicant show|export|delete``: an
export holds everything about one applicant and nothing about another; an erasure leaves nothing
of the applicant in any table or in the KTP bucket (every version), leaves the other applicant
alone, and every action is in the audit trail. The citizen's own DELETE /v1/me erases the same."""

from __future__ import annotations

import io
import json
import os
import stat
from datetime import date
from pathlib import Path

import boto3

from prakerja.adapters.applicants import ApplicantStore
from prakerja.adapters.batches import BatchStore
from prakerja.adapters.outbox import Outbox
from prakerja.adapters.personal_data import PrivacyAuditLog
from prakerja.domain.nik import build_nik
from prakerja.services import mail
from prakerja_ops.cli import main as ops_main
from tests.integration.support import PASSWORD, sign_in, verified_applicant
from tests.integration.test_assessment import best_answers
from tests.integration.test_batches import TICK, add_batch, ready
from tests.integration.test_ktp import drain_ktp

PHOTO = Path(__file__).parents[1] / "fixtures" / "photos" / "jpg_gps_DSCN0010.jpg"
DOB = date(1991, 2, 3)
TABLES = ("APPLICANTS_TABLE", "BATCHES_TABLE", "LIMITS_TABLE", "IDEMPOTENCY_TABLE")


def ops(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = ops_main(list(argv), out, err)
    return code, out.getvalue(), err.getvalue()


def form(nik: str, name: str) -> dict:
    return {"nik": nik, "kk_number": None, "full_name": name, "place_of_birth": "Bogor",
            "date_of_birth": DOB.isoformat(), "sex": "F", "address": "Jl. Kenanga No. 7, RT 002/RW 004",
            "province_code": "32", "regency_code": "32.01", "district_code": "32.01.01", "education": "SMA",
            "work_status": "laid_off", "not_in_formal_education": True, "phone": "081298765432"}


def nik_checked(stack, ministry, email: str, nik: str, owner: str, typed: str) -> str:
    """A verified-email applicant who submitted ``nik`` as ``typed``, checked by the ministry (which
    knows the NIK as ``owner``'s); their access token."""
    ministry.simulator.add({"nik": nik, "full_name": owner, "date_of_birth": DOB.isoformat()})
    token = verified_applicant(stack, email)
    assert stack.call("PUT", "/v1/me/biodata", form(nik, typed), token=token).status == 202
    stack.drain("NikQueue", "NikWorkerFunction")
    return token


def journey(stack, ministry, email: str, serial: int, name: str, batch_id: str) -> dict:
    """Sign-up, email link, KTP photo, biodata (one correction) checked by the ministry, the test,
    a password-reset request, joining the batch. Returns what identifies the applicant."""
    nik = build_nik("32.01.01", DOB, "F", serial)
    ministry.simulator.add({"nik": nik, "full_name": name, "date_of_birth": DOB.isoformat()})
    token = verified_applicant(stack, email)
    grant = stack.call("POST", "/v1/me/documents/ktp", {"content_type": "image/jpeg"}, token=token).body
    boto3.client("s3").put_object(Bucket=stack.env("KTP_BUCKET"), Key=grant["fields"]["key"],
                                  Body=PHOTO.read_bytes(), ContentType="image/jpeg")
    drain_ktp(stack)
    assert stack.call("PUT", "/v1/me/biodata", form(nik, name) | {"address": "Jl. Lama 1"}, token=token).status == 202
    assert stack.call("PUT", "/v1/me/biodata", form(nik, name), token=token).status == 202
    stack.drain("NikQueue", "NikWorkerFunction")
    questions = stack.call("POST", "/v1/me/assessment", token=token).body["questions"]
    answers = best_answers([q["question_id"] for q in questions])
    assert stack.call("POST", "/v1/me/assessment/submit", {"answers": answers}, token=token).body["passed"]
    assert stack.call("POST", "/v1/password-resets", {"email": email}).status == 202
    me = stack.call("GET", "/v1/me", token=token).body
    assert {s: v["status"] for s, v in me["steps"].items() if s != "batch"} == {
        "email": "VERIFIED", "ktp": "VALID", "nik": "VERIFIED", "assessment": "PASSED"}
    aid = me["applicant_id"]
    store = ApplicantStore(stack.env("APPLICANTS_TABLE"))
    nik_key = store.get_item(aid, "BIODATA")["nik_key"]
    BatchStore(stack.env("BATCHES_TABLE")).put_priority(batch_id, [f"A#{aid}", f"N#{nik_key}"])
    assert stack.call("POST", f"/v1/batches/{batch_id}/participants", token=token).status == 201
    return {"token": token, "aid": aid, "email": email, "nik": nik, "name": name, "nik_key": nik_key,
            "email_key": store.get_profile(aid)["email_key"]}


def strand_an_email(stack, to: str, ref: str) -> None:
    """An email written to the outbox whose sending never happened (a crash between the two)."""
    store = ApplicantStore(stack.env("APPLICANTS_TABLE"))
    message = mail.email_message(mail.TRANSACTIONAL, "password_changed", to, {"base": "https://x.id"}, ref=ref)
    outbox = Outbox(stack.env("APPLICANTS_TABLE"), {})
    from prakerja import clock

    assert store.transact(outbox.put_items([message], clock.now()))


def scan(stack) -> list[dict]:
    """Every item of every table, as stored."""
    items = []
    for env in TABLES:
        t = boto3.resource("dynamodb").Table(stack.env(env))
        page = t.scan()
        items += page["Items"]
        while "LastEvaluatedKey" in page:
            page = t.scan(ExclusiveStartKey=page["LastEvaluatedKey"])
            items += page["Items"]
    return items


def mentioning(items: list[dict], person: dict) -> list[dict]:
    """The items whose keys or values name the person (id, address, email HMAC, NIK, NIK HMAC, name)."""
    needles = [person["aid"], person["email"].lower(), person["email_key"], person["nik"], person["nik_key"],
               person["name"].lower()] + person.get("more", [])
    return [i for i in items if any(n in json.dumps(i, default=str).lower() for n in needles)]


def photo_versions(stack, applicant_id: str | None = None) -> list[str]:
    """``key@version`` of every version and delete marker in the KTP bucket (of one applicant)."""
    reply = boto3.client("s3").list_object_versions(Bucket=stack.env("KTP_BUCKET"))
    found = [f"{v['Key']}@{v['VersionId']}" for v in reply.get("Versions", []) + reply.get("DeleteMarkers", [])]
    return [f for f in found if applicant_id is None or applicant_id in f]


def more_photo_versions(stack, applicant_id: str) -> None:
    """A second version of the applicant's normalised photo, then a delete marker over it."""
    s3, bucket = boto3.client("s3"), stack.env("KTP_BUCKET")
    key = next(v.split("@")[0] for v in photo_versions(stack, applicant_id) if v.startswith("ktp/"))
    s3.put_object(Bucket=bucket, Key=key, Body=PHOTO.read_bytes(), ContentType="image/jpeg")
    s3.delete_object(Bucket=bucket, Key=key)


def two_applicants(stack, ministry) -> tuple[dict, dict]:
    add_batch(stack, "2026-05", -1, 48, 72, 10)
    ani = journey(stack, ministry, "Ani.Wijaya@example.id", 1, "Ani Wijaya", "2026-05")
    bayu = journey(stack, ministry, "bayu.pratama@example.id", 2, "Bayu Pratama", "2026-05")
    # Ani asked to move to a new address (the link is pending) and has an email stuck in the outbox
    assert stack.call("PUT", "/v1/me/email", {"email": "ani.baru@example.id", "password": PASSWORD},
                      token=ani["token"]).status == 202
    ani["more"] = ["ani.baru@example.id"]
    strand_an_email(stack, ani["email"], ani["aid"])
    strand_an_email(stack, bayu["email"], bayu["aid"])
    more_photo_versions(stack, ani["aid"])
    return ani, bayu


def test_export_holds_everything_about_one_applicant_and_nothing_about_another(stack, ministry, tmp_path):
    # Given two applicants who went through every step and joined the same batch
    ani, bayu = two_applicants(stack, ministry)
    out = tmp_path / "ani.json"
    # When an operator exports the first one's data to a file
    code, printed, err = ops("applicant", "export", " ani.wijaya@EXAMPLE.id", "--out", str(out))
    # Then the file is private to its owner and its path is printed
    assert code == 0, err
    assert printed.strip() == str(out)
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o600
    text = out.read_text(encoding="utf-8")
    doc = json.loads(text)
    # And it holds every kind of data kept about her, the NIK decrypted
    assert doc["applicant_id"] == ani["aid"] and doc["profile"]["email"] == ani["email"].lower()  # stored normalised
    assert doc["biodata"]["nik"] == ani["nik"] and doc["biodata"]["data"]["full_name"] == "Ani Wijaya"
    assert doc["biodata"]["version"] == 2 and doc["biodata"]["check"]["result"] == "VERIFIED"
    assert {s: v["status"] for s, v in doc["steps"].items()} == {
        "email": "VERIFIED", "ktp": "VALID", "nik": "VERIFIED", "assessment": "PASSED"}
    assert doc["assessment"]["status"] == "PASSED" and doc["assessment"]["answers"]
    assert [u["status"] for u in doc["ktp_uploads"]] == ["VALID"]
    versions = doc["ktp_photo_versions"]
    assert len(versions) == 3 and sum(v["delete_marker"] for v in versions) == 1
    assert all(v["key"].startswith(f"ktp/{ani['aid']}/") and v["version_id"] for v in versions)
    assert [m["batch_id"] for m in doc["batch_memberships"]] == ["2026-05"]
    assert sorted((b["kind"], b.get("entry")) for b in doc["batch_items"]) == [
        ("member", None), ("priority_list_entry", "NIK (keyed HMAC)"), ("priority_list_entry", "applicant id")]
    assert {s["kind"] for s in doc["sentinels"]} == {"EMAIL", "NIK"}
    assert {t["purpose"] for t in doc["email_tokens"]} == {"verify_email", "password_reset", "change_email"}
    assert any(t.get("new_email") == "ani.baru@example.id" for t in doc["email_tokens"])
    assert len(doc["refresh_tokens"]) >= 1
    assert {c["counter"] for c in doc["limits"]} >= {"QUOTA#corrections", "COUNT#reset-mail"}
    assert [o["body"]["to"] for o in doc["pending_outbox"]] == [ani["email"]]
    # And no password hash, no token hash
    assert "$argon2" not in text and not any("TOKEN#" in json.dumps(t) for t in doc["email_tokens"])
    # And nothing about the other applicant
    for needle in (bayu["aid"], bayu["email"], bayu["email_key"], bayu["nik"], bayu["nik_key"], "Bayu"):
        assert needle.lower() not in text.lower(), needle


def test_show_is_masked_and_every_action_is_in_the_audit_trail(stack, ministry):
    # Given an applicant with biodata and a batch membership
    add_batch(stack, "2026-05", -1, 48, 72, 10)
    ani = journey(stack, ministry, "ani.wijaya@example.id", 1, "Ani Wijaya", "2026-05")
    # When an operator looks her up, exports to standard output, and looks up an unknown address
    code, shown, err = ops("applicant", "show", ani["email"])
    exported = ops("applicant", "export", ani["email"], "--out", "-", "--photo-urls", "600")
    missing = ops("applicant", "show", "tidak.ada@example.id")
    # Then the summary shows the steps and the batch with the address and NIK masked
    assert code == 0, err
    assert "a***@e***.id" in shown and "*" * 12 + ani["nik"][-4:] in shown
    assert ani["email"] not in shown and ani["nik"] not in shown and "Ani" not in shown
    assert "NIK       " in shown and "VERIFIED" in shown and "2026-05" in shown
    assert exported[0] == 0 and json.loads(exported[1])["applicant_id"] == ani["aid"]
    photo = json.loads(exported[1])["ktp_photo_versions"][0]
    assert photo["key"] in photo["url"] and "X-Amz-Signature" in photo["url"] and photo["version_id"] in photo["url"]
    assert missing[0] == 2 and "NOT_FOUND" in missing[2]
    # And each action is recorded with the operator, the time and the applicant id, never the address
    records = PrivacyAuditLog(stack.env("AUDIT_BUCKET")).records()
    assert sorted((r["action"], r["applicant_id"] or "", r["result"]) for r in records) == [
        ("export", ani["aid"], "OK"), ("show", "", "NOT_FOUND"), ("show", ani["aid"], "OK")]
    assert all(r["key"].startswith("privacy/2026/04/11/") and r["operator"] and r["at"] for r in records)
    assert not any(needle in json.dumps(records) for needle in ("@example.id", ani["nik"], ani["email_key"]))


def test_delete_leaves_nothing_of_the_applicant_and_the_other_untouched(stack, ministry):
    # Given two applicants through every step, the first with extra photo versions, a pending
    # email change, a stranded outbox email, priority-list entries and limits counters
    ani, bayu = two_applicants(stack, ministry)
    before = scan(stack)
    assert mentioning(before, ani) and photo_versions(stack, ani["aid"])
    bayu_before = sorted(mentioning(before, bayu), key=lambda i: (i["pk"], i["sk"]))
    bayu_photos = photo_versions(stack, bayu["aid"])
    # When an operator refuses the confirmation, nothing happens
    assert ops("applicant", "delete", ani["email"])[0] == 1
    assert len(mentioning(scan(stack), ani)) == len(mentioning(before, ani))
    # When the operator erases her, confirming
    code, out, err = ops("applicant", "delete", ani["email"], "--yes")
    # Then the command reports what went and that nothing is left
    assert code == 0, err
    assert f"applicant {ani['aid']} erased" in out and "photo_versions=3" in out and "nothing" in out
    # And no item of hers is in her partition or anywhere in any table (keys or values)
    store = ApplicantStore(stack.env("APPLICANTS_TABLE"))
    assert store._items(ani["aid"]) == []
    assert mentioning(scan(stack), ani) == []
    # And no version or delete marker of her photos is left in the bucket
    assert photo_versions(stack, ani["aid"]) == []
    # And the other applicant is untouched and can still sign in and see his status
    assert sorted(mentioning(scan(stack), bayu), key=lambda i: (i["pk"], i["sk"])) == bayu_before
    assert photo_versions(stack, bayu["aid"]) == bayu_photos
    token = sign_in(stack, bayu["email"])["access_token"]
    assert stack.call("GET", "/v1/me", token=token).body["steps"]["batch"]["status"] == "JOINED"
    # And her address can no longer be found, and the deletion is in the audit trail
    assert ops("applicant", "show", ani["email"])[0] == 2
    records = PrivacyAuditLog(stack.env("AUDIT_BUCKET")).records()
    deleted = [r for r in records if r["action"] == "delete"]
    assert len(deleted) == 1 and deleted[0]["applicant_id"] == ani["aid"] and deleted[0]["result"] == "OK"
    assert deleted[0]["deleted"]["photo_versions"] == 3 and deleted[0]["deleted"]["batch_items"] == 3


def test_the_draw_record_keeps_only_the_pseudonymous_id_after_an_erasure(stack, clock):
    # Given two participants of a batch that was drawn
    add_batch(stack, "2026-06", -1, 1, 2, 1)
    people = {email: ready(stack, email) for email in ("citra@example.id", "dodi@example.id")}
    for token, _ in people.values():
        assert stack.call("POST", "/v1/batches/2026-06/participants", token=token).status == 201
    clock.advance(3600 + 60)
    assert stack.registry.invoke("BatchTickFunction", TICK)["drawn"] == ["2026-06"]
    s3, bucket = boto3.client("s3"), stack.env("AUDIT_BUCKET")
    record = s3.get_object(Bucket=bucket, Key="draws/2026-06.json")["Body"].read()
    citra = people["citra@example.id"][1]
    assert citra.encode() in record and b"@" not in record
    # When one of them is erased
    assert ops("applicant", "delete", "citra@example.id", "--yes")[0] == 0
    # Then the draw's record is unchanged (it names participants only by id) and still verifies
    assert s3.get_object(Bucket=bucket, Key="draws/2026-06.json")["Body"].read() == record
    code, out, _ = ops("draw", "verify", "2026-06")
    assert code == 0 and "OK" in out
    # And the id in it leads to nothing: no item anywhere names it
    assert [i for i in scan(stack) if citra in json.dumps(i, default=str)] == []


def test_deleting_ones_own_account_also_erases_photos_and_batch_memberships(stack, ministry):
    # Given an applicant with a KTP photo who joined a batch
    add_batch(stack, "2026-05", -1, 48, 72, 10)
    ani = journey(stack, ministry, "ani.wijaya@example.id", 1, "Ani Wijaya", "2026-05")
    assert photo_versions(stack, ani["aid"])
    # When she deletes her own account with her password
    assert stack.call("DELETE", "/v1/me", {"password": PASSWORD}, token=ani["token"]).status == 204
    # Then her photos (every version), batch membership and priority entries are gone too
    assert photo_versions(stack, ani["aid"]) == []
    assert mentioning(scan(stack), ani) == []


def test_an_erasure_removes_priority_entries_keyed_under_both_kids_of_a_rotation(stack, ministry):
    # Given an applicant whose NIK the ministry verified, and a batch whose priority list was made
    # during an HMAC rotation (her NIK's entry under both the old and the new key id)
    from prakerja.adapters.secrets import keys_from_document, read_document
    from prakerja.services.security import lookup_key
    from tests.integration.test_batches import add_batch

    nik = build_nik("32.01.01", DOB, "F", 77)
    nik_checked(stack, ministry, "rotasi.prioritas@example.id", nik, "Sari Rotasi", "Sari Rotasi")
    assert ops("keys", "rotate", "hmac", "--yes")[0] == 0
    keys = keys_from_document(read_document(stack.env("SECRETS_NAME")))
    assert len(keys.hmac_kids) == 2
    add_batch(stack, "2026-11", 1, 48, 72, 10)
    batches = BatchStore(stack.env("BATCHES_TABLE"))
    batches.put_priority("2026-11", [f"N#{lookup_key(keys, nik, kid)[0]}" for kid in keys.hmac_kids])
    # When she is erased
    code, out, err = ops("applicant", "delete", "rotasi.prioritas@example.id", "--yes")
    # Then neither entry is left
    assert code == 0, err
    table = boto3.resource("dynamodb").Table(stack.env("BATCHES_TABLE"))
    assert [i for i in table.scan()["Items"] if "#P#N#" in i["pk"]] == []


def test_an_export_to_a_place_it_cannot_write_reads_nothing(stack, tmp_path):
    # Given an applicant
    verified_applicant(stack, "tak.tertulis@example.id")
    # When an operator exports to a directory that does not exist, or to a directory itself
    for out in (tmp_path / "missing" / "x.json", tmp_path):
        code, printed, err = ops("applicant", "export", "tak.tertulis@example.id", "--out", str(out))
        # Then the command answers an error line and nothing is read, so nothing is audited
        assert code == 2 and err.startswith("error: cannot write") and printed == ""
    assert [r for r in PrivacyAuditLog(stack.env("AUDIT_BUCKET")).records() if r["action"] == "export"] == []


def test_an_export_redacts_the_live_links_of_pending_emails(stack, tmp_path):
    # Given an applicant with a stranded verification email whose single-use link still works
    verified_applicant(stack, "tautan.hidup@example.id")
    store = ApplicantStore(stack.env("APPLICANTS_TABLE"))
    live = "https://x.id/verifikasi-email#token=" + "T" * 43
    message = mail.email_message(mail.TRANSACTIONAL, "verify_email", "tautan.hidup@example.id", {"link": live},
                                 ref="stranded")
    from prakerja import clock

    assert store.transact(Outbox(stack.env("APPLICANTS_TABLE"), {}).put_items([message], clock.now()))
    out = tmp_path / "export.json"
    code, _, err = ops("applicant", "export", "tautan.hidup@example.id", "--out", str(out))
    assert code == 0, err
    # Then the pending email is listed, its link is not
    text = out.read_text(encoding="utf-8")
    assert "T" * 43 not in text
    pending = json.loads(text)["pending_outbox"]
    assert [(p["body"]["template"], p["body"]["params"]["link"]) for p in pending] == [
        ("verify_email", "[redacted: a single-use link, still valid, is not exported]")]


def test_an_export_never_overwrites_a_file_nor_follows_a_symlink(stack, tmp_path):
    # Given an applicant, a file already there and a symlink planted where the export would go
    verified_applicant(stack, "tak.timpa@example.id")
    existing = tmp_path / "existing.json"
    existing.write_text("keep me", encoding="utf-8")
    target = tmp_path / "elsewhere.txt"
    target.write_text("not yours", encoding="utf-8")
    link = tmp_path / "link.json"
    link.symlink_to(target)
    for out in (existing, link):
        # When an operator exports to either
        code, printed, err = ops("applicant", "export", "tak.timpa@example.id", "--out", str(out))
        # Then it is refused, nothing is written or read (nothing audited), and both stay as they were
        assert code == 2 and err.startswith("error: cannot write") and printed == ""
    assert existing.read_text(encoding="utf-8") == "keep me" and target.read_text(encoding="utf-8") == "not yours"
    assert link.is_symlink()
    assert [r for r in PrivacyAuditLog(stack.env("AUDIT_BUCKET")).records() if r["action"] == "export"] == []


def test_erasing_an_account_that_only_typed_a_nik_leaves_that_niks_priority_entry(stack, ministry):
    # Given a priority list naming a NIK, and an account that typed that NIK without the ministry
    # verifying it for them (a leaked NIK, rejected as not matching)
    from prakerja.adapters.secrets import keys_from_document, read_document
    from prakerja.services.security import lookup_key

    nik = build_nik("32.01.01", DOB, "F", 78)
    token = nik_checked(stack, ministry, "penyerobot@example.id", nik, "Pemilik Asli", "Bukan Pemilik")
    assert stack.call("GET", "/v1/me", token=token).body["steps"]["nik"]["status"] == "REJECTED"
    keys = keys_from_document(read_document(stack.env("SECRETS_NAME")))
    add_batch(stack, "2026-12", 1, 48, 72, 10)
    BatchStore(stack.env("BATCHES_TABLE")).put_priority("2026-12", [f"N#{lookup_key(keys, nik)[0]}"])
    # When that account is exported and erased
    code, printed, err = ops("applicant", "export", "penyerobot@example.id", "--out", "-")
    assert code == 0, err
    assert f"#P#N#{lookup_key(keys, nik)[0]}" not in printed  # the entry is not shown as theirs
    code, out, err = ops("applicant", "delete", "penyerobot@example.id", "--yes")
    assert code == 0, err
    # Then the priority entry (about the NIK's real owner) is still there
    table = boto3.resource("dynamodb").Table(stack.env("BATCHES_TABLE"))
    assert len([i for i in table.scan()["Items"] if "#P#N#" in i["pk"]]) == 1
