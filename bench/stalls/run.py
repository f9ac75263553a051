"""Benchmark: the booking storm at scale against gunicorn (``make bench-stalls``).

    python -m bench.stalls.run [--farmers 2000] [--points 50] [--capacity 20]
                               [--concurrency 64] [--workers 4]

Database: ``BENCH_DATABASE_URL`` (a DEDICATED database: its tables are dropped and
recreated), else a fresh SQLite file under ``bench/out/``. Reports confirmed bookings per
second, the error rate (5xx must be 0) and the invariants, checked in the database.
"""

import argparse
import json
import os
import platform
import sys
import tempfile
from pathlib import Path

from sqlalchemy import text

from bench import common
from bench.stalls import storm
from server.app import create_app
from server.extensions import db

OUT = Path(__file__).resolve().parent.parent / "out"
SECRET = "bench-secret-key-that-is-long-enough-0000"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--farmers", type=int, default=2000)
    parser.add_argument("--points", type=int, default=50)
    parser.add_argument("--capacity", type=int, default=20)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--cancel-ratio", type=float, default=0.2)
    args = parser.parse_args()

    OUT.mkdir(exist_ok=True)
    url = os.environ.get("BENCH_DATABASE_URL")
    if url:
        common.ensure_database(url)
    if not url:
        path = OUT / "stalls-bench.db"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        url = f"sqlite:///{path}"
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": SECRET, "WECHAT_MODE": "fake"})
    with app.app_context():
        db.drop_all()
        if db.engine.dialect.name == "postgresql":
            db.session.execute(text("DROP TABLE IF EXISTS alembic_version"))
            db.session.commit()
        db.create_all()
        tokens, targets = storm.seed(args.farmers, args.points, args.capacity)
        db.session.remove()
        with (
            tempfile.TemporaryDirectory() as workdir,
            storm.gunicorn(url, SECRET, Path(workdir), workers=args.workers) as (base, _log),
        ):
            result = storm.storm(
                base,
                tokens,
                targets,
                cancel_ratio=args.cancel_ratio,
                duplicates=args.farmers // 10,
                concurrency=args.concurrency,
            )
        violations = storm.check_invariants()
        totals = storm.totals()
        db.engine.dispose()
    report = {
        "database": url.split(":", 1)[0],
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}",
        "farmers": args.farmers,
        "slots": args.points,
        "capacity_per_slot": args.capacity,
        "gunicorn_workers": args.workers,
        "client_threads": args.concurrency,
        "requests": result.requests,
        "seconds": round(result.seconds, 2),
        "requests_per_s": round(result.requests / result.seconds, 1),
        "confirmed_bookings": result.confirmed,
        "confirmed_bookings_per_s": round(result.confirmed / result.seconds, 1),
        "status_counts": result.statuses,
        "error_codes": result.codes,
        "server_errors_5xx": result.server_errors,
        "error_rate_5xx": round(result.server_errors / max(1, result.requests), 6),
        "server_error_samples": result.errors[:5],
        "final": totals,
        "invariants_ok": all(not rows for rows in violations.values()),
        "violations": {k: v[:5] for k, v in violations.items() if v},
    }
    print(json.dumps(report, ensure_ascii=False, indent=2, default=str))
    return 0 if report["invariants_ok"] and result.server_errors == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
