"""The KTP photo: check an uploaded photo and normalise it to a small, metadata-free JPEG.

Rules and where they come from:

* The KTP must be legible: the Kartu Prakerja registration asks for a photo of the applicant's
  KTP from which the NIK, name and date of birth can be read.
* The KTP-el card issued by Dukcapil is 85.6 x 53.98 mm (the ISO/IEC 7810 ID-1 card size). Taking
  about 7 pixels per millimetre of card as the least that keeps its small print readable, a photo
  of the card needs roughly **600 px on the long side and 380 px on the short side**
  (600 / 85.6 ~ 380 / 53.98 ~ 7; ``Limits.min_long_px`` / ``Limits.min_short_px``). The sides are
  compared after the EXIF orientation is applied -- a rotation only swaps width and height -- and
  at full resolution (before any reduced-scale decode).
* Size in bytes: 10 kB .. 10 MB (``Limits.min_bytes`` / ``Limits.max_bytes``); anything smaller
  cannot hold a legible card photo, anything larger is refused before it is decoded.
* Type by content (magic bytes), never by file name or declared Content-Type: JPEG, PNG and
  HEIC/HEIF (what phones produce). Everything else (TIFF, GIF, PDF, WebP, AVIF, text...) is
  ``UNSUPPORTED_TYPE``.
* Privacy: the output is a fresh baseline JPEG with no metadata at all -- no EXIF (so no GPS, no
  device serials, no embedded thumbnail), no XMP, no comment, no ICC profile. Colours described
  by an embedded ICC profile (e.g. Display P3 from iPhones) are converted to sRGB first, which is
  what a JPEG without a profile is taken to be.
* Memory: the output long side is at most ``Limits.max_long_px``. JPEGs are decoded at a reduced
  scale (``Image.draft``: libjpeg's DCT scaling by 1/2, 1/4 or 1/8) whenever the reduced image
  still has at least ``max_long_px`` on the long side: a 12 MP phone photo then decodes to 3 MP.
  PNG and HEIC cannot be decoded at reduced scale and are decoded in full.

Decompression bombs: an image whose header declares more than ``Limits.max_pixels`` pixels is
refused with ``TOO_LARGE`` (``detail`` says "pixels") before its pixels are decoded. Pillow's own
guard (``Image.DecompressionBombError``, raised by ``Image.open`` above twice
``Image.MAX_IMAGE_PIXELS``; ``DecompressionBombWarning`` above it, turned into an error here) is
mapped to the same rejection. Genuine 64/108/200 MP phone photos land here too, and "too large"
is the right advice for them (``warnings.catch_warnings`` is process-wide, not per thread: fine
for a single-threaded Lambda handler). Pillow's global settings are never changed; ``normalise`` only
refuses to run if ``ImageFile.LOAD_TRUNCATED_IMAGES`` was switched on elsewhere in the process
(truncated uploads would then pass as valid).

Errors: every failure is a ``PhotoRejected`` with a stable ``code``; exceptions from Pillow or
pillow-heif never escape (``MemoryError`` does). Pure: no I/O besides decoding the bytes given,
no environment, no clock. Registering the HEIF opener (once, on first HEIC) is process-wide, with
pillow-heif's thumbnails, depth and auxiliary images switched off.
"""

from __future__ import annotations

import io
import math
import warnings
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PIL import Image, ImageCms, ImageFile, ImageOps

__all__ = [
    "CORRUPT",
    "LOW_RESOLUTION",
    "TOO_LARGE",
    "TOO_SMALL",
    "UNSUPPORTED_TYPE",
    "Limits",
    "Normalised",
    "PhotoRejected",
    "normalise",
    "sniff",
]

TOO_SMALL = "TOO_SMALL"
TOO_LARGE = "TOO_LARGE"
UNSUPPORTED_TYPE = "UNSUPPORTED_TYPE"
CORRUPT = "CORRUPT"
LOW_RESOLUTION = "LOW_RESOLUTION"

JPEG = "image/jpeg"
PNG = "image/png"
HEIC = "image/heic"
HEIF = "image/heif"

_PILLOW_FORMAT = {JPEG: "JPEG", PNG: "PNG", HEIC: "HEIF", HEIF: "HEIF"}
_HEIC_BRANDS = frozenset({b"heic", b"heix", b"hevc", b"heim", b"heis", b"hevm", b"hevs", b"hevx"})
_HEIF_BRANDS = frozenset({b"mif1", b"msf1"})
_AVIF_BRANDS = frozenset({b"avif", b"avis"})
_SIXTEEN_BIT_MODES = frozenset({"I", "I;16", "I;16L", "I;16B", "I;16N"})
_WHITE = (255, 255, 255)


