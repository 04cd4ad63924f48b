"""KTP photo check and normalisation (prakerja.domain.photo).

Real photos live in tests/fixtures/photos (see the README there for their source and licence);
everything else is generated with Pillow inside the test.
"""

from __future__ import annotations

import io
import random
import struct
import zlib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageChops, ImageStat

from prakerja.domain.photo import Limits, Normalised, PhotoRejected, normalise, sniff

PHOTOS = Path(__file__).resolve().parents[1] / "fixtures" / "photos"
GPS_IFD = 0x8825
ORIENTATION = 0x0112
T = Image.Transpose
# what a viewer does to the stored pixels for each EXIF orientation value
ORIENTATION_OPS: dict[int, T | None] = {
    1: None, 2: T.FLIP_LEFT_RIGHT, 3: T.ROTATE_180, 4: T.FLIP_TOP_BOTTOM,
    5: T.TRANSPOSE, 6: T.ROTATE_270, 7: T.TRANSVERSE, 8: T.ROTATE_90,
}


def _fixture(name: str) -> bytes:
    return (PHOTOS / name).read_bytes()


def _rejection(data: bytes, limits: Limits = Limits()) -> str:
    with pytest.raises(PhotoRejected) as caught:
        normalise(data, limits)
    return caught.value.code


def _encode(img: Image.Image, fmt: str, **params: object) -> bytes:
    out = io.BytesIO()
    img.save(out, fmt, **params)
    return out.getvalue()


def _noise(size: tuple[int, int], mode: str = "RGB", seed: int = 7) -> Image.Image:
    """Incompressible pixels, so that PNGs of a legible size also pass the byte minimum."""
    rng = random.Random(seed)
    return Image.frombytes(mode, size, rng.randbytes(size[0] * size[1] * len(mode)))


def _header_segments(jpeg: bytes) -> list[int]:
    """The JPEG markers from SOI up to and including SOS (the header, where metadata lives)."""
    assert jpeg[:2] == b"\xff\xd8"
    markers, i = [], 2
    while i + 4 <= len(jpeg):
        assert jpeg[i] == 0xFF, f"not a marker at {i}"
        marker = jpeg[i + 1]
        markers.append(marker)
        if marker == 0xDA:  # start of scan: entropy-coded data follows
            return markers
        i += 2 + int.from_bytes(jpeg[i + 2:i + 4], "big")
    raise AssertionError("no start of scan")


def _assert_metadata_free(result: Normalised) -> None:
    markers = _header_segments(result.jpeg)
    header = result.jpeg[:result.jpeg.index(b"\xff\xda")]
    out = Image.open(io.BytesIO(result.jpeg))
    assert out.format == "JPEG" and out.mode == "RGB"
    assert out.size == (result.width, result.height)
    assert len(out.getexif()) == 0
    assert not [m for m in markers if 0xE1 <= m <= 0xEF], "APPn segment other than JFIF APP0"
    assert 0xFE not in markers, "comment segment"
    assert b"Exif" not in header and b"GPS" not in header and b"ICC_PROFILE" not in header
    assert "icc_profile" not in out.info and "exif" not in out.info


def _mean_difference(a: Image.Image, b: Image.Image) -> float:
    assert a.size == b.size
    return sum(ImageStat.Stat(ImageChops.difference(a.convert("RGB"), b.convert("RGB"))).mean) / 3


# --- the real photos ----------------------------------------------------------------------------

