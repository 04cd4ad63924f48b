"""Biodata form validation (prakerja.domain.biodata) and age/eligibility (prakerja.domain.eligibility).

All people here are invented; NIKs are built with ``build_nik``.
"""

from __future__ import annotations

import unicodedata
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from prakerja.domain.biodata import (
    EDUCATION_LEVELS,
    FIELD_CODES,
    WORK_STATUSES,
    Biodata,
    FieldIssue,
    check_biodata,
)
from prakerja.domain.eligibility import (
    MIN_AGE,
    EligibilityError,
    age_on,
    check_min_age,
    wib_date,
)
from prakerja.domain.nik import build_nik

TODAY = date(2025, 6, 1)
BORN = date(1995, 8, 17)


def body(**overrides: Any) -> dict[str, Any]:
    """A valid synthetic request body; keyword arguments replace fields (None-valued keys kept)."""
    data: dict[str, Any] = {
        "nik": build_nik("32.01.01", BORN, "F", 42),
        "kk_number": "3201010101010001",
        "full_name": "Sri Wahyuni",
        "place_of_birth": "Bogor",
        "date_of_birth": BORN.isoformat(),
        "sex": "F",
        "address": "Jl. Melati No. 7, RT 01/RW 02",
        "province_code": "32",
        "regency_code": "32.01",
        "district_code": "32.01.01",
        "education": "SMA",
        "work_status": "unemployed",
        "not_in_formal_education": True,
        "phone": "081234567890",
    }
    data.update(overrides)
    return data


def applicant_born(born: date) -> dict[str, Any]:
    """A valid body of a woman born on ``born`` whose NIK agrees."""
    return body(date_of_birth=born.isoformat(), nik=build_nik("32.01.01", born, "F", 42))


def field_codes(exc: ValidationError) -> list[FieldIssue]:
    """(field, error type) of each pydantic error, as the API layer reads them."""
    return [FieldIssue(".".join(map(str, e["loc"])), e["type"]) for e in exc.errors()]


def issues_of(data: Any) -> list[FieldIssue]:
    """The (field, code) pairs of an invalid body (fails the test if the body is valid)."""
    with pytest.raises(ValidationError) as caught:
        Biodata.model_validate(data)
    return field_codes(caught.value)


# --- a valid form -------------------------------------------------------------------------------


def test_a_complete_valid_form_is_accepted_and_passes_every_check():
    # Given a well-formed body of an eligible applicant
    # When it is validated and checked
    form = Biodata.model_validate(body())
    result = check_biodata(form, today=TODAY)

    # Then there are no errors or warnings and the NIK is decoded
    assert result.errors == [] and result.warnings == [] and result.ok
    assert result.decoded is not None and result.decoded.birth_date == BORN


def test_personal_data_is_kept_out_of_the_repr_and_error_messages():
    # Given a valid form and an invalid one
    form = Biodata.model_validate(body())
    with pytest.raises(ValidationError) as caught:
        Biodata.model_validate(body(phone="0812-SECRET"))

    # When rendered / Then neither the NIK nor the bad input appears
    assert form.nik not in repr(form)
    assert "SECRET" not in str(caught.value)


# --- names --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("Sukarno", "Sukarno"),  # single name
        ("O'Neil", "O'Neil"),
        ("O\u2019Neil", "O\u2019Neil"),  # curly apostrophe
        ("Nur-Aini Rahmawati", "Nur-Aini Rahmawati"),
        ("H. Abdul Rahman, S.Kom.", "H. Abdul Rahman, S.Kom."),
        ("  Made Wirawan  ", "Made Wirawan"),  # stripped
        ("Jose\u0301 Ramos", "José Ramos"),  # NFC-normalised
        ("ꦱꦸꦏꦂꦤ", "ꦱꦸꦏꦂꦤ"),  # Javanese script, with combining vowel signs
        ("عبد الله", "عبد الله"),  # Arabic script
        ("A" * 100, "A" * 100),
    ],
)
def test_names_of_any_script_with_apostrophes_hyphens_dots_and_commas_are_accepted(typed, stored):
    # Given a name as typed / When the form is validated
    form = Biodata.model_validate(body(full_name=typed))

    # Then it is stored stripped and NFC-normalised, otherwise as typed
    assert form.full_name == stored
    assert unicodedata.is_normalized("NFC", form.full_name)


