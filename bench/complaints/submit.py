"""Complaint submission throughput: POST /api/v1/complaints with 3 photos each, over HTTP.

Sets up a fresh database (migrations + reference data), users with tokens and 3 photo
uploads per request created directly in the database (the photo processing itself is
benchmarked by the uploads feature), starts gunicorn on 127.0.0.1 and fires a bounded number
of submissions from a thread pool. Every request carries its own Idempotency-Key and must
answer 201; the script checks that exactly that many cases and claimed photos exist.

    .venv/bin/python bench/complaints/submit.py --requests 400 --concurrency 8
    .venv/bin/python bench/complaints/submit.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/xiuhua_complaints

With a PostgreSQL URL the run uses a throw-away schema in that database.
"""

import argparse
import datetime as dt
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests
from sqlalchemy import create_engine, func, select, text

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def prepare(env: dict, users: int, photos: int) -> list[tuple[str, list[int]]]:
    """Migrate, seed, and create users, tokens and unused uploads; returns (token, ids) pairs."""
    os.environ.update(env)
    import flask_migrate

    from server.app import create_app
    from server.extensions import db
    from server.models.uploads import Upload
    from server.models.users import User
    from server.services import auth
    from server.services.complaints import staff
    from server.util.clock import utcnow

    app = create_app()
    with app.app_context():
        flask_migrate.upgrade(revision="heads")
        staff.seed_reference_data()
        people = [User(openid=f"dev_bench{i}", nickname=f"压测{i}") for i in range(users)]
        db.session.add_all(people)
        db.session.flush()
        expires = utcnow() + dt.timedelta(hours=24)
        pool: dict[int, list[int]] = {user.id: [] for user in people}
        uploads = []
        for n in range(photos):
            owner = people[n % users]
            name = uuid.uuid4().hex
            uploads.append(
                Upload(
                    owner_id=owner.id,
                    path=f"bench/{name}.jpg",
                    thumb_path=f"bench/{name}_t.jpg",
                    content_type="image/jpeg",
                    width=4000,
                    height=3000,
                    size_bytes=2_400_000,
                    expires_at=expires,
                )
            )
        db.session.add_all(uploads)
        db.session.flush()
        for upload in uploads:
            pool[upload.owner_id].append(upload.id)
        tokens = {user.id: auth.issue_token(user, 3600)[0] for user in people}
        db.session.commit()
        jobs = []
        for user_id, ids in pool.items():
            for i in range(0, len(ids) - 2, 3):
                jobs.append((tokens[user_id], ids[i : i + 3]))
        db.engine.dispose()
    return jobs


def submit(base: str, session: requests.Session, token: str, photo_ids: list[int], n: int):
    body = {
        "category": "B0102",
        "description": f"压测：人民路污水井盖缺失 #{n}",
        "lat": 30.2741 + (n % 100) * 0.0001,
        "lng": 120.1551,
        "coord_type": "gcj02",
        "address": "人民路与解放路交叉口",
        "photo_ids": photo_ids,
        "anonymous": False,
        "contact_phone": "13812345678",
    }
    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": str(uuid.uuid4())}
    start = time.perf_counter()
    resp = session.post(f"{base}/api/v1/complaints", json=body, headers=headers, timeout=30)
    return resp.status_code, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    if not 1 <= args.requests <= 5000 or not 1 <= args.concurrency <= 32:
        parser.error("keep the run bounded: 1-5000 requests, 1-32 concurrent")

    tmp = Path(tempfile.mkdtemp(prefix="xiuhua-bench-"))
    schema = None
    url = args.database_url or f"sqlite:///{tmp / 'bench.db'}"
    if url.startswith("postgresql"):
        schema = f"bench_{uuid.uuid4().hex[:8]}"
        with create_engine(url).begin() as conn:
            conn.execute(text(f"CREATE SCHEMA {schema}"))
        url = f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{schema}"
    port = free_port()
    env = {
        "APP_ENV": "development",
        "WECHAT_MODE": "fake",
        "DATABASE_URL": url,
        "HUEY_SQLITE_PATH": str(tmp / "huey.db"),
        "UPLOAD_DIR": str(tmp / "uploads"),
        "LOG_LEVEL": "WARNING",
        "BIND": f"127.0.0.1:{port}",
        "WEB_CONCURRENCY": str(args.workers),
        "GUNICORN_ACCESSLOG": "/dev/null",
    }
    users = max(1, args.concurrency)
    jobs = prepare(env, users, 3 * args.requests + 3 * users)[: args.requests]
    assert len(jobs) == args.requests, "not enough prepared uploads"

    server = subprocess.Popen(
        [str(ROOT / ".venv/bin/gunicorn"), "-c", "gunicorn.conf.py", "wsgi:app"],
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=(tmp / "gunicorn.log").open("w"),
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(150):
            try:
                requests.get(f"{base}/healthz", timeout=5).raise_for_status()
                break
            except requests.RequestException:
                time.sleep(0.2)
        else:
            sys.exit(f"gunicorn did not start; see {tmp / 'gunicorn.log'}")
        sessions = [requests.Session() for _ in range(args.concurrency)]
        started = time.perf_counter()
        with ThreadPoolExecutor(args.concurrency) as pool:
            results = list(
                pool.map(
                    lambda n: submit(base, sessions[n % args.concurrency], *jobs[n], n),
                    range(args.requests),
                )
            )
        elapsed = time.perf_counter() - started
    finally:
        server.terminate()
        server.wait(timeout=30)

    statuses = [status for status, _ in results]
    latencies = sorted(latency for _, latency in results)
    with create_engine(url).connect() as conn:
        from server.models.complaints import Complaint, ComplaintPhoto

        cases = conn.execute(select(func.count()).select_from(Complaint.__table__)).scalar()
        photos = conn.execute(select(func.count()).select_from(ComplaintPhoto.__table__)).scalar()
    if schema:
        with create_engine(args.database_url).begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    ok = statuses.count(201)
    print(f"database: {'postgresql' if schema else 'sqlite'}; gunicorn workers: {args.workers}")
    print(f"requests: {args.requests}, concurrency: {args.concurrency}, 201: {ok}")
    print(f"throughput: {args.requests / elapsed:.1f} complaints/s ({elapsed:.2f} s)")
    print(
        f"latency ms: p50 {statistics.median(latencies) * 1000:.1f}, "
        f"p95 {latencies[int(len(latencies) * 0.95) - 1] * 1000:.1f}, "
        f"max {latencies[-1] * 1000:.1f}"
    )
    print(f"cases in database: {cases}, photos attached: {photos}")
    if ok != args.requests or cases != args.requests or photos != 3 * args.requests:
        sys.exit(f"FAILED: every submission must create one case with 3 photos; see {tmp}")
    shutil.rmtree(tmp)


if __name__ == "__main__":
    main()
