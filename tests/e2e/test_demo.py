"""The walking skeleton end to end: the demo's funnel equals what its seeded scenario intended."""

from __future__ import annotations

import re

import httpx

from prakerja_local.demo import FUNNEL


def test_the_demo_funnel_matches_the_scenario_step_by_step(demo_run):
    # Given the shared demo run of 20 synthetic applicants
    expected_line = next(line for line in demo_run.lines if line.startswith("expected: "))
    expected = dict(pair.split("=") for pair in expected_line.removeprefix("expected: ").split())
    # Then every step's count of distinct people is the scenario's
    assert {k: str(v) for k, v in demo_run.funnel.items()} == expected
    # and the machine-readable line is last, in the contract's order
    last = demo_run.lines[-1]
    assert re.fullmatch(r"funnel: " + " ".join(rf"{k}=\d+" for k in FUNNEL), last)


def test_every_behaviour_of_the_scenario_occurred(demo_run):
    behaviours = demo_run.lines[0]
    for name in ("no_click", "typo_caught", "typo_fixed", "typo_gave_up", "fails_test", "joins_late"):
        assert f"'{name}'" in behaviours


def test_the_draw_mattered_quota_below_joiners(demo_run):
    assert 0 < demo_run.funnel["selected"] < demo_run.funnel["joined_batch"]


def test_the_batch_was_announced_with_counts(base_url, demo_run):
    batches = httpx.get(f"{base_url}/v1/batches").json()["batches"]
    first = batches[0]
    assert first["status"] == "ANNOUNCED"
    assert first["participants"] == demo_run.funnel["joined_batch"]
    assert first["selected"] == demo_run.funnel["selected"]


def test_the_mailbox_holds_verification_and_result_emails(base_url, demo_run):
    mails = httpx.get(f"{base_url}/_local/mailbox").json()
    assert {"to", "subject", "text", "sent_at"} <= set(mails[0])
    subjects = [m["subject"] for m in mails]
    assert sum("Konfirmasi email" in s for s in subjects) == demo_run.funnel["registered"]
    assert sum("Hasil seleksi" in s for s in subjects) == demo_run.funnel["joined_batch"]
    page = httpx.get(f"{base_url}/_local/mailbox", headers={"Accept": "text/html"})
    assert page.headers["content-type"].startswith("text/html") and "<a href=" in page.text
