"""The whole service under load, as deployed (issue 7): ``make bench``.

    .venv/bin/python -m bench.perf.run [--databases sqlite,postgresql] [--seconds 10]

For each database: a fresh schema with 100k toilets around the city centre, residents with
tokens and complaints, unused uploads and 500 approved farmers (``bench/perf/seed.py``); the
real app (``wsgi:app``) and the bare endpoint (``bench/bare_app.py``) both under the project's
``gunicorn.conf.py`` on loopback; wrk (Lua scripts in ``bench/perf/scripts.py``) runs each
scenario for a bounded time with the bare endpoint measured right before and right after it,
and every figure is a ratio to the mean of those two. Results: ``bench/out/perf-<db>.json``
and a table on stdout (copied into ``bench/RESULTS.md``).

PostgreSQL: ``BENCH_DATABASE_URL`` (a DEDICATED database: its tables are dropped), with Redis
``BENCH_REDIS_URL`` for the rate limiter, the WeChat token cache and the job queue.
"""

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

os.environ.setdefault("APP_ENV", "testing")  # the seeding process queues no jobs

from sqlalchemy import text

from bench import common
from bench.perf import scripts, seed
from bench.stalls import storm
from server.app import create_app
from server.extensions import db

OUT = common.ROOT / "bench" / "out"
SECRET = "bench-secret-key-that-is-long-enough-0000"
PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/xiuhua_perf"
REDIS_URL = "redis://127.0.0.1:6379/2"
CONNECTIONS = 32
THREADS = 2
# City toilet list (map layer) revalidated by the mini-program: the city's box, 100 per page.
CITY_BOX = (
    seed.CENTRE[1] - 0.025,
    seed.CENTRE[0] - 0.02,
    seed.CENTRE[1] + 0.025,
    seed.CENTRE[0] + 0.02,
)
CITY_LIST = "/api/v1/toilets?bbox={:.4f},{:.4f},{:.4f},{:.4f}&page_size=100".format(*CITY_BOX)
TARGETS = {"nearby": 0.5, "revalidate": 0.8, "reads": 0.5, "booking": 0.3, "mixed": 0.45}
# Reference rows, no target: this app's /healthz (its per-request machinery, no database) and
# the bare endpoint plus one primary-key SELECT (bench/bare_app.py: the cost of any query).
FLOORS = ("app_healthz", "bare_one_query")
NEARBY_P99_MS = 50
MEMORY_LIMIT_MB = 150
FLAT_MB = 5  # growth allowed between the first sample after warm-up and the last


def wrk(base: str, lua: str, seconds: int) -> dict:
    """One bounded wrk run with a scenario script (status counts included)."""
    return common.wrk(
        base, lua, connections=CONNECTIONS, seconds=seconds, threads=THREADS, own_report=True
    )


def worker_rss_mb(master_pid: int) -> dict[int, float]:
    """VmRSS of each gunicorn worker (the master's children)."""
    children = Path(f"/proc/{master_pid}/task/{master_pid}/children").read_text().split()
    rss = {}
    for pid in map(int, children):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                rss[pid] = round(int(line.split()[1]) / 1024, 1)
    return rss


class Run:
    """Scenarios against one app server, each framed by bare-endpoint measurements."""

    def __init__(self, app_base: str, bare_base: str, seconds: int, bare_seconds: int):
        self.app_base, self.bare_base = app_base, bare_base
        self.seconds, self.bare_seconds = seconds, bare_seconds
        self.last_bare = self._bare()
        self.results: dict[str, dict] = {}

    def _bare(self) -> dict:
        return wrk(self.bare_base, scripts.BARE, self.bare_seconds)

    def scenario(
        self, name: str, lua, seconds: int | None = None, warm: int = 2, base: str = ""
    ) -> dict:
        """``lua`` is a script, or a callable making a fresh one (uploads are used once);
        ``base``: another server than the app (the bare one's ``/bare/query``)."""
        make = lua if callable(lua) else lambda: lua
        base = base or self.app_base
        if warm:
            wrk(base, make(), warm)
        figures = wrk(base, make(), seconds or self.seconds)
        figures["db_connections"] = db_connections()
        before, after = self.last_bare, self._bare()
        self.last_bare = after
        bare = statistics.mean([before["rps"], after["rps"]])
        figures.update(
            bare_rps_before=round(before["rps"], 1),
            bare_rps_after=round(after["rps"], 1),
            bare_p99_ms=round(statistics.mean([before["p99_ms"], after["p99_ms"]]), 2),
            ratio=round(figures["rps"] / bare, 3),
        )
        self.results[name] = figures
        print(
            f"  {name:<11} {figures['rps']:8.1f} req/s  p50 {figures['p50_ms']:6.1f} ms  "
            f"p99 {figures['p99_ms']:6.1f} ms  bare {bare:7.1f}  ratio {figures['ratio']:.3f}  "
            f"statuses {figures['statuses']}",
            flush=True,
        )
        return figures


