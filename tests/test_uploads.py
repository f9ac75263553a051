"""Photo uploads: checks on the bytes, orienting, stripping, re-encoding, bad input."""

import datetime as dt
import io
import struct
import zlib
from pathlib import Path

import pillow_heif
import pytest
from PIL import ExifTags, Image, ImageCms
from sqlalchemy import func, select
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from server.extensions import db
from server.models.uploads import Upload
from server.services.uploads import images
from tests.conftest import auth_headers

RED, BLUE, WHITE = (220, 20, 20), (20, 20, 220), (255, 255, 255)
# Hangzhou West Lake, WGS-84 (DMS as cameras write it)
GPS_WEST_LAKE = ("N", (30.0, 15.0, 36.0), "E", (120.0, 8.0, 24.0))


# -- factories: images made in memory -----------------------------------------------------------
def two_colour(size=(60, 30), left=RED, right=BLUE, mode="RGB") -> Image.Image:
    image = Image.new(mode, size, right)
    image.paste(left, (0, 0, size[0] // 2, size[1]))
    return image


def make_exif(orientation: int | None = None, gps=None) -> bytes:
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "TestCam"
    exif[ExifTags.Base.Model] = "Serial-12345"
    if orientation:
        exif[ExifTags.Base.Orientation] = orientation
    if gps:
        ifd = exif.get_ifd(ExifTags.IFD.GPSInfo)
        (
            ifd[ExifTags.GPS.GPSLatitudeRef],
            ifd[ExifTags.GPS.GPSLatitude],
            ifd[ExifTags.GPS.GPSLongitudeRef],
            ifd[ExifTags.GPS.GPSLongitude],
        ) = gps
    return exif.tobytes()


def encode(image: Image.Image, fmt: str = "JPEG", **params) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **params)
    return out.getvalue()


def jpeg(size=(60, 30), orientation=None, gps=None, icc=True, **params) -> bytes:
    if icc:
        params["icc_profile"] = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    return encode(
        two_colour(size),
        "JPEG",
        quality=95,
        exif=make_exif(orientation, gps),
        comment=b"secret comment",
        xmp=b"<x:xmpmeta xmlns:x='adobe:ns:meta/'>secret-xmp</x:xmpmeta>",
        **params,
    )


def noisy_jpeg(size=(800, 600)) -> bytes:
    return encode(Image.effect_noise(size, 60).convert("RGB"), "JPEG", quality=90)


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_header_only(width: int, height: int) -> bytes:
    """A PNG claiming huge dimensions with a few bytes of data: what a bomb looks like."""
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # 1-bit greyscale
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", ihdr)
        + png_chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + png_chunk(b"IEND", b"")
    )


# -- helpers ------------------------------------------------------------------------------------
def post_form(client, headers, fields: dict):
    # Encoded in memory: the test client would spool big bodies to a file it never closes.
    boundary, body = encode_multipart(fields)
    return client.post(
        "/api/v1/uploads",
        data=body,
        headers=headers,
        content_type=f"multipart/form-data; boundary={boundary}",
    )


def upload(client, headers, data: bytes, filename="photo.jpg", mimetype="image/jpeg"):
    """What wx.uploadFile sends: one multipart part named ``file``."""
    return post_form(
        client, headers, {"file": FileStorage(io.BytesIO(data), filename, content_type=mimetype)}
    )


def stored_files(app) -> list[Path]:
    root = Path(app.config["UPLOAD_DIR"])
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.is_dir() else []


def upload_count() -> int:
    return db.session.scalar(select(func.count()).select_from(Upload))


def fetch(client, url: str):
    path = url.split("://", 1)[-1].split("/", 1)[1]
    resp = client.get("/" + path)
    body = resp.get_data()
    resp.close()
    return resp, body


def open_stored(client, url: str) -> tuple[Image.Image, bytes]:
    resp, body = fetch(client, url)
    assert resp.status_code == 200
    return Image.open(io.BytesIO(body)), body


