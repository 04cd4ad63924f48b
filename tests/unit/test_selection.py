"""Unit and property tests for prakerja.domain.selection (commitment, seed, batch draw)."""

from __future__ import annotations

import hashlib
import math
import random
from collections import Counter
from collections.abc import Mapping, Sequence
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from prakerja.domain import selection as sel
from prakerja.domain.selection import Participant, SelectionError

SECRET = "c0ffee-secret-for-unit-tests-0123456789"
PROVINCES = ("11", "12", "31", "32", "35")


def sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def reference_draw(
    participants: Sequence[Participant],
    quota: int,
    seed: str,
    share: float = 0.0,
    province_quotas: Mapping[str, int] | None = None,
) -> tuple[list[str], int]:
    """The rules of the module docstring, written as plainly as possible (the specification model)."""
    lottery = sorted(
        participants, key=lambda p: (bytes.fromhex(sha(f"{seed}:{p.participant_id}")), p.participant_id)
    )
    caps = dict(province_quotas) if province_quotas is not None else None
    chosen: list[str] = []

    def fits(p: Participant) -> bool:
        if caps is None or p.province_code not in caps:
            return True
        if caps[p.province_code] == 0:
            return False
        caps[p.province_code] -= 1
        return True

    priority_places = math.floor(Fraction(repr(float(share))) * quota)
    for p in lottery:
        if len(chosen) < priority_places and p.priority and fits(p):
            chosen.append(p.participant_id)
    for p in lottery:
        if len(chosen) < quota and p.participant_id not in chosen and fits(p):
            chosen.append(p.participant_id)
    rest = [p.participant_id for p in lottery if p.participant_id not in chosen]
    return chosen + rest, len(chosen)


no_newline = st.text(
    st.characters(exclude_categories=("Cs",), exclude_characters="\n"), min_size=1, max_size=8
)


@st.composite
def batches(draw, min_size: int = 0, max_size: int = 40):
    ids = draw(st.lists(st.text(min_size=1, max_size=6), unique=True, min_size=min_size, max_size=max_size))
    people = [
        Participant(
            participant_id=pid,
            province_code=draw(st.sampled_from((*PROVINCES, None))),
            priority=draw(st.booleans()),
        )
        for pid in ids
    ]
    quota = draw(st.integers(0, len(people) + 5))
    share = draw(st.one_of(st.sampled_from((0.0, 0.1, 0.25, 0.29, 0.5, 1.0)), st.floats(0, 1)))
    province_quotas = draw(
        st.none() | st.dictionaries(st.sampled_from(PROVINCES), st.integers(0, 8), max_size=len(PROVINCES))
    )
    seed = draw(st.text(min_size=1, max_size=10))
    return people, quota, share, province_quotas, seed


def run(batch) -> sel.DrawResult:
    people, quota, share, province_quotas, seed = batch
    return sel.draw(people, quota=quota, seed=seed, priority_share=share, province_quotas=province_quotas)


# --------------------------------------------------------------------------- commitment and seed


def test_commitment_and_seed_formulas():
    digest = sel.participants_digest(["b", "a", "c"])
    assert digest == sha("a\nb\nc")
    assert sel.commitment(SECRET) == sha(SECRET)
    assert sel.draw_seed(SECRET, digest) == sha(f"{SECRET}:{digest}")
    assert sel.participants_digest([]) == sha("")


def test_seed_is_not_computable_from_the_public_commitment():
    digest = sel.participants_digest(["a"])
    assert sel.draw_seed(SECRET, digest) != sha(f"{sel.commitment(SECRET)}:{digest}")