@pytest.mark.parametrize(
    ("typed", "code"),
    [
        ("", "NAME_LENGTH"),
        ("   ", "NAME_LENGTH"),
        ("A" * 101, "NAME_LENGTH"),
        ("Budi 2", "NAME_INVALID"),
        ("Budi!", "NAME_INVALID"),
        ("Budi\nSantoso", "NAME_INVALID"),
        ("Budi\tSantoso", "NAME_INVALID"),
        ("<script>", "NAME_INVALID"),
        ("Budi 🙂", "NAME_INVALID"),
        ("...", "NAME_INVALID"),  # no letter at all
        ("'-", "NAME_INVALID"),
        (42, "NAME_INVALID"),
        (None, "NAME_INVALID"),
    ],
)
def test_bad_names_are_rejected_with_a_name_code(typed, code):
    # Given a bad name / When validated / Then the full_name field carries the code
    assert issues_of(body(full_name=typed)) == [FieldIssue("full_name", code)]


@given(st.text(max_size=120))
def test_name_validation_only_ever_raises_a_name_code(text):
    # Given any text as a name / When validated
    try:
        form = Biodata.model_validate(body(full_name=text))
    except ValidationError as exc:
        # Then a failure is a full_name issue with a name code
        assert [(i.field, i.code in {"NAME_LENGTH", "NAME_INVALID"}) for i in field_codes(exc)] == [
            ("full_name", True)
        ]
    else:
        assert 1 <= len(form.full_name) <= 100


@pytest.mark.parametrize(
    ("fieldname", "value", "code"),
    [
        ("place_of_birth", "", "PLACE_OF_BIRTH_LENGTH"),
        ("place_of_birth", "B" * 101, "PLACE_OF_BIRTH_LENGTH"),
        ("place_of_birth", "Bo\x00gor", "PLACE_OF_BIRTH_INVALID"),
        ("address", "  ", "ADDRESS_LENGTH"),
        ("address", "J" * 301, "ADDRESS_LENGTH"),
        ("address", "Jl. Melati\nNo. 7", "ADDRESS_INVALID"),
        ("address", 7, "ADDRESS_INVALID"),
        ("place_of_birth", "\u202eRAGOB", "PLACE_OF_BIRTH_INVALID"),
        ("address", "Jl. Melati \u2066No. 7\u2069", "ADDRESS_INVALID"),
        ("address", "Jl. Melati\u200f No. 7", "ADDRESS_INVALID"),
    ],
)
def test_place_of_birth_and_address_are_bounded_single_line_text(fieldname, value, code):
    # Given a bad free-text value / When validated / Then its field carries the code
    assert issues_of(body(**{fieldname: value})) == [FieldIssue(fieldname, code)]


@pytest.mark.parametrize("name", ["Ma\u2019ruf Hidayat", "Ni Luh Putu Ayu", "I Gusti Ngurah Rai",
                                  "Dewi-Sartika, S.Pd."])
def test_names_refuse_bidi_and_control_characters_and_keep_the_real_ones(name):
    # Given a real name / When validated / Then it is kept; with a bidi override or NUL inside, refused
    assert Biodata.model_validate(body(full_name=name)).full_name == name
    for bad in (f"\u202e{name}", f"{name}\x00", f"{name[:3]}\u2066{name[3:]}"):
        assert issues_of(body(full_name=bad)) == [FieldIssue("full_name", "NAME_INVALID")]


def test_an_address_of_300_characters_is_accepted():
    # Given an address at the limit / When validated / Then it is accepted
    assert len(Biodata.model_validate(body(address="J" * 300)).address) == 300


# --- phone --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "e164"),
    [
        ("081234567890", "+6281234567890"),
        ("6281234567890", "+6281234567890"),
        ("+6281234567890", "+6281234567890"),
        ("+62 812-3456-7890", "+6281234567890"),
        (" 0812 3456 789 ", "+628123456789"),
        ("0812345678", "+62812345678"),  # 10 digits, shortest
        ("+628123456789012", "+628123456789012"),  # 15 digits, longest E.164
        ("08123456789012", "+628123456789012"),  # 14 digits national = 15 in E.164
    ],
)
def test_indonesian_mobile_numbers_are_normalised_to_e164(typed, e164):
    # Given a mobile number in a national or international spelling
    # When validated / Then it is stored as +628...
    assert Biodata.model_validate(body(phone=typed)).phone == e164


