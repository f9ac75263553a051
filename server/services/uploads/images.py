"""Photo processing with Pillow: sniff, check, orient, strip, re-encode, thumbnail.

Everything the client says about the file (name, Content-Type) is ignored: the
type comes from the bytes, and only JPEG, PNG, WebP and HEIC/HEIF are decoded
(``Image.open(formats=...)``, so no other Pillow decoder ever sees user data).
The stored files are fresh JPEGs: no EXIF, XMP, comments or ICC profile (colours
are converted to sRGB first), orientation applied to the pixels.

Animated images (APNG, animated WebP, HEIF sequences) are accepted and their
first frame is kept: a photo is what the report needs.
"""

import io
import logging
import math
import warnings
from dataclasses import dataclass

import pillow_heif
from PIL import ExifTags, Image, ImageCms, UnidentifiedImageError

from server.core.errors import AppError
from server.models.uploads import STORED_SIDE, THUMB_SIDE
from server.util import geo

log = logging.getLogger(__name__)

pillow_heif.register_heif_opener()

MAX_BYTES = 10 * 1024 * 1024  # what wx.uploadFile clients commonly cap at (DOMAIN.md §2)
MAX_PIXELS = 40_000_000  # a 12 MP phone photo is 12 000 000; 40 MP leaves room
MAX_SIDE = 12_000
QUALITY = 85
THUMB_QUALITY = 80
FORMATS = ("JPEG", "PNG", "WEBP", "HEIF")
CONTENT_TYPE = "image/jpeg"  # every stored file is a re-encoded JPEG

# Pillow's own bomb guard at our limit: it warns above it and refuses twice it, in
# Image.open, before any pixel is decoded. We check the limit ourselves too.
Image.MAX_IMAGE_PIXELS = MAX_PIXELS

_SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))
# EXIF orientation → the transpose that undoes it (the table of ImageOps.exif_transpose).
_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
_HEIF_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1"}

UNSUPPORTED = AppError(415, "unsupported_image_type", "只能上传 JPG、PNG、WebP 或 HEIC 格式的照片")


@dataclass(frozen=True)
class ProcessedPhoto:
    data: bytes
    thumb: bytes
    width: int
    height: int
    source_format: str
    location_hint: dict | None


def fit(size: tuple[int, int], side: int) -> tuple[int, int]:
    """``size`` scaled down so that its longest side is at most ``side``."""
    width, height = size
    longest = max(width, height)
    if longest <= side:
        return width, height
    scale = side / longest
    return max(1, round(width * scale)), max(1, round(height * scale))


def looks_like_supported(data: bytes) -> bool:
    """True when the magic bytes claim a format we accept (so a failure is corruption)."""
    head = data[:16]
    return (
        head.startswith(b"\xff\xd8\xff")
        or head.startswith(b"\x89PNG\r\n\x1a\n")
        or (head[:4] == b"RIFF" and head[8:12] == b"WEBP")
        or (head[4:8] == b"ftyp" and head[8:12] in _HEIF_BRANDS)
    )


def corrupt() -> AppError:
    return AppError(422, "corrupt_image", "照片文件已损坏或不完整，请重新选择")


def too_large_image() -> AppError:
    return AppError(
        422,
        "image_too_large",
        "照片尺寸过大，请选择 4000 万像素以内、边长不超过 12000 像素的照片",
    )


def process(
    data: bytes,
    *,
    stored_side: int = STORED_SIDE,
    thumb_side: int = THUMB_SIDE,
    draft: bool = True,
) -> ProcessedPhoto:
    """Check and re-encode one uploaded photo; raise an ``AppError`` for bad input.

    ``draft`` lets the JPEG decoder scale by 1/2, 1/4 or 1/8 while decoding (never
    below the stored size), which saves time and memory on big photos.
    """
    if not data:
        raise AppError(422, "empty_file", "文件为空，请重新选择照片")
    if len(data) > MAX_BYTES:
        raise AppError(413, "file_too_large", "照片不能超过 10 MB")
    source, orientation, hint = _decode(data, stored_side, draft)
    image = _normalise(source)
    size = fit(image.size, stored_side)
    if size != image.size:
        image = image.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)
    if orientation in _TRANSPOSE:
        image = image.transpose(_TRANSPOSE[orientation])
    thumb = image.resize(fit(image.size, thumb_side), Image.Resampling.LANCZOS, reducing_gap=2.0)
    return ProcessedPhoto(
        data=_encode(image, QUALITY),
        thumb=_encode(thumb, THUMB_QUALITY),
        width=image.width,
        height=image.height,
        source_format=source.format or "",
        location_hint=hint,
    )


