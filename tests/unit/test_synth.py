"""Synthetic applicants for the demo and load tests (prakerja_local.synth).

Everything checked here is generated: no real person's data.
"""

from __future__ import annotations

import io
import json
import random
import re
from datetime import date
from functools import cache
from importlib import resources

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from prakerja.domain import regions
from prakerja.domain.accounts import normalise_email, password_issue
from prakerja.domain.biodata import EDUCATION_LEVELS, WORK_STATUSES, Biodata, check_biodata
from prakerja.domain.eligibility import age_on
from prakerja.domain.nik import NIK_DATE_INVALID, NIK_REGION_UNKNOWN, NikError, parse_nik
from prakerja_local.synth import Person, ktp_photo, mistype_nik, people, place_name

TODAY = date(2025, 6, 1)
SEED = 20250601
CROWD_SIZE = 500


@cache
def crowd() -> tuple[Person, ...]:
    """The 500 people most tests look at (generated once)."""
    return tuple(people(CROWD_SIZE, SEED, TODAY))


@cache
def names_data() -> dict:
    """``data/names.json`` as shipped."""
    text = resources.files("prakerja_local").joinpath("data/names.json").read_text(encoding="utf-8")
    return json.loads(text)


def one_digit_apart(a: str, b: str) -> bool:
    """Same length and exactly one position differs."""
    return len(a) == len(b) and sum(x != y for x, y in zip(a, b, strict=True)) == 1


# ----------------------------------------------------------------------------- determinism


def test_same_seed_gives_the_same_people_and_another_seed_does_not() -> None:
    # Given two generations with one seed and one with another
    first, again, other = people(40, 7, TODAY), people(40, 7, TODAY), people(40, 8, TODAY)
    # Then the first two are equal and the third differs
    assert first == again
    assert [p.nik for p in first] != [p.nik for p in other]


def test_a_shorter_list_is_a_prefix_of_a_longer_one() -> None:
    # Given 30 and 120 people from the same seed and date
    short, long = people(30, SEED, TODAY), people(120, SEED, TODAY)
    # Then the 30 are the first 30 of the 120, and each knows its position
    assert long[:30] == short
    assert [p.index for p in long] == list(range(120))


def test_zero_people_and_a_negative_count() -> None:
    # Given / When / Then: no one for n=0, an error for n<0
    assert people(0, SEED, TODAY) == []
    with pytest.raises(ValueError):
        people(-1, SEED, TODAY)


# ------------------------------------------------------------------------------ uniqueness


def test_emails_niks_and_phones_are_unique() -> None:
    # Given the crowd
    everyone = crowd()
    # Then no e-mail (in its normalised lookup form), NIK or phone number repeats
    assert len({normalise_email(p.email) for p in everyone}) == CROWD_SIZE
    assert len({p.nik for p in everyone}) == CROWD_SIZE
    assert len({p.phone for p in everyone}) == CROWD_SIZE


def test_emails_are_on_example_id_and_some_use_a_plus_tag() -> None:
    # Given the crowd
    emails = [p.email for p in crowd()]
    # Then every address is well-formed on the reserved-looking domain, some with +tag
    assert all(re.fullmatch(r"[a-z0-9.]+\.[0-9]{4,}(\+[a-z0-9]+)?@example\.id", e) for e in emails)
    assert all(normalise_email(e) == e for e in emails)
    tagged = sum("+" in e for e in emails)
    assert CROWD_SIZE * 0.04 <= tagged <= CROWD_SIZE * 0.2


def test_passwords_are_random_12_to_20_characters_and_not_common() -> None:
    # Given the crowd's passwords
    passwords = [p.password for p in crowd()]
    # Then each is 12..20 characters, accepted by the password policy, and they are all distinct
    assert all(12 <= len(pw) <= 20 for pw in passwords)
    assert all(password_issue(pw) is None for pw in passwords)
    assert len(set(passwords)) == CROWD_SIZE
    # And the password is kept out of repr
    assert crowd()[0].password not in repr(crowd()[0])


# ------------------------------------------------------------------------ ages, NIK, regions


