"""Synthetic Kartu Prakerja applicants for the local demo and the load tests -- never real people.

Everything here is invented and deterministic for a seed:

* ``people(n, seed, today)`` -- ``n`` applicants with unique e-mail addresses (``@example.id``),
  unique NIKs built with ``prakerja.domain.nik.build_nik`` from a real current Kemendagri district
  code, ages 18..60 on ``today``, names from ``data/names.json`` matched to the province's usual
  name styles (Javanese, Sundanese, Batak, Minang, Bugis, Balinese, Malay/Betawi, Papuan/Maluku,
  Chinese-Indonesian, Arabic-influenced), about 15 % single names, apostrophes (straight and
  curly), hyphens and dots. Person ``i`` depends only on ``seed``, ``i``, ``today`` and the people
  before it, so ``people(10, s, t)`` is a prefix of ``people(1000, s, t)``.
* ``Person.biodata()`` -- the JSON body of ``PUT /v1/me/biodata``; ``Person.ministry_record()`` --
  the person as the ministry simulator's register holds them.
* ``mistype_nik`` -- a one-digit typo that the local NIK checks catch, or one only the ministry
  can catch (``NOT_FOUND``).
* ``ktp_photo`` -- a KTP-like JPEG drawn with Pillow (default font only), marked as synthetic.

The province of each person is drawn by population (BPS census 2020, Papua as split in 2022), the
district uniformly inside the province. Place of birth is the regency of that district.
"""

from __future__ import annotations

import io
import json
import math
import random
import re
import string
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import cache
from importlib import resources
from typing import Any, Literal

from PIL import Image, ImageDraw, ImageFilter, ImageFont

from prakerja.domain import regions
from prakerja.domain.nik import NikError, build_nik, normalize_nik, parse_nik

__all__ = ["Person", "ktp_photo", "mistype_nik", "people", "place_name"]

EMAIL_DOMAIN = "example.id"
MIN_AGE, MAX_AGE = 18, 60
SINGLE_NAME_RATE = 0.15
CURLY_APOSTROPHE_RATE = 0.3
PLUS_TAG_RATE = 0.1
PLUS_TAGS = ("prakerja", "kerja", "daftar", "demo", "gelombang1")

# Population in millions by province code (BPS Sensus Penduduk 2020; Papua provinces split 2022).
PROVINCE_POPULATION: dict[str, float] = {
    "11": 5.3, "12": 14.8, "13": 5.5, "14": 6.4, "15": 3.5, "16": 8.5, "17": 2.0, "18": 9.0,
    "19": 1.5, "21": 2.1, "31": 10.6, "32": 48.3, "33": 36.5, "34": 3.7, "35": 40.7, "36": 11.9,
    "51": 4.3, "52": 5.3, "53": 5.3, "61": 5.4, "62": 2.7, "63": 4.1, "64": 3.8, "65": 0.7,
    "71": 2.6, "72": 3.0, "73": 9.1, "74": 2.6, "75": 1.2, "76": 1.4, "81": 1.8, "82": 1.3,
    "91": 1.0, "92": 0.6, "93": 0.5, "94": 1.4, "95": 1.4, "96": 0.6,
}

EDUCATION_WEIGHTS: dict[str, float] = {
    "SD": 9, "SMP": 15, "SMA": 45, "D1": 2, "D2": 1.5, "D3": 7, "D4": 2.5, "S1": 16, "S2": 1.8, "S3": 0.2,
}
# Prakerja applicants are mostly out of work: many laid off (PHK) or unemployed.
WORK_STATUS_WEIGHTS: dict[str, float] = {
    "unemployed": 38, "laid_off": 30, "employed": 12, "self_employed": 11, "micro_business": 9,
}
# Mobile number prefixes (Telkomsel, Indosat, XL, Axis, Tri, Smartfren).
PHONE_PREFIXES = (
    "0811", "0812", "0813", "0821", "0822", "0823", "0852", "0853", "0814", "0815", "0816", "0855",
    "0856", "0857", "0858", "0817", "0818", "0819", "0859", "0877", "0878", "0831", "0832", "0833",
    "0838", "0895", "0896", "0897", "0898", "0899", "0881", "0882", "0883", "0887", "0888", "0889",
)
_PASSWORD_ALPHABET = string.ascii_letters + string.digits + "-_.!@#%+=?"
_REGENCY_PREFIXES = ("KABUPATEN ADMINISTRASI ", "KOTA ADMINISTRASI ", "KABUPATEN ", "KAB. ", "KAB ", "KOTA ")
_NIK_SERIAL_POSITIONS = range(12, 16)