@pytest.mark.parametrize(
    "typed",
    [
        "",
        "021 5550 1234",  # Jakarta landline
        "+6221 5550 1234",
        "081234567",  # 9 digits
        "+62081234567890",  # trunk 0 after the country code
        "+6381234567890",  # Philippines
        "0812-3456-789a",
        "(0812) 3456 7890",
        81234567890,
        None,
    ],
)
def test_anything_but_an_indonesian_mobile_number_is_a_phone_error(typed):
    # Given a bad phone / When validated / Then PHONE_INVALID
    assert issues_of(body(phone=typed)) == [FieldIssue("phone", "PHONE_INVALID")]


def test_a_national_number_longer_than_e164_allows_is_rejected():
    # Given 08 followed by 14 digits (E.164 would need 16 digits)
    # When validated / Then PHONE_INVALID
    assert issues_of(body(phone="081234567890123")) == [FieldIssue("phone", "PHONE_INVALID")]


# --- regions ------------------------------------------------------------------------------------


def test_a_regency_outside_the_province_is_a_region_mismatch():
    # Given Jawa Barat with a Jawa Tengah regency and district
    data = body(province_code="32", regency_code="33.01", district_code="33.01.01")

    # When validated / Then the regency is reported as mismatched (the district fits its regency)
    assert issues_of(data) == [FieldIssue("regency_code", "REGION_MISMATCH")]


def test_a_district_outside_the_regency_is_a_region_mismatch():
    # Given Kab. Bogor with a district of Kab. Sukabumi
    data = body(regency_code="32.01", district_code="32.02.01")

    # When validated / Then the district is reported
    assert issues_of(data) == [FieldIssue("district_code", "REGION_MISMATCH")]


@pytest.mark.parametrize(
    ("fieldname", "value"),
    [
        ("province_code", "99"),
        ("province_code", "3"),
        ("regency_code", "32.99"),
        ("regency_code", "3201"),
        ("district_code", "32.01.99"),
        ("district_code", "320101"),
        ("district_code", 320101),
    ],
)
def test_an_unknown_or_malformed_region_code_is_region_unknown(fieldname, value):
    # Given an unknown or undotted code / When validated / Then REGION_UNKNOWN on that field only
    issues = issues_of(body(**{fieldname: value}))
    assert FieldIssue(fieldname, "REGION_UNKNOWN") in issues
    assert all(i.code in {"REGION_UNKNOWN"} for i in issues)


def test_a_region_from_before_the_papua_split_is_accepted():
    # Given a Papua address in the pre-2022 codes (Merauke: 91 / 91.01 / 91.01.01)
    form = Biodata.model_validate(body(province_code="91", regency_code="91.01", district_code="91.01.01"))

    # Then it is well-formed
    assert form.district_code == "91.01.01"


# --- other fields -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fieldname", "value", "code"),
    [
        ("nik", "12345", "NIK_FORMAT"),
        ("nik", 3201015705900123, "NIK_FORMAT"),
        ("kk_number", "123", "KK_INVALID"),
        ("kk_number", 3201010101010001, "KK_INVALID"),
        ("date_of_birth", "17-08-1995", "DATE_INVALID"),
        ("date_of_birth", "1995-02-30", "DATE_INVALID"),
        ("date_of_birth", "1995-08-17T00:00:00", "DATE_INVALID"),
        ("date_of_birth", 808617600, "DATE_INVALID"),
        ("date_of_birth", "1899-12-31", "DATE_INVALID"),
        ("sex", "f", "SEX_INVALID"),
        ("sex", "L", "SEX_INVALID"),
        ("education", "SMK", "EDUCATION_INVALID"),
        ("education", ["SMA"], "EDUCATION_INVALID"),
        ("work_status", "retired", "WORK_STATUS_INVALID"),
        ("not_in_formal_education", "true", "BOOL_INVALID"),
        ("not_in_formal_education", 1, "BOOL_INVALID"),
    ],
)
def test_each_malformed_field_gets_its_own_stable_code(fieldname, value, code):
    # Given one malformed field / When validated / Then exactly that field and code are reported
    assert code in FIELD_CODES
    assert issues_of(body(**{fieldname: value})) == [FieldIssue(fieldname, code)]