def test_ages_are_18_to_60_on_today() -> None:
    # Given the crowd / Then every age on TODAY is within 18..60, both ends reached over 500 people
    ages = [age_on(p.date_of_birth, TODAY) for p in crowd()]
    assert min(ages) >= 18 and max(ages) <= 60
    assert min(ages) <= 20 and max(ages) >= 50


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32), today=st.dates(min_value=date(2000, 1, 1), max_value=date(2090, 12, 31)))
def test_any_seed_and_date_gives_adults_whose_biodata_passes(seed: int, today: date) -> None:
    # Given a few people for an arbitrary seed and date (29 February included)
    for person in people(6, seed, today):
        # Then their age is 18..60 on that date and the form passes every local check
        assert 18 <= age_on(person.date_of_birth, today) <= 60
        result = check_biodata(Biodata.model_validate(person.biodata()), today=today)
        assert result.errors == [] and result.warnings == []


def test_nik_decodes_back_to_district_birth_date_and_sex() -> None:
    for person in crowd():
        # Given a person / When their NIK is parsed
        parts = parse_nik(person.nik, today=TODAY)
        # Then it gives back their district, date of birth and sex
        assert (parts.district_code, parts.birth_date, parts.sex) == (
            person.district_code, person.date_of_birth, person.sex)


def test_districts_are_real_current_codes_and_spread_over_provinces() -> None:
    # Given the crowd
    current = set(regions.current_district_codes())
    # Then every district is a current Kemendagri code, from many provinces, Java the most common
    assert all(p.district_code in current for p in crowd())
    provinces = [p.province_code for p in crowd()]
    assert len(set(provinces)) >= 20
    java = sum(code in ("31", "32", "33", "34", "35", "36") for code in provinces)
    assert java >= CROWD_SIZE * 0.4


def test_kk_phone_place_of_birth_and_address_look_plausible() -> None:
    for person in crowd():
        # Given a person
        digits = person.district_code.replace(".", "")
        region = regions.lookup_district(person.district_code)
        assert region is not None and region.regency_name is not None
        # Then the KK number is 16 digits starting with the district, then a DDMMYY issue date
        assert re.fullmatch(r"[0-9]{16}", person.kk_number) and person.kk_number.startswith(digits)
        issued = date(2000 + int(person.kk_number[10:12]), int(person.kk_number[8:10]),
                      int(person.kk_number[6:8]))
        assert date(2008, 1, 1) <= issued <= TODAY
        # And the phone is a national mobile number of 11..13 digits
        assert re.fullmatch(r"08[0-9]{9,11}", person.phone)
        # And the place of birth is the regency without KABUPATEN/KOTA, in title case
        assert person.place_of_birth == place_name(region.regency_name)
        assert not person.place_of_birth.upper().startswith(("KABUPATEN", "KOTA "))
        # And the address ends with RT/RW
        assert re.search(r", RT [0-9]{3}/RW [0-9]{3}$", person.address)


def test_place_name_strips_prefixes() -> None:
    # Given / When / Then regency names as Kemendagri spells them
    assert place_name("KABUPATEN ACEH SELATAN") == "Aceh Selatan"
    assert place_name("KOTA ADMINISTRASI JAKARTA PUSAT") == "Jakarta Pusat"
    assert place_name("KAB. BOVEN DIGOEL") == "Boven Digoel"
    assert place_name("KABUPATEN PANGKAJENE DAN KEPULAUAN") == "Pangkajene dan Kepulauan"
    assert place_name("KOTA BAU-BAU") == "Bau-Bau"


def test_education_and_work_status_use_the_form_values_mostly_out_of_work() -> None:
    # Given the crowd
    everyone = crowd()
    # Then the values are those of the form, and most applicants are laid off or unemployed
    assert {p.education for p in everyone} <= set(EDUCATION_LEVELS)
    assert {p.work_status for p in everyone} == set(WORK_STATUSES)
    out_of_work = sum(p.work_status in ("laid_off", "unemployed") for p in everyone)
    assert out_of_work >= CROWD_SIZE * 0.55
    assert sum(p.work_status == "laid_off" for p in everyone) >= CROWD_SIZE * 0.2