@cache
def _names() -> dict[str, Any]:
    """``data/names.json``, read once."""
    path = resources.files("prakerja_local").joinpath("data/names.json")
    return json.loads(path.read_text(encoding="utf-8"))


def _weighted(rng: random.Random, weights: Mapping[str, float]) -> str:
    """One key of ``weights`` drawn with its weight (keys in the mapping's order)."""
    keys = list(weights)
    return rng.choices(keys, weights=[weights[k] for k in keys])[0]


def place_name(regency_name: str) -> str:
    """``"KABUPATEN ACEH SELATAN"`` -> ``"Aceh Selatan"``, ``"KOTA BAU-BAU"`` -> ``"Bau-Bau"``."""
    name = regency_name
    for prefix in _REGENCY_PREFIXES:
        if name.startswith(prefix):
            name = name[len(prefix):]
            break
    return name.title().replace(" Dan ", " dan ")


def _ktp_regency(regency_name: str) -> str:
    """Regency as printed in the KTP header (``KAB.`` spelled out)."""
    if regency_name.startswith("KAB. "):
        return "KABUPATEN " + regency_name[5:]
    return regency_name


@dataclass(frozen=True)
class Person:
    """One synthetic applicant (invented; any likeness to a real person is chance).

    ``index``: position in the ``people`` list (0-based); ``email``: unique ``…@example.id``
    address, some with a ``+tag``; ``password``: random 12..20 characters (left out of ``repr``);
    ``full_name`` as typed on the form (may be a single name, may contain ``'`` ``’`` ``-`` ``.``);
    ``sex`` ``"M"``/``"F"``; ``date_of_birth``: age 18..60 on the ``today`` given to ``people``;
    ``district_code``: current Kemendagri district, dotted; ``nik``: built from district, birth
    date, sex and a serial; ``kk_number``: 16 digits, district + issue date DDMMYY + serial;
    ``phone``: ``08…`` with 11..13 digits; ``place_of_birth``: regency name in title case;
    ``address``: street, number and RT/RW; ``education`` / ``work_status``: values of
    ``prakerja.domain.biodata``; ``religion``: the KTP ``Agama`` value (upper case).
    """

    index: int
    email: str
    password: str = field(repr=False)
    full_name: str
    sex: Literal["M", "F"]
    date_of_birth: date
    district_code: str
    nik: str
    kk_number: str
    phone: str
    place_of_birth: str
    address: str
    education: str
    work_status: str
    religion: str

    @property
    def regency_code(self) -> str:
        """``"PP.KK"`` of the district."""
        return self.district_code[:5]

    @property
    def province_code(self) -> str:
        """``"PP"`` of the district."""
        return self.district_code[:2]

    def biodata(self, nik: str | None = None) -> dict[str, Any]:
        """JSON body of ``PUT /v1/me/biodata`` for this person.

        ``nik`` replaces the real NIK (e.g. a ``mistype_nik`` result) so the demo can submit a
        typo. ``not_in_formal_education`` is ``True``; region codes come from the district.
        """
        return {
            "nik": self.nik if nik is None else nik,
            "kk_number": self.kk_number,
            "full_name": self.full_name,
            "place_of_birth": self.place_of_birth,
            "date_of_birth": self.date_of_birth.isoformat(),
            "sex": self.sex,
            "address": self.address,
            "province_code": self.province_code,
            "regency_code": self.regency_code,
            "district_code": self.district_code,
            "education": self.education,
            "work_status": self.work_status,
            "not_in_formal_education": True,
            "phone": self.phone,
        }

    def ministry_record(self) -> dict[str, Any]:
        """This person as an entry of the ministry simulator's population register."""
        return {
            "nik": self.nik,
            "full_name": self.full_name,
            "date_of_birth": self.date_of_birth.isoformat(),
            "citizenship": "WNI",
            "status": "ACTIVE",
            "excluded": None,
        }


