"""Where the nearby endpoint's time goes under gunicorn: one sync worker, one connection.

Serves, side by side with the project's gunicorn.conf.py (one worker each): the bare Flask
endpoint (bench/bare_app.py), this app's ``/healthz`` (the app's own per-request floor: the
request hooks, rate limiter, security headers, request log; no database) and
``/api/v1/toilets/nearby`` on the 100k SQLite file of ``profile_nearby.py``. One connection
so each figure is the cost of one request, without queueing.

    .venv/bin/python bench/toilets/floor.py [--seconds 5]
"""

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench import common  # noqa: E402
from bench.toilets.profile_nearby import DB_FILE, build  # noqa: E402
from bench.toilets.run import NEARBY_LUA  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    url = f"sqlite:///{DB_FILE}"
    if not DB_FILE.exists():
        DB_FILE.parent.mkdir(parents=True, exist_ok=True)
        build(url, 100_000)
    env = {"APP_ENV": "development", "WECHAT_MODE": "fake", "DATABASE_URL": url}
    figures: dict[str, list[float]] = {"bare": [], "healthz": [], "nearby": []}
    with (
        common.gunicorn("bench.bare_app:app", env, workers=1, ready_path="/bare") as (bare, _),
        common.gunicorn("wsgi:app", env, workers=1) as (app, _),
    ):
        runs = {
            "bare": (bare + "/bare", ""),
            "healthz": (app + "/healthz", ""),
            "nearby": (app, NEARBY_LUA),
        }
        for _ in range(args.rounds):
            for name, (target, lua) in runs.items():
                result = common.wrk(target, lua=lua, connections=1, threads=1, seconds=args.seconds)
                figures[name].append(result["rps"])
    best = {name: max(values) for name, values in figures.items()}
    print("| endpoint (1 worker, 1 connection) | req/s | ms per request | ÷ bare |")
    print("|---|---|---|---|")
    for name, rps in best.items():
        print(f"| {name} | {rps:.0f} | {1000 / rps:.3f} | {rps / best['bare']:.2f} |")


if __name__ == "__main__":
    main()
