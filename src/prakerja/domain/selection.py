"""The batch draw: a fair, auditable and repeatable lottery among a batch's participants.

Source of the rule: Kartu Prakerja batches ("gelombang") have a fixed quota; when more eligible
applicants join a batch than it has places, recipients are chosen by the programme's selection
(Perpres 36/2020, as amended, which leaves the mechanism to the Manajemen Pelaksana). The
mechanism below (committed secret, participant digest, hash lottery, priority share and
per-province caps) is this project's design, chosen so that anyone holding the published values
can re-run the draw and get the same result.

Protocol
    1. Before the batch opens, the operator draws a random ``secret`` (at least
       :data:`MIN_SECRET_LENGTH` characters; use ``secrets.token_hex(32)``) and publishes
       ``commitment(secret)`` = ``sha256(secret)``.
    2. When the batch closes, the participant list is frozen and
       ``participants_digest(ids)`` = ``sha256("\\n".join(sorted(ids)))`` is published.
    3. The operator reveals ``secret``; ``seed = draw_seed(secret, digest)`` =
       ``sha256(secret + ":" + digest)``, and ``draw(participants, quota=.., seed=seed, ..)``
       gives the result. Auditors check ``commitment(secret)`` against the published value,
       recompute the digest and re-run the draw.

    Why the seed cannot be steered: the secret is fixed (committed) before anyone registers, so
    the operator cannot pick a favourable secret once the participants are known; participants
    do not know the secret until after the close, so they cannot predict the draw while they can
    still join or withdraw, and the digest pins the participant list at the close. The operator,
    who knows the secret early, could in theory grind the draw by injecting registrations before
    the close; the published digest and the registration audit trail make such injections
    detectable, and mixing a public randomness beacon fixed after the close into the seed would
    remove even that (not done here).

All strings are hashed as UTF-8; hex digests are lower case. Everything is deterministic: the
same inputs give the same result on every platform and Python version.

Lottery (:func:`draw`, :func:`draw_ids`)
    * Each participant's lottery key is ``sha256(seed + ":" + participant_id)``; participants are
      ordered by ascending key (bytes order; ties, which need a SHA-256 collision, by
      participant_id). The order does not depend on the input order.
    * Priority places: ``floor(quota * priority_share)`` (the share read as the decimal it prints
      as, so ``0.29 * 100`` gives 29 places). Priority participants compete for them first, in
      lottery order. Priority places left unused go back to the general pool.
    * Then every participant not yet selected (priority ones included) competes, in lottery order,
      for the remaining ``quota - selected`` places.
    * With ``province_quotas``, no province gets more selections than its quota over both phases;
      a participant whose province is full is skipped and the place goes to the next one in
      lottery order. Provinces absent from the mapping, and participants without a province, are
      not capped (list every province, with 0 where needed, to cap them all).
    * The total never exceeds ``quota``; without province quotas exactly ``min(quota, n)`` are
      selected.
    * Ranking: the selected participants first in selection order (priority phase, then general
      phase), then everybody else in lottery order; ranks are 1..n.

Cost: O(n log n) time. From :data:`_FAST_MIN` participants on, :func:`participants_digest` and
:func:`draw_ids` sort and gather with numpy (imported only then): the digest sorts the ids as
fixed-width byte rows, the draw keeps the 64-bit keys and the order in arrays, so the working
memory is a few arrays of 8 bytes per participant beyond the caller's id strings; only hashing
each id and the province caps' loop over the candidates stay in Python. Ids of mixed widths or
non-ASCII take the pure-Python path, which gives the same result. Measured figures: README
("Measured figures", ``make bench-selection``).
"""

from __future__ import annotations

import hashlib
import math
import re
import sys
from array import array
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from functools import cached_property
from itertools import compress, filterfalse, islice
from operator import eq
from typing import Any

__all__ = [
    "MIN_SECRET_LENGTH",
    "DrawResult",
    "Participant",
    "SelectionError",
    "commitment",
    "draw",
    "draw_ids",
    "draw_seed",
    "participants_digest",
]