def test_every_broken_field_is_listed_at_once_with_its_own_code():
    # Given a body with several bad fields, a missing one and an unknown key
    data = body(nik="x", phone="x", sex="x", surname="extra")
    del data["full_name"]

    # When validated
    issues = issues_of(data)

    # Then every problem is listed by field: our stable codes, pydantic's types for the rest
    assert set(issues) == {
        FieldIssue("nik", "NIK_FORMAT"),
        FieldIssue("sex", "SEX_INVALID"),
        FieldIssue("phone", "PHONE_INVALID"),
        FieldIssue("full_name", "missing"),
        FieldIssue("surname", "extra_forbidden"),
    }


@pytest.mark.parametrize("kk", [None, "absent"])
def test_the_family_card_number_is_optional_in_the_model(kk):
    # Given a body without a KK number (null or absent)
    data = body(kk_number=kk)
    if kk == "absent":
        del data["kk_number"]

    # When validated / Then kk_number is None (the service decides whether it is required)
    assert Biodata.model_validate(data).kk_number is None


def test_nik_and_kk_numbers_typed_with_spaces_are_stored_as_digits():
    # Given numbers typed in groups / When validated / Then stored as 16 digits
    form = Biodata.model_validate(body(nik="3201 0157 0895 0042", kk_number="3201 0101 0101 0001"))
    assert (form.nik, form.kk_number) == ("3201015708950042", "3201010101010001")


def test_the_allowed_education_levels_and_work_statuses_are_the_documented_ones():
    # Given the enumerations / Then they match the API contract
    assert EDUCATION_LEVELS == ("SD", "SMP", "SMA", "D1", "D2", "D3", "D4", "S1", "S2", "S3")
    assert WORK_STATUSES == ("unemployed", "laid_off", "employed", "self_employed", "micro_business")


# --- check_biodata ------------------------------------------------------------------------------


def test_a_form_that_disagrees_with_the_nik_on_date_and_sex_gets_warnings_not_errors():
    # Given a NIK for a woman born 17-08-1995, and a form saying a man born 18-08-1995
    form = Biodata.model_validate(body(date_of_birth="1995-08-18", sex="M"))

    # When checked
    result = check_biodata(form, today=TODAY)

    # Then both disagreements are warnings and nothing blocks
    assert result.errors == []
    assert result.warnings == [
        FieldIssue("date_of_birth", "NIK_DOB_MISMATCH"),
        FieldIssue("sex", "NIK_SEX_MISMATCH"),
    ]


def test_a_nik_issued_in_another_district_than_the_address_is_a_warning():
    # Given a NIK issued in 32.01.01 and an address in Kota Bandung 32.73.01
    form = Biodata.model_validate(body(regency_code="32.73", district_code="32.73.01"))

    # When checked / Then a region warning only
    result = check_biodata(form, today=TODAY)
    assert (result.errors, result.warnings) == ([], [FieldIssue("district_code", "NIK_REGION_MISMATCH")])


@pytest.mark.parametrize(
    ("nik", "code"),
    [
        (build_nik("99.99.99", BORN, "F", 42), "NIK_REGION_UNKNOWN"),
        ("3201017302950042", "NIK_DATE_INVALID"),  # woman's day 33
        (build_nik("32.01.01", BORN, "F", 0), "NIK_SERIAL_INVALID"),
    ],
)
def test_a_nik_that_breaks_a_content_rule_is_an_error_on_the_nik_field(nik, code):
    # Given a well-formed NIK that breaks a content rule / When checked
    result = check_biodata(Biodata.model_validate(body(nik=nik)), today=TODAY)

    # Then the nik field has the NikError code and nothing is decoded
    assert result.errors == [FieldIssue("nik", code)]
    assert result.decoded is None and not result.ok


def test_someone_under_18_is_not_eligible():
    # Given an applicant whose 18th birthday is tomorrow (WIB)
    born = date(2007, 6, 2)
    form = Biodata.model_validate(applicant_born(born))

    # When checked on TODAY / Then UNDER_AGE on date_of_birth
    assert check_biodata(form, today=TODAY).errors == [FieldIssue("date_of_birth", "UNDER_AGE")]


def test_someone_turning_18_today_is_eligible():
    # Given an applicant whose 18th birthday is today
    born = date(2007, 6, 1)
    form = Biodata.model_validate(applicant_born(born))

    # When checked / Then no error
    assert check_biodata(form, today=TODAY).errors == []


