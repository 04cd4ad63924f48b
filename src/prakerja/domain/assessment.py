"""The Prakerja assessment: a motivation questionnaire plus a basic-ability test.

Source of the rule: the Kartu Prakerja programme (Perpres 36/2020, as amended) admits applicants
to a batch ("gelombang") only after registration and an online "Tes Motivasi dan Kemampuan
Dasar" (a Likert motivation part plus basic numeracy, reading and reasoning, about 18-19 items in
at most 25 minutes, as described by the programme's Manajemen Pelaksana in public reporting,
e.g. Kompas.com 18 Apr 2020 and Kompas TV 17 Jan 2021). The official items and scoring are not
published: the question bank, the draw, the 70/30 weighting and the pass mark below are this
project's own design decisions.

Question bank
    ``src/prakerja/data/assessment/bank-<version>.json`` (package data), validated with the
    pydantic models of this module when loaded. Item kinds:

    * ``motivation`` (ids ``M..``): a statement answered on a five-point Likert scale, options
      ``a`` ("Sangat tidak setuju" / strongly disagree) .. ``e`` ("Sangat setuju" / strongly
      agree), in that order. ``reverse: true`` marks reverse-keyed statements (agreeing
      indicates *low* motivation).
    * ``numeracy`` (``N..``), ``reading`` (``L..``, the short passage is part of the item text)
      and ``reasoning`` (``R..``): the basic-ability items, four options each, exactly one of them
      ``correct``.

Draw (:func:`draw_questions`)
    A deterministic, seeded subset: ``motivation_count`` motivation items and ``ability_count``
    ability items spread as evenly as possible over numeracy, reading and reasoning, presented
    in shuffled order. The seed (e.g. ``f"{applicant_id}:{attempt}"``) makes an attempt
    reproducible for audits and retries.

Scoring rule (:func:`score`)
    ::

        score = round_half_up(100 * (0.7 * ability_correct / ability_total
                                     + 0.3 * motivation_points / motivation_max))

    * ``ability_correct``: ability items answered with the correct option; ``ability_total``: the
      ability items presented.
    * A Likert answer gives 0..4 points: option ``a`` = 0 .. ``e`` = 4; for reverse-keyed items
      ``a`` = 4 .. ``e`` = 0. ``motivation_max = 4 * <motivation items presented>``.
    * An unanswered item gives 0 (ability: not correct; motivation: 0 points).
    * If one of the two parts was not presented at all, the other part carries the whole weight
      (e.g. an ability-only test scores ``100 * ability_correct / ability_total``).
    * The arithmetic is exact (rational numbers) and rounds halves up, so 0.5 points never
      depend on floating-point error or banker's rounding.
    * ``passed = score >= pass_mark``; the pass mark is configurable, default
      :data:`DEFAULT_PASS_MARK` (60).

Timing (:func:`deadline`, :func:`is_open_for_answers`)
    An attempt must be submitted by ``started_at + minutes``; a small grace period absorbs
    network latency. All datetimes must be timezone-aware; this module never reads the clock.

This module is pure: no I/O besides reading its own package data, no clock, no environment.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from fractions import Fraction
from functools import lru_cache
from importlib import resources
from typing import Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, model_validator

__all__ = [
    "ABILITY_KINDS",
    "ABILITY_WEIGHT",
    "DEFAULT_PASS_MARK",
    "LIKERT_MAX_POINTS",
    "MOTIVATION_WEIGHT",
    "AssessmentError",
    "LocalizedText",
    "Option",
    "Question",
    "QuestionBank",
    "ScoreResult",
    "deadline",
    "draw_questions",
    "is_open_for_answers",
    "load_bank",
    "public_questions",
    "score",
]

#: Default pass mark (score 0..100) when the caller configures none.
DEFAULT_PASS_MARK = 60
#: Weight of the basic-ability part in the score (see the module docstring).
ABILITY_WEIGHT = Fraction(7, 10)
#: Weight of the motivation part in the score.
MOTIVATION_WEIGHT = Fraction(3, 10)
#: Points of the most favourable Likert answer (five-point scale gives 0..4).
LIKERT_MAX_POINTS = 4
#: The basic-ability kinds, in the order used when spreading a draw over them.
ABILITY_KINDS: tuple[str, ...] = ("numeracy", "reading", "reasoning")

_T = TypeVar("_T")
Kind = Literal["motivation", "numeracy", "reading", "reasoning"]
Lang = Literal["id", "en"]

_ID_PREFIX = {"motivation": "M", "numeracy": "N", "reading": "L", "reasoning": "R"}
_LIKERT_OPTION_IDS = ("a", "b", "c", "d", "e")
_ABILITY_OPTION_COUNT = 4
_VERSION_RE = re.compile(r"^v[0-9]{1,4}$")


class AssessmentError(ValueError):
    """A request the assessment rules reject.

    Attributes:
        code: machine-readable reason, one of ``QUESTION_INVALID`` (unknown, duplicate or
            not-presented question id), ``OPTION_INVALID`` (option id not offered by the
            question), ``COUNT_INVALID`` (draw sizes negative or larger than the bank),
            ``LANG_INVALID``, ``ARGUMENT_INVALID`` (pass mark, minutes, grace, naive datetimes),
            ``BANK_NOT_FOUND`` and ``BANK_INVALID`` (the packaged bank is missing/malformed).
        message: human-readable detail (English, for logs; never shown verbatim to applicants).
    """

    def __init__(self, code: str, message: str = "") -> None:
        super().__init__(f"{code}: {message}" if message else code)
        self.code = code
        self.message = message


# --------------------------------------------------------------------------- bank models


class LocalizedText(BaseModel):
    """A text in Bahasa Indonesia (``id``) and English (``en``); both non-empty."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(min_length=1)
    en: str = Field(min_length=1)

    def get(self, lang: str) -> str:
        """Return the text in ``lang`` (``"id"`` or ``"en"``); raise ``LANG_INVALID`` otherwise."""
        if lang == "id":
            return self.id
        if lang == "en":
            return self.en
        raise AssessmentError("LANG_INVALID", f"unsupported language {lang!r}")