class PhotoRejected(Exception):
    """The upload is not an acceptable KTP photo.

    Attributes: ``code`` -- one of ``TOO_SMALL`` (fewer bytes than ``Limits.min_bytes``, including
    an empty upload), ``TOO_LARGE`` (more bytes than ``Limits.max_bytes``, or a header declaring
    more than ``Limits.max_pixels`` pixels), ``UNSUPPORTED_TYPE`` (not JPEG/PNG/HEIC by content),
    ``CORRUPT`` (the pixels do not decode completely: truncated or damaged data),
    ``LOW_RESOLUTION`` (under ``min_long_px`` x ``min_short_px``); ``detail`` -- a short English
    note for logs (sizes and decoder messages, never personal data). ``str()`` gives the code.
    """

    def __init__(self, code: str, detail: str = "") -> None:
        super().__init__(code)
        self.code = code
        self.detail = detail

    def __str__(self) -> str:
        return self.code


@dataclass(frozen=True)
class Limits:
    """What is accepted and what is produced.

    ``min_bytes`` / ``max_bytes``: accepted upload size in bytes (inclusive). ``min_long_px`` /
    ``min_short_px``: smallest accepted long and short side, in pixels. ``max_long_px``: long side
    of the output is scaled down to at most this. ``max_pixels``: largest accepted width x height
    declared by the image header. ``jpeg_quality``: libjpeg quality of the output (1..95).
    """

    min_bytes: int = 10_000
    max_bytes: int = 10_000_000
    min_long_px: int = 600
    min_short_px: int = 380
    max_long_px: int = 2000
    max_pixels: int = 50_000_000
    jpeg_quality: int = 85


@dataclass(frozen=True)
class Normalised:
    """An accepted photo: ``jpeg`` is the metadata-free sRGB JPEG; ``width`` x ``height`` its size
    in pixels as displayed (EXIF orientation applied); ``source_type`` the sniffed type of the
    upload (``image/jpeg``, ``image/png``, ``image/heic`` or ``image/heif``)."""

    jpeg: bytes
    width: int
    height: int
    source_type: str


def sniff(data: bytes) -> str | None:
    """The image type of ``data`` by its magic bytes: ``image/jpeg``, ``image/png``,
    ``image/heic`` (ISO-BMFF ``ftyp`` with a HEVC brand: heic, heix, hevc, heim, heis...),
    ``image/heif`` (generic ``mif1``/``msf1`` brand without an AVIF brand), or ``None`` for
    anything else (TIFF, GIF, WebP, AVIF, PDF, text, empty). Only the first bytes are read."""
    if data[:3] == b"\xff\xd8\xff":
        return JPEG
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return PNG
    return _sniff_heif(data)


def _sniff_heif(data: bytes) -> str | None:
    if len(data) < 16 or data[4:8] != b"ftyp":
        return None
    box_end = min(int.from_bytes(data[:4], "big"), len(data), 4096)
    major = data[8:12]
    compatible = {data[i:i + 4] for i in range(16, box_end - 3, 4)}
    if major in _HEIC_BRANDS:
        return HEIC
    if major in _HEIF_BRANDS or compatible & _HEIF_BRANDS:
        if compatible & _HEIC_BRANDS:
            return HEIC
        if major in _AVIF_BRANDS or compatible & _AVIF_BRANDS:
            return None
        return HEIF
    return None


def normalise(data: bytes, limits: Limits = Limits()) -> Normalised:
    """Check an uploaded photo and return it as a metadata-free JPEG (see the module docstring).

    Steps, each failing with ``PhotoRejected``: byte size (``TOO_SMALL``/``TOO_LARGE``), type by
    magic bytes (``UNSUPPORTED_TYPE``), declared pixel count (``TOO_LARGE``), complete decode
    (``CORRUPT``), resolution (``LOW_RESOLUTION``). Then: EXIF orientation applied to the pixels
    (damaged metadata is ignored when the pixels decode), transparency flattened on white,
    converted to sRGB, scaled down (aspect kept) so the long side is at most
    ``limits.max_long_px``, encoded at ``limits.jpeg_quality``.

    Raises RuntimeError if ``PIL.ImageFile.LOAD_TRUNCATED_IMAGES`` is on (a process
    misconfiguration, not a property of the photo).
    """
    if len(data) < limits.min_bytes:
        raise PhotoRejected(TOO_SMALL, f"{len(data)} bytes")
    if len(data) > limits.max_bytes:
        raise PhotoRejected(TOO_LARGE, f"{len(data)} bytes")
    source_type = sniff(data)
    if source_type is None:
        raise PhotoRejected(UNSUPPORTED_TYPE)
    img, (width, height) = _decode(data, source_type, limits)
    long_side, short_side = max(width, height), min(width, height)
    if long_side < limits.min_long_px or short_side < limits.min_short_px:
        raise PhotoRejected(LOW_RESOLUTION, f"{width}x{height}")
    icc = img.info.get("icc_profile")
    img = _fit(_flatten(img), limits.max_long_px)
    img = _to_srgb(img, icc)
    img.info.clear()  # nothing from the upload may reach the encoder
    out = io.BytesIO()
    img.save(out, "JPEG", quality=limits.jpeg_quality, optimize=True)
    return Normalised(out.getvalue(), img.width, img.height, source_type)


