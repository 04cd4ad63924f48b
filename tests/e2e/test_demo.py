"""The walking skeleton end to end: the demo's funnel (two batches) equals what its seeded scenario
intended, and an auditor re-runs both draws with ``prakerja-ops``."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import httpx

from prakerja_local.demo import FUNNEL, rejoin_count

REPO = Path(__file__).resolve().parents[2]


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


def batches(base_url: str) -> list[dict]:
    return httpx.get(f"{base_url}/v1/batches").json()["batches"]


def test_two_batches_were_announced_and_some_not_selected_in_batch_1_joined_batch_2(base_url, demo_run):
    first, second = batches(base_url)[:2]
    assert first["status"] == second["status"] == "ANNOUNCED"
    # everyone who joined joined batch 1; batch 2 holds only some of those batch 1 did not select
    assert first["participants"] == demo_run.funnel["joined_batch"]
    not_selected = first["participants"] - first["selected"]
    assert second["participants"] == rejoin_count(not_selected) and 0 < second["participants"] <= not_selected
    # distinct people selected in any batch
    assert first["selected"] + second["selected"] == demo_run.funnel["selected"]
    for b in (first, second):
        assert (f"batch {b['batch_id']}: status=ANNOUNCED quota={b['quota']} participants={b['participants']} "
                f"selected={b['selected']}") in demo_run.lines


def test_the_mailbox_holds_verification_and_result_emails(base_url, demo_run):
    mails = httpx.get(f"{base_url}/_local/mailbox").json()
    assert {"to", "subject", "text", "sent_at"} <= set(mails[0])
    subjects = [m["subject"] for m in mails]
    assert sum("Konfirmasi email" in s for s in subjects) == demo_run.funnel["registered"]
    participations = sum(b["participants"] for b in batches(base_url)[:2])
    assert sum("Hasil seleksi" in s for s in subjects) == participations
    page = httpx.get(f"{base_url}/_local/mailbox", headers={"Accept": "text/html"})
    assert page.headers["content-type"].startswith("text/html") and "<a href=" in page.text


def ops(*argv: str) -> subprocess.CompletedProcess:
    """``python -m prakerja_ops`` in its own process, as an operator runs it."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(str(REPO / d) for d in ("src", "local", "ops"))}
    for name in ("AWS_ENDPOINT_URL", "BATCHES_TABLE", "AUDIT_BUCKET"):
        env.pop(name, None)
    return subprocess.run([sys.executable, "-m", "prakerja_ops", *argv], env=env, capture_output=True, text=True,
                          timeout=120)


def test_an_auditor_re_runs_both_draws_with_prakerja_ops(base_url, demo_run):
    for b in batches(base_url)[:2]:
        done = ops("--local", base_url, "draw", "verify", b["batch_id"])
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith(f"draw {b['batch_id']}: OK (participants={b['participants']} ")


def test_operators_list_the_batches_through_the_moto_endpoint(base_url, demo_run):
    moto = httpx.get(f"{base_url}/_local/info").json()["moto_endpoint"]
    done = ops("--endpoint", moto, "batches", "list")
    assert done.returncode == 0, done.stderr
    rows = {line.split()[0]: line for line in done.stdout.splitlines()[1:] if line[:1].strip()}
    for b in batches(base_url)[:2]:
        assert "ANNOUNCED" in rows[b["batch_id"]] and "revealed" in rows[b["batch_id"]]
