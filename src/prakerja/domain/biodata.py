"""Biodata form (request body of ``PUT /v1/me/biodata``): format validation and eligibility checks.

Two layers:

* ``Biodata`` (pydantic v2) checks the *format* of every field. Each failure is a pydantic error
  whose ``type`` is a stable upper-case code (``NAME_INVALID``, ``PHONE_INVALID``,
  ``REGION_UNKNOWN``, ...; see ``FIELD_CODES``) at ``loc == (field,)``, so the API layer
  (``prakerja.domain.errors.validation_issues``) can list every field with a stable code. Inputs are
  hidden from error reprs (the form is personal data).
* ``check_biodata`` applies the content and eligibility rules to a well-formed ``Biodata``: NIK
  region/date/serial (``prakerja.domain.nik``), minimum age (``prakerja.domain.eligibility``), not
  in formal education, and NIK-vs-form cross-checks, which are *warnings* only because the civil
  registry (Dukcapil), not the NIK digits or the form, is the authority on a person's data.

Sources: NIK structure -- UU 24/2013 Administrasi Kependudukan and the Permendagri NIK structure
(see ``nik``); region codes -- Kemendagri (see ``regions``); age 18+ and not in formal education --
Perpres 36/2020 and Permenko Perekonomian 3/2021 (see ``eligibility``); education levels follow
the Indonesian system (SD, SMP, SMA/SMK, D1..D4, S1..S3; UU 20/2003 Sisdiknas and UU 12/2012
Pendidikan Tinggi); phone numbers follow ITU-T E.164 with Indonesia's country code 62 and mobile
numbers starting 08 nationally.

Pure: no clock (``today`` is passed in, as a WIB date), no I/O besides the packaged region table.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from prakerja.domain import regions
from prakerja.domain.eligibility import IN_FORMAL_EDUCATION, EligibilityError, check_min_age
from prakerja.domain.errors import FieldIssue
from prakerja.domain.nik import NikError, NikParts, normalize_nik, parse_nik

__all__ = [
    "EDUCATION_LEVELS",
    "FIELD_CODES",
    "WORK_STATUSES",
    "Biodata",
    "BiodataCheck",
    "FieldIssue",
    "check_biodata",
]

Sex = Literal["M", "F"]
Education = Literal["SD", "SMP", "SMA", "D1", "D2", "D3", "D4", "S1", "S2", "S3"]
WorkStatus = Literal["unemployed", "laid_off", "employed", "self_employed", "micro_business"]

EDUCATION_LEVELS: tuple[str, ...] = get_args(Education)
WORK_STATUSES: tuple[str, ...] = get_args(WorkStatus)

FIELD_CODES: dict[str, str] = {
    "NIK_FORMAT": "nik is not 16 digits",
    "KK_INVALID": "kk_number is not 16 digits",
    "NAME_LENGTH": "full_name is empty or longer than 100 characters",
    "NAME_INVALID": "full_name has characters other than letters, spaces and ' ’ - . ,",
    "PLACE_OF_BIRTH_LENGTH": "place_of_birth is empty or longer than 100 characters",
    "PLACE_OF_BIRTH_INVALID": "place_of_birth is not text or contains control characters",
    "ADDRESS_LENGTH": "address is empty or longer than 300 characters",
    "ADDRESS_INVALID": "address is not text or contains control characters",
    "DATE_INVALID": "date_of_birth is not an ISO date YYYY-MM-DD from 1900 on",
    "SEX_INVALID": "sex is not M or F",
    "REGION_UNKNOWN": "region code is malformed or not a known Kemendagri code",
    "REGION_MISMATCH": "region code does not lie inside the parent region given",
    "EDUCATION_INVALID": "education is not one of " + ", ".join(EDUCATION_LEVELS),
    "WORK_STATUS_INVALID": "work_status is not one of " + ", ".join(WORK_STATUSES),
    "BOOL_INVALID": "not_in_formal_education is not true or false",
    "PHONE_INVALID": "phone is not an Indonesian mobile number (08..., 628..., +628...)",
}
"""Format codes that ``Biodata`` validation can produce, with an English description."""

_NAME_PUNCTUATION = frozenset(" '\u2019-.,")
_ISO_DATE_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_DIGITS16_RE = re.compile(r"[0-9]{16}")
# National significant number: 8 then 8..12 digits, so E.164 (62 + number) has at most 15 digits.
_PHONE_RE = re.compile(r"(?:\+62|62|0)(8[0-9]{8,12})")
_REGION_RE = {
    "province_code": re.compile(r"[0-9]{2}"),
    "regency_code": re.compile(r"[0-9]{2}\.[0-9]{2}"),
    "district_code": re.compile(r"[0-9]{2}\.[0-9]{2}\.[0-9]{2}"),
}
_REGION_KNOWN = {
    "province_code": regions.is_known_province,
    "regency_code": regions.is_known_regency,
    "district_code": regions.is_known_district,
}
_FORBIDDEN_TEXT_CATEGORIES = frozenset({"Cc", "Cs", "Zl", "Zp"})
# Bidirectional controls (Unicode UAX #9: embeddings, overrides, isolates, marks): text that reads
# differently from what it is ("Trojan source"); no Indonesian place or address needs them.
_BIDI_CONTROLS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_MIN_BIRTH_YEAR = 1900


def _error(code: str) -> PydanticCustomError:
    """A pydantic error of type ``code`` with its ``FIELD_CODES`` message."""
    return PydanticCustomError(code, FIELD_CODES[code])


def _clean_text(value: Any, max_len: int, length_code: str, invalid_code: str) -> str:
    """NFC-normalise and strip free text; reject non-str, control characters, bidi controls and bad
    lengths (``length_code``/``invalid_code`` as pydantic errors)."""
    if not isinstance(value, str):
        raise _error(invalid_code)
    text = unicodedata.normalize("NFC", value).strip()
    if not 1 <= len(text) <= max_len:
        raise _error(length_code)
    if any(unicodedata.category(ch) in _FORBIDDEN_TEXT_CATEGORIES or ch in _BIDI_CONTROLS for ch in text):
        raise _error(invalid_code)
    return text


def _is_name_char(ch: str) -> bool:
    """Letter or combining mark of any script, or one of space ' ’ - . ,"""
    return ch in _NAME_PUNCTUATION or unicodedata.category(ch)[0] in "LM"