def _decode(data: bytes, stored_side: int, draft: bool) -> tuple[Image.Image, int, dict | None]:
    """Open and fully decode the first frame; (image, EXIF orientation, GPS hint)."""
    try:
        # Bomb warnings become errors here whatever the process's warning filters say;
        # our explicit size check below is what guarantees the limit.
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=FORMATS)
    except UnidentifiedImageError:
        if looks_like_supported(data):
            raise corrupt() from None
        raise UNSUPPORTED from None
    except (Image.DecompressionBombWarning, Image.DecompressionBombError):
        raise too_large_image() from None
    except Exception as exc:  # any other parser failure on hostile bytes is bad input
        log.info("unreadable image header: %s", exc.__class__.__name__)
        raise corrupt() from None

    width, height = image.size
    if width < 1 or height < 1:
        raise corrupt()
    if width * height > MAX_PIXELS or max(width, height) > MAX_SIDE:
        raise too_large_image()

    exif = _exif(image)
    orientation = _orientation(exif)
    hint = location_hint(exif)
    try:
        if draft and image.format in ("JPEG", "MPO"):
            image.draft("RGB", fit(image.size, stored_side))
        image.load()  # the first frame of an animated image
    except Exception as exc:  # truncated data, bad Huffman tables, zlib errors...
        log.info("undecodable image: %s", exc.__class__.__name__)
        raise corrupt() from None
    return image, orientation, hint


def _exif(image: Image.Image) -> Image.Exif | None:
    try:
        return image.getexif()
    except Exception:  # malformed EXIF never fails an upload; it is discarded anyway
        return None


def _orientation(exif: Image.Exif | None) -> int:
    if exif is None:
        return 1
    value = exif.get(ExifTags.Base.Orientation, 1)
    return value if isinstance(value, int) else 1


def _degrees(value, ref) -> float | None:
    try:
        d, m, s = (float(part) for part in value)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    result = d + m / 60 + s / 3600
    if not math.isfinite(result):
        return None
    if isinstance(ref, bytes):
        ref = ref.decode("ascii", "replace")
    if str(ref).strip().upper() in ("S", "W"):
        result = -result
    return result


def location_hint(exif: Image.Exif | None) -> dict | None:
    """Where the photo was taken, from EXIF GPS (WGS-84), answered in GCJ-02 too.

    Only points inside China are offered; (0, 0) and nonsense are ignored. The
    position is not stored: it is only offered back to the uploader.
    """
    if exif is None:
        return None
    try:
        gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    except Exception:
        return None
    lat = _degrees(gps.get(ExifTags.GPS.GPSLatitude), gps.get(ExifTags.GPS.GPSLatitudeRef))
    lng = _degrees(gps.get(ExifTags.GPS.GPSLongitude), gps.get(ExifTags.GPS.GPSLongitudeRef))
    if lat is None or lng is None or (lat == 0 and lng == 0):
        return None
    if not (-90 <= lat <= 90 and -180 <= lng <= 180) or not geo.in_china_bbox(lat, lng):
        return None
    gcj_lat, gcj_lng = geo.wgs84_to_gcj02(lat, lng)
    return {
        "lat": round(gcj_lat, 7),
        "lng": round(gcj_lng, 7),
        "coord_type": "gcj02",
        "wgs84": {"lat": round(lat, 7), "lng": round(lng, 7), "coord_type": "wgs84"},
    }


def _normalise(image: Image.Image) -> Image.Image:
    """RGB or L pixels in sRGB; transparency flattened onto white."""
    icc = image.info.get("icc_profile")
    if icc and image.mode in ("RGB", "RGBA", "CMYK", "L"):
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            mode = "RGBA" if image.mode == "RGBA" else "RGB"
            image = ImageCms.profileToProfile(image, source, _SRGB, outputMode=mode)
        except (ImageCms.PyCMSError, OSError, ValueError) as exc:
            log.info("ignoring unusable ICC profile: %s", exc.__class__.__name__)
    if image.mode == "P":
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    if image.mode == "L":
        return image
    if image.mode.startswith("I"):  # 16-bit grey PNG: scale to 8 bits, do not clip
        return image.convert("I").point(lambda v: v / 256).convert("L")
    return image.convert("RGB")


def _encode(image: Image.Image, quality: int) -> bytes:
    image.info = {}  # nothing from the source (comments, EXIF, XMP, ICC) is written
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality, optimize=True, progressive=True)
    return out.getvalue()