@given(
    secret=st.text(min_size=sel.MIN_SECRET_LENGTH, max_size=40),
    ids=st.lists(no_newline, unique=True, max_size=40),
)
def test_commitment_and_seed_round_trip(secret, ids):
    digest = sel.participants_digest(ids)
    assert digest == sel.participants_digest(reversed(ids))  # order of the input does not matter
    assert digest == sha("\n".join(sorted(ids)))
    seed = sel.draw_seed(secret, digest)
    assert len(seed) == 64 and int(seed, 16) >= 0
    assert seed == sel.draw_seed(secret, digest)
    assert sel.commitment(secret) == sha(secret)
    # An auditor holding the revealed secret verifies the commitment and recomputes the seed.
    assert sel.commitment(secret) == hashlib.sha256(secret.encode()).hexdigest()
    assert sel.draw_seed(secret + "x", digest) != seed
    changed = [*ids, "extra-id"] if "extra-id" not in ids else [i for i in ids if i != "extra-id"]
    assert sel.draw_seed(secret, sel.participants_digest(changed)) != seed


@pytest.mark.parametrize("secret", ["", "too-short", None, "\ud800" * 20])
def test_bad_secret_is_rejected(secret):
    with pytest.raises(SelectionError) as exc:
        sel.commitment(secret)
    assert exc.value.code == "SECRET_INVALID"


@pytest.mark.parametrize("digest", ["", "ABC", "g" * 64, "A" * 64, "a" * 63, "a" * 64 + "\n", None])
def test_bad_digest_is_rejected(digest):
    with pytest.raises(SelectionError) as exc:
        sel.draw_seed(SECRET, digest)
    assert exc.value.code == "DIGEST_INVALID"


@pytest.mark.parametrize(
    ("ids", "code"),
    [
        (["a", "a"], "PARTICIPANT_DUPLICATE"),
        (["a", ""], "PARTICIPANT_INVALID"),
        (["a", "b\nc"], "PARTICIPANT_INVALID"),
        (["a", 1], "PARTICIPANT_INVALID"),
        (["a", "\udc80"], "PARTICIPANT_INVALID"),
    ],
)
def test_digest_rejects_bad_ids(ids, code):
    with pytest.raises(SelectionError) as exc:
        sel.participants_digest(ids)
    assert exc.value.code == code


def test_digest_spans_chunks(monkeypatch):
    monkeypatch.setattr(sel, "_CHUNK", 3)
    ids = [f"id-{i}" for i in range(10)]
    assert sel.participants_digest(ids) == sha("\n".join(sorted(ids)))


# --------------------------------------------------------------------------- draw properties


@settings(max_examples=300)
@given(batch=batches())
def test_draw_matches_the_specification_model(batch):
    people, quota, share, province_quotas, seed = batch
    result = run(batch)
    assert (result.ranked_ids, result.selected_count) == reference_draw(
        people, quota, seed, share, province_quotas
    )


@settings(max_examples=200)
@given(batch=batches(), shuffle_seed=st.integers())
def test_deterministic_and_independent_of_input_order(batch, shuffle_seed):
    people, *rest = batch
    shuffled = list(people)
    random.Random(shuffle_seed).shuffle(shuffled)
    first, again, other_order = run(batch), run(batch), run((shuffled, *rest))
    assert first == again == other_order
    assert first.ranking == other_order.ranking


@settings(max_examples=200)
@given(batch=batches())
def test_every_participant_once_selected_first_and_ranked_1_to_n(batch):
    people = batch[0]
    result = run(batch)
    ranking = result.ranking
    assert sorted(pid for pid, _, _ in ranking) == sorted(p.participant_id for p in people)
    assert [rank for _, _, rank in ranking] == list(range(1, len(people) + 1))
    flags = [selected for _, selected, _ in ranking]
    assert flags == [True] * result.selected_count + [False] * (len(people) - result.selected_count)
    assert result.selected_ids == [pid for pid, selected, _ in ranking if selected]
    assert list(result.iter_ranking()) == ranking


@settings(max_examples=200)
@given(batch=batches())
def test_quota_never_exceeded_and_filled_without_province_quotas(batch):
    people, quota, share, _, seed = batch
    result = run(batch)
    assert result.selected_count <= quota
    plain = sel.draw(people, quota=quota, seed=seed, priority_share=share)
    assert plain.selected_count == min(quota, len(people))