def near(pixel, colour, tolerance=40) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(pixel, colour, strict=True))


def assert_nothing_written(app):
    assert upload_count() == 0
    assert stored_files(app) == []


@pytest.fixture
def headers(resident):
    return auth_headers(resident)


# -- the happy path -----------------------------------------------------------------------------
@pytest.mark.parametrize("icc", [True, False], ids=["with-icc", "without-icc"])
def test_jpeg_upload_is_oriented_stripped_and_thumbnailed(client, resident, headers, icc):
    resp = upload(client, headers, jpeg(orientation=6, gps=GPS_WEST_LAKE, icc=icc))
    assert resp.status_code == 201, resp.get_json()
    body = resp.get_json()
    assert set(body) == {
        "id",
        "url",
        "thumb_url",
        "width",
        "height",
        "size_bytes",
        "content_type",
        "expires_at",
        "location_hint",
    }
    # orientation 6: the camera held sideways; the stored pixels are upright
    assert (body["width"], body["height"]) == (30, 60)
    assert body["content_type"] == "image/jpeg"
    assert body["expires_at"].endswith("+08:00")
    row = db.session.get(Upload, body["id"])
    assert row.owner_id == resident.id and row.used_at is None
    assert row.expires_at - row.created_at == dt.timedelta(hours=24)

    image, raw = open_stored(client, body["url"])
    assert image.format == "JPEG" and image.size == (30, 60)
    assert near(image.getpixel((15, 5)), RED) and near(image.getpixel((15, 55)), BLUE)
    assert body["size_bytes"] == len(raw) == row.size_bytes
    # no metadata at all: EXIF (with GPS), XMP, comment, ICC
    assert len(image.getexif()) == 0
    assert not {"exif", "xmp", "comment", "icc_profile"} & set(image.info)
    for marker in (b"Exif\0\0", b"GPS", b"TestCam", b"Serial-12345", b"secret", b"ICC_PROFILE"):
        assert marker not in raw
    assert b"\xff\xe1" not in raw  # no APP1 segment

    thumb, _ = open_stored(client, body["thumb_url"])
    assert thumb.format == "JPEG" and thumb.size == (30, 60)  # small photos are not enlarged


def test_no_database_transaction_held_while_processing(client, resident, headers, monkeypatch):
    seen = []
    real_process = images.process

    def spying_process(data, **kwargs):
        seen.append(db.session().in_transaction())
        return real_process(data, **kwargs)

    monkeypatch.setattr(images, "process", spying_process)
    resp = upload(client, headers, jpeg())
    assert resp.status_code == 201
    assert seen == [False]
    assert db.session.get(Upload, resp.get_json()["id"]).owner_id == resident.id


def test_gps_offered_as_location_hint_in_both_datums(client, headers):
    hint = upload(client, headers, jpeg(gps=GPS_WEST_LAKE)).get_json()["location_hint"]
    assert hint["coord_type"] == "gcj02"
    assert hint["wgs84"] == {"lat": 30.26, "lng": 120.14, "coord_type": "wgs84"}
    # GCJ-02 is shifted by a few hundred metres from WGS-84 in Hangzhou
    assert 0.001 < abs(hint["lat"] - 30.26) < 0.01
    assert 0.001 < abs(hint["lng"] - 120.14) < 0.01


@pytest.mark.parametrize(
    "gps",
    [
        None,
        ("N", (0.0, 0.0, 0.0), "E", (0.0, 0.0, 0.0)),  # "no fix" written as (0, 0)
        ("N", (51.0, 30.0, 0.0), "W", (0.0, 7.0, 0.0)),  # London: outside the service area
        ("S", (30.0, 15.0, 36.0), "E", (120.0, 8.0, 24.0)),  # southern hemisphere
    ],
)
def test_no_location_hint_without_usable_gps(client, headers, gps):
    resp = upload(client, headers, jpeg(gps=gps))
    assert resp.status_code == 201
    assert resp.get_json()["location_hint"] is None