@cache
def _load_pillow() -> None:
    """Import Pillow into this module (once per process, at the first photo): the KTP upload
    function imports this module for its limits and presigns without ever loading Pillow."""
    global Image, ImageCms, ImageFile, ImageOps
    from PIL import Image, ImageCms, ImageFile, ImageOps


def _decode(data: bytes, source_type: str, limits: Limits) -> tuple[Image.Image, tuple[int, int]]:
    """Open, decode in full (JPEG at reduced scale when possible) and orient the image.

    Returns the oriented image and the full-resolution displayed size (width, height)."""
    _load_pillow()
    if ImageFile.LOAD_TRUNCATED_IMAGES:
        raise RuntimeError("PIL.ImageFile.LOAD_TRUNCATED_IMAGES is on: truncated photos would pass")
    fmt = _PILLOW_FORMAT[source_type]
    if fmt == "HEIF":
        _register_heif()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # e.g. "Corrupt EXIF data": metadata damage is tolerated
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            img = Image.open(io.BytesIO(data), formats=[fmt])
            width, height = img.size
            if width * height > limits.max_pixels:
                raise PhotoRejected(TOO_LARGE, f"{width}x{height} pixels")
            if fmt == "JPEG":
                _draft(img, limits.max_long_px)
            img.load()
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise PhotoRejected(TOO_LARGE, "pixels") from exc
        except (PhotoRejected, MemoryError):
            raise
        except Exception as exc:  # Pillow's decoders raise OSError, SyntaxError,
            # ValueError, EOFError, struct.error, IndexError, TypeError, KeyError, RuntimeError...
            raise PhotoRejected(CORRUPT, f"{type(exc).__name__}: {exc}"[:200]) from exc
        if _orient(img):
            width, height = height, width
    return img, (width, height)


def _draft(img: Image.Image, max_long_px: int) -> None:
    """Ask libjpeg to decode at 1/2, 1/4 or 1/8 scale while the long side stays >= max_long_px."""
    scale = max_long_px / max(img.size)
    if scale < 1:
        img.draft("RGB", (math.ceil(img.width * scale), math.ceil(img.height * scale)))


def _orient(img: Image.Image) -> bool:
    """Turn the pixels as the EXIF (or XMP) orientation says, in place; True if it swapped the
    sides. Damaged or missing metadata leaves the image as stored."""
    before = img.size
    try:
        ImageOps.exif_transpose(img, in_place=True)
    except Exception:  # unreadable metadata: keep the pixels as stored
        return False
    return img.size != before


def _flatten(img: Image.Image) -> Image.Image:
    """The image in a mode that can be resized and colour-managed: RGB, L or CMYK, transparency
    composited on white (transparent pixels are often black, as is the text on a KTP)."""
    if img.mode in _SIXTEEN_BIT_MODES:
        return img.convert("I").point(lambda v: v * (1 / 257)).convert("L")
    if img.has_transparency_data:
        rgba = img.convert("RGBA")
        flat = Image.new("RGB", rgba.size, _WHITE)
        flat.paste(rgba, mask=rgba.getchannel("A"))
        return flat
    if img.mode in ("RGB", "L", "CMYK"):
        return img
    return img.convert("RGB")


def _fit(img: Image.Image, max_long_px: int) -> Image.Image:
    """Scale down (Lanczos, aspect kept) so that the long side is at most max_long_px."""
    long_side = max(img.size)
    if long_side <= max_long_px:
        return img
    scale = max_long_px / long_side
    size = (max(1, round(img.width * scale)), max(1, round(img.height * scale)))
    return img.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)


def _to_srgb(img: Image.Image, icc: bytes | None) -> Image.Image:
    """RGB pixels in sRGB: through the embedded ICC profile when there is a usable one, else a
    plain mode conversion (an untagged image is taken to be sRGB already)."""
    if icc:
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            converted = ImageCms.profileToProfile(img, source, _srgb(), outputMode="RGB")
        except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
            converted = None  # a profile that does not fit the pixels: use them as they are
        if converted is not None:
            return converted
    return img if img.mode == "RGB" else img.convert("RGB")


@cache
def _srgb() -> ImageCms.ImageCmsProfile:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


@cache
def _register_heif() -> None:
    """Teach Pillow to open HEIC/HEIF (once per process), primary image only."""
    import pillow_heif

    pillow_heif.register_heif_opener(thumbnails=False, depth_images=False, aux_images=False)