# --------------------------------------------------------------------------------------- people


@cache
def _districts_by_province() -> dict[str, tuple[str, ...]]:
    """Current district codes grouped by province code."""
    grouped: dict[str, list[str]] = {}
    for code in regions.current_district_codes():
        grouped.setdefault(code[:2], []).append(code)
    return {province: tuple(codes) for province, codes in sorted(grouped.items())}


def _pick_district(rng: random.Random) -> str:
    """A current district: province by population, then uniform inside the province."""
    grouped = _districts_by_province()
    province = _weighted(rng, {p: PROVINCE_POPULATION.get(p, 1.0) for p in grouped})
    return rng.choice(grouped[province])


def _shift_years(day: date, years: int) -> date:
    """``day`` moved by whole years; 29 February becomes 28 February in a common year."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def _birth_date(rng: random.Random, today: date) -> date:
    """A birth date giving an age of 18..60 on ``today``, young applicants more likely."""
    age = min(MAX_AGE, int(rng.triangular(MIN_AGE, MAX_AGE + 1, 24)))
    latest = _shift_years(today, -age)
    earliest = _shift_years(today, -(age + 1)) + timedelta(days=1)
    return earliest + timedelta(days=rng.randint(0, (latest - earliest).days))


def _fresh(rng: random.Random, pool: Sequence[str], taken: list[str]) -> str:
    """A name from ``pool`` sharing no word with ``taken`` (any name if none is left)."""
    used = {word for name in taken for word in name.split()}
    candidates = [name for name in pool if not used.intersection(name.split())]
    return rng.choice(candidates or list(pool))


def _name_parts(rng: random.Random, flavour: Mapping[str, Any], key: str) -> list[str]:
    """[prefix] given [second given] [family or second name]: at least two parts."""
    parts: list[str] = []
    prefixes = flavour[f"prefix_{key}"]
    if prefixes and rng.random() < flavour["prefix_rate"]:
        parts.append(rng.choice(prefixes))
    parts.append(_fresh(rng, flavour[key], parts))
    if rng.random() < flavour["second_given_rate"]:
        parts.append(_fresh(rng, flavour[key], parts))
    family, second = flavour["family"], flavour[f"second_{key}"]
    tail: Sequence[str] = ()
    if family and rng.random() < flavour["family_rate"]:
        tail = family
    elif second:
        tail = second
    elif len(parts) == 1:
        tail = family or flavour[key]
    if tail:
        parts.append(_fresh(rng, tail, parts))
    return parts


def _full_name(rng: random.Random, flavour: Mapping[str, Any], sex: str) -> str:
    """A full name in the flavour's style; about ``SINGLE_NAME_RATE`` are single names."""
    key = "male" if sex == "M" else "female"
    if rng.random() < SINGLE_NAME_RATE:
        name = rng.choice([g for g in flavour[key] if " " not in g and "." not in g])
    else:
        name = " ".join(_name_parts(rng, flavour, key))
    if "'" in name and rng.random() < CURLY_APOSTROPHE_RATE:
        name = name.replace("'", "\u2019")
    return name


def _ascii_slug(word: str) -> str:
    """Lower-case ASCII letters and digits of ``word`` (accents dropped)."""
    folded = unicodedata.normalize("NFKD", word).encode("ascii", "ignore").decode("ascii").lower()
    return re.sub(r"[^a-z0-9]", "", folded)


def _email(rng: random.Random, full_name: str, index: int) -> str:
    """``first.last.0007@example.id``, sometimes with a ``+tag``; unique through ``index``."""
    words = [slug for slug in map(_ascii_slug, full_name.split()) if len(slug) > 1] or ["warga"]
    local = ".".join(dict.fromkeys((words[0], words[-1])))
    tag = f"+{rng.choice(PLUS_TAGS)}" if rng.random() < PLUS_TAG_RATE else ""
    return f"{local}.{index:04d}{tag}@{EMAIL_DOMAIN}"