#: Minimum secret length (characters). A short secret could be brute-forced from its published
#: commitment, which would let someone predict the draw before the batch closes.
MIN_SECRET_LENGTH = 16

_CHUNK = 1 << 16  # ids hashed / joined per step, bounds the transient memory
#: From this many participants on, the digest and the draw sort and gather with numpy (imported
#: only then, so nothing else pays for it); the result is the same (tests/unit/test_selection_fast.py).
_FAST_MIN = 20_000
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
if array("Q").itemsize != 8:  # pragma: no cover - every supported platform has 64-bit "Q"
    raise ImportError("prakerja.domain.selection needs a 64-bit array('Q')")


class SelectionError(ValueError):
    """Invalid input to the draw.

    Attributes:
        code: machine-readable reason: ``SECRET_INVALID``, ``DIGEST_INVALID``, ``SEED_INVALID``,
            ``QUOTA_INVALID``, ``SHARE_INVALID``, ``PROVINCE_QUOTAS_INVALID``,
            ``PARTICIPANT_INVALID`` (empty/non-string/unencodable id, or a newline in an id given to
            :func:`participants_digest`), ``PARTICIPANT_DUPLICATE``, ``LENGTH_MISMATCH``.
        message: human-readable detail (English, for logs).
    """

    def __init__(self, code: str, message: str = "") -> None:
        super().__init__(f"{code}: {message}" if message else code)
        self.code = code
        self.message = message


# --------------------------------------------------------------------------- commit / seed


def _check_secret(secret: str) -> bytes:
    if not isinstance(secret, str) or len(secret) < MIN_SECRET_LENGTH:
        raise SelectionError(
            "SECRET_INVALID", f"secret must be a string of >= {MIN_SECRET_LENGTH} characters"
        )
    try:
        return secret.encode("utf-8")
    except UnicodeEncodeError:
        raise SelectionError("SECRET_INVALID", "secret is not encodable as UTF-8") from None


def commitment(secret: str) -> str:
    """Return the public commitment to ``secret``: its SHA-256 as 64 lower-case hex characters.

    Published before the batch opens (see the module docstring).

    Raises:
        SelectionError: ``SECRET_INVALID`` if ``secret`` is not a string of at least
            :data:`MIN_SECRET_LENGTH` characters.
    """
    return hashlib.sha256(_check_secret(secret)).hexdigest()


def participants_digest(participant_ids: Iterable[str]) -> str:
    """Return the SHA-256 hex of the sorted participant ids joined by ``"\\n"`` (UTF-8).

    Sorting is by Unicode code point, which equals UTF-8 byte order, so other implementations
    can reproduce it (``sort -u`` with ``LC_ALL=C``, then join with newlines, no trailing newline).
    An empty list hashes the empty string.

    Args:
        participant_ids: any iterable of distinct, non-empty ids without ``"\\n"``.

    Returns:
        64 lower-case hex characters.

    Raises:
        SelectionError: ``PARTICIPANT_INVALID`` for a non-string, empty or newline-containing id,
            ``PARTICIPANT_DUPLICATE`` for a repeated id.
    """
    if not isinstance(participant_ids, Sequence):
        participant_ids = list(participant_ids)
    fast = _fast_digest(participant_ids)
    if fast is not None:
        return fast
    try:
        ordered = sorted(participant_ids)
    except TypeError:
        raise SelectionError("PARTICIPANT_INVALID", "participant ids must all be strings") from None
    if any(map(eq, ordered, islice(ordered, 1, None))):
        raise SelectionError("PARTICIPANT_DUPLICATE", "participant ids are not distinct")
    h = hashlib.sha256()
    for start in range(0, len(ordered), _CHUNK):
        chunk = ordered[start : start + _CHUNK]
        try:
            joined = "\n".join(chunk)
            data = joined.encode("utf-8")
        except (TypeError, UnicodeEncodeError):
            raise SelectionError("PARTICIPANT_INVALID", "participant ids must be UTF-8 strings") from None
        if not all(chunk) or joined.count("\n") != len(chunk) - 1:
            raise SelectionError("PARTICIPANT_INVALID", "participant ids must be non-empty, without newlines")
        if start:
            h.update(b"\n")
        h.update(data)
    return h.hexdigest()


