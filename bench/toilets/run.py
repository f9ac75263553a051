"""Toilet finder benchmark: nearest-search latency at 1k / 100k / 1M toilets on SQLite and
PostgreSQL beside a brute-force full scan, and gunicorn throughput of /toilets/nearby
against a bare Flask endpoint under the same gunicorn configuration (100k toilets).

Data: a national platform, not one dense blob. Toilets sit in "cities" of 150 spread over
China's bounding box (about 4 km across, like Xinmi's 136); Xinmi is always one of them.
Growing from 1k to 1M adds cities, as a national platform grows, so a query in Xinmi
should cost the same at any size if the index works (the issue's target: p50 at 1M ≤ 2×
p50 at 1k). The brute-force scan reads and measures every row, as one popular map does.

Run with ``make bench-toilets`` (a few minutes; everything bounded, traffic to 127.0.0.1).
"""

import argparse
import json
import os
import random
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("APP_ENV", "testing")
ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, insert, select, text  # noqa: E402

from bench import common  # noqa: E402
from server.app import create_app  # noqa: E402
from server.extensions import db  # noqa: E402
from server.models.toilets import Toilet, lat_cell  # noqa: E402
from server.services.toilets import search  # noqa: E402
from server.util import geo  # noqa: E402
from server.util.clock import utcnow  # noqa: E402

OUT = ROOT / "bench" / "out"
XINMI = (34.5318, 113.3850)
CITY_SIZE = 150
SIZES = (1_000, 100_000, 1_000_000)
RULES = ("24/7", "Mo-Su 06:00-22:00", "05:30-23:00", "Mo-Fr 08:30-17:30; PH off")
QUERIES = 200
BRUTE_RUNS = {1_000: 50, 100_000: 5, 1_000_000: 3}


def city_centres(count: int, rng: random.Random) -> list[tuple[float, float]]:
    centres = [XINMI]
    while len(centres) < count:
        centres.append((rng.uniform(22.0, 45.0), rng.uniform(100.0, 125.0)))
    return centres


def rows_for(centres, start_city: int, count: int, rng: random.Random):
    now = utcnow()
    made = 0
    city = start_city
    while made < count:
        c_lat, c_lng = centres[city]
        for _ in range(min(CITY_SIZE, count - made)):
            lat = c_lat + rng.gauss(0, 0.012)
            lng = c_lng + rng.gauss(0, 0.015)
            yield {
                "name": f"bench-{city}-{made}",
                "lat": lat,
                "lng": lng,
                "lat_cell": lat_cell(lat),
                "category": "class_2",
                "opening_hours": rng.choice(RULES),
                "third_restroom": rng.choice(("yes", "no", "unknown")),
                "photo_ids": [],
                "created_at": now,
                "updated_at": now,
            }
            made += 1
        city += 1


def load(count_before: int, count_after: int, centres, rng) -> None:
    batch = []
    start_city = count_before // CITY_SIZE
    for row in rows_for(centres, start_city, count_after - count_before, rng):
        batch.append(row)
        if len(batch) == 20_000:
            db.session.execute(insert(Toilet), batch)
            batch = []
    if batch:
        db.session.execute(insert(Toilet), batch)
    db.session.commit()
    db.session.execute(text("ANALYZE"))
    db.session.commit()


def query_points(centres, n_cities: int, rng) -> list[tuple[float, float]]:
    points = []
    for i in range(QUERIES):
        c_lat, c_lng = XINMI if i % 2 == 0 else centres[rng.randrange(n_cities)]
        points.append((c_lat + rng.gauss(0, 0.01), c_lng + rng.gauss(0, 0.012)))
    return points


def brute_force(lat, lng, limit=10, radius=1000):
    ranked = sorted(
        (geo.haversine_m(lat, lng, t_lat, t_lng), t_id)
        for t_id, t_lat, t_lng in db.session.execute(
            select(Toilet.id, Toilet.lat, Toilet.lng).where(Toilet.status != "removed")
        )
    )
    return [pair for pair in ranked if pair[0] <= radius][:limit]