def _password(rng: random.Random) -> str:
    """Random 12..20 characters of letters, digits and a few symbols."""
    return "".join(rng.choice(_PASSWORD_ALPHABET) for _ in range(rng.randint(12, 20)))


def _unique_nik(rng: random.Random, district: str, born: date, sex: str, taken: set[str]) -> str:
    """A NIK not in ``taken`` (serial 0001..9999 drawn until free); added to ``taken``."""
    for _ in range(10_000):
        nik = build_nik(district, born, sex, rng.randint(1, 9999))
        if nik not in taken:
            taken.add(nik)
            return nik
    raise RuntimeError("no free NIK serial for this district, birth date and sex")


def _unique_phone(rng: random.Random, taken: set[str]) -> str:
    """A mobile number ``08…`` of 11..13 digits not in ``taken``; added to ``taken``."""
    while True:
        length = rng.choice((11, 12, 12, 13))
        phone = rng.choice(PHONE_PREFIXES) + "".join(rng.choices(string.digits, k=length - 4))
        if phone not in taken:
            taken.add(phone)
            return phone


def _kk_number(rng: random.Random, district: str, today: date) -> str:
    """Kartu Keluarga number: district digits, issue date DDMMYY (2008..today), serial."""
    first = date(2008, 1, 1)
    issued = first + timedelta(days=rng.randint(0, max(0, (today - first).days)))
    return f"{district.replace('.', '')}{issued:%d%m%y}{rng.randint(1, 9999):04d}"


def _address(rng: random.Random) -> str:
    """``Jl. Melati No. 12, RT 003/RW 005`` and similar (Gg., Perum ... Blok, Dusun)."""
    data = _names()
    number = rng.randint(1, 150)
    kind = rng.random()
    if kind < 0.6:
        street = f"Jl. {rng.choice(data['streets'])} No. {number}"
    elif kind < 0.75:
        street = f"Gg. {rng.choice(data['streets'])} No. {number}"
    elif kind < 0.88:
        block = f"{rng.choice('ABCDEFGH')}{rng.randint(1, 12)}"
        street = f"Perum {rng.choice(data['estates'])} Blok {block} No. {rng.randint(1, 40)}"
    else:
        street = f"Dusun {rng.choice(data['hamlets'])}"
    return f"{street}, RT {rng.randint(1, 15):03d}/RW {rng.randint(1, 12):03d}"


def _person(index: int, seed: int, today: date, niks: set[str], phones: set[str]) -> Person:
    """Person ``index`` of the list for ``seed`` (its own random stream, so lists are prefixes)."""
    rng = random.Random(f"prakerja-synth:{seed}:{index}")
    data = _names()
    district = _pick_district(rng)
    region = regions.lookup_district(district)
    assert region is not None and region.regency_name is not None
    flavour_weights = data["province_flavours"].get(district[:2], data["default_flavours"])
    flavour = data["flavours"][_weighted(rng, flavour_weights)]
    sex: Literal["M", "F"] = rng.choice(("M", "F"))
    born = _birth_date(rng, today)
    full_name = _full_name(rng, flavour, sex)
    return Person(
        index=index,
        email=_email(rng, full_name, index),
        password=_password(rng),
        full_name=full_name,
        sex=sex,
        date_of_birth=born,
        district_code=district,
        nik=_unique_nik(rng, district, born, sex, niks),
        kk_number=_kk_number(rng, district, today),
        phone=_unique_phone(rng, phones),
        place_of_birth=place_name(region.regency_name),
        address=_address(rng),
        education=_weighted(rng, EDUCATION_WEIGHTS),
        work_status=_weighted(rng, WORK_STATUS_WEIGHTS),
        religion=_weighted(rng, flavour["religions"]),
    )


def people(n: int, seed: int, today: date) -> list[Person]:
    """``n`` synthetic applicants, the same for the same ``seed`` and ``today``.

    Emails, NIKs and phone numbers are unique within the list; ages are 18..60 on ``today``
    (the WIB date). Person ``i`` depends only on ``seed``, ``i``, ``today`` and the people
    before it, so a shorter list is a prefix of a longer one. Raises ``ValueError`` if ``n < 0``.
    """
    if n < 0:
        raise ValueError("n must be >= 0")
    niks: set[str] = set()
    phones: set[str] = set()
    return [_person(index, seed, today, niks, phones) for index in range(n)]


