"""A booking storm against the real app under gunicorn (several worker processes).

Shared by the concurrency test (``tests/test_stalls_concurrency.py``, 200+ farmers, one
capacity-10 slot) and the benchmark (``bench/stalls/run.py``, thousands of farmers, many
slots). Farmers and tokens are created directly in the database; the requests go over
HTTP to 127.0.0.1 only; the invariants are then checked in the database.
"""

import contextlib
import datetime as dt
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import requests
from sqlalchemy import text

from server.extensions import db
from server.models.stalls import FarmerProfile, MarketSession, SalesPoint
from server.models.users import User
from server.services import auth as auth_service
from server.util.clock import local_today, utcnow

ROOT = Path(__file__).resolve().parent.parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def serve(env: dict, log_path: Path, startup_seconds: float = 30):
    """``wsgi:app`` under gunicorn with ``env`` (which must set BIND); always stopped.

    Yields the base URL once ``/healthz`` answers; the log goes to ``log_path``.
    """
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base = "http://" + env["BIND"]
    try:
        deadline = time.monotonic() + startup_seconds
        while True:
            if proc.poll() is not None:
                raise RuntimeError("gunicorn exited:\n" + log_path.read_text()[-3000:])
            with contextlib.suppress(requests.RequestException):
                if requests.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError("gunicorn did not start:\n" + log_path.read_text()[-3000:])
            time.sleep(0.1)
        yield base
    finally:
        # Our own process group only (start_new_session): the master and its workers.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)


@contextlib.contextmanager
def gunicorn(database_url: str, secret_key: str, workdir: Path, workers: int = 4):
    """The real app (``wsgi:app``) under gunicorn on a free 127.0.0.1 port; always stopped."""
    port = free_port()
    env = {
        **os.environ,
        "APP_ENV": "development",
        "DATABASE_URL": database_url,
        "SECRET_KEY": secret_key,
        "WECHAT_MODE": "fake",
        "BIND": f"127.0.0.1:{port}",
        "WEB_CONCURRENCY": str(workers),
        "GUNICORN_TIMEOUT": "60",
        "HUEY_SQLITE_PATH": str(workdir / "huey.db"),
        "LOG_LEVEL": "WARNING",
    }
    env.pop("REDIS_URL", None)
    log_path = workdir / "gunicorn.log"
    with serve(env, log_path) as base:
        yield base, log_path


@dataclass
class Target:
    point_id: int
    session_id: int
    other_session_id: int
    date: dt.date


def seed(
    farmers: int, points: int, capacity: int, ttl: int = 3600
) -> tuple[list[str], list[Target]]:
    """``points`` points with two sessions each (capacity ``capacity``) and approved farmers
    with bearer tokens, committed. Returns (tokens, targets: one per morning session)."""
    day = local_today() + dt.timedelta(days=1)
    targets = []
    for n in range(points):
        point = SalesPoint(
            name=f"压测销售点{n + 1}",
            address="压测路1号",
            lat=30.2741 + n * 0.001,
            lng=120.1551,
            stall_count=capacity,
            active_from=local_today(),
        )
        db.session.add(point)
        db.session.flush()
        morning = MarketSession(
            point_id=point.id,
            name="早市",
            start_time=dt.time(5, 30),
            end_time=dt.time(9, 0),
            capacity=capacity,
        )
        evening = MarketSession(
            point_id=point.id,
            name="晚市",
            start_time=dt.time(17, 0),
            end_time=dt.time(20, 0),
            capacity=capacity,
        )
        db.session.add_all([morning, evening])
        db.session.flush()
        targets.append(Target(point.id, morning.id, evening.id, day))
    tokens = []
    now = utcnow()
    for n in range(farmers):
        user = User(openid=f"storm_{uuid.uuid4().hex[:16]}", nickname=f"农户{n}")
        db.session.add(user)
        db.session.flush()
        db.session.add(
            FarmerProfile(
                user_id=user.id,
                real_name=f"农户{n}",
                phone=f"139{n:08d}",
                township="城南镇",
                village="桃源村",
                produce_types=["蔬菜"],
                self_produce_declared_at=now,
                status="approved",
            )
        )
        token, _ = auth_service.issue_token(user, ttl)
        tokens.append(token)
    db.session.commit()
    return tokens, targets


