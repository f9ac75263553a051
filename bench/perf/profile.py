"""Where a request's time goes: CPU per request of each scenario, in-process, with a profile.

    .venv/bin/python -m bench.perf.profile [--database-url URL] [--requests 2000] [--top 25]

Seeds the bench data (``bench/perf/seed.py``, 100k toilets) into a throwaway database, then
calls the WSGI application directly (no server, no network) for each request kind of
``make bench``, and the bare endpoint the same way, so the ratio of the two is the
framework-and-app cost the gunicorn figures are made of. ``--profile NAME`` prints the
cProfile of one kind (cumulative time, the top entries).
"""

import argparse
import cProfile
import io
import json
import os
import pstats
import random
import tempfile
import time
from pathlib import Path

os.environ.setdefault("APP_ENV", "testing")

from werkzeug.test import EnvironBuilder

from bench import bare_app
from bench.perf import seed
from bench.perf.run import CITY_LIST, SECRET
from server.app import create_app
from server.extensions import db


def environ(method: str, path: str, headers: dict | None = None, body: str | None = None):
    builder = EnvironBuilder(
        path=path,
        method=method,
        headers=headers or {},
        data=body,
        content_type="application/json" if body else None,
    )
    return builder.get_environ()


def call(app, env: dict) -> int:
    env = dict(env)
    if "wsgi.input" in env:
        env["wsgi.input"].seek(0)
    status = []

    def start_response(s, headers, exc_info=None):
        status.append(s)

    for _ in app(env, start_response):
        pass
    return int(status[0].split()[0])


def kinds(data, etag: str):
    rng = random.Random(3)
    resident = data.residents[0]

    def nearby():
        lat = seed.CENTRE[0] + (rng.random() - 0.5) * 0.06
        lng = seed.CENTRE[1] + (rng.random() - 0.5) * 0.06
        return environ("GET", f"/api/v1/toilets/nearby?lat={lat:.6f}&lng={lng:.6f}")

    def auth(token):
        return {"Authorization": f"Bearer {token}"}

    return {
        "healthz": lambda: environ("GET", "/healthz"),
        "nearby": nearby,
        "revalidate": lambda: environ("GET", CITY_LIST, {"If-None-Match": etag}),
        "detail": lambda: environ(
            "GET", f"/api/v1/complaints/{resident.complaint_ids[0]}", auth(resident.token)
        ),
        "my_list": lambda: environ("GET", "/api/v1/me/complaints", auth(resident.token)),
        "booking_full": lambda: environ(
            "POST",
            "/api/v1/stalls/bookings",
            {
                **auth(data.farmer_tokens[rng.randrange(len(data.farmer_tokens))]),
                "Idempotency-Key": f"{rng.getrandbits(64):016x}",
            },
            json.dumps(
                {
                    "point_id": data.booking.point_id,
                    "date": data.booking.date.isoformat(),
                    "session_id": data.booking.session_id,
                }
            ),
        ),
    }


def measure(app, make, count: int) -> tuple[float, dict]:
    envs = [make() for _ in range(count)]
    statuses: dict[int, int] = {}
    call(app, envs[0])
    started = time.process_time()
    for env in envs:
        code = call(app, env)
        statuses[code] = statuses.get(code, 0) + 1
    return (time.process_time() - started) / count * 1e6, statuses


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url")
    parser.add_argument("--toilets", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--profile", action="append", default=[])
    parser.add_argument("--top", type=int, default=30)
    args = parser.parse_args()

    tmp = tempfile.mkdtemp(prefix="xiuhua-profile-")
    url = args.database_url or f"sqlite:///{Path(tmp) / 'profile.db'}"
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": url,
            "SECRET_KEY": SECRET,
            "WECHAT_MODE": "fake",
            "APP_ENV": "development",
            "UPLOAD_DIR": str(Path(tmp) / "uploads"),
            "LOG_LEVEL": "INFO",
        }
    )
    import logging

    logging.getLogger().handlers = [logging.NullHandler()]  # the request log, to nowhere
    with app.app_context():
        data = seed.seed(args.toilets, 20, 100, 10)
        db.session.remove()
    client = app.test_client()
    etag = client.get(CITY_LIST).headers["ETag"]
    # Fill the slot first: the bench's booking window is mostly attempts at a full session.
    for token in data.farmer_tokens[:10]:
        client.post(
            "/api/v1/stalls/bookings",
            json={
                "point_id": data.booking.point_id,
                "date": data.booking.date.isoformat(),
                "session_id": data.booking.session_id,
            },
            headers={"Authorization": f"Bearer {token}"},
        )
    bare_env = environ("GET", "/bare")
    bare_us, _ = measure(bare_app.app, lambda: bare_env, args.requests)
    print(f"{'bare':<13} {bare_us:8.1f} µs/request")
    for name, make in kinds(data, etag).items():
        us, statuses = measure(app, make, args.requests)
        print(f"{name:<13} {us:8.1f} µs/request  × bare {us / bare_us:5.1f}  {statuses}")
    for name in args.profile:
        make = kinds(data, etag)[name]
        envs = [make() for _ in range(args.requests)]
        profiler = cProfile.Profile()
        profiler.enable()
        for env in envs:
            call(app, env)
        profiler.disable()
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(args.top)
        print(f"\n== profile: {name}\n{out.getvalue()}")


if __name__ == "__main__":
    main()
