"""Kartu Prakerja eligibility rules that depend on age, and the WIB calendar date.

Source: Perpres No. 36/2020 on Pengembangan Kompetensi Kerja melalui Program Kartu Prakerja (as
amended) and its implementing regulation Permenko Perekonomian No. 3/2021 (as amended):
participants are Indonesian citizens (WNI) aged at least 18 years who are not in formal
education.

Dates: the programme runs on Western Indonesia Time. Callers pass ``on``/``today`` as the WIB
(Asia/Jakarta, UTC+7) calendar date, obtained from the request time with ``wib_date``; never the
UTC date, which is still the previous day between 00:00 and 07:00 WIB.

Pure: no clock; callers pass the date or the UTC instant.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = [
    "IN_FORMAL_EDUCATION",
    "MIN_AGE",
    "UNDER_AGE",
    "EligibilityError",
    "age_on",
    "check_min_age",
    "wib_date",
]

MIN_AGE = 18
"""Minimum age in whole years on the WIB date of the check (Perpres 36/2020, Permenko 3/2021)."""

UNDER_AGE = "UNDER_AGE"
IN_FORMAL_EDUCATION = "IN_FORMAL_EDUCATION"


def _wib_zone() -> tzinfo:
    """Asia/Jakarta from the tz database, or fixed UTC+7 where no tz database is installed.

    WIB has been UTC+7 without daylight saving since 1964, so the fallback gives the same
    calendar date for any instant the service handles.
    """
    try:
        return ZoneInfo("Asia/Jakarta")
    except ZoneInfoNotFoundError:  # pragma: no cover - depends on the host's tz database
        return timezone(timedelta(hours=7), "WIB")


WIB = _wib_zone()


class EligibilityError(ValueError):
    """An applicant fails an eligibility rule.

    Attributes: ``code`` (stable string, e.g. ``"UNDER_AGE"``) and ``field`` (the request field
    the rule is about, e.g. ``"date_of_birth"``).
    """

    def __init__(self, code: str, field: str, message: str | None = None) -> None:
        super().__init__(message or code)
        self.code = code
        self.field = field


def age_on(birth_date: date, on: date) -> int:
    """Age in whole completed years on calendar date ``on`` (pass the WIB date).

    A year is added on the birthday itself. Someone born on 29 February turns a year older on
    1 March in non-leap years (on 28 February they are still the younger age). Negative when
    ``on`` is before ``birth_date``.
    """
    had_birthday = (on.month, on.day) >= (birth_date.month, birth_date.day)
    return on.year - birth_date.year - (0 if had_birthday else 1)


def check_min_age(birth_date: date, on: date) -> None:
    """Raise ``EligibilityError(code="UNDER_AGE", field="date_of_birth")`` if ``age_on`` < ``MIN_AGE``.

    ``on`` is the WIB calendar date of the check. Returns ``None`` when old enough.
    """
    if age_on(birth_date, on) < MIN_AGE:
        raise EligibilityError(UNDER_AGE, "date_of_birth", f"applicants must be at least {MIN_AGE}")


def wib_date(now_utc: datetime) -> date:
    """The WIB (Asia/Jakarta, UTC+7) calendar date of the aware instant ``now_utc``.

    ``now_utc`` must be timezone-aware (any zone; UTC expected). Raises ``ValueError`` for a
    naive datetime, whose instant is ambiguous.
    """
    if now_utc.tzinfo is None or now_utc.utcoffset() is None:
        raise ValueError("now_utc must be timezone-aware")
    return now_utc.astimezone(WIB).date()