class Biodata(BaseModel):
    """Request body of ``PUT /v1/me/biodata`` (JSON object; unknown keys rejected).

    Fields (all required except ``kk_number``):

    * ``nik``: 16 ASCII digits (spaces removed); structure only -- region, date and serial are
      checked by ``check_biodata``. Code ``NIK_FORMAT``.
    * ``kk_number``: Kartu Keluarga number, 16 digits (spaces removed), or ``None``/absent; the
      service decides whether it is required. Code ``KK_INVALID``.
    * ``full_name``: 1..100 characters after NFC normalisation and stripping; letters of any
      script (and their combining marks), spaces, apostrophes ``'`` ``’``, hyphens, dots, commas;
      at least one letter; single names allowed. Stored as typed (NFC, stripped).
      Codes ``NAME_LENGTH``, ``NAME_INVALID``.
    * ``place_of_birth`` 1..100 and ``address`` 1..300 characters (NFC, stripped, no control or
      line-break characters). Codes ``PLACE_OF_BIRTH_*``, ``ADDRESS_*`` (``_LENGTH``/``_INVALID``).
    * ``date_of_birth``: ISO ``YYYY-MM-DD``, year >= 1900. Code ``DATE_INVALID``.
    * ``sex``: ``"M"`` or ``"F"``. Code ``SEX_INVALID``.
    * ``province_code`` ``"32"``, ``regency_code`` ``"32.01"``, ``district_code`` ``"32.01.01"``:
      dotted Kemendagri codes, known in the current or the pre-2022 list (``REGION_UNKNOWN``);
      the regency must lie in the province and the district in the regency (``REGION_MISMATCH``,
      reported on the child field).
    * ``education``: one of ``EDUCATION_LEVELS`` (``EDUCATION_INVALID``); ``work_status``: one of
      ``WORK_STATUSES`` (``WORK_STATUS_INVALID``).
    * ``not_in_formal_education``: JSON boolean (``BOOL_INVALID``); ``false`` is well-formed but
      ineligible (``check_biodata`` reports ``IN_FORMAL_EDUCATION``).
    * ``phone``: Indonesian mobile number as ``08…``, ``628…`` or ``+628…`` (spaces and hyphens
      ignored), 10..15 digits as typed and at most 15 in E.164; stored as E.164 ``+628…``.
      Code ``PHONE_INVALID``.

    Raises ``pydantic.ValidationError`` listing every failing field, ``type`` = the code above
    (pydantic's own types for a missing field, ``missing``, or an unknown key, ``extra_forbidden``).
    Personal fields are excluded from ``repr()`` and inputs from error messages.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    # Personal data is left out of repr() so a logged model does not leak it.
    nik: str = Field(repr=False)
    kk_number: str | None = Field(default=None, repr=False)
    full_name: str = Field(repr=False)
    place_of_birth: str = Field(repr=False)
    date_of_birth: date = Field(repr=False)
    sex: Sex
    address: str = Field(repr=False)
    province_code: str
    regency_code: str
    district_code: str
    education: Education
    work_status: WorkStatus
    not_in_formal_education: bool
    phone: str = Field(repr=False)

    @field_validator("nik", mode="before")
    @classmethod
    def _nik(cls, value: Any) -> str:
        try:
            return normalize_nik(value)
        except NikError:
            raise _error("NIK_FORMAT") from None

    @field_validator("kk_number", mode="before")
    @classmethod
    def _kk(cls, value: Any) -> str | None:
        if value is None:
            return None
        digits = value.strip().replace(" ", "") if isinstance(value, str) else ""
        if not _DIGITS16_RE.fullmatch(digits):
            raise _error("KK_INVALID")
        return digits

    @field_validator("full_name", mode="before")
    @classmethod
    def _full_name(cls, value: Any) -> str:
        if not isinstance(value, str):
            raise _error("NAME_INVALID")
        name = unicodedata.normalize("NFC", value).strip()
        if not 1 <= len(name) <= 100:
            raise _error("NAME_LENGTH")
        has_letter = any(unicodedata.category(ch)[0] == "L" for ch in name)
        if not has_letter or not all(_is_name_char(ch) for ch in name):
            raise _error("NAME_INVALID")
        return name

    @field_validator("place_of_birth", mode="before")
    @classmethod
    def _place_of_birth(cls, value: Any) -> str:
        return _clean_text(value, 100, "PLACE_OF_BIRTH_LENGTH", "PLACE_OF_BIRTH_INVALID")

    @field_validator("address", mode="before")
    @classmethod
    def _address(cls, value: Any) -> str:
        return _clean_text(value, 300, "ADDRESS_LENGTH", "ADDRESS_INVALID")

    @field_validator("date_of_birth", mode="before")
    @classmethod
    def _date_of_birth(cls, value: Any) -> date:
        parsed: date | None = None
        if isinstance(value, date) and not isinstance(value, datetime):
            parsed = value
        elif isinstance(value, str) and _ISO_DATE_RE.fullmatch(value):
            try:
                parsed = date.fromisoformat(value)
            except ValueError:
                parsed = None
        if parsed is None or parsed.year < _MIN_BIRTH_YEAR:
            raise _error("DATE_INVALID")
        return parsed

    @field_validator("sex", mode="before")
    @classmethod
    def _sex(cls, value: Any) -> str:
        if not isinstance(value, str) or value not in ("M", "F"):
            raise _error("SEX_INVALID")
        return value

    @field_validator("province_code", "regency_code", "district_code", mode="before")
    @classmethod
    def _region(cls, value: Any, info: ValidationInfo) -> str:
        name = info.field_name
        assert name is not None
        well_formed = isinstance(value, str) and _REGION_RE[name].fullmatch(value) is not None
        if not well_formed or not _REGION_KNOWN[name](value):
            raise _error("REGION_UNKNOWN")
        parent_field = {"regency_code": "province_code", "district_code": "regency_code"}.get(name)
        parent = info.data.get(parent_field) if parent_field else None
        if parent is not None and not value.startswith(parent + "."):
            raise _error("REGION_MISMATCH")
        return value

    @field_validator("education", mode="before")
    @classmethod
    def _education(cls, value: Any) -> str:
        if not isinstance(value, str) or value not in EDUCATION_LEVELS:
            raise _error("EDUCATION_INVALID")
        return value

    @field_validator("work_status", mode="before")
    @classmethod
    def _work_status(cls, value: Any) -> str:
        if not isinstance(value, str) or value not in WORK_STATUSES:
            raise _error("WORK_STATUS_INVALID")
        return value

    @field_validator("not_in_formal_education", mode="before")
    @classmethod
    def _flag(cls, value: Any) -> bool:
        if not isinstance(value, bool):
            raise _error("BOOL_INVALID")
        return value

    @field_validator("phone", mode="before")
    @classmethod
    def _phone(cls, value: Any) -> str:
        compact = re.sub(r"[ \-]", "", value.strip()) if isinstance(value, str) else ""
        match = _PHONE_RE.fullmatch(compact)
        if match is None:
            raise _error("PHONE_INVALID")
        return "+62" + match.group(1)


@dataclass
class BiodataCheck:
    """Result of ``check_biodata``.

    ``errors``: issues that block registration; ``warnings``: inconsistencies to show the user
    and resolve by the Dukcapil check; ``decoded``: the parsed NIK, ``None`` if it is invalid.
    """

    errors: list[FieldIssue] = field(default_factory=list)
    warnings: list[FieldIssue] = field(default_factory=list)
    decoded: NikParts | None = None

    @property
    def ok(self) -> bool:
        """True when there are no errors (warnings allowed)."""
        return not self.errors


def _nik_cross_checks(b: Biodata, decoded: NikParts) -> list[FieldIssue]:
    """Warnings where the form disagrees with what the NIK encodes (form field named)."""
    warnings = []
    if decoded.birth_date != b.date_of_birth:
        warnings.append(FieldIssue("date_of_birth", "NIK_DOB_MISMATCH"))
    if decoded.sex != b.sex:
        warnings.append(FieldIssue("sex", "NIK_SEX_MISMATCH"))
    if decoded.district_code != b.district_code:
        warnings.append(FieldIssue("district_code", "NIK_REGION_MISMATCH"))
    return warnings


def check_biodata(b: Biodata, *, today: date) -> BiodataCheck:
    """Apply the content and eligibility rules to a well-formed ``Biodata``.

    ``today``: the WIB calendar date (``eligibility.wib_date(now_utc)``).

    Errors (``FieldIssue(field, code)``):

    * ``nik``: ``NIK_REGION_UNKNOWN`` / ``NIK_DATE_INVALID`` / ``NIK_SERIAL_INVALID`` from
      ``nik.parse_nik`` (century taken from ``date_of_birth`` when it agrees);
    * ``date_of_birth``: ``DOB_IN_FUTURE`` (after ``today``), else ``UNDER_AGE`` (younger than
      ``eligibility.MIN_AGE`` on ``today``, judged on the declared date of birth);
    * ``not_in_formal_education``: ``IN_FORMAL_EDUCATION`` when false.

    Warnings (the civil registry is the authority, so a disagreement with the NIK digits does not
    block): ``date_of_birth`` ``NIK_DOB_MISMATCH``, ``sex`` ``NIK_SEX_MISMATCH``,
    ``district_code`` ``NIK_REGION_MISMATCH`` (the NIK's issuing district differs from the
    address district; common after a move).

    Never raises for a valid ``Biodata``.
    """
    result = BiodataCheck()
    try:
        result.decoded = parse_nik(b.nik, today=today, date_of_birth_hint=b.date_of_birth)
    except NikError as exc:
        result.errors.append(FieldIssue(exc.field, exc.code))
    if result.decoded is not None:
        result.warnings.extend(_nik_cross_checks(b, result.decoded))

    if b.date_of_birth > today:
        result.errors.append(FieldIssue("date_of_birth", "DOB_IN_FUTURE"))
    else:
        try:
            check_min_age(b.date_of_birth, today)
        except EligibilityError as exc:
            result.errors.append(FieldIssue(exc.field, exc.code))

    if not b.not_in_formal_education:
        result.errors.append(FieldIssue("not_in_formal_education", IN_FORMAL_EDUCATION))
    return result