@dataclass
class StormResult:
    statuses: dict[str, dict[int, int]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    codes: dict[str, int] = field(default_factory=dict)
    confirmed: int = 0
    seconds: float = 0.0

    def count(self, kind: str, status: int) -> None:
        bucket = self.statuses.setdefault(kind, {})
        bucket[status] = bucket.get(status, 0) + 1

    @property
    def server_errors(self) -> int:
        return sum(n for by in self.statuses.values() for s, n in by.items() if s >= 500)

    @property
    def requests(self) -> int:
        return sum(n for by in self.statuses.values() for n in by.values())


def storm(
    base: str,
    tokens: list[str],
    targets: list[Target],
    *,
    cancel_ratio: float = 0.2,
    duplicates: int = 10,
    concurrency: int | None = None,
    seed_value: int = 5,
) -> StormResult:
    """Every farmer books (target ``i % len(targets)``); some cancel at once, the turned-away
    join the waitlist; ``duplicates`` farmers also book the other session of the same date at
    the same moment. With ``concurrency`` None all requests start together (a barrier)."""
    rng = random.Random(seed_value)
    plans = []
    for i, token in enumerate(tokens):
        target = targets[i % len(targets)]
        plans.append((token, target, target.session_id, rng.random() < cancel_ratio))
        if i < duplicates:
            plans.append((token, target, target.other_session_id, False))
    result = StormResult()
    lock = threading.Lock()
    workers = concurrency or len(plans)
    barrier = threading.Barrier(len(plans)) if concurrency is None else None
    local = threading.local()

    def call(kind: str, method: str, url: str, token: str, **kwargs) -> requests.Response | None:
        session = getattr(local, "session", None) or requests.Session()
        local.session = session
        headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": uuid.uuid4().hex}
        try:
            resp = session.request(method, base + url, headers=headers, timeout=60, **kwargs)
        except requests.RequestException as exc:
            with lock:
                result.errors.append(f"{kind}: {exc.__class__.__name__}")
                result.count(kind, 599)
            return None
        with lock:
            result.count(kind, resp.status_code)
            if 400 <= resp.status_code < 500:
                code = f"{kind}:{resp.json().get('error')}"
                result.codes[code] = result.codes.get(code, 0) + 1
            if resp.status_code >= 500:
                result.errors.append(f"{kind}: {resp.status_code} {resp.text[:200]}")
        return resp

    def run(plan) -> None:
        token, target, session_id, cancel = plan
        if barrier is not None:
            barrier.wait(timeout=60)
        body = {
            "point_id": target.point_id,
            "date": target.date.isoformat(),
            "session_id": session_id,
        }
        # As the mini-program does: full → join the waitlist; a place came free → book again.
        for _ in range(3):
            resp = call("book", "POST", "/api/v1/stalls/bookings", token, json=body)
            if resp is None:
                return
            if resp.status_code == 201:
                with lock:
                    result.confirmed += 1
                if cancel:
                    booking_id = resp.json()["id"]
                    call("cancel", "POST", f"/api/v1/stalls/bookings/{booking_id}/cancel", token)
                return
            if resp.status_code != 409 or resp.json().get("error") != "full":
                return
            resp = call("waitlist", "POST", "/api/v1/stalls/waitlist", token, json=body)
            if resp is None or resp.status_code != 409:
                return
            if resp.json().get("error") != "places_available":
                return

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(run, plans))
    result.seconds = time.monotonic() - started
    return result


def check_invariants() -> dict:
    """The booking rules, read straight from the database. Every list must be empty."""
    db.session.rollback()
    q = lambda sql: [tuple(row) for row in db.session.execute(text(sql))]  # noqa: E731
    active = "('confirmed', 'checked_in')"
    return {
        "booked_mismatch": q(
            "SELECT s.id, s.booked, (SELECT count(*) FROM stall_bookings b "
            f"WHERE b.slot_id = s.id AND b.status IN {active}) AS n FROM stall_slots s "
            f"WHERE s.booked != (SELECT count(*) FROM stall_bookings b "
            f"WHERE b.slot_id = s.id AND b.status IN {active})"
        ),
        "over_capacity": q("SELECT id, booked, capacity FROM stall_slots WHERE booked > capacity"),
        "shared_stall": q(
            f"SELECT slot_id, stall_number, count(*) FROM stall_bookings WHERE status IN {active} "
            "GROUP BY slot_id, stall_number HAVING count(*) > 1"
        ),
        "two_per_date": q(
            f"SELECT user_id, date, count(*) FROM stall_bookings WHERE status IN {active} "
            "GROUP BY user_id, date HAVING count(*) > 1"
        ),
        "stall_out_of_range": q(
            "SELECT b.id FROM stall_bookings b JOIN stall_points p ON p.id = b.point_id "
            "WHERE b.stall_number < 1 OR b.stall_number > p.stall_count"
        ),
        "promoted_without_booking": q(
            "SELECT id FROM stall_waitlist WHERE status = 'promoted' AND booking_id IS NULL"
        ),
        "waiting_and_booked": q(
            "SELECT w.id FROM stall_waitlist w JOIN stall_slots s ON s.id = w.slot_id "
            "JOIN stall_bookings b ON b.user_id = w.user_id AND b.date = s.date "
            f"WHERE w.status = 'waiting' AND b.status IN {active}"
        ),
    }


def totals() -> dict:
    db.session.rollback()
    rows = db.session.execute(
        text("SELECT status, count(*) FROM stall_bookings GROUP BY status")
    ).all()
    waiting = db.session.execute(
        text("SELECT status, count(*) FROM stall_waitlist GROUP BY status")
    ).all()
    return {"bookings": dict(rows), "waitlist": dict(waiting)}