# --------------------------------------------------------------------------------- NIK typos


def _nik_error(nik: str, today: date) -> str | None:
    """The ``NikError`` code ``parse_nik`` gives for ``nik``, or ``None`` if it parses."""
    try:
        parse_nik(nik, today=today)
    except NikError as exc:
        return exc.code
    return None


def mistype_nik(nik: str, rng: random.Random, catchable: bool, *, today: date | None = None) -> str:
    """``nik`` with exactly one digit changed, as a user might mistype it.

    ``catchable=True``: the typo fails the local checks, i.e. ``parse_nik`` raises ``NikError``
    (an unknown district, an impossible date such as month 13 or day 35, or serial ``0000``);
    the kind of error is chosen first, uniformly among the kinds reachable with one digit, so
    region and date typos are equally likely. ``catchable=False``: the typo is in the serial
    (last four digits) and still parses, with the same district, birth date and sex, so only the
    ministry can tell (``NOT_FOUND``, unless the typo happens to be another registered NIK).

    ``nik``: a valid NIK (16 digits). ``today``: passed to ``parse_nik`` (default: the system
    date); it only picks the century, so it does not change which typos parse. Raises
    ``NikError`` if ``nik`` is not 16 digits, or if ``catchable=False`` and ``nik`` itself
    does not parse.
    """
    digits = normalize_nik(nik)
    check_day = today or date.today()
    if not catchable:
        parse_nik(digits, today=check_day)
    positions = range(16) if catchable else _NIK_SERIAL_POSITIONS
    by_code: dict[str, list[str]] = {}
    for position in positions:
        for digit in string.digits:
            if digit == digits[position]:
                continue
            typo = digits[:position] + digit + digits[position + 1:]
            code = _nik_error(typo, check_day)
            if (code is not None) == catchable:
                by_code.setdefault(code or "OK", []).append(typo)
    if not by_code:  # pragma: no cover - a serial always has parsing neighbours
        raise ValueError("no one-digit typo of this kind exists")
    return rng.choice(by_code[rng.choice(sorted(by_code))])



# -------------------------------------------------------------------------------- KTP photo

_INK = (28, 30, 40)
_BG_TOP, _BG_BOTTOM = (216, 234, 248), (166, 204, 236)
_GUILLOCHE = (188, 218, 242)
_MARITAL_WEIGHTS = {"KAWIN": 62, "BELUM KAWIN": 30, "CERAI HIDUP": 5, "CERAI MATI": 3}
_OCCUPATIONS = {
    "unemployed": ("BELUM/TIDAK BEKERJA", "BELUM/TIDAK BEKERJA", "MENGURUS RUMAH TANGGA"),
    "laid_off": ("KARYAWAN SWASTA", "BURUH HARIAN LEPAS", "BELUM/TIDAK BEKERJA"),
    "employed": ("KARYAWAN SWASTA", "BURUH HARIAN LEPAS", "KARYAWAN HONORER"),
    "self_employed": ("WIRASWASTA", "PETANI/PEKEBUN", "NELAYAN/PERIKANAN"),
    "micro_business": ("WIRASWASTA", "PEDAGANG"),
}


@cache
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """Pillow's built-in font at ``size`` px (no font files needed)."""
    return ImageFont.load_default(size=max(8, size))


def _fitted_font(draw: ImageDraw.ImageDraw, text: str, size: int, max_width: float) -> Any:
    """The built-in font at ``size`` px, shrunk until ``text`` fits in ``max_width``."""
    while size > 10 and draw.textlength(text, font=_font(size)) > max_width:
        size -= 1
    return _font(size)