VALID_PHOTOS = {
    # file: (source type, displayed width x height of the output)
    "jpg_mobile_HMD_Nokia_8.3_5G.jpg": ("image/jpeg", (2000, 858)),  # 4608x1976 scaled down
    "jpg_hdr_iphone_hdr_YES.jpg": ("image/jpeg", (2000, 1500)),  # 3264x2448 scaled down
    "jpg_orientation_portrait_1.jpg": ("image/jpeg", (450, 600)),  # stored 450x600, as stored
    "jpg_orientation_landscape_3.jpg": ("image/jpeg", (600, 450)),  # stored 600x450, turned 180
    "jpg_orientation_portrait_6.jpg": ("image/jpeg", (450, 600)),  # stored 600x450, turned 90 cw
    "jpg_orientation_landscape_8.jpg": ("image/jpeg", (600, 450)),  # stored 450x600, turned 90 ccw
    "jpg_gps_DSCN0010.jpg": ("image/jpeg", (640, 480)),  # kept at its size
    "heic_IMG_5195.HEIC": ("image/heic", (1549, 2000)),  # 2566x3313 scaled down
    "jpg_corrupted.jpg": ("image/jpeg", (2000, 1500)),  # damaged EXIF, pixels fine
}

REJECTED_PHOTOS = {
    "jpg_truncated_phone.jpg": "CORRUPT",
    "jpg_invalid_image00971.jpg": "LOW_RESOLUTION",  # 636x227
    "jpg_Canon_40D.jpg": "TOO_SMALL",  # 7,958 bytes
    "tiff_BSG1.tiff": "UNSUPPORTED_TYPE",
}