def _numpy() -> Any:
    """numpy, or None where it is not installed (the pure-Python path then runs)."""
    try:
        import numpy
    except ImportError:  # pragma: no cover - numpy is in the app's lock
        return None
    return numpy


def _fixed_width(ids: Sequence[str]) -> tuple[Any, Any] | None:
    """``(numpy, rows)``: the ids as an ``n x width`` uint8 array when there are at least
    :data:`_FAST_MIN` of them, all ASCII strings of one width without NUL or newline (applicant
    ids are 32 hex); else None (the general path handles, or rejects, everything else)."""
    if len(ids) < _FAST_MIN:
        return None
    np = _numpy()
    if np is None:
        return None
    try:
        widths = set(map(len, ids))
    except TypeError:
        return None
    if len(widths) != 1 or 0 in widths:
        return None
    (width,) = widths
    rows = np.empty((len(ids), width), np.uint8)
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        try:
            data = "".join(chunk).encode("utf-8")
        except (TypeError, UnicodeEncodeError):
            return None
        if len(data) != len(chunk) * width or b"\n" in data or b"\0" in data:
            return None
        rows[start : start + len(chunk)] = np.frombuffer(data, np.uint8).reshape(-1, width)
    return np, rows


def _fast_digest(ids: Sequence[str]) -> str | None:
    """:func:`participants_digest` with numpy: sort the rows by their first 8 bytes (big-endian
    uint64), re-sort the runs that tie there by the whole row, hash the sorted rows in chunks.
    None when :func:`_fixed_width` declines. Raises SelectionError(PARTICIPANT_DUPLICATE)."""
    fixed = _fixed_width(ids)
    if fixed is None:
        return None
    np, rows = fixed
    n, width = rows.shape
    head = np.zeros((n, 8), np.uint8)
    head[:, : min(8, width)] = rows[:, :8]
    prefix = head.view(np.uint64).ravel()
    del head  # (a view now: no copy of its own)
    if sys.byteorder == "little":
        prefix.byteswap(inplace=True)  # the bytes read big-endian, so integer order = byte order
    order = np.argsort(prefix, kind="stable")
    ranked = prefix[order]
    del prefix
    tie = ranked[1:] == ranked[:-1]
    del ranked
    if tie.any():
        if width <= 8:  # the prefix is the whole id
            raise SelectionError("PARTICIPANT_DUPLICATE", "participant ids are not distinct")
        spots = np.flatnonzero(np.concatenate(([False], tie)) | np.concatenate((tie, [False])))
        members = order[spots]
        # the whole-row order agrees with the prefix order, so sorting every tied member at once
        # and writing them back into the tied spots sorts each run
        members = members[np.argsort(rows[members].view(f"S{width}").ravel(), kind="stable")]
        order[spots] = members
        same = (rows[members[1:]] == rows[members[:-1]]).all(axis=1) & (np.diff(spots) == 1)
        if same.any():
            raise SelectionError("PARTICIPANT_DUPLICATE", "participant ids are not distinct")
    h = hashlib.sha256()
    newlines = np.full((_CHUNK, 1), ord("\n"), np.uint8)
    for start in range(0, n, _CHUNK):
        part = rows[order[start : start + _CHUNK]]
        data = np.hstack((part, newlines[: len(part)])).tobytes()
        h.update(data if start + _CHUNK < n else data[:-1])
    return h.hexdigest()


