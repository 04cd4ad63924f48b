"""The live funnel: write-sharded counters of distinct people per step, kept by the services as
the steps happen, read by ``prakerja-ops funnel``; and the funnel and partner-health metrics."""

from __future__ import annotations

import io
import json
import random

import boto3
import pytest

from prakerja import clock as prakerja_clock
from prakerja.adapters.applicants import ApplicantStore
from prakerja.adapters.funnel import SHARDS, STEPS, FunnelCounters, counter_key
from prakerja.observability import metrics
from prakerja_ops.cli import main as ops_main
from tests.integration.harness import REGION
from tests.integration.support import PASSWORD, sign_in, sign_up, verified_applicant
from tests.integration.test_assessment import best_answers
from tests.integration.test_assessment_retake import allow_retakes, take, worst_answers
from tests.integration.test_batches import TICK, add_batch, make_eligible
from tests.integration.test_biodata_nik import form, register_person, status


def ops(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = ops_main(list(argv), out, err)
    return code, out.getvalue(), err.getvalue()


def applicant_id(stack, token: str) -> str:
    return stack.call("GET", "/v1/me", token=token).body["applicant_id"]


# --------------------------------------------------------------------------- the counters
def test_counts_spread_over_shards_are_summed_per_step(stack):
    # Given 40 sign-ups and 3 selections counted on random shards
    counters = FunnelCounters(stack.env("APPLICANTS_TABLE"), rng=random.Random(2020))
    for _ in range(40):
        counters.add("registered")
    for _ in range(3):
        counters.add("selected")
    # Then the writes went to several partition keys (write sharding)
    table = boto3.resource("dynamodb", region_name=REGION).Table(stack.env("APPLICANTS_TABLE"))
    used = [s for s in range(SHARDS) if "Item" in table.get_item(Key=counter_key("registered", s))]
    assert len(used) > 1
    # And the totals sum every shard, with every step present in funnel order
    totals = counters.totals()
    assert list(totals) == list(STEPS)
    assert totals == dict.fromkeys(STEPS, 0) | {"registered": 40, "selected": 3}


def test_an_applicant_is_counted_once_per_step_however_often_they_reach_it(stack):
    # Given a signed-up applicant
    sign_up(stack, "sekali@example.id")
    aid = applicant_id(stack, sign_in(stack, "sekali@example.id")["access_token"])
    counters = FunnelCounters(stack.env("APPLICANTS_TABLE"))
    # When they reach "joined_batch" twice (batch 1, then batch 2)
    first = counters.reached(aid, "joined_batch", "2026-04-11T03:00:00Z")
    second = counters.reached(aid, "joined_batch", "2026-04-18T03:00:00Z")
    # Then they are counted once, and the first time is kept on their profile
    assert (first, second) == (True, False)
    assert counters.totals()["joined_batch"] == 1
    profile = ApplicantStore(stack.env("APPLICANTS_TABLE")).get_profile(aid)
    assert profile["funnel_joined_batch"] == "2026-04-11T03:00:00Z"
    # And an applicant without a profile (erased) is not counted at all
    assert counters.reached("0" * 32, "joined_batch", "2026-04-11T03:00:00Z") is False
    assert counters.totals()["joined_batch"] == 1


def test_an_unknown_step_is_refused():
    with pytest.raises(ValueError):
        FunnelCounters("t").add("paid")


# --------------------------------------------------------------------------- through the functions
def scenario(stack, clock, ministry) -> None:
    """Three people: Ani corrects a NIK the ministry rejected, fails and retakes the test, joins
    batch 1 and (if not selected there) batch 2; Budi is verified and joins batch 1 (his other
    steps set directly); Citra never confirms her email. Both batches are drawn (quota 1, then 5).

    As people: registered 3, email verified 2, NIK verified 1, test passed 1, joined 2, selected 2.
    As events: 2 NIK outcomes, 2 tests, 3 joins (the one not selected in batch 1 joins batch 2)."""
    allow_retakes(stack, 2, 1)
    register_person(ministry, name="Budi Santosa")
    ani = verified_applicant(stack, "ani@example.id")
    budi = verified_applicant(stack, "budi@example.id")
    sign_up(stack, "citra@example.id")
    # Ani: the ministry rejects the first name, verifies the corrected one
    stack.call("PUT", "/v1/me/biodata", form(), token=ani)
    stack.drain("NikQueue", "NikWorkerFunction")
    assert status(stack, ani)["status"] == "REJECTED"
    stack.call("PUT", "/v1/me/biodata", form(full_name="Budi Santosa"), token=ani)
    stack.drain("NikQueue", "NikWorkerFunction")
    assert status(stack, ani)["status"] == "VERIFIED"
    # Ani fails the test, retakes it after the wait and passes
    assert take(stack, ani, worst_answers)["passed"] is False
    clock.advance(3601)
    ani = sign_in(stack, "ani@example.id")["access_token"]
    assert take(stack, ani, best_answers)["passed"] is True
    ApplicantStore(stack.env("APPLICANTS_TABLE")).update_profile(applicant_id(stack, ani), {"steps.ktp": {
        "status": "VALID", "reason": None, "updated_at": prakerja_clock.iso(prakerja_clock.now())}})
    budi = sign_in(stack, "budi@example.id")["access_token"]
    make_eligible(stack, budi)
    # Both join batch 1 (one place); the one not selected joins batch 2
    add_batch(stack, "2020-01", -1, 1, 2, 1)
    add_batch(stack, "2020-02", 3, 10, 11, 5)
    for token in (ani, budi):
        assert stack.call("POST", "/v1/batches/2020-01/participants", token=token).status == 201
    clock.advance(2 * 3600 + 1)
    for _ in range(2):  # close and draw, then announce
        stack.registry.invoke("BatchTickFunction", TICK)
        stack.drain("DrawQueue", "DrawResultsFunction")
    clock.advance(3600)
    tokens = [sign_in(stack, f"{name}@example.id")["access_token"] for name in ("ani", "budi")]
    not_selected = [t for t in tokens
                    if stack.call("GET", "/v1/me", token=t).body["steps"]["batch"]["status"] == "NOT_SELECTED"]
    assert len(not_selected) == 1
    assert stack.call("POST", "/v1/batches/2020-02/participants", token=not_selected[0]).status == 201
    clock.advance(7 * 3600 + 1)
    stack.registry.invoke("BatchTickFunction", TICK)
    stack.drain("DrawQueue", "DrawResultsFunction")


def test_prakerja_ops_funnel_counts_people_not_events(stack, clock, ministry):
    # Given the three people's ways through the real functions
    scenario(stack, clock, ministry)
    # When an operator asks for the funnel
    code, out, err = ops("funnel")
    # Then each step counts distinct people (a retaken test, a second batch and a corrected NIK once)
    assert code == 0, err
    assert out.splitlines()[-1] == ("funnel: registered=3 email_verified=2 nik_verified=1 assessment_passed=1 "
                                    "joined_batch=2 selected=2")
    # with the share of the registered, as the April 2020 statement gave it
    rows = {line.split()[0]: line.split()[1:] for line in out.splitlines()[2:-1]}
    assert rows["email_verified"] == ["2", "66.67%"] and rows["registered"] == ["3", "100.00%"]
    assert rows["ktp_valid"] == ["0", "0.00%"]
    # And the JSON form says the same
    code, out, _ = ops("funnel", "--json")
    doc = json.loads(out)
    assert doc["funnel"] == {"registered": 3, "email_verified": 2, "nik_verified": 1, "assessment_passed": 1,
                             "joined_batch": 2, "selected": 2}
    assert doc["steps"][1] == {"step": "email_verified", "people": 2, "percent_of_registered": 66.67}


def emitted(text: str) -> tuple[dict[str, list[float]], list[list[str]], set[str]]:
    """From captured stdout: every EMF metric's values, the dimension sets and the namespaces."""
    values: dict[str, list[float]] = {}
    dimensions: list[list[str]] = []
    namespaces: set[str] = set()
    for line in text.splitlines():
        try:
            blob = json.loads(line)
        except ValueError:
            continue
        if not isinstance(blob, dict) or "_aws" not in blob:
            continue
        for directive in blob["_aws"]["CloudWatchMetrics"]:
            namespaces.add(directive["Namespace"])
            dimensions += directive["Dimensions"]
            for metric in directive["Metrics"]:
                value = blob[metric["Name"]]
                values.setdefault(metric["Name"], []).extend(value if isinstance(value, list) else [value])
    return values, dimensions, namespaces


def test_every_funnel_event_and_ministry_call_is_a_metric_without_personal_data(stack, clock, ministry, capsys,
                                                                                monkeypatch):
    # Given metrics published (the harness disables them by default) and nothing left over
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
    metrics.clear_metrics()
    capsys.readouterr()
    # When the three people go their ways
    scenario(stack, clock, ministry)
    out = capsys.readouterr().out
    values, dimensions, namespaces = emitted(out)
    counts = {name: sum(v) for name, v in values.items()}
    # Then every funnel event was counted as it happened (events, not people)
    assert {k: counts.get(k) for k in ("AccountCreated", "EmailVerified", "NikRejected", "NikVerified",
                                        "AssessmentFailed", "AssessmentPassed", "BatchJoined", "Selected",
                                        "NotSelected")} == {
        "AccountCreated": 3, "EmailVerified": 2, "NikRejected": 1, "NikVerified": 1, "AssessmentFailed": 1,
        "AssessmentPassed": 1, "BatchJoined": 3, "Selected": 2, "NotSelected": 1}
    # And partner health: one call per NIK check, each with its latency; every verification email sent
    assert counts["MinistryCall"] == 2 and len(values["MinistryLatency"]) == 2
    assert all(v >= 0 for v in values["MinistryLatency"])
    assert counts["SesSent"] >= 2
    # And all in the Prakerja namespace, dimensioned by service only, naming no one
    assert namespaces == {"Prakerja"} and {tuple(d) for d in dimensions} == {("service",)}
    blobs = [line for line in out.splitlines() if '"_aws"' in line]
    assert blobs and not any(s in line for line in blobs for s in ("@example.id", "Budi", PASSWORD))