# ------------------------------------------------------------------------ biodata, ministry


def test_every_biodata_validates_and_passes_the_checks() -> None:
    for person in crowd():
        # Given a person's biodata body / When it is validated and checked
        body = person.biodata()
        model = Biodata.model_validate(body)
        result = check_biodata(model, today=TODAY)
        # Then there are no errors and no warnings, and the body is plain JSON
        assert result.errors == [] and result.warnings == [], person.index
        assert json.loads(json.dumps(body)) == body
        assert body["not_in_formal_education"] is True
        assert body["district_code"].startswith(body["regency_code"] + ".")
        assert body["regency_code"].startswith(body["province_code"] + ".")
        assert model.full_name == person.full_name


def test_biodata_nik_override_replaces_only_the_nik() -> None:
    # Given a person and another NIK
    person = crowd()[3]
    typo = mistype_nik(person.nik, random.Random(1), catchable=False)
    # When the body is built with that NIK
    body = person.biodata(nik=typo)
    # Then only the NIK differs
    assert body["nik"] == typo
    assert {k: v for k, v in body.items() if k != "nik"} == {
        k: v for k, v in person.biodata().items() if k != "nik"}


def test_ministry_record() -> None:
    # Given a person / When their register entry is built
    person = crowd()[5]
    record = person.ministry_record()
    # Then it is what the ministry simulator stores
    assert record == {
        "nik": person.nik,
        "full_name": person.full_name,
        "date_of_birth": person.date_of_birth.isoformat(),
        "citizenship": "WNI",
        "status": "ACTIVE",
        "excluded": None,
    }


# ----------------------------------------------------------------------------------- names


def test_names_include_single_names_apostrophes_hyphens_and_dots() -> None:
    # Given the 500 names
    names = [p.full_name for p in crowd()]
    # Then about 15 % are single names, and there are straight and curly apostrophes, hyphens, dots
    single = sum(" " not in n for n in names)
    assert CROWD_SIZE * 0.08 <= single <= CROWD_SIZE * 0.22
    assert sum("'" in n for n in names) >= 3
    assert sum("\u2019" in n for n in names) >= 1
    assert sum("-" in n for n in names) >= 2
    assert sum("." in n for n in names) >= 2
    # And they are varied
    assert len(set(names)) >= CROWD_SIZE * 0.9


def test_names_json_is_large_enough_and_every_name_is_a_valid_full_name() -> None:
    # Given names.json
    data = names_data()
    flavours = data["flavours"]
    # Then it has the ten flavours and enough names
    assert set(flavours) == {
        "javanese", "sundanese", "batak", "minang", "bugis", "balinese", "malay_betawi",
        "papuan_maluku", "chinese_indonesian", "arabic"}
    male = {n for f in flavours.values() for n in f["male"]}
    female = {n for f in flavours.values() for n in f["female"]}
    family = {n for f in flavours.values() for k in ("family", "second_male", "second_female") for n in f[k]}
    assert len(male) >= 150 and len(female) >= 150 and len(family) >= 100
    # And every province weight names a known flavour, every province has a weight
    for weights in [*data["province_flavours"].values(), data["default_flavours"]]:
        assert set(weights) <= set(flavours)
    assert {code[:2] for code in regions.current_district_codes()} <= set(data["province_flavours"])
    # And every name (straight or curly apostrophe) is accepted as a full name
    base = crowd()[0].biodata()
    every = male | female | family | {
        n for f in flavours.values() for k in ("prefix_male", "prefix_female") for n in f[k]}
    for name in sorted(every):
        for spelling in {name, name.replace("'", "\u2019")}:
            assert Biodata.model_validate({**base, "full_name": spelling}).full_name == spelling


# ------------------------------------------------------------------------------- NIK typos


