"""The draw through the real tick: the priority list (applicant ids and NIK HMACs), per-province
quotas, and the secret revealed only after the close."""

from __future__ import annotations

import io
import json
from collections import Counter
from datetime import timedelta

import boto3

from prakerja import clock as prakerja_clock
from prakerja.adapters.applicants import ApplicantStore
from prakerja.adapters.secrets import load_keys
from prakerja.domain import selection
from prakerja.domain.draw import verify_audit
from prakerja.services.security import lookup_key
from prakerja_ops.cli import main as ops_main
from tests.integration.support import sign_in
from tests.integration.test_batches import TICK, ready

SECRET = "rahasia-undian-prioritas-0002-abcdef"
NIK = "3201010101900001"


def ops(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = ops_main(list(argv), out, err)
    return code, out.getvalue(), err.getvalue()


def wib_in(hours: float) -> str:
    """A WIB wall-clock time ``hours`` from the test clock's now, as operators type it."""
    when = prakerja_clock.now() + timedelta(hours=hours)
    return when.astimezone(prakerja_clock.WIB).strftime("%Y-%m-%d %H:%M")


def with_biodata(stack, applicant_id: str, province: str, nik: str | None = None) -> None:
    """A biodata item as the NIK step leaves it: province code and the NIK's keyed HMAC."""
    store = ApplicantStore(stack.env("APPLICANTS_TABLE"))
    item: dict = {"data": {"province_code": province}, "version": 1}
    if nik:
        item["nik_key"], item["nik_kid"] = lookup_key(load_keys(stack.env("SECRETS_NAME")), nik)
    assert store.transact([store.put_item(applicant_id, "BIODATA", item)])


def audit(stack, batch_id: str) -> dict:
    body = boto3.client("s3").get_object(Bucket=stack.env("AUDIT_BUCKET"), Key=f"draws/{batch_id}.json")["Body"]
    return json.loads(body.read())


def test_priority_list_and_province_quotas_shape_the_draw_through_the_real_tick(stack, clock, tmp_path):
    # Given ten eligible applicants: five in Jakarta (31), five in West Java (32); three of the
    # West Javans are on the priority list (two by applicant id, one by NIK)
    ids = []
    for i in range(10):
        _, applicant_id = ready(stack, f"r{i}@example.id")
        with_biodata(stack, applicant_id, "31" if i < 5 else "32", nik=NIK if i == 9 else None)
        ids.append(applicant_id)
    priority_ids = set(ids[7:])
    (tmp_path / "priority.txt").write_text(f"# laid-off workers\n{ids[7]}\n{ids[8]}  # by id\n{NIK}\n")
    # And a batch of four places, half for the priority list, at most one from Jakarta
    code, _, err = ops("batches", "create", "--id", "2026-07", "--opens", wib_in(1), "--closes", wib_in(3),
                       "--announce", wib_in(4), "--quota", "4", "--priority-share", "0.5",
                       "--province-quota", "31=1", "--priority-file", str(tmp_path / "priority.txt"),
                       "--commitment", selection.commitment(SECRET))
    assert code == 0, err
    # When everyone joins while it is open, it closes, the secret is revealed and the tick draws
    clock.advance(3600 + 60)
    for i in range(10):
        joined = stack.call("POST", "/v1/batches/2026-07/participants", token=ready_token(stack, f"r{i}@example.id"))
        assert joined.status == 201, joined.body
    clock.advance(2 * 3600)
    assert ops("batches", "reveal", "2026-07", "--secret", SECRET)[0] == 0
    assert stack.registry.invoke("BatchTickFunction", TICK)["drawn"] == ["2026-07"]
    # Then the audit record flags exactly the listed applicants as priority
    record = audit(stack, "2026-07")
    flagged = {row[0] for row in record["ranking"] if row[4]}
    assert flagged == priority_ids
    selected = [row for row in record["ranking"] if row[1] == "SELECTED"]
    # And the quota is filled: two priority places, then the rest with at most one from Jakarta
    assert len(selected) == 4
    assert sum(1 for row in selected if row[0] in priority_ids) >= 2
    assert Counter(row[3] for row in selected)["31"] <= 1
    assert record["priority_share"] == 0.5 and record["province_quotas"] == {"31": 1}
    assert verify_audit(record, selection.commitment(SECRET)) == []


def test_without_the_revealed_secret_the_tick_closes_and_waits(stack, clock):
    # Given a batch created with only its commitment, and one participant
    code, _, err = ops("batches", "create", "--id", "2026-08", "--opens", wib_in(1), "--closes", wib_in(2),
                       "--announce", wib_in(3), "--quota", "1", "--commitment", selection.commitment(SECRET))
    assert code == 0, err
    ready(stack, "w@example.id")
    clock.advance(3600 + 1)
    joined = stack.call("POST", "/v1/batches/2026-08/participants", token=ready_token(stack, "w@example.id"))
    assert joined.status == 201
    # When the close and the announcement pass without the secret
    clock.advance(2 * 3600)
    first = stack.registry.invoke("BatchTickFunction", TICK)
    second = stack.registry.invoke("BatchTickFunction", TICK)
    # Then the batch is closed, nothing is drawn, and the tick keeps waiting
    assert first["closed"] == ["2026-08"] and first["waiting"] == ["2026-08"] and first["drawn"] == []
    assert second["waiting"] == ["2026-08"] and second["drawn"] == []
    assert stack.call("GET", "/v1/batches").body["batches"][0]["status"] == "CLOSED"
    # And once revealed, one tick draws and announces (announce_at has passed)
    assert ops("batches", "reveal", "2026-08", "--secret", SECRET)[0] == 0
    third = stack.registry.invoke("BatchTickFunction", TICK)
    assert third["drawn"] == ["2026-08"] and third["announced"] == ["2026-08"]
    stack.drain("DrawQueue", "DrawResultsFunction")
    token = ready_token(stack, "w@example.id")
    assert stack.call("GET", "/v1/me", token=token).body["steps"]["batch"]["status"] == "SELECTED"


def ready_token(stack, email: str) -> str:
    """A fresh access token (they last 15 minutes; the tests move the clock by hours)."""
    return sign_in(stack, email)["access_token"]


def test_results_fan_out_in_chunks_and_the_announcement_streams_the_record(stack, clock):
    # Given chunks of two rows (the tick sends up to ten chunks per SendMessageBatch) and five participants
    stack.registry.environments["BatchTickFunction"]["DRAW_CHUNK_SIZE"] = "2"
    code, _, err = ops("batches", "create", "--id", "2026-10", "--opens", wib_in(1), "--closes", wib_in(2),
                       "--announce", wib_in(3), "--quota", "2", "--commitment", selection.commitment(SECRET))
    assert code == 0, err
    for i in range(5):
        ready(stack, f"c{i}@example.id")
    clock.advance(3600 + 1)
    for i in range(5):
        assert stack.call("POST", "/v1/batches/2026-10/participants",
                          token=ready_token(stack, f"c{i}@example.id")).status == 201
    clock.advance(2 * 3600)
    ops("batches", "reveal", "2026-10", "--secret", SECRET)
    # When the tick draws and announces
    done = stack.registry.invoke("BatchTickFunction", TICK)
    assert done["drawn"] == done["announced"] == ["2026-10"]
    # Then three result chunks and three announcement chunks were queued, and every one is applied
    assert stack.drain("DrawQueue", "DrawResultsFunction") == 6
    outcomes = sorted(stack.call("GET", "/v1/me", token=ready_token(stack, f"c{i}@example.id"))
                      .body["steps"]["batch"]["status"] for i in range(5))
    assert outcomes == ["NOT_SELECTED"] * 3 + ["SELECTED"] * 2
    assert stack.drain("BulkEmailQueue", "EmailSenderFunction") >= 5