def db_connections() -> int | None:
    """PostgreSQL: connections to the bench database other than this process's own."""
    if db.engine.dialect.name != "postgresql":
        return None
    count = db.session.scalar(
        text(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
    )
    db.session.rollback()
    return count


def residents_now() -> dict[int, list[int]]:
    """Unused bench uploads by owner, read fresh from the database."""
    db.session.rollback()
    unused: dict[int, list[int]] = {}
    for upload_id, owner in db.session.execute(
        text(
            "SELECT id, owner_id FROM uploads WHERE used_at IS NULL AND path LIKE 'bench/%' "
            "ORDER BY id"
        )
    ):
        unused.setdefault(owner, []).append(upload_id)
    db.session.rollback()
    return unused


def booking_outcome(capacity: int) -> dict:
    violations = storm.check_invariants()
    row = db.session.execute(
        text(
            "SELECT count(*), min(created_at), max(created_at) FROM stall_bookings "
            "WHERE status IN ('confirmed', 'checked_in')"
        )
    ).one()
    booked = db.session.scalar(text("SELECT coalesce(sum(booked), 0) FROM stall_slots"))
    db.session.rollback()
    first, last = row[1], row[2]
    if isinstance(first, str):  # SQLite hands text back through text()
        first, last = dt.datetime.fromisoformat(first), dt.datetime.fromisoformat(last)
    return {
        "confirmed": row[0],
        "capacity": capacity,
        "oversold": max(0, row[0] - capacity) + max(0, booked - capacity),
        "slot_booked": booked,
        "filled_in_s": round((last - first).total_seconds(), 3) if row[0] else None,
        "invariant_violations": {k: len(v) for k, v in violations.items() if v},
    }


def bench_database(url: str, redis_url: str | None, args) -> dict:
    kind = "postgresql" if url.startswith("postgresql") else "sqlite"
    print(f"== {kind}", flush=True)
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": SECRET, "WECHAT_MODE": "fake"})
    report: dict = {"database": kind}
    with app.app_context(), tempfile.TemporaryDirectory(prefix="xiuhua-perf-") as tmp:
        started = time.monotonic()
        data = seed.seed(args.toilets, args.residents, args.farmers, args.capacity)
        report["seed_seconds"] = round(time.monotonic() - started, 1)
        print(f"  seeded in {report['seed_seconds']} s", flush=True)
        if redis_url:
            import redis

            redis.Redis.from_url(redis_url).flushdb()
        env = {
            "APP_ENV": "development",
            "DATABASE_URL": url,
            "SECRET_KEY": SECRET,
            "WECHAT_MODE": "fake",
            "UPLOAD_DIR": str(Path(tmp) / "uploads"),
            "HUEY_SQLITE_PATH": str(Path(tmp) / "huey.db"),
            # The request log stays on, as deployed (to /dev/null here); gunicorn's access
            # log is off (it would log every request a second time).
            "LOG_LEVEL": "INFO",
            # Only login is rate limited and the bench never logs in; kept high anyway so a
            # limit can never turn the load into 429s.
            "RATELIMIT_LOGIN_IP": "100000/minute",
            "RATELIMIT_LOGIN_OPENID": "100000/minute",
            "WEB_CONCURRENCY": str(args.workers),
        }
        if redis_url:
            env["REDIS_URL"] = redis_url
        with (
            common.gunicorn("bench.bare_app:app", env, ready_path="/bare") as (bare_base, _),
            common.gunicorn("wsgi:app", env) as (app_base, app_proc),
        ):
            db.session.remove()
            report.update(run_scenarios(app_base, bare_base, app_proc.pid, data, args))
        db.engine.dispose()
    return report


def run_scenarios(app_base: str, bare_base: str, master_pid: int, data, args) -> dict:
    run = Run(app_base, bare_base, args.seconds, args.bare_seconds)
    residents = [[r.token, r.complaint_ids] for r in data.residents]
    run.scenario("app_healthz", scripts.get("/healthz"), seconds=args.bare_seconds)
    run.scenario(
        "bare_one_query", scripts.get("/bare/query"), seconds=args.bare_seconds, base=bare_base
    )
    run.scenario("nearby", scripts.nearby(seed.CENTRE))

    with urllib.request.urlopen(app_base + CITY_LIST, timeout=30) as resp:
        etag = resp.headers["ETag"]
        listed = json.load(resp)
    run.scenario("revalidate", scripts.revalidate(CITY_LIST, etag))
    run.results["revalidate"]["city_list"] = {"total": listed["total"], "page_size": 100}

    run.scenario("reads", scripts.reads(residents))

    target = data.booking
    body = json.dumps(
        {
            "point_id": target.point_id,
            "date": target.date.isoformat(),
            "session_id": target.session_id,
        }
    )
    seed.reset_bookings()
    run.scenario("booking", scripts.booking(data.farmer_tokens, body), seconds=5, warm=0)
    run.results["booking"]["outcome"] = booking_outcome(data.booking_capacity)
    seed.reset_bookings()

    def mixed_lua() -> str:
        time.sleep(1)  # requests still in flight when the last wrk run ended claim uploads too
        unused = residents_now()
        people = [[r.token, r.complaint_ids, unused.get(r.user_id, [])] for r in data.residents]
        return scripts.mixed(seed.CENTRE, people, data.farmer_tokens, body, THREADS)

    run.scenario("mixed", mixed_lua)
    memory = memory_growth(app_base, master_pid, mixed_lua, args)
    failures = sum(r["5xx"] for r in run.results.values()) + memory["5xx"]
    return {"scenarios": run.results, "memory": memory, "total_5xx": failures}


def memory_growth(app_base: str, master_pid: int, make_lua, args) -> dict:
    """RSS of every worker, sampled after each chunk of mixed traffic (≥ 10,000 requests)."""
    samples = [{"requests": 0, "rss_mb": worker_rss_mb(master_pid)}]
    total, errors = 0, 0
    for _ in range(args.memory_chunks_max):
        figures = wrk(app_base, make_lua(), args.memory_chunk_seconds)
        total += figures["requests"]
        errors += figures["5xx"]
        samples.append({"requests": total, "rss_mb": worker_rss_mb(master_pid)})
        print(f"  memory     after {total:6d} requests: {samples[-1]['rss_mb']}", flush=True)
        if total >= args.memory_requests and len(samples) >= 5:
            break
    pids = list(samples[0]["rss_mb"])
    first, last = samples[1]["rss_mb"], samples[-1]["rss_mb"]
    return {
        "samples": samples,
        "requests": total,
        "5xx": errors,
        "max_mb": max(max(s["rss_mb"].values()) for s in samples),
        "growth_mb": {pid: round(last[pid] - first[pid], 1) for pid in pids if pid in last},
        "same_workers": set(last) == set(pids),
    }


def verdicts(report: dict) -> dict:
    s = report["scenarios"]
    # (FLOORS rows have no target.)
    memory = report["memory"]
    booking = s["booking"]["outcome"]
    return {
        "nearby": s["nearby"]["ratio"] >= TARGETS["nearby"]
        and s["nearby"]["p99_ms"] <= NEARBY_P99_MS,
        "revalidate": s["revalidate"]["ratio"] >= TARGETS["revalidate"],
        "reads": s["reads"]["ratio"] >= TARGETS["reads"],
        "booking": s["booking"]["ratio"] >= TARGETS["booking"]
        and s["booking"]["5xx"] == 0
        and booking["oversold"] == 0
        and not booking["invariant_violations"],
        "mixed": s["mixed"]["ratio"] >= TARGETS["mixed"],
        "memory": memory["max_mb"] < MEMORY_LIMIT_MB
        and max(memory["growth_mb"].values()) <= FLAT_MB
        and memory["same_workers"],
    }


def table(reports: list[dict]) -> str:
    rows = [
        "| database | scenario | req/s | bare req/s (before / after) | ratio | target | p50 ms "
        "| p99 ms | statuses | met |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for report in reports:
        met = report["verdicts"]
        for name, fig in report["scenarios"].items():
            if name in FLOORS:
                target, verdict = "(reference)", "–"
            else:
                target = f"≥ {TARGETS[name]}" + (
                    f", p99 ≤ {NEARBY_P99_MS} ms" if name == "nearby" else ""
                )
                verdict = "yes" if met[name] else "**no**"
            rows.append(
                f"| {report['database']} | {name} | {fig['rps']:.0f} | "
                f"{fig['bare_rps_before']:.0f} / {fig['bare_rps_after']:.0f} | "
                f"{fig['ratio']:.2f} | {target} | {fig['p50_ms']:.1f} | {fig['p99_ms']:.1f} | "
                f"{fig['statuses']} | {verdict} |"
            )
    lines = ["\n".join(rows), ""]
    for report in reports:
        b = report["scenarios"]["booking"]["outcome"]
        m = report["memory"]
        lines.append(
            f"- {report['database']}: booking window {b['confirmed']}/{b['capacity']} stalls "
            f"taken in {b['filled_in_s']} s, oversold {b['oversold']}, invariant violations "
            f"{b['invariant_violations'] or 'none'}; memory after {m['requests']} mixed "
            f"requests: max {m['max_mb']} MB, growth per worker {m['growth_mb']} MB "
            f"({'met' if report['verdicts']['memory'] else 'NOT met'}); 5xx in the whole run: "
            f"{report['total_5xx']}"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--toilets", type=int, default=100_000)
    parser.add_argument("--residents", type=int, default=200)
    parser.add_argument("--farmers", type=int, default=500)
    parser.add_argument("--capacity", type=int, default=50)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--bare-seconds", type=int, default=5)
    parser.add_argument("--memory-requests", type=int, default=10_000)
    parser.add_argument("--memory-chunk-seconds", type=int, default=8)
    parser.add_argument("--memory-chunks-max", type=int, default=20)
    args = parser.parse_args()
    if not (1 <= args.seconds <= 60 and 1 <= args.workers <= 4 and args.toilets <= 1_000_000):
        parser.error("keep the run bounded: ≤ 60 s per scenario, ≤ 4 workers, ≤ 1M toilets")

    OUT.mkdir(exist_ok=True)
    reports = []
    for kind in args.databases.split(","):
        if kind == "sqlite":
            path = OUT / "perf-bench.db"
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
            url, redis_url = f"sqlite:///{path}", None
        else:
            url = common.ensure_database(os.environ.get("BENCH_DATABASE_URL", PG_URL))
            redis_url = os.environ.get("BENCH_REDIS_URL", REDIS_URL)
        report = bench_database(url, redis_url, args)
        report["verdicts"] = verdicts(report)
        report.update(
            date=dt.datetime.now().astimezone().isoformat(timespec="seconds"),
            machine=f"{platform.machine()}, {os.cpu_count()} cores, "
            f"Python {platform.python_version()}, load average {os.getloadavg()}",
            workers=args.workers,
            connections=CONNECTIONS,
            toilets=args.toilets,
        )
        (OUT / f"perf-{kind}.json").write_text(json.dumps(report, indent=2, default=str))
        reports.append(report)
    print()
    print(table(reports))
    return 0


if __name__ == "__main__":
    sys.exit(main())
