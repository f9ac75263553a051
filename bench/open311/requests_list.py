"""Open311 read latency: ``GET /open311/v2/requests`` at its 1000-row maximum, JSON and XML.

In-process (Flask test client, no network): a throw-away database gets ``--cases`` public cases
spread over 180 days (each with a public note), so the default 90-day window holds more than
1000 and the answer is the full 1000 rows (WGS-84 inverse transform, notes, media, rendering).
Each endpoint: 3 warm-up requests, then ``--runs`` timed ones; median and 90th percentile.

    .venv/bin/python bench/open311/requests_list.py
    .venv/bin/python bench/open311/requests_list.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/xiuhua_open311
"""

import argparse
import datetime as dt
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("APP_ENV", "testing")


def build(app, cases: int) -> int:
    from sqlalchemy import insert, select, text

    from server.extensions import db
    from server.models.complaints import Complaint, ComplaintCategory, ComplaintEvent
    from server.services.complaints import staff
    from server.util.clock import utcnow

    if db.engine.dialect.name == "postgresql":
        db.session.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        db.session.commit()
    db.create_all()
    staff.seed_reference_data()
    db.session.commit()
    category_ids = list(db.session.scalars(select(ComplaintCategory.id)))
    now = utcnow()
    step = dt.timedelta(days=180) / cases
    rows = [
        {
            "category_id": category_ids[n % len(category_ids)],
            "description": f"井盖破损，第 {n} 号，联系 1381234{n % 10000:04d}",
            "lat": 30.27 + (n % 100) * 1e-4,
            "lng": 120.15 + (n % 97) * 1e-4,
            "address": "人民路",
            "source": "miniprogram",
            "status": ("submitted", "accepted", "closed")[n % 3],
            "created_at": now - step * n,
            "updated_at": now - step * n,
        }
        for n in range(cases)
    ]
    db.session.execute(insert(Complaint), rows)
    ids = list(db.session.scalars(select(Complaint.id)))
    events = [
        {
            "complaint_id": complaint_id,
            "action": "accept",
            "to_status": "accepted",
            "actor_role": "staff",
            "note": "已立案，将尽快处理",
            "created_at": now,
        }
        for complaint_id in ids
    ]
    db.session.execute(insert(ComplaintEvent), events)
    db.session.commit()
    return ids[0]


def timed(client, path: str, runs: int) -> tuple[float, float, int]:
    for _ in range(3):
        assert client.get(path).status_code == 200
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        resp = client.get(path)
        times.append((time.perf_counter() - start) * 1000)
        assert resp.status_code == 200
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.9) - 1], len(resp.data)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--database-url")
    args = parser.parse_args()

    from server.app import create_app

    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{tmp}/bench.db"
        app = create_app(
            {
                "SQLALCHEMY_DATABASE_URI": url,
                "UPLOAD_DIR": tmp,
                "RATELIMIT_ENABLED": False,
                "OPEN311_REVIEW_SUBMISSIONS": True,
                "LOG_LEVEL": "WARNING",
            }
        )
        with app.app_context():
            one = build(app, args.cases)
            client = app.test_client()
            print(f"{url.split(':')[0]}, {args.cases} cases over 180 days, {args.runs} runs")
            print("| request | rows | median | p90 | body |")
            print("|---|---|---|---|---|")
            for label, path, rows in [
                ("requests.json (default window)", "/open311/v2/requests.json", 1000),
                ("requests.xml (default window)", "/open311/v2/requests.xml", 1000),
                ("requests.json?status=closed", "/open311/v2/requests.json?status=closed", 1000),
                (f"requests/{one}.json", f"/open311/v2/requests/{one}.json", 1),
                ("services.xml", "/open311/v2/services.xml", None),
            ]:
                median, p90, size = timed(client, path, args.runs)
                print(
                    f"| `{label}` | {rows or '-'} | {median:.1f} ms | {p90:.1f} ms "
                    f"| {size / 1024:.0f} KiB |"
                )
            from server.extensions import db

            db.session.remove()
            if db.engine.dialect.name == "postgresql":
                from sqlalchemy import text

                with db.engine.begin() as conn:
                    conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
            db.engine.dispose()


if __name__ == "__main__":
    main()
