"""NIK parsing, building and masking (prakerja.domain.nik) and the region table it relies on.

All NIKs here are synthetic, built with ``build_nik`` from region codes and invented dates.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from prakerja.domain import regions
from prakerja.domain.nik import (
    NikError,
    NikParts,
    build_nik,
    citizen_reason,
    citizen_step,
    mask_nik,
    normalize_nik,
    parse_nik,
)

TODAY = date(2025, 6, 1)

# A district present only in the older (pre-2022) list: Merauke district in Kab. Merauke,
# province 91 (Papua) before the split; the same place is 93.01.01 in Papua Selatan today.
HISTORIC_DISTRICT = "91.01.01"

known_districts = st.sampled_from(regions.current_district_codes() + (HISTORIC_DISTRICT,))
sexes = st.sampled_from(["M", "F"])
serials = st.integers(min_value=1, max_value=9999)
birth_dates = st.dates(min_value=date(1900, 1, 1), max_value=TODAY)


def _nik(district: str = "32.01.01", born: date = date(1990, 5, 17), sex: str = "M", serial: int = 1) -> str:
    return build_nik(district, born, sex, serial)


def _code(nik: object, **kwargs: object) -> str:
    with pytest.raises(NikError) as caught:
        parse_nik(nik, today=TODAY, **kwargs)  # type: ignore[arg-type]
    return caught.value.code


# --- round trip ---------------------------------------------------------------------------------


@given(district=known_districts, born=birth_dates, sex=sexes, serial=serials)
def test_a_nik_built_from_valid_parts_decodes_back_to_exactly_those_parts(district, born, sex, serial):
    # Given a NIK built from a known district, a valid birth date, a sex and a non-zero serial
    nik = build_nik(district, born, sex, serial)

    # When it is parsed with the declared date of birth as the century hint
    parts = parse_nik(nik, today=TODAY, date_of_birth_hint=born)

    # Then every part comes back unchanged
    assert parts == NikParts(
        nik=nik,
        district_code=district,
        regency_code=district[:5],
        province_code=district[:2],
        birth_date=born,
        sex=sex,
        serial=f"{serial:04d}",
    )


@given(
    district=known_districts,
    born=st.dates(min_value=TODAY - timedelta(days=365 * 99), max_value=TODAY),
    sex=sexes,
    serial=serials,
)
def test_a_birth_date_within_the_last_99_years_decodes_without_a_hint(district, born, sex, serial):
    # Given a NIK of someone born less than 99 years ago
    nik = build_nik(district, born, sex, serial)

    # When it is parsed without a date-of-birth hint
    parts = parse_nik(nik, today=TODAY)

    # Then the century guess recovers the exact birth date
    assert parts.birth_date == born
    assert parts.sex == sex


def test_a_woman_s_birth_day_is_stored_plus_forty():
    # Given a woman born on the 17th
    born = date(1990, 5, 17)

    # When her NIK is built
    nik = build_nik("32.01.01", born, "F", 123)

    # Then digits 7-8 hold 57 and parsing gives back day 17 and sex F
    assert nik == "3201015705900123"
    parts = parse_nik(nik, today=TODAY)
    assert (parts.birth_date, parts.sex) == (born, "F")


# --- robustness ---------------------------------------------------------------------------------


@given(st.text())
def test_any_string_either_parses_or_raises_nik_error_only(text):
    # Given an arbitrary string
    # When it is parsed as a NIK
    try:
        parts = parse_nik(text, today=TODAY)
    except NikError as exc:
        # Then any failure is a NikError with a stable code about the nik field
        assert exc.code in {"NIK_FORMAT", "NIK_REGION_UNKNOWN", "NIK_DATE_INVALID", "NIK_SERIAL_INVALID"}
        assert exc.field == "nik"
    else:
        assert len(parts.nik) == 16


@given(st.from_regex(r"[0-9]{16}", fullmatch=True), st.one_of(st.none(), birth_dates))
def test_any_sixteen_digits_either_parse_or_raise_nik_error_only(digits, hint):
    # Given 16 random ASCII digits and maybe a hint
    # When they are parsed
    try:
        parts = parse_nik(digits, today=TODAY, date_of_birth_hint=hint)
    except NikError as exc:
        # Then the only possible failures are content rules, never the format
        assert exc.code in {"NIK_REGION_UNKNOWN", "NIK_DATE_INVALID", "NIK_SERIAL_INVALID"}
    else:
        # and a parsed NIK has a known region and a birth date not after today
        assert regions.is_known_district(parts.district_code)
        assert parts.birth_date <= TODAY or parts.birth_date == hint


@pytest.mark.parametrize("value", [None, 3201015705900123, b"3201015705900123"])
def test_a_non_string_is_a_format_error(value):
    # Given something that is not a str
    # When it is parsed / Then it is rejected as NIK_FORMAT
    assert _code(value) == "NIK_FORMAT"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "320101570590012",  # 15 digits
        "32010157059001234",  # 17 digits
        "3201O15705900123",  # letter O
        "3201-0157-0590-0123",
        "３２０１０１５７０５９００１２３",  # full-width digits
        "٣٢٠١٠١٥٧٠٥٩٠٠١٢٣",  # Arabic-Indic digits
    ],
)
def test_anything_but_sixteen_ascii_digits_is_a_format_error(text):
    # Given a malformed NIK / When parsed / Then NIK_FORMAT
    assert _code(text) == "NIK_FORMAT"


def test_spaces_around_and_inside_the_nik_are_ignored():
    # Given a NIK typed in groups with surrounding whitespace
    typed = "  3201 0157 0590 0123\n"

    # When it is parsed
    parts = parse_nik(typed, today=TODAY)

    # Then the spaces are gone
    assert parts.nik == "3201015705900123"
    assert normalize_nik(typed) == "3201015705900123"


def test_the_error_message_does_not_contain_the_nik():
    # Given a NIK with an unknown region
    nik = _nik(district="99.99.99")

    # When it is rejected
    with pytest.raises(NikError) as caught:
        parse_nik(nik, today=TODAY)

    # Then the NIK (personal data) is not in the message, and the error is a ValueError
    assert nik not in str(caught.value)
    assert isinstance(caught.value, ValueError)


# --- regions ------------------------------------------------------------------------------------


@pytest.mark.parametrize("district", ["99.99.99", "32.01.99", "00.00.00"])
def test_an_unknown_district_code_is_rejected(district):
    # Given a NIK whose first six digits are not a Kemendagri district
    assert not regions.is_known_district(district)
    nik = _nik(district=district)

    # When it is parsed / Then NIK_REGION_UNKNOWN
    assert _code(nik) == "NIK_REGION_UNKNOWN"


def test_a_district_code_from_before_the_2022_papua_split_is_accepted():
    # Given a district under province 91 that only the older list has (Merauke, now 93.01.01)
    region = regions.lookup_district(HISTORIC_DISTRICT)
    assert region is not None and region.historic
    assert HISTORIC_DISTRICT not in regions.current_district_codes()

    # When a NIK issued under it is parsed
    parts = parse_nik(_nik(district=HISTORIC_DISTRICT), today=TODAY)

    # Then it is valid, with the old codes
    assert (parts.district_code, parts.regency_code, parts.province_code) == ("91.01.01", "91.01", "91")


def test_a_historic_district_is_named_from_the_older_list_and_current_parents_keep_current_names():
    # Given the historic Merauke district / When looked up
    region = regions.lookup_district(HISTORIC_DISTRICT)

    # Then its own and its regency's names come from the older list, the province's from the current
    assert region is not None
    assert region.district_name == "MERAUKE"
    assert region.regency_name == "KAB. MERAUKE"
    assert region.province_name == "PAPUA"


def test_a_current_district_looks_up_with_current_names():
    # Given a current district code / When looked up / Then it is current and fully named
    region = regions.lookup_district("32.01.01")
    assert region == regions.Region(
        district_code="32.01.01",
        district_name="Cibinong",
        regency_code="32.01",
        regency_name="KABUPATEN BOGOR",
        province_code="32",
        province_name="JAWA BARAT",
        historic=False,
    )


@pytest.mark.parametrize("code", ["", "320101", "32.01.1", "99.99.99", None, 320101])
def test_lookup_of_a_malformed_or_unknown_code_gives_none(code):
    # Given a bad code / When looked up / Then None, no exception
    assert regions.lookup_district(code) is None  # type: ignore[arg-type]


def test_known_code_predicates_accept_current_and_historic_codes_only():
    # Given current, historic and unknown codes at each level / Then the predicates agree
    assert regions.is_known_province("32") and regions.is_known_province("93")
    assert not regions.is_known_province("99")
    assert regions.is_known_regency("32.01") and regions.is_known_regency("91.01")
    assert not regions.is_known_regency("32.99")
    assert regions.is_known_district("93.01.01") and regions.is_known_district("91.01.01")
    assert not regions.is_known_district("32.01")


def test_current_district_codes_are_sorted_dotted_and_current():
    # Given the list for synthetic data / Then it is sorted, dotted and has no historic code
    codes = regions.current_district_codes()
    assert list(codes) == sorted(codes)
    assert all(len(c) == 8 and c[2] == "." and c[5] == "." for c in codes)
    assert len(codes) > 7000


# --- dates and serial ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "date_digits",
    [
        "000190",  # day 00
        "320190",  # day 32 (neither a man's nor a woman's day)
        "400190",  # day 40 = woman's day 0
        "720190",  # day 72 = woman's day 32
        "300290",  # 30 February
        "011390",  # month 13
        "010090",  # month 00
        "290201",  # 29 February in 2001 and 1901
    ],
)
def test_an_impossible_birth_date_is_rejected(date_digits):
    # Given a NIK with an impossible DDMMYY / When parsed / Then NIK_DATE_INVALID
    assert _code("320101" + date_digits + "0001") == "NIK_DATE_INVALID"


def test_serial_zero_is_rejected():
    # Given a NIK with serial 0000 / When parsed / Then NIK_SERIAL_INVALID
    assert _code(_nik(serial=0)) == "NIK_SERIAL_INVALID"


# --- century ------------------------------------------------------------------------------------


def test_a_two_digit_year_not_after_today_is_taken_in_this_century():
    # Given YY=05 and today in 2025 / When parsed without hint / Then born 2005
    assert parse_nik("3201011703050001", today=TODAY).birth_date == date(2005, 3, 17)


def test_a_two_digit_year_in_the_future_this_century_falls_back_a_century():
    # Given YY=30 on 2025-06-01 / When parsed without hint / Then born 1930
    assert parse_nik("3201011703300001", today=TODAY).birth_date == date(1930, 3, 17)


def test_a_birthday_later_this_year_means_the_previous_century():
    # Given 1 December 25 on 1 June 2025 (2025-12-01 would be in the future)
    nik = "3201010112250001"

    # When parsed without hint / Then it is 1925
    assert parse_nik(nik, today=TODAY).birth_date == date(1925, 12, 1)


def test_a_birth_date_equal_to_today_is_this_century():
    # Given a NIK with today's date / When parsed / Then today (age 0)
    assert parse_nik(_nik(born=TODAY), today=TODAY).birth_date == TODAY


def test_an_agreeing_hint_decides_the_century():
    # Given a NIK with YY=20 and a declared date of birth in 1920 that agrees on day and month
    nik = _nik(born=date(1920, 1, 2))

    # When parsed with and without the hint
    with_hint = parse_nik(nik, today=TODAY, date_of_birth_hint=date(1920, 1, 2))
    without_hint = parse_nik(nik, today=TODAY)

    # Then the hint gives 1920, the guess alone the latest past century
    assert with_hint.birth_date == date(1920, 1, 2)
    assert without_hint.birth_date == date(2020, 1, 2)


@pytest.mark.parametrize("hint", [date(1920, 1, 3), date(1920, 2, 2), date(1921, 1, 2)])
def test_a_disagreeing_hint_is_ignored(hint):
    # Given a NIK for 02-01-20 and a hint that differs in day, month or two-digit year
    nik = _nik(born=date(2020, 1, 2))

    # When parsed / Then the century guess applies
    assert parse_nik(nik, today=TODAY, date_of_birth_hint=hint).birth_date == date(2020, 1, 2)


def test_29_february_00_is_2000_the_leap_year():
    # Given 29-02-00 (1900 was not a leap year, 2000 was) / When parsed / Then 2000-02-29
    assert parse_nik("3201012902000001", today=TODAY).birth_date == date(2000, 2, 29)


@given(born=birth_dates)
def test_without_a_hint_the_decoded_date_is_never_after_today(born):
    # Given any NIK built from a past date / When parsed without hint
    parts = parse_nik(_nik(born=born), today=TODAY)

    # Then the decoded date is in the past and agrees in day, month and two-digit year
    assert parts.birth_date <= TODAY
    assert (parts.birth_date.day, parts.birth_date.month, parts.birth_date.year % 100) == (
        born.day,
        born.month,
        born.year % 100,
    )


# --- build_nik ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ("320101", date(1990, 1, 1), "M", 1),
        ("32.01.01", date(1990, 1, 1), "X", 1),
        ("32.01.01", date(1990, 1, 1), "M", 10000),
        ("32.01.01", date(1990, 1, 1), "M", -1),
        ("32.01.01", date(1990, 1, 1), "M", True),
    ],
)
def test_build_nik_rejects_malformed_arguments(args):
    # Given a malformed argument / When building / Then ValueError
    with pytest.raises(ValueError):
        build_nik(*args)


# --- mask_nik -----------------------------------------------------------------------------------


def test_mask_shows_only_the_last_four_digits():
    # Given a NIK / When masked / Then only the serial stays visible (issue 16: the region code
    # next to the date of birth and sex of the same reply would narrow the person down)
    assert mask_nik("3201015705900123") == "************0123"
    assert mask_nik(" 3201 0157 0590 0123 ") == "************0123"


@pytest.mark.parametrize("bad", ["", "123", "32010157059001234", "abcdefghijklmnop", None])
def test_mask_hides_a_malformed_value_entirely(bad):
    # Given something that is not a NIK / When masked / Then nothing of it is shown
    assert mask_nik(bad) == "*" * 16  # type: ignore[arg-type]


@given(st.from_regex(r"[0-9]{16}", fullmatch=True))
def test_mask_never_shows_the_region_or_birth_date_digits(digits):
    # Given any 16 digits / When masked
    masked = mask_nik(digits)

    # Then length is kept and digits 1-12 (region and birth date) are hidden
    assert len(masked) == 16
    assert masked[12:] == digits[12:]
    assert masked[:12] == "*" * 12


@given(st.text())
def test_mask_never_raises(text):
    # Given any string / When masked / Then a 16-character string comes back
    assert len(mask_nik(text)) == 16


# --- what the citizen is shown of a check (issue 16) ---------------------------------------------


@pytest.mark.parametrize("reason", ["NOT_FOUND", "DATA_MISMATCH", "DECEASED", "INACTIVE", "NOT_CITIZEN", "EXCLUDED",
                                    None])
def test_every_ministry_rejection_is_one_generic_reason(reason):
    # Given a rejection with any of the ministry's reasons / When shown to the citizen / Then generic
    assert citizen_reason("REJECTED", reason) == "DATA_NOT_MATCHING_DUKCAPIL"


def test_a_nik_held_by_another_account_keeps_its_reason_and_no_other_outcome_has_one():
    assert citizen_reason("REJECTED", "NIK_ALREADY_USED") == "NIK_ALREADY_USED"
    assert citizen_reason("VERIFIED", None) is None and citizen_reason("PENDING", "DECEASED") is None


def test_a_stored_step_is_shown_with_the_citizen_reason():
    step = {"status": "REJECTED", "reason": "DECEASED", "updated_at": "2026-04-11T03:00:00Z"}
    assert citizen_step(step) == step | {"reason": "DATA_NOT_MATCHING_DUKCAPIL"}
    assert citizen_step(None) is None
