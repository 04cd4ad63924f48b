"""The audit record of a draw (``prakerja.domain.draw.build_audit``) and its re-run
(``verify_audit``, behind ``prakerja-ops draw verify``): a genuine record always verifies, and any
tampering with the secret, the participant list, the ranking or the rules is caught."""

from __future__ import annotations

import copy
import hashlib
import json
import uuid
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from prakerja.domain import selection
from prakerja.domain.draw import build_audit, verify_audit
from prakerja.services.batches import wib_time

SECRET = "rahasia-audit-unit-0004-abcdefgh"


@st.composite
def records(draw):
    n = draw(st.integers(min_value=2, max_value=40))
    base = draw(st.integers(min_value=0, max_value=2**32))
    ids = [hashlib.sha256(f"{base}:{i}".encode()).hexdigest()[:32] for i in range(n)]  # like uuid4().hex
    provinces = [draw(st.sampled_from(["31", "32", "35", None])) for _ in range(n)]
    flags = bytearray(draw(st.booleans()) for _ in range(n))
    quota = draw(st.integers(min_value=1, max_value=n - 1))
    share = draw(st.sampled_from([0.0, 0.5, 0.8]))
    quotas = draw(st.one_of(st.none(), st.dictionaries(st.sampled_from(["31", "32"]), st.integers(0, 5))))
    return build_audit(batch_id="2026-01", closes_at="2026-04-16T09:00:00Z", quota=quota, priority_share=share,
                       province_quotas=quotas, commitment=selection.commitment(SECRET), secret=SECRET, ids=ids,
                       provinces=provinces, flags=flags)


def published(record: dict) -> dict:
    """The record as an auditor downloads it (JSON round trip)."""
    return json.loads(json.dumps(record))


@settings(max_examples=150)
@given(record=records())
def test_a_genuine_record_verifies(record):
    assert verify_audit(published(record), selection.commitment(SECRET)) == []


@settings(max_examples=150)
@given(record=records(), data=st.data())
def test_moving_anyone_in_the_ranking_is_caught(record, data):
    tampered = published(record)
    ranking = tampered["ranking"]
    i, j = data.draw(st.lists(st.integers(0, len(ranking) - 1), min_size=2, max_size=2, unique=True))
    for column in (0, 3, 4):  # the person (id, province, priority) moves; outcome and rank stay put
        ranking[i][column], ranking[j][column] = ranking[j][column], ranking[i][column]
    assert verify_audit(tampered) != []


@settings(max_examples=100)
@given(record=records())
def test_adding_or_dropping_a_participant_is_caught(record):
    dropped = published(record)
    dropped["ranking"].pop()
    added = published(record)
    added["ranking"].append([uuid.uuid4().hex, "NOT_SELECTED", len(added["ranking"]) + 1, None, 0])
    assert verify_audit(dropped) != [] and verify_audit(added) != []


def test_another_secret_or_commitment_or_rule_is_caught():
    record = published(build_audit(
        batch_id="2026-01", closes_at="2026-04-16T09:00:00Z", quota=3, priority_share=0.8,
        province_quotas={"31": 1}, commitment=selection.commitment(SECRET), secret=SECRET,
        ids=[uuid.UUID(int=i).hex for i in range(12)], provinces=["31", "32"] * 6,
        flags=bytearray([1, 0, 0] * 4)))
    assert verify_audit(record) == []
    other = copy.deepcopy(record) | {"secret": "another-secret-entirely-0005"}
    assert any("does not hash" in p for p in verify_audit(other))
    assert any("not the one published" in p for p in verify_audit(record, "0" * 64))
    for field, value in (("quota", 4), ("priority_share", 0.0), ("province_quotas", None)):
        changed = copy.deepcopy(record) | {field: value}
        assert verify_audit(changed) != [], field
    flags_flipped = copy.deepcopy(record)
    for row in flags_flipped["ranking"]:
        row[4] = 1 - row[4]
    assert verify_audit(flags_flipped) != []
    assert verify_audit({"ranking": "nonsense"})[0].startswith("malformed audit record")


@pytest.mark.parametrize(("text", "utc"), [
    ("2026-04-16 16:00", datetime(2026, 4, 16, 9, 0, tzinfo=UTC)),
    ("2026-04-16T16:00:30", datetime(2026, 4, 16, 9, 0, 30, tzinfo=UTC)),
    ("2026-04-16T09:00:00Z", datetime(2026, 4, 16, 9, 0, tzinfo=UTC)),
    ("2026-04-16T16:00:00+07:00", datetime(2026, 4, 16, 9, 0, tzinfo=UTC)),
])
def test_times_are_stated_in_wib_and_kept_in_utc(text, utc):
    assert wib_time(text) == utc


def test_a_time_without_a_date_is_refused():
    with pytest.raises(ValueError):
        wib_time("16:00")


@settings(max_examples=50)
@given(record=records())
def test_the_streamed_record_is_json_and_reads_back_row_by_row(record):
    import io

    from prakerja.domain.draw import audit_rows, write_audit

    header = {k: v for k, v in record.items() if k != "ranking"}
    seen: list = []
    out = io.BytesIO()
    write_audit(header, iter(record["ranking"]), out, on_row=seen.append)
    text = out.getvalue()
    assert json.loads(text) == published(record)
    assert list(audit_rows(io.BytesIO(text).readlines())) == published(record)["ranking"] == published(seen)