def test_big_photo_is_capped_and_thumbnail_made(client, headers):
    body = upload(client, headers, encode(two_colour((3000, 1000)), "JPEG")).get_json()
    assert (body["width"], body["height"]) == (2000, 667)
    thumb, _ = open_stored(client, body["thumb_url"])
    assert thumb.size == (480, 160)
    assert near(thumb.getpixel((10, 80)), RED) and near(thumb.getpixel((470, 80)), BLUE)


@pytest.mark.parametrize(
    "data, filename",
    [
        (encode(two_colour(mode="RGBA"), "PNG"), "screenshot.png"),
        (encode(two_colour(), "WEBP", quality=90), "photo.webp"),
        (encode(two_colour(), "HEIF", quality=90), "IMG_0001.HEIC"),
    ],
    ids=["png", "webp", "heic"],
)
def test_png_webp_heic_are_stored_as_jpeg(client, headers, data, filename):
    resp = upload(client, headers, data, filename=filename, mimetype="application/octet-stream")
    assert resp.status_code == 201, resp.get_json()
    body = resp.get_json()
    assert (body["width"], body["height"]) == (60, 30)
    image, _ = open_stored(client, body["url"])
    assert image.format == "JPEG"
    assert near(image.getpixel((5, 15)), RED) and near(image.getpixel((55, 15)), BLUE)


def test_heic_orientation_applied_once(client, headers):
    data = encode(two_colour(), "HEIF", quality=90, exif=make_exif(orientation=6))
    body = upload(client, headers, data, filename="IMG.HEIC").get_json()
    assert (body["width"], body["height"]) == (30, 60)
    image, _ = open_stored(client, body["url"])
    assert near(image.getpixel((15, 5)), RED) and near(image.getpixel((15, 55)), BLUE)


def test_transparency_flattened_on_white(client, headers):
    image = Image.new("RGBA", (40, 40), (0, 0, 0, 0))
    image.paste((*RED, 255), (0, 0, 20, 40))
    body = upload(client, headers, encode(image, "PNG"), filename="a.png").get_json()
    stored, _ = open_stored(client, body["url"])
    assert near(stored.getpixel((5, 20)), RED) and near(stored.getpixel((35, 20)), WHITE)


def test_animated_image_keeps_first_frame(client, headers):
    frames = [Image.new("RGB", (40, 40), RED), Image.new("RGB", (40, 40), BLUE)]
    data = encode(frames[0], "WEBP", save_all=True, append_images=frames[1:], duration=100)
    assert Image.open(io.BytesIO(data)).n_frames == 2
    body = upload(client, headers, data, filename="anim.webp").get_json()
    stored, _ = open_stored(client, body["url"])
    assert near(stored.getpixel((20, 20)), RED)


@pytest.mark.parametrize("mode", ["L", "P", "LA", "CMYK", "I;16", "1"])
def test_unusual_pixel_modes_are_normalised(mode):
    fmt = "JPEG" if mode == "CMYK" else "PNG"
    data = encode(Image.new(mode, (20, 10)), fmt)
    photo = images.process(data)
    stored = Image.open(io.BytesIO(photo.data))
    assert stored.mode in ("RGB", "L") and stored.size == (20, 10)


def test_draft_mode_never_decodes_below_stored_size():
    data = encode(two_colour((4100, 300)), "JPEG")  # scaling by 2 leaves 2050 ≥ 2000
    photo = images.process(data)
    assert (photo.width, photo.height) == (2000, 146)
    assert (images.process(data, draft=False).width, photo.thumb[:3]) == (2000, b"\xff\xd8\xff")
    stored = Image.open(io.BytesIO(photo.data))
    assert near(stored.getpixel((100, 70)), RED) and near(stored.getpixel((1900, 70)), BLUE)


# -- bad input: each a clear 4xx, nothing written -----------------------------------------------
def test_upload_requires_login(app, client):
    resp = upload(client, {}, jpeg())
    assert resp.status_code == 401
    assert_nothing_written(app)