class Option(BaseModel):
    """One answer option: ``option_id`` (a single lower-case letter) and its bilingual text."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    option_id: str = Field(pattern=r"^[a-z]$")
    text: LocalizedText


class Question(BaseModel):
    """One bank item.

    Invariants checked on load: the id prefix matches the kind (``M`` motivation, ``N``
    numeracy, ``L`` reading, ``R`` reasoning); option ids are unique; motivation items have
    exactly the Likert options ``a``..``e`` in order, no ``correct`` and a ``reverse`` flag;
    ability items have exactly four options, ``correct`` naming one of them, and no ``reverse``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    question_id: str = Field(pattern=r"^[MNLR][0-9]{2,4}$")
    kind: Kind
    text: LocalizedText
    options: tuple[Option, ...]
    correct: str | None = None
    reverse: bool | None = None

    @model_validator(mode="after")
    def _check_shape(self) -> Question:
        if not self.question_id.startswith(_ID_PREFIX[self.kind]):
            raise ValueError(f"{self.question_id}: id prefix does not match kind {self.kind}")
        ids = self.option_ids
        if len(set(ids)) != len(ids):
            raise ValueError(f"{self.question_id}: duplicate option ids")
        if self.kind == "motivation":
            if ids != _LIKERT_OPTION_IDS:
                raise ValueError(f"{self.question_id}: motivation options must be a..e in order")
            if self.correct is not None or self.reverse is None:
                raise ValueError(f"{self.question_id}: motivation items need 'reverse' and no 'correct'")
        else:
            if len(ids) != _ABILITY_OPTION_COUNT:
                raise ValueError(f"{self.question_id}: ability items need exactly 4 options")
            if self.correct not in ids or self.reverse is not None:
                raise ValueError(f"{self.question_id}: 'correct' must name one option; no 'reverse'")
        return self

    @property
    def option_ids(self) -> tuple[str, ...]:
        """The option ids in presentation order."""
        return tuple(o.option_id for o in self.options)

    @property
    def is_motivation(self) -> bool:
        """True for Likert (motivation) items, False for basic-ability items."""
        return self.kind == "motivation"


