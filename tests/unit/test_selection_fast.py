"""The draw at national size (issue 13): the numpy path of ``prakerja.domain.selection`` gives the
same digest, seed and ranking as the implementation before it (``selection_before.py``, a copy of
the module at commit 3ad3274, kept as the reference), on the published example at 6,000,000
participants (docs/draw-example.md) and on random batches of a few thousand."""

from __future__ import annotations

import hashlib
import json
import random
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from prakerja.domain import selection as sel
from prakerja.domain.draw import build_audit, verify_audit

from . import selection_before as before

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fixtures"))
import draw_example as example  # noqa: E402

PROVINCES = ("11", "12", "31", "32", "35")


def same(new: sel.DrawResult, old: before.DrawResult) -> bool:
    return (new.ranked_ids, new.selected_count, new.priority_selected, new.priority_places, new.seed) == (
        old.ranked_ids, old.selected_count, old.priority_selected, old.priority_places, old.seed)


@pytest.fixture
def fast(monkeypatch):
    """The numpy path from the first participant on."""
    monkeypatch.setattr(sel, "_FAST_MIN", 1)


def test_the_published_example_at_6m_keeps_its_result():
    ids, provinces, flags = example.participants()
    digest = sel.participants_digest(ids)
    seed = sel.draw_seed(example.SECRET, digest)
    result = sel.draw_ids(ids, flags, provinces, quota=example.QUOTA, seed=seed,
                          priority_share=example.PRIORITY_SHARE, province_quotas=example.PROVINCE_QUOTAS)
    assert {"participants_digest": digest, "seed": seed, "selected": result.selected_count,
            "priority_selected": result.priority_selected, "ranking_sha256": example.ranking_sha256(result.ranked_ids),
            "first_selected": result.ranked_ids[:3]} == example.PINNED
    assert [ids[i] for i in result.ranked_index[:1000].tolist()] == result.ranked_ids[:1000]


def _ids(rng: random.Random, n: int, kind: str) -> list[str]:
    if kind == "hex":  # applicant ids (uuid4().hex)
        return [f"{rng.getrandbits(128):032x}" for _ in range(n)]
    if kind == "common-prefix":  # every id ties on its first 8 bytes
        return [f"applicant-{i:07d}" for i in rng.sample(range(10**7), n)]
    if kind == "short":  # narrower than the 8-byte prefix
        return [f"{i:05x}" for i in rng.sample(range(16**5), n)]
    return [f"p{i}" for i in rng.sample(range(10**6), n)]  # mixed widths: the general path


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32), n=st.integers(1, 4000),
       kind=st.sampled_from(["hex", "common-prefix", "short", "mixed"]), share=st.sampled_from([0.0, 0.3, 0.8, 1.0]),
       capped=st.booleans(), quota_share=st.floats(0, 1.2))
def test_the_fast_path_equals_the_reference(seed, n, kind, share, capped, quota_share):
    rng = random.Random(seed)
    ids = _ids(rng, n, kind)
    provinces = [rng.choice((*PROVINCES, None)) for _ in range(n)]
    flags = bytearray(rng.random() < 0.3 for _ in range(n))
    quotas = {p: rng.randrange(0, max(1, n // 8)) for p in rng.sample(PROVINCES, 3)} if capped else None
    quota = int(n * quota_share)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(sel, "_FAST_MIN", 1)
        digest = sel.participants_digest(ids)
        new = sel.draw_ids(ids, flags, provinces, quota=quota, seed=digest, priority_share=share,
                           province_quotas=quotas)
    assert digest == before.participants_digest(ids)
    old = before.draw_ids(ids, flags, provinces, quota=quota, seed=digest, priority_share=share, province_quotas=quotas)
    assert same(new, old)
    assert [ids[i] for i in list(new.ranked_index)] == new.ranked_ids


def test_duplicates_and_bad_ids_are_refused_alike(fast):
    rng = random.Random(7)
    for ids in (_ids(rng, 500, "hex"), _ids(rng, 500, "common-prefix"), _ids(rng, 500, "short")):
        twice = [*ids, ids[123]]
        with pytest.raises(sel.SelectionError) as exc:
            sel.participants_digest(twice)
        assert exc.value.code == "PARTICIPANT_DUPLICATE"
        with pytest.raises(sel.SelectionError) as exc:
            sel.draw_ids(twice, quota=3, seed="s")
        assert exc.value.code == "PARTICIPANT_DUPLICATE"
    for bad in (["a\nb", "cd\ne"], ["", "x"], [1, 2]):
        with pytest.raises(sel.SelectionError) as exc:
            sel.participants_digest(bad)
        assert exc.value.code == "PARTICIPANT_INVALID"
    for bad in (["", ""], [1, 2], [b"ab", b"cd"]):
        with pytest.raises(sel.SelectionError) as exc:
            sel.draw_ids(bad, quota=1, seed="s")
        assert exc.value.code == "PARTICIPANT_INVALID"


def test_non_ascii_ids_take_the_general_path_with_the_same_digest(fast):
    ids = ["ñandú-01", "ábaco-02", "zeta-003", "alpha-04"]
    assert sel.participants_digest(ids) == hashlib.sha256("\n".join(sorted(ids)).encode()).hexdigest()


def test_the_audit_record_of_the_fast_path_is_the_old_one_and_verifies(monkeypatch):
    ids, provinces, flags = example.participants(3000)
    draw = {"batch_id": "2026-01", "closes_at": "2026-04-16T09:00:00Z", "quota": 500, "priority_share": 0.8,
            "province_quotas": {"31": 5, "32": 20}, "commitment": sel.commitment(example.SECRET),
            "secret": example.SECRET, "ids": ids, "provinces": provinces, "flags": flags}
    slow = json.loads(json.dumps(build_audit(**draw)))
    monkeypatch.setattr(sel, "_FAST_MIN", 1)
    quick = json.loads(json.dumps(build_audit(**draw)))
    assert quick == slow
    assert verify_audit(slow, sel.commitment(example.SECRET)) == []