def _card_background(size: tuple[int, int], rng: random.Random, scale: float) -> Image.Image:
    """Light blue vertical gradient with wavy guilloche lines."""
    width, height = size
    mask = Image.linear_gradient("L").resize(size)
    card = Image.composite(Image.new("RGB", size, _BG_BOTTOM), Image.new("RGB", size, _BG_TOP), mask)
    draw = ImageDraw.Draw(card)
    for row in range(16):
        amplitude = rng.uniform(6, 28) * scale
        period = rng.uniform(120, 420) * scale
        phase = rng.uniform(0, math.tau)
        base = height * (row + 0.5) / 16
        points = [(x, base + amplitude * math.sin(x / period * math.tau + phase))
                  for x in range(0, width + 8, 8)]
        draw.line(points, fill=_GUILLOCHE, width=max(1, round(2 * scale)))
    return card


def _ktp_values(person: Person, region: regions.Region, rng: random.Random) -> list[tuple[str, str]]:
    """The labelled KTP fields, values in upper case as printed on the card."""
    match = re.fullmatch(r"(.*?),\s*RT (\d{3})/RW (\d{3})", person.address)
    street, rt_rw = (match.group(1), f"{match.group(2)}/{match.group(3)}") if match else (person.address, "-")
    return [
        ("Nama", person.full_name.upper()),
        ("Tempat/Tgl Lahir", f"{person.place_of_birth.upper()}, {person.date_of_birth:%d-%m-%Y}"),
        ("Jenis Kelamin", "LAKI-LAKI" if person.sex == "M" else "PEREMPUAN"),
        ("Alamat", street.upper()),
        ("RT/RW", rt_rw),
        ("Kel/Desa", rng.choice(_names()["villages"]).upper()),
        ("Kecamatan", (region.district_name or "-").upper()),
        ("Agama", person.religion),
        ("Status Perkawinan", _weighted(rng, _MARITAL_WEIGHTS)),
        ("Pekerjaan", rng.choice(_OCCUPATIONS.get(person.work_status, ("BELUM/TIDAK BEKERJA",)))),
        ("Kewarganegaraan", "WNI"),
        ("Berlaku Hingga", "SEUMUR HIDUP"),
    ]


def _draw_text_block(
    draw: ImageDraw.ImageDraw, person: Person, region: regions.Region, rng: random.Random,
    size: tuple[int, int], scale: float,
) -> None:
    """Header, NIK line and labelled fields (left two thirds of the card)."""
    width, _ = size
    for y, text, font_size in (
        (22, f"PROVINSI {region.province_name}", 36),
        (66, _ktp_regency(region.regency_name or ""), 34),
    ):
        font = _fitted_font(draw, text, round(font_size * scale), width - 80 * scale)
        x = (width - draw.textlength(text, font=font)) / 2
        draw.text((x, y * scale), text, font=font, fill=_INK, stroke_width=1, stroke_fill=_INK)
    nik_font = _font(round(44 * scale))
    draw.text((40 * scale, 118 * scale), "NIK", font=nik_font, fill=_INK, stroke_width=1, stroke_fill=_INK)
    draw.text((190 * scale, 118 * scale), f": {person.nik}", font=nik_font, fill=_INK,
              stroke_width=1, stroke_fill=_INK)
    label_font = _font(round(25 * scale))
    value_x, max_value_width = 300 * scale, width - 360 * scale - 300 * scale
    for row, (label, value) in enumerate(_ktp_values(person, region, rng)):
        y = (190 + row * 46) * scale
        draw.text((40 * scale, y), label, font=label_font, fill=_INK)
        draw.text((value_x - 18 * scale, y), ":", font=label_font, fill=_INK)
        if label == "Jenis Kelamin":
            blood = rng.choice(("A", "B", "AB", "O", "-"))
            draw.text((value_x + 240 * scale, y), f"Gol. Darah : {blood}", font=label_font, fill=_INK)
        font = _fitted_font(draw, value, round(25 * scale), max_value_width)
        draw.text((value_x, y), value, font=font, fill=_INK)