def test_every_fixture_photo_is_covered_and_its_licence_note_is_kept():
    # Given the fixture directory
    files = {p.name for p in PHOTOS.iterdir()}

    # Then every photo has an expected outcome here and the licence note sits beside them
    assert files - {"README.md"} == set(VALID_PHOTOS) | set(REJECTED_PHOTOS)
    assert "Creative Commons" in (PHOTOS / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("name", sorted(VALID_PHOTOS))
def test_a_legible_photo_becomes_a_metadata_free_jpeg_no_larger_than_2000_px(name):
    # Given a real photo that is an acceptable KTP upload
    data = _fixture(name)
    source_type, displayed = VALID_PHOTOS[name]

    # When it is normalised
    result = normalise(data)

    # Then it comes back as a JPEG of the displayed size, long side <= 2000, with no metadata
    assert result.source_type == source_type
    assert (result.width, result.height) == displayed
    assert max(result.width, result.height) <= Limits().max_long_px
    assert sniff(result.jpeg) == "image/jpeg"
    _assert_metadata_free(result)


@pytest.mark.parametrize("name", sorted(REJECTED_PHOTOS))
def test_an_unacceptable_photo_is_rejected_with_its_code(name):
    # Given a real photo that is not an acceptable KTP upload
    data = _fixture(name)

    # When it is normalised
    code = _rejection(data)

    # Then the rejection names the reason
    assert code == REJECTED_PHOTOS[name]


@pytest.mark.parametrize("name", ["jpg_mobile_HMD_Nokia_8.3_5G.jpg", "jpg_hdr_iphone_hdr_YES.jpg",
                                  "jpg_gps_DSCN0010.jpg", "heic_IMG_5195.HEIC"])
def test_the_gps_position_in_the_original_does_not_survive(name):
    # Given a photo whose EXIF carries a GPS block
    source = Image.open(io.BytesIO(_fixture(name)))
    assert source.getexif().get_ifd(GPS_IFD), "fixture should carry GPS"

    # When it is normalised
    result = normalise(_fixture(name))

    # Then the output has no EXIF at all, so no GPS either
    out = Image.open(io.BytesIO(result.jpeg))
    assert not out.getexif().get_ifd(GPS_IFD)
    _assert_metadata_free(result)


@pytest.mark.parametrize("name", ["jpg_orientation_portrait_1.jpg", "jpg_orientation_landscape_3.jpg",
                                  "jpg_orientation_portrait_6.jpg", "jpg_orientation_landscape_8.jpg"])
def test_the_exif_orientation_is_applied_to_the_pixels(name):
    # Given a photo stored turned, with the EXIF orientation saying how to display it
    stored = Image.open(PHOTOS / name)
    orientation = stored.getexif().get(ORIENTATION, 1)
    stored = stored.convert("RGB")

    # When it is normalised
    result = normalise(_fixture(name))

    # Then of the eight ways to turn or flip the stored pixels, the one the orientation names is
    # by far the closest to the output (the output is also sRGB-converted and re-encoded)
    out = Image.open(io.BytesIO(result.jpeg))
    distances = {}
    for value, op in ORIENTATION_OPS.items():
        candidate = stored if op is None else stored.transpose(op)
        if candidate.size == out.size:
            distances[value] = _mean_difference(candidate, out)
    best = min(distances, key=distances.__getitem__)
    assert best == orientation
    assert all(d > 2 * distances[best] for v, d in distances.items() if v != best)


def test_the_orientation_fixtures_show_the_same_scene_once_turned():
    # Given the portrait pair (orientation 1 and 6) and the landscape pair (3 and 8)
    portrait = [normalise(_fixture(f"jpg_orientation_portrait_{n}.jpg")) for n in (1, 6)]
    landscape = [normalise(_fixture(f"jpg_orientation_landscape_{n}.jpg")) for n in (3, 8)]

    # When the outputs are decoded
    p1, p6 = (Image.open(io.BytesIO(r.jpeg)) for r in portrait)
    l3, l8 = (Image.open(io.BytesIO(r.jpeg)) for r in landscape)

    # Then each pair looks alike (small mean difference: one of each pair has an ICC profile)
    assert _mean_difference(p1, p6) < 10
    assert _mean_difference(l3, l8) < 10


def test_the_orientation_fixtures_sit_exactly_on_the_minimum_long_side():
    # Given the orientation fixtures (600x450 as displayed)
    # When the minimum long side is raised by one pixel
    # Then they are too small: the defaults of 600/380 px are the tightest they pass
    assert _rejection(_fixture("jpg_orientation_portrait_6.jpg"), Limits(min_long_px=601)) == "LOW_RESOLUTION"


@pytest.mark.parametrize("orientation", range(1, 9))
def test_every_exif_orientation_value_puts_the_top_left_corner_where_a_viewer_shows_it(orientation):
    # Given a 900x600 grey picture with a red corner, stored with an EXIF orientation
    img = Image.new("RGB", (900, 600), (128, 128, 128))
    img.paste((255, 0, 0), (0, 0, 150, 150))
    exif = Image.Exif()
    exif[ORIENTATION] = orientation
    data = _encode(_noise_border(img), "JPEG", exif=exif, quality=95)

    # When it is normalised
    result = normalise(data)

    # Then the red corner is where the viewer's transform puts it
    op = ORIENTATION_OPS[orientation]
    expected = img if op is None else img.transpose(op)
    out = Image.open(io.BytesIO(result.jpeg)).convert("RGB")
    assert out.size == expected.size
    assert [xy for xy in _corners(out.size) if _is_red(out.getpixel(xy))] == \
        [xy for xy in _corners(expected.size) if _is_red(expected.getpixel(xy))]


def _noise_border(img: Image.Image) -> Image.Image:
    """Add a noisy strip so the JPEG passes the 10 kB minimum without touching the corners."""
    img = img.copy()
    img.paste(_noise((600, 200)), (150, 200))
    return img


def _is_red(pixel: tuple[int, int, int]) -> bool:
    r, g, b = pixel
    return r > 200 and g < 80 and b < 80


def _corners(size: tuple[int, int]) -> list[tuple[int, int]]:
    w, h = size
    return [(40, 40), (w - 41, 40), (40, h - 41), (w - 41, h - 41)]


# --- generated images ---------------------------------------------------------------------------


def test_a_large_enough_png_is_accepted_and_converted_to_jpeg():
    # Given a 1200x800 PNG
    data = _encode(_noise((1200, 800)), "PNG")

    # When it is normalised
    result = normalise(data)

    # Then it comes back as a JPEG of the same size
    assert (result.source_type, result.width, result.height) == ("image/png", 1200, 800)
    _assert_metadata_free(result)


def test_transparent_areas_of_a_png_become_white_not_black():
    # Given a PNG that is fully transparent (with black under the transparency) but for a strip
    img = Image.new("RGBA", (800, 600), (0, 0, 0, 0))
    img.paste(_noise((800, 100), "RGBA"), (0, 500))
    data = _encode(img, "PNG")

    # When it is normalised
    out = Image.open(io.BytesIO(normalise(data).jpeg))

    # Then the transparent area is white
    r, g, b = out.getpixel((400, 100))
    assert min(r, g, b) >= 250


def test_a_sixteen_bit_greyscale_png_keeps_its_tones():
    # Given a 16-bit greyscale PNG at mid grey (32768 of 65535) with a noisy strip
    img = Image.new("I;16", (800, 600), 32768)
    strip = Image.frombytes("I;16", (800, 100), _noise((800, 100), "L").tobytes() * 2)
    img.paste(strip, (0, 500))
    data = _encode(img, "PNG")

    # When it is normalised
    out = Image.open(io.BytesIO(normalise(data).jpeg))

    # Then mid grey stays mid grey (a naive conversion clips everything above 255 to white)
    assert all(120 <= v <= 135 for v in out.getpixel((400, 100)))


def test_a_display_p3_photo_is_converted_to_srgb_and_loses_its_profile():
    # Given the iPhone HEIC, whose pixels are described by a Display P3 profile
    source = Image.open(io.BytesIO(_fixture("heic_IMG_5195.HEIC")))
    assert source.info.get("icc_profile")

    # When it is normalised
    result = normalise(_fixture("heic_IMG_5195.HEIC"))

    # Then no profile is embedded (the pixels are sRGB, what an untagged JPEG means)
    assert "icc_profile" not in Image.open(io.BytesIO(result.jpeg)).info


def test_a_text_file_named_like_a_jpeg_is_an_unsupported_type():
    # Given text bytes (above the byte minimum) that a client declared as image/jpeg
    data = b"this is not a photo of a KTP\n" * 1000

    # When it is normalised
    code = _rejection(data)

    # Then its content decides: unsupported type
    assert code == "UNSUPPORTED_TYPE"


@pytest.mark.parametrize("fmt", ["GIF", "TIFF", "BMP", "WEBP", "PDF"])
def test_other_image_formats_are_unsupported(fmt):
    # Given a legible picture in a format phones do not produce for the KTP step
    data = _encode(_noise((800, 600)), fmt)

    # When it is normalised
    code = _rejection(data)

    # Then it is refused by content
    assert code == "UNSUPPORTED_TYPE"


def test_an_empty_upload_is_too_small():
    # Given zero bytes
    # When they are normalised
    # Then the upload is too small
    assert _rejection(b"") == "TOO_SMALL"


def test_an_upload_over_the_byte_maximum_is_too_large_before_anything_is_decoded():
    # Given one byte over the maximum, starting like a JPEG
    data = b"\xff\xd8\xff" + bytes(Limits().max_bytes - 2)

    # When it is normalised
    code = _rejection(data)

    # Then it is too large
    assert code == "TOO_LARGE"


def test_the_byte_limits_are_inclusive():
    # Given a photo of exactly the byte size at each configured limit
    data = _fixture("jpg_gps_DSCN0010.jpg")

    # When the limits equal its size
    result = normalise(data, Limits(min_bytes=len(data), max_bytes=len(data)))

    # Then it is accepted
    assert result.width == 640


def test_a_truncated_png_is_corrupt():
    # Given a PNG cut in the middle of its pixel data
    data = _encode(_noise((1000, 800)), "PNG")
    data = data[: len(data) // 2]

    # When it is normalised
    code = _rejection(data)

    # Then it is corrupt
    assert code == "CORRUPT"


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


@pytest.mark.parametrize("width, height", [(20_000, 20_000), (10_000, 9_000), (8_000, 7_000)])
def test_a_png_header_claiming_a_huge_image_is_rejected_before_decoding(width, height):
    # Given a small file whose PNG header claims a huge image (over Pillow's hard limit, in its
    # warning band, and over our 50 MP limit only)
    header = _png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
    data = b"\x89PNG\r\n\x1a\n" + header + _png_chunk(b"IDAT", zlib.compress(bytes(width * 3 + 1) * 40))
    data += _png_chunk(b"tEXt", b"pad\0" + bytes(max(0, 10_000 - len(data))))

    # When it is normalised
    with pytest.raises(PhotoRejected) as caught:
        normalise(data)

    # Then it is refused as too large (pixels), without a Pillow exception escaping
    assert caught.value.code == "TOO_LARGE"
    assert "pixels" in caught.value.detail


def test_a_real_flat_png_over_the_pixel_limit_is_rejected():
    # Given a genuine 8000x7000 (56 MP) black PNG, which compresses to about 55 kB
    data = _encode(Image.new("L", (8000, 7000)), "PNG")
    assert len(data) < Limits().max_bytes

    # When it is normalised
    code = _rejection(data)

    # Then it is too large
    assert code == "TOO_LARGE"


def test_a_jpeg_header_claiming_a_huge_image_is_rejected():
    # Given a tiny JPEG whose frame header is patched to claim 60000x60000 pixels
    data = bytearray(_encode(Image.new("RGB", (16, 16)), "JPEG"))
    sof = data.index(b"\xff\xc0")
    data[sof + 5:sof + 9] = struct.pack(">HH", 60_000, 60_000)
    data += bytes(10_000)

    # When it is normalised
    code = _rejection(bytes(data))

    # Then it is too large
    assert code == "TOO_LARGE"


def test_the_pixel_limit_is_configurable():
    # Given a legible 1200x800 PNG (0.96 MP) and a limit of 0.9 MP
    data = _encode(_noise((1200, 800)), "PNG")

    # When it is normalised under that limit
    code = _rejection(data, Limits(max_pixels=900_000))

    # Then it is too large
    assert code == "TOO_LARGE"


@pytest.mark.parametrize("size", [(599, 450), (600, 379), (379, 600), (5000, 379)])
def test_a_side_under_the_minimum_is_low_resolution(size):
    # Given a PNG just under the minimum on one side
    data = _encode(_noise(size), "PNG")

    # When it is normalised
    code = _rejection(data)

    # Then it is low resolution
    assert code == "LOW_RESOLUTION"


def test_a_wide_jpeg_decoded_at_reduced_scale_is_judged_on_its_full_resolution():
    # Given a 4400x400 JPEG (short side 400 >= 380), which libjpeg may decode at half scale
    data = _encode(_noise((4400, 400)), "JPEG", quality=70)

    # When it is normalised
    result = normalise(data)

    # Then it is accepted and scaled to 2000 px wide, keeping the aspect
    assert (result.width, result.height) == (2000, 182)


# --- sniffing -----------------------------------------------------------------------------------


def _ftyp(major: bytes, *compatible: bytes) -> bytes:
    body = major + b"\0\0\0\0" + b"".join(compatible)
    return struct.pack(">I", 8 + len(body)) + b"ftyp" + body + bytes(32)


@pytest.mark.parametrize("data, expected", [
    (b"\xff\xd8\xff\xe0\0\x10JFIF\0", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR", "image/png"),
    (_ftyp(b"heic", b"mif1", b"heic"), "image/heic"),
    (_ftyp(b"heix", b"mif1"), "image/heic"),
    (_ftyp(b"hevc", b"msf1"), "image/heic"),
    (_ftyp(b"heim"), "image/heic"),
    (_ftyp(b"heis"), "image/heic"),
    (_ftyp(b"mif1", b"mif1", b"heic"), "image/heic"),
    (_ftyp(b"mif1", b"mif1"), "image/heif"),
    (_ftyp(b"msf1", b"msf1"), "image/heif"),
    (_ftyp(b"avif", b"mif1", b"avif"), None),
    (_ftyp(b"mif1", b"mif1", b"avif"), None),
    (_ftyp(b"isom", b"mp41"), None),
    (b"II*\0\x08\0\0\0", None),
    (b"MM\0*\0\0\0\x08", None),
    (b"GIF89a\x01\0\x01\0", None),
    (b"%PDF-1.7\n", None),
    (b"RIFF\0\0\0\0WEBPVP8 ", None),
    (b"just some text", None),
    (b"", None),
    (b"\xff\xd8", None),
])
def test_the_type_is_sniffed_from_magic_bytes(data, expected):
    # Given the first bytes of a file
    # When its type is sniffed
    # Then only JPEG, PNG and HEIC/HEIF are recognised
    assert sniff(data) == expected


def test_the_real_heic_is_sniffed_as_heic_and_the_tiff_as_nothing():
    # Given the real HEIC and TIFF fixtures
    # When they are sniffed
    # Then the HEIC is recognised and the TIFF is not
    assert sniff(_fixture("heic_IMG_5195.HEIC")) == "image/heic"
    assert sniff(_fixture("tiff_BSG1.tiff")) is None


# --- robustness ---------------------------------------------------------------------------------

LENIENT = Limits(min_bytes=0, min_long_px=1, min_short_px=1)
_SMALL_EXIF = Image.Exif()
_SMALL_EXIF[ORIENTATION] = 6
_SMALL_EXIF[0x010F] = "Make"  # camera make, so that there is an IFD entry pointing at a string
SMALL_JPEG = _encode(_noise((64, 48)), "JPEG", exif=_SMALL_EXIF, quality=80)
SMALL_PNG = _encode(_noise((48, 40)), "PNG")
MAGICS = [b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", _ftyp(b"heic", b"mif1")[:24], _ftyp(b"mif1")[:20], b""]


def _outcome(data: bytes, limits: Limits) -> None:
    try:
        result = normalise(data, limits)
    except PhotoRejected as rejected:
        assert rejected.code in {"TOO_SMALL", "TOO_LARGE", "UNSUPPORTED_TYPE", "CORRUPT", "LOW_RESOLUTION"}
    else:
        assert sniff(result.jpeg) == "image/jpeg"


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.binary(max_size=20_000), limits=st.sampled_from([Limits(), LENIENT]))
def test_random_bytes_only_ever_raise_photo_rejected(data, limits):
    # Given arbitrary bytes
    # When they are normalised
    # Then the only failure is PhotoRejected
    _outcome(data, limits)


@settings(max_examples=300, deadline=None)
@given(magic=st.sampled_from(MAGICS), tail=st.binary(max_size=4_000))
def test_random_bytes_behind_a_real_magic_number_only_ever_raise_photo_rejected(magic, tail):
    # Given arbitrary bytes that start like a JPEG, PNG or HEIC, so that a decoder runs
    # When they are normalised with the size and resolution minimums off
    # Then the only failure is PhotoRejected
    _outcome(magic + tail, LENIENT)


@settings(max_examples=300, deadline=None)
@given(base=st.sampled_from([SMALL_JPEG, SMALL_PNG]), cut=st.integers(min_value=0, max_value=10_000),
       flips=st.lists(st.tuples(st.integers(min_value=0, max_value=10_000), st.integers(0, 255)), max_size=8))
def test_damaged_real_images_only_ever_raise_photo_rejected(base, cut, flips):
    # Given a small valid JPEG or PNG with some bytes overwritten and possibly cut short
    data = bytearray(base)
    for position, value in flips:
        data[position % len(data)] = value
    data = data[: max(1, len(data) - cut % len(data))]

    # When it is normalised with the size and resolution minimums off
    # Then it either decodes or is rejected, never anything else
    _outcome(bytes(data), LENIENT)
