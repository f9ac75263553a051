"""Benchmark: processing one uploaded photo (``make bench-photos``).

For each case a fresh Python process decodes, orients, strips, resizes and
re-encodes a generated photo (``server.services.uploads.images.process``), RUNS
times after one warm-up run, and reports the median and worst time and the
process's peak resident memory (``VmHWM``), in all and above what it held
before the first run. ``http`` cases time the whole ``POST /api/v1/uploads`` request
(multipart parsing, processing, writing both files, the SQLite insert and
commit) through the Flask test client.

The photos are synthetic but compress like phone photos (about 4.3 MB for
12 MP at quality 92) and carry an EXIF orientation (6) and a GPS position.

    PYTHONPATH=. .venv/bin/python bench/uploads/photos.py [--runs 11]
"""

import argparse
import io
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SIZES = {"12MP": (4000, 3000), "24MP": (6000, 4000)}
STORED = 2000  # images.STORED_SIDE
CASES = [
    # (name, size, format, draft, stored side, how)
    ("12MP JPEG, draft on", "12MP", "JPEG", True, STORED, "process"),
    ("12MP JPEG, draft off", "12MP", "JPEG", False, STORED, "process"),
    ("24MP JPEG, draft on", "24MP", "JPEG", True, STORED, "process"),
    ("24MP JPEG, draft off", "24MP", "JPEG", False, STORED, "process"),
    ("12MP JPEG, 2560px cap, draft on", "12MP", "JPEG", True, 2560, "process"),
    ("12MP JPEG, 2560px cap, draft off", "12MP", "JPEG", False, 2560, "process"),
    ("12MP HEIC", "12MP", "HEIF", True, STORED, "process"),
    ("12MP JPEG, POST /api/v1/uploads", "12MP", "JPEG", True, STORED, "http"),
]


def make_photo(size: tuple[int, int], fmt: str) -> bytes:
    from PIL import ExifTags, Image, ImageChops

    import server.services.uploads.images  # noqa: F401  (registers the HEIF plugin)

    fractal = Image.effect_mandelbrot(size, (-2.2, -1.2, 1.0, 1.2), 64)
    gradient = Image.linear_gradient("L").resize(size)
    noise = Image.effect_noise(size, 16)  # sensor noise: what makes photos big

    def channel(base):
        return ImageChops.add(base, noise, scale=2.0, offset=-64)

    image = Image.merge(
        "RGB", (channel(fractal), channel(gradient), channel(ImageChops.invert(fractal)))
    )
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef], gps[ExifTags.GPS.GPSLatitude] = "N", (30.0, 15.0, 36.0)
    gps[ExifTags.GPS.GPSLongitudeRef], gps[ExifTags.GPS.GPSLongitude] = "E", (120.0, 8.0, 24.0)
    out = io.BytesIO()
    image.save(out, fmt, quality=92 if fmt == "JPEG" else 80, exif=exif.tobytes())
    return out.getvalue()


def memory_mb(field: str) -> float:
    """VmRSS (now) or VmHWM (peak) of this process, from /proc (Linux)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"{field} not in /proc/self/status")


def reset_peak() -> None:
    # ru_maxrss would carry the parent's peak over fork and exec; VmHWM is ours
    # alone, and writing 5 to clear_refs resets it to the current RSS.
    Path("/proc/self/clear_refs").write_text("5")


def run_process(data: bytes, draft: bool, stored_side: int, runs: int) -> list[float]:
    from server.services.uploads import images

    times = []
    for _ in range(runs + 1):
        start = time.perf_counter()
        images.process(data, draft=draft, stored_side=stored_side)
        times.append(time.perf_counter() - start)
    return times[1:]


def run_http(data: bytes, runs: int) -> list[float]:
    from werkzeug.datastructures import FileStorage
    from werkzeug.test import encode_multipart

    from server.app import create_app
    from server.extensions import db
    from server.models.users import User
    from server.services import auth

    tmp = Path(tempfile.mkdtemp(prefix="bench-photos-"))
    app = create_app(
        {
            "APP_ENV": "testing",
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp / 'bench.db'}",
            "UPLOAD_DIR": str(tmp / "uploads"),
            "SECRET_KEY": "bench-secret-key-long-enough-0000000000",
        }
    )
    with app.app_context():
        db.create_all()
        user = User(openid="dev_bench", nickname="bench")
        db.session.add(user)
        db.session.commit()
        token, _ = auth.issue_token(user, 3600)
        db.session.commit()
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    times = []
    for _ in range(runs + 1):
        boundary, body = encode_multipart(
            {"file": FileStorage(io.BytesIO(data), "photo.jpg", content_type="image/jpeg")}
        )
        start = time.perf_counter()
        resp = client.post(
            "/api/v1/uploads",
            data=body,
            headers=headers,
            content_type=f"multipart/form-data; boundary={boundary}",
        )
        times.append(time.perf_counter() - start)
        assert resp.status_code == 201, resp.get_json()
    return times[1:]


def worker(args) -> None:
    data = Path(args.photo).read_bytes()
    import server.services.uploads.images  # noqa: F401  (imports are not the photo's cost)

    reset_peak()
    before = memory_mb("VmRSS")
    if args.how == "http":
        times = run_http(data, args.runs)
    else:
        times = run_process(data, args.draft == "on", args.stored_side, args.runs)
    peak = memory_mb("VmHWM")
    print(
        json.dumps(
            {
                "median_ms": statistics.median(times) * 1000,
                "max_ms": max(times) * 1000,
                "peak_rss_mb": peak,
                "rss_growth_mb": peak - before,
            }
        )
    )


def main(args) -> None:
    env = {**os.environ, "APP_ENV": "testing", "PYTHONPATH": os.getcwd()}
    photos: dict[tuple[str, str], Path] = {}
    workdir = Path(tempfile.mkdtemp(prefix="bench-photos-"))
    print(f"Python {platform.python_version()}, {os.cpu_count()} cores, runs={args.runs}")
    print(
        f"{'case':38} {'input':>8} {'median':>9} {'max':>9} {'peak RSS':>9} {'growth':>8}",
        flush=True,
    )
    for name, size_name, fmt, draft, stored_side, how in CASES:
        key = (size_name, fmt)
        if key not in photos:
            photos[key] = workdir / f"{size_name}.{fmt.lower()}"
            photos[key].write_bytes(make_photo(SIZES[size_name], fmt))
        command = [
            sys.executable,
            __file__,
            "--worker",
            "--photo",
            str(photos[key]),
            "--draft",
            "on" if draft else "off",
            "--how",
            how,
            "--stored-side",
            str(stored_side),
            "--runs",
            str(args.runs),
        ]
        out = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
        result = json.loads(out.stdout.strip().splitlines()[-1])
        megabytes = photos[key].stat().st_size / 1e6
        print(
            f"{name:38} {megabytes:>6.1f}MB {result['median_ms']:>7.0f}ms "
            f"{result['max_ms']:>7.0f}ms {result['peak_rss_mb']:>7.0f}MB "
            f"{result['rss_growth_mb']:>6.0f}MB",
            flush=True,
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=11)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--photo", help=argparse.SUPPRESS)
    parser.add_argument("--draft", default="on", help=argparse.SUPPRESS)
    parser.add_argument("--how", default="process", help=argparse.SUPPRESS)
    parser.add_argument("--stored-side", type=int, default=STORED, help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    worker(arguments) if arguments.worker else main(arguments)