def draw_seed(secret: str, participants_digest: str) -> str:
    """Return the draw seed ``sha256(secret + ":" + participants_digest)`` as lower-case hex.

    The seed depends on the secret itself, not on its public commitment, so nobody without the
    secret can compute it before the reveal; and on the digest, so it is fixed only once the
    participant list is (see the module docstring for the full argument).

    Args:
        secret: the committed secret (at least :data:`MIN_SECRET_LENGTH` characters).
        participants_digest: output of :func:`participants_digest` (64 lower-case hex).

    Returns:
        64 lower-case hex characters.

    Raises:
        SelectionError: ``SECRET_INVALID`` or ``DIGEST_INVALID``.
    """
    secret_bytes = _check_secret(secret)
    if not isinstance(participants_digest, str) or not _HEX64.fullmatch(participants_digest):
        raise SelectionError("DIGEST_INVALID", "participants digest must be 64 lower-case hex characters")
    return hashlib.sha256(secret_bytes + b":" + participants_digest.encode("ascii")).hexdigest()


# --------------------------------------------------------------------------- results


@dataclass(frozen=True, slots=True)
class Participant:
    """One participant of a batch draw.

    Attributes:
        participant_id: unique, non-empty id (e.g. the registration id).
        province_code: province (e.g. Kemendagri code ``"31"``), only used with province quotas.
        priority: True if the participant belongs to a priority group (e.g. laid-off workers).
    """

    participant_id: str
    province_code: str | None = None
    priority: bool = False


@dataclass(frozen=True)
class DrawResult:
    """The outcome of a draw, stored compactly.

    Attributes:
        ranked_ids: every participant id exactly once, in rank order (rank = index + 1); the
            first ``selected_count`` are the selected ones, in selection order. Do not mutate.
        selected_count: number of selected participants (``<= quota``).
        seed: the seed used.
        quota: the quota requested.
        priority_places: places reserved for priority participants, ``floor(quota * share)``.
        priority_selected: participants selected in the priority phase (``<= priority_places``).
    """

    ranked_ids: list[str]
    selected_count: int
    seed: str
    quota: int
    priority_places: int
    priority_selected: int
    #: the input position of each ranked id (``ranked_ids[k] == ids[ranked_index[k]]``): a list or
    #: a numpy int64 array; lets a caller reach the participant's other columns without a dict.
    ranked_index: Sequence[int] | None = field(default=None, compare=False, repr=False)

    @property
    def selected_ids(self) -> list[str]:
        """The selected participant ids in selection order (a new list)."""
        return self.ranked_ids[: self.selected_count]

    def iter_ranking(self) -> Iterator[tuple[str, bool, int]]:
        """Yield ``(participant_id, selected, rank)`` in rank order without building a list."""
        cut = self.selected_count
        for position, pid in enumerate(self.ranked_ids):
            yield pid, position < cut, position + 1

    @cached_property
    def ranking(self) -> list[tuple[str, bool, int]]:
        """``[(participant_id, selected, rank), ...]`` for every participant, ordered by rank 1..n.

        Built on first access and cached (about 100 bytes per participant); prefer
        :meth:`iter_ranking` or :attr:`ranked_ids` for very large batches.
        """
        return list(self.iter_ranking())


# --------------------------------------------------------------------------- validation


def _check_quota_seed_share(quota: int, seed: str, priority_share: float) -> int:
    """Validate the scalar arguments; return the number of priority places."""
    if isinstance(quota, bool) or not isinstance(quota, int) or quota < 0:
        raise SelectionError("QUOTA_INVALID", f"quota must be an int >= 0, got {quota!r}")
    if not isinstance(seed, str) or not seed:
        raise SelectionError("SEED_INVALID", "seed must be a non-empty string")
    if isinstance(priority_share, bool) or not isinstance(priority_share, int | float):
        raise SelectionError("SHARE_INVALID", f"priority_share must be a number, got {priority_share!r}")
    if not 0.0 <= priority_share <= 1.0:  # also rejects NaN
        raise SelectionError("SHARE_INVALID", f"priority_share must be within 0..1, got {priority_share!r}")
    return math.floor(Fraction(repr(float(priority_share))) * quota)


