"""The capacity plan and cost are computed from the committed measured table (not typed in), and
docs/capacity.md and the runbook block are what the code renders from the committed inputs."""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))

import capacity  # noqa: E402
import capacity_plan as cp  # noqa: E402

MEASURED = json.loads((ROOT / "bench" / "capacity_measured.json").read_text())
FACTS = capacity.load_facts()


def test_more_cpu_on_sign_up_means_more_concurrency_and_gb_seconds():
    before = cp.plan(MEASURED, cp.Mix(), FACTS)
    after = cp.plan(cp.with_measured(MEASURED, "POST /v1/accounts", cpu_ms=500.0), cp.Mix(), FACTS)
    register = lambda p: p["functions"]["RegisterFunction"]["concurrency"]  # noqa: E731
    assert register(after) > register(before)
    assert _gb_seconds(after) > _gb_seconds(before)


def _gb_seconds(plan: dict) -> float:
    return next(c["quantity"] for c in plan["cost"]["lines"] if c["price_key"] == "lambda_arm_gb_second")


def test_one_more_wcu_per_sign_up_adds_the_sign_up_rate_to_the_table():
    before = cp.plan(MEASURED, cp.Mix(), FACTS)
    after = cp.plan(cp.with_measured(MEASURED, "POST /v1/accounts", wcu=1.0), cp.Mix(), FACTS)
    table = next(iter(MEASURED["measured"]["POST /v1/accounts"]["dynamodb"]))
    assert round(after["tables"][table]["wcu"] - before["tables"][table]["wcu"], 6) == cp.Mix().signups_per_second


def test_a_missing_price_is_not_sourced_never_a_number():
    p = cp.plan(MEASURED, cp.Mix(), {"quotas": {}, "prices": {}})
    assert all(c["usd"] is None for c in p["cost"]["lines"]) and p["cost"]["sourced_total"] == 0
    assert all(not q["sourced"] for q in p["quotas"])


def test_the_committed_docs_equal_the_rendering():
    assert capacity.main(["--check"]) == 0


def _template_defaults() -> dict[str, int]:
    import yaml

    class Loader(yaml.SafeLoader):
        pass

    Loader.add_multi_constructor("!", lambda loader, suffix, node: None)
    params = yaml.load((ROOT / "template.yaml").read_text(encoding="utf-8"), Loader=Loader)["Parameters"]
    return {name: int(params[name]["Default"]) for name in cp.route_limits(cp.Mix())}


def test_the_templates_route_limits_are_the_plans():
    assert _template_defaults() == cp.route_limits(cp.Mix())


def test_more_status_polls_in_the_mix_raise_the_status_limit_only():
    mix = cp.Mix()
    busier = cp.replace(mix, per_signup={**mix.per_signup, "GET /v1/me": 12.0})
    before, after = cp.route_limits(mix), cp.route_limits(busier)
    assert after["StatusRateLimit"] > before["StatusRateLimit"]
    assert after["StatusBurstLimit"] > before["StatusBurstLimit"]
    assert {k: v for k, v in after.items() if not k.startswith("Status")} == {
        k: v for k, v in before.items() if not k.startswith("Status")}


def _with_harness(measured: dict, extra_overhead_ms: float) -> dict:
    """The table as a run whose harness spent ``extra_overhead_ms`` more per invocation would give."""
    out = json.loads(json.dumps(measured))
    for row in out["measured"].values():
        row["harness_overhead_ms_mean"] += extra_overhead_ms
        row["raw_cpu_ms"]["mean"] += extra_overhead_ms
    return out


def test_the_committed_measurement_is_not_refused_and_a_harness_dominated_one_is():
    assert cp.refusal(MEASURED) is None
    assert cp.run_harness_share(MEASURED) < cp.HARNESS_SHARE_LIMIT
    slowed = _with_harness(MEASURED, 2000.0)
    reason = cp.refusal(slowed)
    assert reason is not None and "emulator" in reason
    assert cp.run_harness_share(slowed) > cp.HARNESS_SHARE_LIMIT


def test_make_capacity_writes_nothing_when_the_run_measured_the_emulator(monkeypatch, tmp_path, capsys):
    import capacity_measure

    slowed = _with_harness(MEASURED, 2000.0)
    monkeypatch.setattr(capacity_measure, "measure", lambda journeys: slowed)
    for name in ("MEASURED", "DOC", "RUNBOOK"):
        monkeypatch.setattr(capacity, name, tmp_path / name)
    assert capacity.main(["--journeys", "1"]) == 2
    assert list(tmp_path.iterdir()) == []
    assert capsys.readouterr().out.startswith("capacity: refused harness_share=")


def test_a_row_mostly_harness_is_marked_emulator_dominated_in_the_docs():
    label = "GET /v1/me"
    row = json.loads(json.dumps(MEASURED["measured"][label]))
    row["harness_overhead_ms_mean"] = row["raw_cpu_ms"]["mean"] * 0.97
    assert cp.harness_share(row) > cp.HARNESS_SHARE_MARK
    lines = capacity.measured_tables({"measured": {label: row}})
    assert "(emulator-dominated)" in lines[-1]
    row["harness_overhead_ms_mean"] = row["raw_cpu_ms"]["mean"] * 0.5
    assert "(emulator-dominated)" not in capacity.measured_tables({"measured": {label: row}})[-1]
