"""NIK (Nomor Induk Kependudukan): parse, build and mask the 16-digit Indonesian population number.

Source of the rules: UU No. 24/2013 (amending UU No. 23/2006) on Administrasi Kependudukan,
which makes the NIK the single lifelong identity number issued by Dukcapil, and the Kemendagri
(Permendagri) structure of the number::

    PP KK CC  DD MM YY  SSSS
    |  |  |   |  |  |   +-- 4-digit serial (0001..9999) for people with the same region and date
    |  |  |   +--+--+------ date of birth DDMMYY; for women DD is increased by 40 (41..71)
    +--+--+---------------- Kemendagri district (kecamatan) code where the NIK was issued,
                            PP province, KK regency/city, CC district ("32.01.01")

The district code is the one in force when the NIK was issued, so codes from before a region
split (e.g. Papua before 2022) stay valid: see ``prakerja.domain.regions``.

The two-digit year carries no century. ``parse_nik`` takes the century from the declared date of
birth when that agrees with the NIK, and otherwise picks the latest century in which the birth
date is not after ``today``.

Pure: no clock (callers pass ``today``), no I/O besides the packaged region table.
The NIK is personal data: no message produced here contains it; log ``mask_nik(nik)`` only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import Literal

from prakerja.domain import regions

__all__ = [
    "DATA_NOT_MATCHING_DUKCAPIL",
    "NIK_ALREADY_USED",
    "NIK_DATE_INVALID",
    "NIK_FORMAT",
    "NIK_REGION_UNKNOWN",
    "NIK_SERIAL_INVALID",
    "NikError",
    "NikParts",
    "build_nik",
    "citizen_reason",
    "citizen_step",
    "mask_nik",
    "normalize_nik",
    "parse_nik",
]

NIK_FORMAT = "NIK_FORMAT"
NIK_REGION_UNKNOWN = "NIK_REGION_UNKNOWN"
NIK_DATE_INVALID = "NIK_DATE_INVALID"
NIK_SERIAL_INVALID = "NIK_SERIAL_INVALID"
NIK_ALREADY_USED = "NIK_ALREADY_USED"
DATA_NOT_MATCHING_DUKCAPIL = "DATA_NOT_MATCHING_DUKCAPIL"

_NIK_RE = re.compile(r"[0-9]{16}")  # ASCII digits only (not \d, which matches any Unicode digit)
_DISTRICT_RE = re.compile(r"[0-9]{2}\.[0-9]{2}\.[0-9]{2}")
_FEMALE_DAY_OFFSET = 40


class NikError(ValueError):
    """A NIK failed a format or content rule.

    Attributes: ``code`` -- one of ``NIK_FORMAT`` (not exactly 16 ASCII digits after removing
    spaces), ``NIK_REGION_UNKNOWN`` (first six digits are not a known district code),
    ``NIK_DATE_INVALID`` (digits 7..12 are not a valid DDMMYY date, women day + 40),
    ``NIK_SERIAL_INVALID`` (serial ``0000``); ``field`` -- always ``"nik"``.
    The message never contains the NIK itself.
    """

    field = "nik"

    def __init__(self, code: str, message: str | None = None) -> None:
        super().__init__(message or code)
        self.code = code


@dataclass(frozen=True)
class NikParts:
    """The decoded parts of a valid NIK.

    ``nik``: the normalised 16 digits (left out of ``repr``); ``district_code`` ``"PP.KK.CC"``,
    ``regency_code`` ``"PP.KK"``, ``province_code`` ``"PP"`` (dotted Kemendagri codes);
    ``birth_date`` with the century resolved as described in ``parse_nik``; ``sex`` ``"M"`` or
    ``"F"`` (day + 40); ``serial`` the last four digits as a string (``"0001"``..``"9999"``).
    """

    nik: str = field(repr=False)  # personal data: keep it out of logs
    district_code: str
    regency_code: str
    province_code: str
    birth_date: date
    sex: Literal["M", "F"]
    serial: str


def normalize_nik(nik: str) -> str:
    """Return ``nik`` without surrounding whitespace and without inner spaces (U+0020).

    Raises ``NikError(NIK_FORMAT)`` unless the result is exactly 16 ASCII digits (also for a
    non-``str`` argument). Checks the format only, not region, date or serial.
    """
    if not isinstance(nik, str):
        raise NikError(NIK_FORMAT, "NIK must be a string of 16 digits")
    digits = nik.strip().replace(" ", "")
    if not _NIK_RE.fullmatch(digits):
        raise NikError(NIK_FORMAT, "NIK must be exactly 16 digits")
    return digits


def _safe_date(year: int, month: int, day: int) -> date | None:
    """``date(year, month, day)`` or ``None`` if that is not a calendar date."""
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _resolve_birth_date(day: int, month: int, yy: int, today: date, hint: date | None) -> date:
    """Pick the century of a DDMMYY birth date; raise ``NikError(NIK_DATE_INVALID)`` if none fits."""
    if hint is not None and (hint.day, hint.month, hint.year % 100) == (day, month, yy):
        return date(hint.year, hint.month, hint.day)  # a plain date even if given a datetime
    century = today.year // 100 * 100
    for candidate_century in (century, century - 100):
        born = _safe_date(candidate_century + yy, month, day)
        if born is not None and born <= today:
            return born
    raise NikError(NIK_DATE_INVALID, "NIK birth date is not a valid past date")


def parse_nik(nik: str, *, today: date, date_of_birth_hint: date | None = None) -> NikParts:
    """Validate and decode ``nik`` (spaces allowed, see ``normalize_nik``).

    ``today``: the reference calendar date (WIB, see ``eligibility.wib_date``), used only to pick
    the century. ``date_of_birth_hint``: the declared date of birth; when its day, month and
    two-digit year agree with the NIK its full year is used. Otherwise the century is the latest
    of this and the previous century that gives a birth date not after ``today`` (age >= 0).

    Checks, in order, raising ``NikError`` with ``code``: ``NIK_FORMAT``, ``NIK_REGION_UNKNOWN``
    (current or pre-2022 Kemendagri district code), ``NIK_DATE_INVALID``, ``NIK_SERIAL_INVALID``.
    Raises nothing but ``NikError`` for any ``str`` input.
    """
    digits = normalize_nik(nik)
    district_code = f"{digits[0:2]}.{digits[2:4]}.{digits[4:6]}"
    if not regions.is_known_district(district_code):
        raise NikError(NIK_REGION_UNKNOWN, "NIK region code is not a known district")

    day, month, yy = int(digits[6:8]), int(digits[8:10]), int(digits[10:12])
    sex: Literal["M", "F"] = "M"
    if day > _FEMALE_DAY_OFFSET:
        sex, day = "F", day - _FEMALE_DAY_OFFSET
    if not (1 <= day <= 31 and 1 <= month <= 12):
        raise NikError(NIK_DATE_INVALID, "NIK birth date is not a valid date")
    birth_date = _resolve_birth_date(day, month, yy, today, date_of_birth_hint)

    serial = digits[12:16]
    if serial == "0000":
        raise NikError(NIK_SERIAL_INVALID, "NIK serial number must not be 0000")

    return NikParts(
        nik=digits,
        district_code=district_code,
        regency_code=district_code[:5],
        province_code=district_code[:2],
        birth_date=birth_date,
        sex=sex,
        serial=serial,
    )


def build_nik(district_code: str, birth_date: date, sex: str, serial: int) -> str:
    """Build a NIK: the inverse of ``parse_nik`` (for tests and synthetic data only).

    ``district_code`` dotted ``"PP.KK.CC"`` (format checked, not looked up, so tests can build
    NIKs with unknown regions); ``sex`` ``"M"`` or ``"F"`` (F adds 40 to the day); ``serial``
    0..9999 (0 yields a NIK that ``parse_nik`` rejects with ``NIK_SERIAL_INVALID``).
    Returns 16 digits. Raises ``ValueError`` for a malformed argument.
    """
    if not isinstance(district_code, str) or not _DISTRICT_RE.fullmatch(district_code):
        raise ValueError("district_code must look like '32.01.01'")
    if sex not in ("M", "F"):
        raise ValueError("sex must be 'M' or 'F'")
    if isinstance(serial, bool) or not isinstance(serial, int) or not 0 <= serial <= 9999:
        raise ValueError("serial must be an int in 0..9999")
    day = birth_date.day + (_FEMALE_DAY_OFFSET if sex == "F" else 0)
    return (
        district_code.replace(".", "")
        + f"{day:02d}{birth_date.month:02d}{birth_date.year % 100:02d}"
        + f"{serial:04d}"
    )


def mask_nik(nik: str) -> str:
    """Mask a NIK for logs and display: only the last four digits kept, ``************0123``.

    The first six digits (the issuing district) are hidden too: next to the date of birth and
    sex shown in the same reply they would narrow the person down (issue 16, item 13).
    Accepts the same spellings as ``normalize_nik``. Anything that is not a 16-digit NIK is
    masked completely (``"*" * 16``) so a mistyped NIK never leaks. Never raises.
    """
    try:
        digits = normalize_nik(nik)
    except NikError:
        return "*" * 16
    return "*" * 12 + digits[12:]


def citizen_reason(result: str | None, reason: str | None) -> str | None:
    """The reason a citizen is shown for a NIK check outcome (``GET /v1/me``, ``GET
    /v1/me/biodata``): ``None`` unless ``result`` is ``REJECTED``; ``NIK_ALREADY_USED`` when
    another account holds the NIK verified (our rule, not the ministry's); every other rejection
    (the ministry's ``NOT_FOUND``, ``DATA_MISMATCH``, ``DECEASED``, ``INACTIVE``, ``NOT_CITIZEN``,
    ``EXCLUDED``, or none) is the one generic ``DATA_NOT_MATCHING_DUKCAPIL``.

    Why: the ministry's detail (which field differs, whether the person died) turned the check
    into an oracle on a leaked NIK (issue 16, item 6). Operators keep the detail in the BIODATA
    item's ``check`` record. Pure; never raises."""
    if result != "REJECTED":
        return None
    return NIK_ALREADY_USED if reason == NIK_ALREADY_USED else DATA_NOT_MATCHING_DUKCAPIL


def citizen_step(step: dict | None) -> dict | None:
    """The nik step (``{status, reason, updated_at}``) as the citizen may see it: the reason
    through :func:`citizen_reason`, which also covers outcomes stored before issue 16. Pure."""
    if not step:
        return step
    return {**step, "reason": citizen_reason(step.get("status"), step.get("reason"))}