def _draw_photo_box(
    draw: ImageDraw.ImageDraw, person: Person, region: regions.Region, rng: random.Random,
    size: tuple[int, int], scale: float,
) -> None:
    """Grey pas-foto placeholder with a face silhouette, place and date of issue, signature."""
    width, height = size
    left, top, right, bottom = width - 330 * scale, 170 * scale, width - 60 * scale, 530 * scale
    box_w, box_h = right - left, bottom - top
    draw.rectangle((left, top, right, bottom), fill=(176, 178, 182), outline=(90, 90, 96),
                   width=max(1, round(2 * scale)))
    shade = (112, 114, 120)
    cx = (left + right) / 2
    draw.pieslice((left + 0.1 * box_w, top + 0.66 * box_h, right - 0.1 * box_w, top + 1.34 * box_h),
                  180, 360, fill=shade)
    draw.rectangle((cx - 0.08 * box_w, top + 0.55 * box_h, cx + 0.08 * box_w, top + 0.72 * box_h), fill=shade)
    draw.ellipse((cx - 0.2 * box_w, top + 0.16 * box_h, cx + 0.2 * box_w, top + 0.6 * box_h), fill=shade)
    issued = max(_shift_years(person.date_of_birth, 17), date(2012, 1, 2))
    issued += timedelta(days=rng.randint(0, 60))
    font = _font(round(22 * scale))
    for offset, text in ((16, place_name(region.regency_name or "").upper()), (46, f"{issued:%d-%m-%Y}")):
        fitted = _fitted_font(draw, text, round(22 * scale), box_w + 40 * scale)
        draw.text((cx - draw.textlength(text, font=fitted) / 2, bottom + offset * scale), text,
                  font=fitted, fill=_INK)
    sign_y = bottom + 110 * scale
    points = [(left + 30 * scale + i * box_w / 20, sign_y + rng.uniform(-14, 14) * scale) for i in range(16)]
    draw.line(points, fill=(40, 50, 110), width=max(1, round(3 * scale)), joint="curve")
    draw.text((24 * scale, height - 38 * scale), "SPESIMEN - DATA SINTETIS, BUKAN DOKUMEN ASLI",
              font=font, fill=(170, 40, 40))


def _camera_noise(card: Image.Image, rng: random.Random) -> Image.Image:
    """A little blur and sensor-like grain (seeded, so the JPEG is reproducible)."""
    width, height = card.size
    grain = Image.frombytes("L", card.size, rng.randbytes(width * height)).convert("RGB")
    return Image.blend(card.filter(ImageFilter.GaussianBlur(0.7)), grain, 0.07)


def ktp_photo(person: Person, *, seed: int, size: tuple[int, int] = (1280, 808), quality: int = 80) -> bytes:
    """A synthetic KTP-like JPEG for ``person`` (marked "SPESIMEN - DATA SINTETIS").

    Light blue gradient card with guilloche lines, header ``PROVINSI …`` / ``KABUPATEN|KOTA …``,
    ``NIK : …``, the labelled KTP fields (Nama, Tempat/Tgl Lahir, Jenis Kelamin, Alamat, RT/RW,
    Kel/Desa, Kecamatan, Agama, Status Perkawinan, Pekerjaan, Kewarganegaraan, Berlaku Hingga;
    the ones a ``Person`` does not hold are drawn from ``seed``), a grey photo placeholder with a
    face silhouette, and seeded grain. Same ``person``, ``seed``, ``size`` and ``quality`` give
    the same bytes. The default size and quality give about 170 kB (600x380: about 45 kB).

    ``size``: (width, height) in px, at least 600x380 (the photo rules' minimum); drawing scales
    with it. Raises ``ValueError`` for a smaller size or a quality outside 1..95.
    """
    width, height = size
    if width < 600 or height < 380:
        raise ValueError("size must be at least 600x380")
    if not 1 <= quality <= 95:
        raise ValueError("quality must be in 1..95")
    region = regions.lookup_district(person.district_code)
    if region is None:
        raise ValueError("person.district_code is not a known district")
    rng = random.Random(f"prakerja-ktp:{seed}:{person.nik}")
    scale = min(width / 1280, height / 808)
    card = _card_background(size, rng, scale)
    draw = ImageDraw.Draw(card)
    _draw_text_block(draw, person, region, rng, size, scale)
    _draw_photo_box(draw, person, region, rng, size, scale)
    out = io.BytesIO()
    _camera_noise(card, rng).save(out, "JPEG", quality=quality)
    return out.getvalue()