@pytest.mark.parametrize(
    "data, filename, mimetype, status, error",
    [
        (
            b"hello, I am not a photo\n" * 10,
            "photo.jpg",
            "image/jpeg",
            415,
            "unsupported_image_type",
        ),
        (b"<svg xmlns='http://www.w3.org/2000/svg'/>", "a.svg", "image/svg+xml", 415, None),
        (encode(two_colour(), "GIF"), "a.gif", "image/gif", 415, None),
        (encode(two_colour(), "BMP"), "photo.jpg", "image/jpeg", 415, None),
        (encode(two_colour(), "TIFF"), "photo.jpg", "image/jpeg", 415, None),
        (noisy_jpeg()[:6000], "photo.jpg", "image/jpeg", 422, "corrupt_image"),
        (b"\xff\xd8\xff\xe0" + b"\0" * 100, "photo.jpg", "image/jpeg", 422, "corrupt_image"),
        (encode(two_colour(), "PNG")[:60], "a.png", "image/png", 422, "corrupt_image"),
        (png_header_only(20000, 20000), "bomb.png", "image/png", 422, "image_too_large"),
        (png_header_only(9000, 9000), "bomb.png", "image/png", 422, "image_too_large"),
        (png_header_only(7000, 6000), "big.png", "image/png", 422, "image_too_large"),
        (png_header_only(13000, 100), "long.png", "image/png", 422, "image_too_large"),
        (b"", "empty.jpg", "image/jpeg", 422, "empty_file"),
    ],
    ids=[
        "text-named-jpg",
        "svg",
        "gif",
        "bmp-named-jpg",
        "tiff-named-jpg",
        "truncated-jpeg",
        "jpeg-header-only",
        "truncated-png",
        "bomb-400mp",
        "bomb-81mp",
        "42mp",
        "side-13000",
        "empty",
    ],
)
def test_bad_files_rejected(app, client, headers, data, filename, mimetype, status, error):
    resp = upload(client, headers, data, filename=filename, mimetype=mimetype)
    assert resp.status_code == status, resp.get_json()
    body = resp.get_json()
    assert body["code"] == status
    assert body["error"] == (error or "unsupported_image_type")
    assert body["message"]
    assert_nothing_written(app)


def test_file_over_10_mb_is_413(app, client, headers):
    data = jpeg() + b"\0" * (10 * 1024 * 1024)  # a valid JPEG with padding, just over 10 MB
    resp = upload(client, headers, data)
    assert resp.status_code == 413
    assert resp.get_json()["error"] == "file_too_large"
    assert_nothing_written(app)


def test_body_over_max_content_length_refused_early(app, client, headers):
    assert app.config["MAX_CONTENT_LENGTH"] == 11 * 1024 * 1024
    resp = upload(client, headers, b"\xff\xd8\xff" + b"\0" * (12 * 1024 * 1024))
    assert resp.status_code == 413
    body = resp.get_json()
    assert body["error"] == "file_too_large" and body["message"]
    assert_nothing_written(app)


@pytest.mark.parametrize(
    "form",
    [{}, {"image": FileStorage(io.BytesIO(b"x"), "a.jpg")}, {"file": "not a file"}],
    ids=["no-field", "wrong-field-name", "text-field"],
)
def test_missing_file_field_is_422(app, client, headers, form):
    resp = post_form(client, headers, form)
    assert resp.status_code == 422
    body = resp.get_json()
    assert body["error"] == "validation_error"
    assert "file" in body["errors"]["files"]
    assert_nothing_written(app)


def test_json_body_instead_of_multipart_is_422(client, headers):
    resp = client.post("/api/v1/uploads", json={"file": "abc"}, headers=headers)
    assert resp.status_code == 422
    assert resp.get_json()["error"] == "validation_error"


def test_heif_support_is_registered():
    # HEIC from iPhones is decoded by pillow-heif (libheif); it must stay registered.
    assert "HEIF" in Image.OPEN
    assert pillow_heif.libheif_info()["decoders"]