def _check_provinces(
    n: int, provinces: Sequence[str | None] | None, province_quotas: Mapping[str, int] | None
) -> dict[str, int] | None:
    """Validate the province arguments; return a fresh mutable copy of the caps (or None)."""
    if province_quotas is None:
        return None
    if not isinstance(province_quotas, Mapping):
        raise SelectionError("PROVINCE_QUOTAS_INVALID", "province_quotas must be a mapping")
    for code, cap in province_quotas.items():
        if not isinstance(code, str) or isinstance(cap, bool) or not isinstance(cap, int) or cap < 0:
            raise SelectionError("PROVINCE_QUOTAS_INVALID", f"bad province quota {code!r}: {cap!r}")
    if provinces is None or len(provinces) != n:
        raise SelectionError("LENGTH_MISMATCH", "provinces must give one entry per participant")
    return dict(province_quotas)


# --------------------------------------------------------------------------- lottery order


def _sort_keys(ids: Sequence[str], prefix: bytes) -> list[float]:
    """Fast sort keys: the first 64 bits of ``sha256(prefix + id)``, rounded to a float.

    ``float()`` is monotone, so ordering by these keys agrees with ordering by the full digest
    except where keys tie; :func:`_lottery_order` resolves ties on the full digest. Floats are used
    because CPython sorts them fastest and stores them compactly.
    """
    sha = hashlib.sha256
    words = array("Q")
    iterator = iter(ids)
    while chunk := list(islice(iterator, _CHUNK)):
        words.frombytes(b"".join([sha(prefix + pid.encode("utf-8")).digest()[:8] for pid in chunk]))
    if sys.byteorder == "little":
        words.byteswap()  # digest bytes are big-endian
    return list(map(float, words))


def _break_ties(order: list[int], tie_positions: list[int], ids: Sequence[str], prefix: bytes) -> None:
    """Re-sort each run of equal fast keys by (full digest, id); reject duplicate ids."""
    runs: list[list[int]] = []
    for j in tie_positions:  # j means order[j - 1] and order[j] share a fast key
        if runs and runs[-1][1] == j:
            runs[-1][1] = j + 1
        else:
            runs.append([j - 1, j + 1])
    for start, end in runs:
        members = order[start:end]
        if len({ids[i] for i in members}) != len(members):
            raise SelectionError("PARTICIPANT_DUPLICATE", "participant ids are not distinct")
        members.sort(key=lambda i: (hashlib.sha256(prefix + ids[i].encode("utf-8")).digest(), ids[i]))
        order[start:end] = members


def _lottery_order(ids: Sequence[str], seed: str) -> list[int]:
    """Indices of ``ids`` by ascending ``(sha256(seed:id), id)``. Raises SelectionError on bad ids."""
    if not all(isinstance(pid, str) and pid for pid in ids):
        raise SelectionError("PARTICIPANT_INVALID", "participant ids must be non-empty strings")
    try:
        prefix = (seed + ":").encode("utf-8")
    except UnicodeEncodeError:
        raise SelectionError("SEED_INVALID", "seed must be UTF-8 encodable") from None
    try:
        keys = _sort_keys(ids, prefix)
    except UnicodeEncodeError:
        raise SelectionError("PARTICIPANT_INVALID", "participant ids must be UTF-8 encodable") from None
    order = sorted(range(len(keys)), key=keys.__getitem__)
    ranked_keys = list(map(keys.__getitem__, order))
    del keys
    # Duplicate ids always tie; distinct ids tie with probability about n**2 / 2**54.
    if any(map(eq, ranked_keys, islice(ranked_keys, 1, None))):
        ties = list(compress(range(1, len(order)), map(eq, ranked_keys, islice(ranked_keys, 1, None))))
        _break_ties(order, ties, ids, prefix)
    return order


