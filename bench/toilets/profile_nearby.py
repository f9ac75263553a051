"""Profile one ``GET /api/v1/toilets/nearby`` request in-process, the whole Flask stack.

Builds (once) a SQLite file of 100k toilets shaped like ``run.py``'s, then times N requests
through the Flask test client, per request, and optionally profiles them (pyinstrument).

    .venv/bin/python bench/toilets/profile_nearby.py [--requests 2000] [--pyinstrument]
"""

import argparse
import os
import random
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("APP_ENV", "development")
os.environ.setdefault("WECHAT_MODE", "fake")
os.environ.setdefault("LOG_LEVEL", "WARNING")
ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench.toilets import run  # noqa: E402
from server.app import create_app  # noqa: E402
from server.extensions import db  # noqa: E402

DB_FILE = run.OUT / "toilets-profile-100k.db"


def build(url: str, size: int) -> None:
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SQLALCHEMY_ENGINE_OPTIONS": {}})
    with app.app_context():
        db.drop_all()
        db.create_all()
        rng = random.Random(2026)
        centres = run.city_centres(size // run.CITY_SIZE + 1, rng)
        run.load(0, size, centres, rng)
        db.session.remove()
        db.engine.dispose()


def urls(count: int) -> list[str]:
    rng = random.Random(42)
    out = []
    for _ in range(count):
        lat = run.XINMI[0] + (rng.random() - 0.5) * 0.03
        lng = run.XINMI[1] + (rng.random() - 0.5) * 0.036
        out.append(f"/api/v1/toilets/nearby?lat={lat:.6f}&lng={lng:.6f}")
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--pyinstrument", action="store_true")
    parser.add_argument("--url", default=None, help="database URL (default: a SQLite file)")
    args = parser.parse_args()
    run.OUT.mkdir(parents=True, exist_ok=True)
    url = args.url or f"sqlite:///{DB_FILE}"
    if args.url is None and not DB_FILE.exists():
        build(url, args.size)
    app = create_app({"SQLALCHEMY_DATABASE_URI": url})
    client = app.test_client()
    paths = urls(args.requests)
    for path in paths[:200]:  # warm-up
        assert client.get(path).status_code == 200
    profiler = None
    if args.pyinstrument:
        from pyinstrument import Profiler

        profiler = Profiler(interval=0.0002)
        profiler.start()
    timings = []
    for path in paths:
        started = time.perf_counter()
        resp = client.get(path)
        timings.append((time.perf_counter() - started) * 1000)
        assert resp.status_code == 200
    if profiler:
        profiler.stop()
        print(profiler.output_text(unicode=True, color=False, show_all=False))
    bare = app.test_client()
    started = time.perf_counter()
    for _ in range(args.requests):
        bare.get("/healthz")
    healthz = (time.perf_counter() - started) * 1000 / args.requests
    print(
        f"nearby in-process: mean {statistics.mean(timings):.3f} ms, "
        f"p50 {statistics.median(timings):.3f} ms over {len(timings)} requests; "
        f"/healthz through the same app: {healthz:.3f} ms"
    )


if __name__ == "__main__":
    main()