def percentile(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def measure(size, centres, rng) -> dict:
    points = query_points(centres, size // CITY_SIZE, rng)
    for lat, lng in points[:20]:  # warm-up (and parse caches)
        search.nearby(lat, lng)
    timings = []
    for lat, lng in points:
        start = time.perf_counter()
        search.nearby(lat, lng, radius_m=1000, limit=10)
        timings.append((time.perf_counter() - start) * 1000)
    brute = []
    for lat, lng in points[: BRUTE_RUNS[size]]:
        start = time.perf_counter()
        expected = brute_force(lat, lng)
        brute.append((time.perf_counter() - start) * 1000)
        got = search.nearby(lat, lng, radius_m=1000, limit=10)
        assert [(h.distance_m, h.toilet.id) for h in got.items] == expected, "mismatch"
    return {
        "size": size,
        "p50_ms": statistics.median(timings),
        "p95_ms": percentile(timings, 0.95),
        "brute_p50_ms": statistics.median(brute),
        "brute_runs": len(brute),
    }


def explain(dialect: str) -> str:
    query = search.candidates_query(XINMI[0], XINMI[1], 1000)
    sql = str(query.compile(dialect=db.engine.dialect, compile_kwargs={"literal_binds": True}))
    prefix = "EXPLAIN QUERY PLAN " if dialect == "sqlite" else "EXPLAIN "
    rows = db.session.execute(text(prefix + sql)).all()
    db.session.rollback()
    return " | ".join(" ".join(str(c) for c in row) for row in rows)


# -- gunicorn throughput --------------------------------------------------------------------------
NEARBY_LUA = """
request = function()
  local lat = 34.5318 + (math.random() - 0.5) * 0.03
  local lng = 113.3850 + (math.random() - 0.5) * 0.036
  return wrk.format("GET", string.format("/api/v1/toilets/nearby?lat=%.6f&lng=%.6f", lat, lng))
end
"""


def _checked(figures: dict, what: str) -> dict:
    if figures["non2xx"] or figures["errors"]:
        raise RuntimeError(f"{what}: wrk saw failures: {figures}")
    return figures


def throughput(database_url: str, seconds: int, rounds: int, connections: int) -> dict:
    """The nearby endpoint and the bare endpoint (bench/bare_app.py), both served at once by
    the project's gunicorn.conf.py, measured back to back ``rounds`` times (bare, nearby,
    bare, nearby, ...): each ratio compares two runs seconds apart on the shared machine."""
    env = {
        "APP_ENV": "development",
        "WECHAT_MODE": "fake",
        "DATABASE_URL": database_url,
        "LOG_LEVEL": "WARNING",
    }
    runs = []
    with (
        common.gunicorn("bench.bare_app:app", env, ready_path="/bare") as (bare_base, _),
        common.gunicorn("wsgi:app", env) as (app_base, _),
    ):
        common.wrk(bare_base + "/bare", seconds=2, connections=connections)  # warm-up
        common.wrk(app_base, lua=NEARBY_LUA, seconds=2, connections=connections)
        for _ in range(rounds):
            bare = _checked(
                common.wrk(bare_base + "/bare", seconds=seconds, connections=connections), "bare"
            )
            nearby = _checked(
                common.wrk(app_base, lua=NEARBY_LUA, seconds=seconds, connections=connections),
                "nearby",
            )
            runs.append(
                {
                    "bare_rps": bare["rps"],
                    "bare_p50_ms": bare["p50_ms"],
                    "bare_p99_ms": bare["p99_ms"],
                    "nearby_rps": nearby["rps"],
                    "nearby_p50_ms": nearby["p50_ms"],
                    "nearby_p99_ms": nearby["p99_ms"],
                    "ratio": nearby["rps"] / bare["rps"],
                }
            )
            print(f"  round {len(runs)}: {json.dumps(runs[-1])}", flush=True)
    return {
        "connections": connections,
        "seconds": seconds,
        "rounds": runs,
        "ratio_median": statistics.median(r["ratio"] for r in runs),
        "nearby_rps_median": statistics.median(r["nearby_rps"] for r in runs),
        "bare_rps_median": statistics.median(r["bare_rps"] for r in runs),
        "nearby_p99_ms_max": max(r["nearby_p99_ms"] for r in runs),
    }


def run_database(name: str, url: str, args) -> dict:
    rng = random.Random(2026)
    centres = city_centres(max(SIZES) // CITY_SIZE + 1, rng)
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SQLALCHEMY_ENGINE_OPTIONS": {}})
    report = {"database": name, "sizes": []}
    with app.app_context():
        db.drop_all()
        db.create_all()
        loaded = 0
        for size in args.sizes:
            started = time.perf_counter()
            load(loaded, size, centres, rng)
            loaded = size
            print(f"[{name}] loaded {size} in {time.perf_counter() - started:.1f}s", flush=True)
            result = measure(size, centres, random.Random(size))
            result["plan"] = explain(name)
            report["sizes"].append(result)
            print(f"[{name}] {json.dumps(result, ensure_ascii=False)}", flush=True)
            if size == 100_000 and args.seconds:
                db.session.remove()
                report["throughput_100k"] = throughput(
                    url, args.seconds, args.rounds, args.connections
                )
                print(f"[{name}] throughput {report['throughput_100k']}", flush=True)
        db.session.remove()
        db.engine.dispose()
    first, last = report["sizes"][0], report["sizes"][-1]
    report["p50_ratio"] = last["p50_ms"] / first["p50_ms"]
    return report


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--pg", default="postgresql+psycopg://postgres@127.0.0.1:5432/xiuhua_toilets"
    )
    parser.add_argument("--seconds", type=int, default=8, help="wrk duration per run")
    parser.add_argument("--rounds", type=int, default=3, help="bare/nearby alternations")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument(
        "--sizes", type=lambda v: tuple(int(x) for x in v.split(",")), default=SIZES
    )
    parser.add_argument("--databases", default="sqlite,postgresql")
    args = parser.parse_args()
    common.ensure_wrk()
    OUT.mkdir(parents=True, exist_ok=True)
    sqlite_file = OUT / "toilets-bench.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{sqlite_file}{suffix}").unlink(missing_ok=True)
    engine = create_engine(common.ensure_database(args.pg))
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS toilets_bench CASCADE"))
        conn.execute(text("CREATE SCHEMA toilets_bench"))
    pg_url = f"{args.pg}?options=-csearch_path%3Dtoilets_bench"
    urls = {"sqlite": f"sqlite:///{sqlite_file}", "postgresql": pg_url}
    reports = [run_database(name, urls[name], args) for name in args.databases.split(",")]
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA toilets_bench CASCADE"))
    (OUT / "toilets.json").write_text(json.dumps(reports, indent=2, ensure_ascii=False))
    print("\n| database | toilets | nearby p50 ms | p95 ms | brute-force p50 ms | brute / nearby |")
    print("|---|---|---|---|---|---|")
    for report in reports:
        for r in report["sizes"]:
            print(
                f"| {report['database']} | {r['size']:,} | {r['p50_ms']:.2f} | {r['p95_ms']:.2f} "
                f"| {r['brute_p50_ms']:.1f} | {r['brute_p50_ms'] / r['p50_ms']:.0f}× |"
            )
    for report in reports:
        print(f"{report['database']}: p50 largest / smallest = {report['p50_ratio']:.2f}")
        t = report.get("throughput_100k")
        if t:
            print(f"\n{report['database']}, gunicorn at 100k, -c{t['connections']}:")
            print("| round | nearby req/s | bare req/s | ratio | nearby p50 / p99 ms |")
            print("|---|---|---|---|---|")
            for n, r in enumerate(t["rounds"], 1):
                print(
                    f"| {n} | {r['nearby_rps']:.0f} | {r['bare_rps']:.0f} | {r['ratio']:.2f} "
                    f"| {r['nearby_p50_ms']:.1f} / {r['nearby_p99_ms']:.1f} |"
                )
            print(f"median ratio {t['ratio_median']:.2f}")
        print(f"{report['database']} plan at the largest size: {report['sizes'][-1]['plan']}")


if __name__ == "__main__":
    main()