def _fast_lottery_order(np: Any, ids: Sequence[str], seed: str) -> Any:
    """:func:`_lottery_order` with numpy, as an int64 array: the same keys (the first 64 bits of
    ``sha256(seed:id)``, here kept whole as uint64, hashed in chunks), a stable argsort, and the
    same tie-break on the full digest (ties need 64 equal bits; duplicates always tie)."""
    try:
        prefix = (seed + ":").encode("utf-8")
    except UnicodeEncodeError:
        raise SelectionError("SEED_INVALID", "seed must be UTF-8 encodable") from None
    try:
        widths = set(map(len, ids))
    except TypeError:
        raise SelectionError("PARTICIPANT_INVALID", "participant ids must be non-empty strings") from None
    if 0 in widths:
        raise SelectionError("PARTICIPANT_INVALID", "participant ids must be non-empty strings")
    sha = hashlib.sha256
    keys = np.empty(len(ids), ">u8")
    try:
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start : start + _CHUNK]
            keys[start : start + len(chunk)] = np.frombuffer(
                b"".join([sha(prefix + pid.encode("utf-8")).digest()[:8] for pid in chunk]), ">u8")
    except UnicodeEncodeError:
        raise SelectionError("PARTICIPANT_INVALID", "participant ids must be UTF-8 encodable") from None
    except (AttributeError, TypeError):
        raise SelectionError("PARTICIPANT_INVALID", "participant ids must be non-empty strings") from None
    native = keys.astype(np.uint64)
    del keys
    order = np.argsort(native, kind="stable")
    ranked = native[order]
    del native
    tie = ranked[1:] == ranked[:-1]
    del ranked
    if tie.any():
        listed = order.tolist()
        _break_ties(listed, (np.flatnonzero(tie) + 1).tolist(), ids, prefix)
        order = np.array(listed, np.int64)
    return order


def _iter_where(order: Any, mask: Any) -> Iterator[int]:
    """The entries ``i`` of ``order`` (in order) with ``mask[i]`` true, as ints, a chunk at a time."""
    for start in range(0, len(order), _CHUNK):
        part = order[start : start + _CHUNK]
        yield from part[mask[part]].tolist()


def _fast_draw(np: Any, ids: Sequence[str], priority_flags: bytes | bytearray | None,
               provinces: Sequence[str | None] | None, caps_left: dict[str, int] | None, quota: int, seed: str,
               priority_places: int) -> DrawResult:
    """:func:`draw_ids` after validation, with numpy: the same two phases through :func:`_pick`
    over the lottery order, the ranking gathered with array operations."""
    order = _fast_lottery_order(np, ids, seed)
    mark = np.zeros(len(ids), np.bool_)
    selected: list[int] = []
    if priority_flags is not None and priority_places:
        wanted = np.frombuffer(bytes(priority_flags), np.uint8) != 0
        _pick(_iter_where(order, wanted), priority_places, selected, mark, provinces, caps_left)
    priority_selected = len(selected)
    if quota - priority_selected > 0:
        _pick(_iter_where(order, ~mark), quota - priority_selected, selected, mark, provinces, caps_left)
    ranked_index = np.concatenate((np.array(selected, np.int64), order[~mark[order]]))
    del order
    ranked_ids: list[str] = []
    for start in range(0, len(ranked_index), _CHUNK):
        ranked_ids.extend(map(ids.__getitem__, ranked_index[start : start + _CHUNK].tolist()))
    return DrawResult(ranked_ids=ranked_ids, selected_count=len(selected), seed=seed, quota=quota,
                      priority_places=priority_places, priority_selected=priority_selected,
                      ranked_index=ranked_index)


# --------------------------------------------------------------------------- the draw


def _pick(
    candidates: Iterator[int],
    count: int,
    selected: list[int],
    mark: Any,
    provinces: Sequence[str | None] | None,
    caps_left: dict[str, int] | None,
) -> None:
    """Select up to ``count`` of ``candidates`` (lottery order) respecting the province caps."""
    if count <= 0:
        return
    if caps_left is None:
        chosen = list(islice(candidates, count))
        selected.extend(chosen)
        for i in chosen:
            mark[i] = 1
        return
    assert provinces is not None  # province caps come with the provinces
    for i in candidates:
        province = provinces[i]
        left = caps_left.get(province) if province is not None else None
        if province is not None and left is not None:
            if left == 0:
                continue
            caps_left[province] = left - 1
        selected.append(i)
        mark[i] = 1
        count -= 1
        if count == 0:
            return