@settings(max_examples=200)
@given(batch=batches())
def test_priority_share_respected(batch):
    people, quota, share, _, seed = batch
    result = sel.draw(people, quota=quota, seed=seed, priority_share=share)
    priority_ids = {p.participant_id for p in people if p.priority}
    reserved = math.floor(Fraction(repr(float(share))) * quota)
    assert result.priority_places == reserved
    assert sum(pid in priority_ids for pid in result.selected_ids) >= min(len(priority_ids), reserved)
    assert result.priority_selected == min(len(priority_ids), reserved)


@settings(max_examples=200)
@given(batch=batches())
def test_province_quotas_respected(batch):
    people, quota, share, province_quotas, seed = batch
    province_quotas = province_quotas if province_quotas is not None else {"31": 1, "32": 0}
    result = sel.draw(people, quota=quota, seed=seed, priority_share=share, province_quotas=province_quotas)
    province_of = {p.participant_id: p.province_code for p in people}
    counts = Counter(province_of[pid] for pid in result.selected_ids)
    for code, cap in province_quotas.items():
        assert counts[code] <= cap
    assert result.selected_count <= quota


@settings(max_examples=100)
@given(
    ids=st.lists(no_newline, unique=True, min_size=20, max_size=80),
    secrets_=st.lists(
        st.text(min_size=sel.MIN_SECRET_LENGTH, max_size=24), unique=True, min_size=2, max_size=2
    ),
)
def test_different_secret_gives_different_result(ids, secrets_):
    people = [Participant(pid) for pid in ids]
    digest = sel.participants_digest(ids)
    first, second = (
        sel.draw(people, quota=len(ids) // 2, seed=sel.draw_seed(secret, digest)) for secret in secrets_
    )
    assert first.ranked_ids != second.ranked_ids  # equal with probability 1/20! at most
    if len(ids) >= 40:  # equal selections: probability at most 1/C(40, 20), about 7e-12
        assert set(first.selected_ids) != set(second.selected_ids)


# --------------------------------------------------------------------------- specific rules


def test_unused_priority_places_go_back_to_the_general_pool():
    people = [Participant(f"p{i}", priority=(i == 0)) for i in range(20)]
    result = sel.draw(people, quota=10, seed="s", priority_share=0.5)
    assert result.priority_places == 5
    assert result.priority_selected == 1
    assert result.selected_count == 10
    assert result.selected_ids[0] == "p0"  # the priority phase comes first in selection order


def test_priority_share_uses_the_printed_decimal():
    people = [Participant(f"p{i}", priority=True) for i in range(200)]
    assert 0.29 * 100 < 29  # binary floating point would reserve only 28 places
    assert sel.draw(people, quota=100, seed="s", priority_share=0.29).priority_places == 29


def test_full_province_is_skipped_and_the_place_moves_on():
    people = [Participant(f"j{i}", province_code="31") for i in range(10)]
    people += [Participant(f"b{i}", province_code="32") for i in range(10)]
    people += [Participant(f"x{i}") for i in range(2)]  # no province: never capped
    result = sel.draw(people, quota=8, seed="s", province_quotas={"31": 2, "32": 3})
    counts = Counter(pid[0] for pid in result.selected_ids)
    assert counts == {"j": 2, "b": 3, "x": 2}
    assert result.selected_count == 7  # provinces full, nobody left to take the eighth place


def test_draw_ids_is_the_same_draw():
    people = [Participant(f"p{i}", province_code=PROVINCES[i % 5], priority=i % 3 == 0) for i in range(50)]
    kwargs = {"quota": 20, "seed": "s", "priority_share": 0.3, "province_quotas": {"11": 2, "12": 5}}
    fast = sel.draw_ids(
        [p.participant_id for p in people],
        bytes(p.priority for p in people),
        [p.province_code for p in people],
        **kwargs,
    )
    assert fast == sel.draw(people, **kwargs)


def test_seeded_result_is_pinned():
    """Vectors checked independently with coreutils (sha256sum, LC_ALL=C sort) for auditors."""
    ids = [f"P{i:02d}" for i in range(10)]
    digest = sel.participants_digest(ids)
    assert digest == "8001dfc6f965410ad1efdb76e2b6e7ae0d6434f66a8f2fb902a101ca7c495d0c"
    assert sel.draw_seed("correct horse battery staple", digest) == (
        "bc89af25734a5d9855041e75e344369fc02aaa7ab669cec9c0124b3b53ba8250"
    )
    result = sel.draw([Participant(pid) for pid in ids], quota=4, seed=sha("pinned"))
    assert result.ranked_ids == ["P07", "P08", "P05", "P03", "P00", "P02", "P04", "P06", "P01", "P09"]
    assert result.selected_ids == ["P07", "P08", "P05", "P03"]


def test_tie_breaking_on_coarse_keys_matches_full_digest_order(monkeypatch):
    """Force massive fast-key ties: the result must still be the (full digest, id) order."""

    def coarse_keys(ids, prefix):
        return [float(hashlib.sha256(prefix + pid.encode()).digest()[0] >> 6) for pid in ids]

    monkeypatch.setattr(sel, "_sort_keys", coarse_keys)
    people = [Participant(f"p{i}", province_code=PROVINCES[i % 5], priority=i % 4 == 0) for i in range(300)]
    result = sel.draw(people, quota=100, seed="tie", priority_share=0.2, province_quotas={"11": 7})
    assert (result.ranked_ids, result.selected_count) == reference_draw(people, 100, "tie", 0.2, {"11": 7})
    with pytest.raises(SelectionError) as exc:
        sel.draw([*people, Participant("p7")], quota=1, seed="tie")
    assert exc.value.code == "PARTICIPANT_DUPLICATE"


def test_empty_batch_and_zero_quota():
    assert sel.draw([], quota=5, seed="s").ranking == []
    result = sel.draw([Participant("a"), Participant("b")], quota=0, seed="s", priority_share=1.0)
    assert result.selected_ids == [] and len(result.ranking) == 2


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"quota": -1}, "QUOTA_INVALID"),
        ({"quota": 1.0}, "QUOTA_INVALID"),
        ({"quota": True}, "QUOTA_INVALID"),
        ({"seed": ""}, "SEED_INVALID"),
        ({"seed": "\ud800"}, "SEED_INVALID"),
        ({"priority_share": -0.1}, "SHARE_INVALID"),
        ({"priority_share": 1.01}, "SHARE_INVALID"),
        ({"priority_share": float("nan")}, "SHARE_INVALID"),
        ({"priority_share": "0.5"}, "SHARE_INVALID"),
        ({"province_quotas": {"31": -1}}, "PROVINCE_QUOTAS_INVALID"),
        ({"province_quotas": {31: 1}}, "PROVINCE_QUOTAS_INVALID"),
        ({"province_quotas": [("31", 1)]}, "PROVINCE_QUOTAS_INVALID"),
    ],
)
def test_draw_rejects_bad_arguments(kwargs, code):
    arguments = {"quota": 1, "seed": "s", **kwargs}
    with pytest.raises(SelectionError) as exc:
        sel.draw([Participant("a"), Participant("b")], **arguments)
    assert exc.value.code == code


@pytest.mark.parametrize(
    ("ids", "code"),
    [
        (["a", "b", "a"], "PARTICIPANT_DUPLICATE"),
        (["a", ""], "PARTICIPANT_INVALID"),
        (["a", None], "PARTICIPANT_INVALID"),
        (["a", "\udc80"], "PARTICIPANT_INVALID"),
    ],
)
def test_draw_rejects_bad_ids(ids, code):
    with pytest.raises(SelectionError) as exc:
        sel.draw_ids(ids, quota=1, seed="s")
    assert exc.value.code == code


def test_draw_ids_rejects_length_mismatch():
    for kwargs in (
        {"priority_flags": b"\x01"},
        {"provinces": ["31"], "province_quotas": {"31": 1}},
        {"province_quotas": {"31": 1}},  # caps without provinces
    ):
        with pytest.raises(SelectionError) as exc:
            sel.draw_ids(["a", "b"], quota=1, seed="s", **kwargs)
        assert exc.value.code == "LENGTH_MISMATCH"