def test_a_catchable_typo_fails_the_local_nik_checks() -> None:
    rng = random.Random(11)
    codes = set()
    for person in crowd()[:150]:
        # Given a person's NIK / When it is mistyped catchably
        typo = mistype_nik(person.nik, rng, catchable=True)
        # Then exactly one digit changed and parse_nik raises
        assert one_digit_apart(typo, person.nik)
        with pytest.raises(NikError) as caught:
            parse_nik(typo, today=TODAY, date_of_birth_hint=person.date_of_birth)
        codes.add(caught.value.code)
        # And check_biodata reports it as an error on the nik field
        result = check_biodata(Biodata.model_validate(person.biodata(nik=typo)), today=TODAY)
        assert [issue.field for issue in result.errors] == ["nik"]
    # And both region and date typos occur
    assert {NIK_REGION_UNKNOWN, NIK_DATE_INVALID} <= codes


def test_an_uncatchable_typo_parses_and_only_the_ministry_can_tell() -> None:
    rng = random.Random(12)
    registered = {p.nik for p in crowd()}
    for person in crowd()[:150]:
        # Given a person's NIK / When it is mistyped uncatchably
        typo = mistype_nik(person.nik, rng, catchable=False, today=TODAY)
        # Then exactly one digit changed, it still decodes to the same district, date and sex
        assert one_digit_apart(typo, person.nik)
        parts = parse_nik(typo, today=TODAY, date_of_birth_hint=person.date_of_birth)
        assert (parts.district_code, parts.birth_date, parts.sex) == (
            person.district_code, person.date_of_birth, person.sex)
        # And the form passes every local check, while the ministry does not know the NIK
        result = check_biodata(Biodata.model_validate(person.biodata(nik=typo)), today=TODAY)
        assert result.errors == [] and result.warnings == []
        assert typo not in registered


def test_mistype_is_deterministic_for_the_random_state() -> None:
    # Given the same NIK and two generators with the same seed
    nik = crowd()[0].nik
    # Then the typos are equal
    for catchable in (True, False):
        assert mistype_nik(nik, random.Random(5), catchable) == mistype_nik(nik, random.Random(5), catchable)


def test_mistype_rejects_a_malformed_nik() -> None:
    # Given a string that is not 16 digits / Then it is refused
    with pytest.raises(NikError):
        mistype_nik("12345", random.Random(1), catchable=True)


# --------------------------------------------------------------------------------- KTP photo


def test_ktp_photo_is_a_clean_jpeg_of_the_right_size() -> None:
    # Given the people with the longest and the shortest names
    subjects = sorted(crowd(), key=lambda p: len(p.full_name))
    for person in (subjects[0], subjects[-1], *crowd()[:4]):
        # When their KTP photo is drawn
        data = ktp_photo(person, seed=person.index)
        # Then it is a JPEG of 1280x808 between 30 kB and 600 kB that decodes fully
        assert data[:3] == b"\xff\xd8\xff"
        assert 30_000 <= len(data) <= 600_000
        with Image.open(io.BytesIO(data)) as image:
            assert image.format == "JPEG" and image.size == (1280, 808)
            image.load()


def test_ktp_photo_is_reproducible_and_depends_on_the_seed() -> None:
    # Given a person
    person = crowd()[1]
    # Then the same seed gives the same bytes and another seed other bytes
    assert ktp_photo(person, seed=1) == ktp_photo(person, seed=1)
    assert ktp_photo(person, seed=1) != ktp_photo(person, seed=2)


def test_ktp_photo_at_the_minimum_size_and_below() -> None:
    # Given a person / When the photo is drawn at 600x380
    person = crowd()[2]
    data = ktp_photo(person, seed=3, size=(600, 380))
    # Then it has that size; a smaller one is refused
    with Image.open(io.BytesIO(data)) as image:
        assert image.size == (600, 380)
    with pytest.raises(ValueError):
        ktp_photo(person, seed=3, size=(599, 380))


def test_ktp_photo_is_accepted_by_the_photo_check() -> None:
    from prakerja.domain.photo import normalise

    # Given a synthetic KTP photo / When the upload check normalises it
    result = normalise(ktp_photo(crowd()[4], seed=4))
    # Then it is accepted as a JPEG of the same size
    assert (result.width, result.height) == (1280, 808)