def test_a_date_of_birth_in_the_future_is_its_own_error():
    # Given a date of birth after today / When checked / Then DOB_IN_FUTURE, not UNDER_AGE
    form = Biodata.model_validate(body(date_of_birth="2026-01-01"))
    assert FieldIssue("date_of_birth", "DOB_IN_FUTURE") in check_biodata(form, today=TODAY).errors


def test_someone_in_formal_education_is_not_eligible():
    # Given an applicant still in formal education / When checked / Then IN_FORMAL_EDUCATION
    form = Biodata.model_validate(body(not_in_formal_education=False))
    assert check_biodata(form, today=TODAY).errors == [
        FieldIssue("not_in_formal_education", "IN_FORMAL_EDUCATION")
    ]


def test_an_old_applicant_s_century_comes_from_the_declared_date_of_birth():
    # Given an applicant born 1920 whose NIK says YY=20
    born = date(1920, 3, 4)
    form = Biodata.model_validate(applicant_born(born))

    # When checked / Then the NIK decodes to 1920 (no DOB warning) and there is no error
    result = check_biodata(form, today=TODAY)
    assert result.decoded is not None and result.decoded.birth_date == born
    assert (result.errors, result.warnings) == ([], [])


# --- age and the WIB date -----------------------------------------------------------------------


def test_at_0030_wib_on_the_18th_birthday_the_applicant_is_18_although_utc_is_still_the_day_before():
    # Given someone born 2007-05-17 and the instant 2025-05-17 00:30 WIB (= 2025-05-16 17:30 UTC)
    born = date(2007, 5, 17)
    now_utc = datetime(2025, 5, 16, 17, 30, tzinfo=UTC)

    # When the age is taken on the WIB date
    on = wib_date(now_utc)

    # Then it is the birthday and the applicant is 18 and eligible; the UTC date would say 17
    assert on == date(2025, 5, 17)
    assert age_on(born, on) == 18
    check_min_age(born, on)
    assert age_on(born, now_utc.date()) == 17


def test_wib_date_accepts_any_aware_time_and_refuses_a_naive_one():
    # Given 23:59 UTC on 31 December / Then it is already 1 January in WIB
    assert wib_date(datetime(2024, 12, 31, 23, 59, tzinfo=UTC)) == date(2025, 1, 1)
    # and an aware time in another zone is converted, not read literally (01:00 WIT = 23:00 WIB)
    assert wib_date(datetime(2025, 1, 1, 1, 0, tzinfo=timezone(timedelta(hours=9)))) == date(2024, 12, 31)
    # and a naive time is refused
    with pytest.raises(ValueError):
        wib_date(datetime(2025, 1, 1, 12, 0))


def test_check_min_age_raises_under_age_for_the_date_of_birth_field():
    # Given someone one day short of 18 / When checked / Then EligibilityError(UNDER_AGE)
    with pytest.raises(EligibilityError) as caught:
        check_min_age(date(2007, 6, 2), TODAY)
    assert (caught.value.code, caught.value.field) == ("UNDER_AGE", "date_of_birth")
    assert MIN_AGE == 18


@pytest.mark.parametrize(
    ("on", "age"),
    [
        (date(2022, 2, 28), 17),  # non-leap year: not yet
        (date(2022, 3, 1), 18),  # non-leap year: a year older on 1 March
        (date(2024, 2, 28), 19),
        (date(2024, 2, 29), 20),  # leap year: on the day
    ],
)
def test_someone_born_on_29_february_ages_on_1_march_in_non_leap_years(on, age):
    # Given someone born 2004-02-29 / When the age is taken / Then as documented
    assert age_on(date(2004, 2, 29), on) == age


def _birthday(born: date, year: int) -> date:
    """Birthday of someone born on ``born`` in ``year`` (29 February -> 1 March in non-leap years)."""
    try:
        return born.replace(year=year)
    except ValueError:
        return date(year, 3, 1)


@given(born=st.dates(min_value=date(1900, 1, 1), max_value=date(2100, 12, 31)), years=st.integers(0, 120))
def test_age_goes_up_by_one_exactly_on_each_birthday(born, years):
    # Given any birth date and its birthday `years` later
    birthday = _birthday(born, born.year + years)

    # When the age is taken on that birthday and on the day before
    # Then it is `years` on the birthday and one less the day before
    assert age_on(born, birthday) == years
    assert age_on(born, birthday - timedelta(days=1)) == years - 1