def draw_ids(
    ids: Sequence[str],
    priority_flags: bytes | bytearray | None = None,
    provinces: Sequence[str | None] | None = None,
    *,
    quota: int,
    seed: str,
    priority_share: float = 0.0,
    province_quotas: Mapping[str, int] | None = None,
) -> DrawResult:
    """Run the draw on parallel sequences (the fast path behind :func:`draw`).

    Args:
        ids: participant ids, distinct non-empty strings (any order; the result does not depend
            on it).
        priority_flags: ``len(ids)`` bytes, non-zero = priority participant; None = nobody.
        provinces: ``len(ids)`` province codes (or None); required when ``province_quotas`` is
            given, ignored otherwise.
        quota: places in the batch, an int ``>= 0``.
        seed: the draw seed (normally :func:`draw_seed`), a non-empty string.
        priority_share: share of the quota reserved for priority participants, ``0 <= s <= 1``.
        province_quotas: ``{province_code: max selections}`` (ints ``>= 0``), or None for no caps.

    Returns:
        A :class:`DrawResult` (rules in the module docstring).

    Raises:
        SelectionError: ``QUOTA_INVALID``, ``SEED_INVALID``, ``SHARE_INVALID``,
            ``PROVINCE_QUOTAS_INVALID``, ``LENGTH_MISMATCH``, ``PARTICIPANT_INVALID`` or
            ``PARTICIPANT_DUPLICATE``.
    """
    n = len(ids)
    priority_places = _check_quota_seed_share(quota, seed, priority_share)
    caps_left = _check_provinces(n, provinces, province_quotas)
    if priority_flags is not None and len(priority_flags) != n:
        raise SelectionError("LENGTH_MISMATCH", "priority_flags must give one entry per participant")
    np = _numpy() if n >= _FAST_MIN else None
    if np is not None:
        return _fast_draw(np, ids, priority_flags, provinces, caps_left, quota, seed, priority_places)
    order = _lottery_order(ids, seed)

    mark = bytearray(n)
    selected: list[int] = []
    if priority_flags is not None and priority_places:
        _pick(
            filter(priority_flags.__getitem__, order), priority_places, selected, mark, provinces, caps_left
        )
    priority_selected = len(selected)
    _pick(
        filterfalse(mark.__getitem__, order), quota - priority_selected, selected, mark, provinces, caps_left
    )

    ranked_ids = [ids[i] for i in selected]
    ranked_ids.extend(map(ids.__getitem__, filterfalse(mark.__getitem__, order)))
    return DrawResult(
        ranked_ids=ranked_ids,
        selected_count=len(selected),
        seed=seed,
        quota=quota,
        priority_places=priority_places,
        priority_selected=priority_selected,
        ranked_index=selected + list(filterfalse(mark.__getitem__, order)),
    )


def draw(
    participants: Sequence[Participant],
    *,
    quota: int,
    seed: str,
    priority_share: float = 0.0,
    province_quotas: Mapping[str, int] | None = None,
) -> DrawResult:
    """Run the batch draw over :class:`Participant` records.

    Args:
        participants: the frozen participant list of the batch (distinct ids, any order).
        quota: places in the batch, an int ``>= 0``.
        seed: the draw seed, normally ``draw_seed(secret, participants_digest(ids))``.
        priority_share: share of the quota reserved for priority participants, ``0 <= s <= 1``.
        province_quotas: ``{province_code: max selections}``, or None for no province caps.

    Returns:
        A :class:`DrawResult`; ``result.ranking`` lists ``(participant_id, selected, rank)`` for
        every participant ordered by rank 1..n. Rules in the module docstring.

    Raises:
        SelectionError: see :func:`draw_ids`.
    """
    ids = [p.participant_id for p in participants]
    flags = bytearray(1 if p.priority else 0 for p in participants) if priority_share else None
    provinces = [p.province_code for p in participants] if province_quotas is not None else None
    return draw_ids(
        ids,
        flags,
        provinces,
        quota=quota,
        seed=seed,
        priority_share=priority_share,
        province_quotas=province_quotas,
    )
