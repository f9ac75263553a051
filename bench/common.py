"""Benchmark plumbing shared by every scenario: gunicorn processes, wrk runs, ratios.

Load comes from wrk, a separate process on loopback; every run is bounded in time.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent

# wrk prints this JSON line from the Lua done() hook.
WRK_REPORT = """
done = function(summary, latency, requests)
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write
    + summary.errors.timeout
  io.write(string.format(
    'WRKJSON {"requests": %d, "duration_us": %d, "non2xx": %d, "errors": %d, '
    .. '"p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d}\\n',
    summary.requests, summary.duration, summary.errors.status, errors,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
"""


def ensure_database(url: str) -> str:
    """Create the PostgreSQL database of ``url`` when it does not exist yet (a fresh machine
    has only the default databases); SQLite files need nothing. Returns ``url``."""
    if not url.startswith("postgresql"):
        return url
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    target = make_url(url)
    engine = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            exists = conn.scalar(
                text("SELECT 1 FROM pg_database WHERE datname = :name"),
                {"name": target.database},
            )
            if not exists:
                conn.execute(text(f'CREATE DATABASE "{target.database}"'))
    finally:
        engine.dispose()
    return url


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def ensure_wrk() -> str:
    path = shutil.which("wrk")
    if path:
        return path
    subprocess.run(["apt-get", "install", "-y", "-q", "wrk"], check=True)
    return shutil.which("wrk")


def wait_ready(url: str, timeout: float = 60) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status < 500:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up")


@contextmanager
def gunicorn(app: str, env: dict, workers: int | None = None, ready_path: str = "/healthz"):
    """Serve ``app`` with the project's gunicorn.conf.py on a free loopback port."""
    port = free_port()
    full_env = {**os.environ, **env, "BIND": f"127.0.0.1:{port}", "GUNICORN_ACCESSLOG": ""}
    full_env.setdefault("LOG_LEVEL", "WARNING")
    if workers:
        full_env["WEB_CONCURRENCY"] = str(workers)
    proc = subprocess.Popen(
        [str(VENV_BIN / "gunicorn"), "-c", str(ROOT / "gunicorn.conf.py"), app],
        cwd=ROOT,
        env=full_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base + ready_path)
        yield base, proc
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def wrk(
    url: str,
    lua: str = "",
    connections: int = 32,
    seconds: int = 10,
    threads: int = 2,
    own_report: bool = False,
):
    """Run wrk against ``url`` with an optional Lua script; returns the parsed figures.

    ``own_report``: the script prints its own ``WRKJSON`` line (e.g. with status counts).
    """
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(lua if own_report else lua + "\n" + WRK_REPORT)
    try:
        out = subprocess.run(
            [
                ensure_wrk(),
                f"-t{threads}",
                f"-c{connections}",
                f"-d{seconds}s",
                "--timeout",
                "10s",
                "-s",
                script.name,
                url,
            ],
            capture_output=True,
            text=True,
            timeout=seconds + 60,
            check=True,
        ).stdout
    finally:
        os.unlink(script.name)
    line = next(row for row in out.splitlines() if row.startswith("WRKJSON "))
    figures = json.loads(line.removeprefix("WRKJSON "))
    figures["rps"] = figures["requests"] / (figures["duration_us"] / 1e6)
    figures["p50_ms"] = figures["p50_us"] / 1000
    figures["p99_ms"] = figures["p99_us"] / 1000
    if "statuses" in figures:
        figures["5xx"] = sum(n for s, n in figures["statuses"].items() if s.startswith("5"))
    return figures


def bare_baseline(env: dict, seconds: int = 10, connections: int = 32) -> dict:
    """The bare endpoint's figures under the same gunicorn configuration."""
    with gunicorn("bench.bare_app:app", env, ready_path="/bare") as (base, _):
        return wrk(base + "/bare", connections=connections, seconds=seconds)