class QuestionBank(BaseModel):
    """A versioned question bank; question ids are unique. Use :meth:`get` to look items up."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    version: str = Field(pattern=_VERSION_RE.pattern)
    items: tuple[Question, ...] = Field(min_length=1)

    _by_id: dict[str, Question] = PrivateAttr(default_factory=dict)

    @model_validator(mode="after")
    def _unique_ids(self) -> QuestionBank:
        ids = [q.question_id for q in self.items]
        if len(set(ids)) != len(ids):
            raise ValueError("duplicate question ids in bank")
        return self

    def model_post_init(self, __context: object) -> None:
        """Build the id index (pydantic hook)."""
        self._by_id.update((q.question_id, q) for q in self.items)

    def get(self, question_id: str) -> Question:
        """Return the item ``question_id``; raise ``AssessmentError("QUESTION_INVALID")`` if unknown."""
        try:
            return self._by_id[question_id]
        except (KeyError, TypeError):
            raise AssessmentError("QUESTION_INVALID", f"unknown question {question_id!r}") from None

    def ids_of_kind(self, kind: str) -> list[str]:
        """The question ids of one kind, sorted (independent of the file's item order)."""
        return sorted(q.question_id for q in self.items if q.kind == kind)


# --------------------------------------------------------------------------- loading


def load_bank(version: str = "v1") -> QuestionBank:
    """Load and validate the packaged question bank ``bank-<version>.json`` (cached per version).

    Args:
        version: ``"v"`` followed by digits, e.g. ``"v1"``.

    Returns:
        The validated, immutable :class:`QuestionBank`.

    Raises:
        AssessmentError: ``BANK_NOT_FOUND`` if the version is malformed or not packaged,
            ``BANK_INVALID`` if the file fails validation or its ``version`` field disagrees.
    """
    if not isinstance(version, str) or not _VERSION_RE.fullmatch(version):
        raise AssessmentError("BANK_NOT_FOUND", f"malformed bank version {version!r}")
    return _load_bank_cached(version)


@lru_cache(maxsize=8)
def _load_bank_cached(version: str) -> QuestionBank:
    """Read and validate ``bank-<version>.json``; ``version`` is already checked (see load_bank)."""
    resource = resources.files("prakerja").joinpath("data", "assessment", f"bank-{version}.json")
    try:
        raw = resource.read_text(encoding="utf-8")
    except (FileNotFoundError, NotADirectoryError):
        raise AssessmentError("BANK_NOT_FOUND", f"no question bank {version!r}") from None
    try:
        bank = QuestionBank.model_validate(json.loads(raw))
    except (ValueError, ValidationError) as exc:  # json.JSONDecodeError is a ValueError
        raise AssessmentError("BANK_INVALID", f"bank {version!r}: {exc}") from exc
    if bank.version != version:
        raise AssessmentError("BANK_INVALID", f"file bank-{version}.json declares {bank.version!r}")
    return bank


# --------------------------------------------------------------------------- draw


def _shuffle(items: list[_T], rng: random.Random) -> None:
    """Fisher-Yates in place using only ``rng.random()``.

    ``random.random()`` is the one part of :mod:`random` whose sequence Python guarantees across
    versions, so a seed draws the same questions on every supported runtime.
    """
    for i in range(len(items) - 1, 0, -1):
        j = int(rng.random() * (i + 1))
        items[i], items[j] = items[j], items[i]


def draw_questions(
    bank: QuestionBank,
    *,
    seed: str,
    motivation_count: int = 5,
    ability_count: int = 10,
) -> list[str]:
    """Draw the question ids for one attempt, deterministically from ``seed``.

    ``motivation_count`` distinct motivation items and ``ability_count`` distinct ability items
    are drawn; the ability items are spread round-robin over numeracy, reading and reasoning (in
    a seeded kind order, skipping a kind once it is exhausted), so every applicant gets a
    comparable mix. The combined list is then shuffled. The RNG is
    ``random.Random(hashlib.sha256(seed.encode("utf-8")).digest())``.

    Args:
        bank: the question bank.
        seed: any string, e.g. ``f"{applicant_id}:{attempt}"``; equal seeds give equal draws.
        motivation_count: number of motivation items, ``0 <= n <= #motivation items``.
        ability_count: number of ability items, ``0 <= n <= #ability items``.

    Returns:
        ``motivation_count + ability_count`` distinct question ids in presentation order.

    Raises:
        AssessmentError: ``COUNT_INVALID`` for negative counts or counts above the bank's supply,
            ``ARGUMENT_INVALID`` if ``seed`` is not a string.
    """
    if not isinstance(seed, str):
        raise AssessmentError("ARGUMENT_INVALID", "seed must be a string")
    motivation_pool = bank.ids_of_kind("motivation")
    ability_pools = [bank.ids_of_kind(kind) for kind in ABILITY_KINDS]
    ability_supply = sum(len(p) for p in ability_pools)
    for name, count, supply in (
        ("motivation_count", motivation_count, len(motivation_pool)),
        ("ability_count", ability_count, ability_supply),
    ):
        if isinstance(count, bool) or not isinstance(count, int) or not 0 <= count <= supply:
            raise AssessmentError("COUNT_INVALID", f"{name} must be 0..{supply}, got {count!r}")

    rng = random.Random(hashlib.sha256(seed.encode("utf-8", "surrogatepass")).digest())
    _shuffle(motivation_pool, rng)
    drawn = motivation_pool[:motivation_count]
    for pool in ability_pools:
        _shuffle(pool, rng)
    kind_order = list(range(len(ability_pools)))
    _shuffle(kind_order, rng)  # which kinds get the extra items when the count does not divide
    cursors = [0] * len(ability_pools)
    taken = 0
    while taken < ability_count:
        for k in kind_order:
            if taken < ability_count and cursors[k] < len(ability_pools[k]):
                drawn.append(ability_pools[k][cursors[k]])
                cursors[k] += 1
                taken += 1
    _shuffle(drawn, rng)
    return drawn


# --------------------------------------------------------------------------- presentation


def public_questions(bank: QuestionBank, question_ids: Sequence[str], lang: str = "id") -> list[dict]:
    """Render questions for the applicant, WITHOUT the correct answers or reverse keys.

    Args:
        bank: the question bank.
        question_ids: ids in presentation order (normally from :func:`draw_questions`).
        lang: ``"id"`` (Bahasa Indonesia) or ``"en"``.

    Returns:
        ``[{"question_id": str, "text": str, "options": [{"option_id": str, "text": str}, ...]}]``
        in the order of ``question_ids``; JSON-serialisable.

    Raises:
        AssessmentError: ``QUESTION_INVALID`` for an unknown id, ``LANG_INVALID`` for another
            language.
    """
    if lang not in ("id", "en"):
        raise AssessmentError("LANG_INVALID", f"unsupported language {lang!r}")
    out = []
    for qid in question_ids:
        q = bank.get(qid)
        out.append(
            {
                "question_id": q.question_id,
                "text": q.text.get(lang),
                "options": [{"option_id": o.option_id, "text": o.text.get(lang)} for o in q.options],
            }
        )
    return out


# --------------------------------------------------------------------------- scoring


@dataclass(frozen=True, slots=True)
class ScoreResult:
    """The outcome of :func:`score`.

    Attributes:
        score: 0..100 (integer, see the module docstring for the rule).
        passed: ``score >= pass_mark``.
        ability_correct: ability items answered correctly (0..ability_total).
        ability_total: ability items presented.
        motivation_points: Likert points earned (0..motivation_max).
        motivation_max: ``4 *`` motivation items presented.
    """

    score: int
    passed: bool
    ability_correct: int
    ability_total: int
    motivation_points: int
    motivation_max: int


def _likert_points(question: Question, option_id: str) -> int:
    """Points 0..4 for a Likert answer; option ``a`` = 0 .. ``e`` = 4, flipped if reverse-keyed."""
    points = _LIKERT_OPTION_IDS.index(option_id)
    return LIKERT_MAX_POINTS - points if question.reverse else points


def _check_answers(
    bank: QuestionBank, question_ids: Sequence[str], answers: Mapping[str, str]
) -> list[Question]:
    """Validate presented ids and answers; return the presented questions. Raises AssessmentError."""
    if isinstance(question_ids, str):
        raise AssessmentError("QUESTION_INVALID", "question_ids must be a sequence of ids, not a string")
    questions = [bank.get(qid) for qid in question_ids]
    presented = set(question_ids)
    if len(presented) != len(questions):
        raise AssessmentError("QUESTION_INVALID", "duplicate question ids")
    if not questions:
        raise AssessmentError("QUESTION_INVALID", "no questions presented")
    for qid, option_id in answers.items():
        if qid not in presented:
            raise AssessmentError("QUESTION_INVALID", f"answer to a question not presented: {qid!r}")
        if not isinstance(option_id, str) or option_id not in bank.get(qid).option_ids:
            raise AssessmentError("OPTION_INVALID", f"{qid}: no option {option_id!r}")
    return questions


def score(
    bank: QuestionBank,
    question_ids: Sequence[str],
    answers: Mapping[str, str],
    *,
    pass_mark: int = DEFAULT_PASS_MARK,
) -> ScoreResult:
    """Score one attempt with the rule in the module docstring.

    Args:
        bank: the question bank.
        question_ids: the ids presented in this attempt (distinct, at least one).
        answers: ``{question_id: option_id}``; questions may be left out (unanswered = 0).
        pass_mark: minimum passing score, an int in 0..100.

    Returns:
        A :class:`ScoreResult`.

    Raises:
        AssessmentError: ``QUESTION_INVALID`` for an unknown or duplicate presented id, an empty
            attempt, or an answer to a question that was not presented; ``OPTION_INVALID`` for an
            option id the question does not offer (or a non-string answer); ``ARGUMENT_INVALID``
            for a pass mark outside 0..100.
    """
    if isinstance(pass_mark, bool) or not isinstance(pass_mark, int) or not 0 <= pass_mark <= 100:
        raise AssessmentError("ARGUMENT_INVALID", f"pass_mark must be an int 0..100, got {pass_mark!r}")
    questions = _check_answers(bank, question_ids, answers)

    ability_correct = ability_total = motivation_points = motivation_max = 0
    for q in questions:
        answer = answers.get(q.question_id)
        if q.is_motivation:
            motivation_max += LIKERT_MAX_POINTS
            if answer is not None:
                motivation_points += _likert_points(q, answer)
        else:
            ability_total += 1
            ability_correct += answer is not None and answer == q.correct

    parts = []
    if ability_total:
        parts.append((ABILITY_WEIGHT, Fraction(ability_correct, ability_total)))
    if motivation_max:
        parts.append((MOTIVATION_WEIGHT, Fraction(motivation_points, motivation_max)))
    weight = sum(w for w, _ in parts)
    exact = 100 * sum(w * ratio for w, ratio in parts) / weight
    value = int(exact + Fraction(1, 2))  # round half up; exact >= 0 so int() floors
    return ScoreResult(
        score=value,
        passed=value >= pass_mark,
        ability_correct=ability_correct,
        ability_total=ability_total,
        motivation_points=motivation_points,
        motivation_max=motivation_max,
    )


# --------------------------------------------------------------------------- timing


def _require_aware(name: str, value: datetime) -> None:
    if not isinstance(value, datetime) or value.tzinfo is None or value.utcoffset() is None:
        raise AssessmentError("ARGUMENT_INVALID", f"{name} must be a timezone-aware datetime")


def deadline(started_at: datetime, minutes: int) -> datetime:
    """Return the moment an attempt started at ``started_at`` must be submitted by.

    Args:
        started_at: timezone-aware start of the attempt.
        minutes: time allowed, a positive int (minutes).

    Returns:
        ``started_at + minutes`` (same tzinfo as ``started_at``).

    Raises:
        AssessmentError: ``ARGUMENT_INVALID`` for a naive datetime or ``minutes < 1``.
    """
    _require_aware("started_at", started_at)
    if isinstance(minutes, bool) or not isinstance(minutes, int) or minutes < 1:
        raise AssessmentError("ARGUMENT_INVALID", f"minutes must be a positive int, got {minutes!r}")
    return started_at + timedelta(minutes=minutes)


def is_open_for_answers(now: datetime, deadline_at: datetime, grace_seconds: int | float = 0) -> bool:
    """Whether answers submitted at ``now`` are still accepted.

    Args:
        now: timezone-aware current time (passed in by the caller).
        deadline_at: timezone-aware deadline from :func:`deadline`.
        grace_seconds: non-negative tolerance (seconds) for network latency.

    Returns:
        ``now <= deadline_at + grace_seconds`` (the boundary instant is still open).

    Raises:
        AssessmentError: ``ARGUMENT_INVALID`` for naive datetimes or a negative grace.
    """
    _require_aware("now", now)
    _require_aware("deadline_at", deadline_at)
    if (
        isinstance(grace_seconds, bool)
        or not isinstance(grace_seconds, int | float)
        or not grace_seconds >= 0
    ):
        raise AssessmentError("ARGUMENT_INVALID", f"grace_seconds must be >= 0, got {grace_seconds!r}")
    return now <= deadline_at + timedelta(seconds=grace_seconds)
