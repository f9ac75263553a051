"""Faults: an unreachable or locked database is a 503 in the error shape, never a 500."""

import sqlite3

import pytest
from sqlalchemy import func, select

from server.app import create_app
from server.extensions import db
from server.models.users import User
from tests.conftest import base_config


def test_unreachable_database_is_503(tmp_path):
    url = "postgresql+psycopg://postgres@127.0.0.1:1/nowhere?connect_timeout=1"
    app = create_app(base_config(url, tmp_path))
    client = app.test_client()
    resp = client.post("/api/v1/auth/login", json={"code": "dev:alice"})
    assert resp.status_code == 503
    body = resp.get_json()
    assert body["error"] == "database_unavailable" and resp.headers["Retry-After"]
    resp = client.get("/api/v1/me", headers={"Authorization": "Bearer abc"})
    assert resp.status_code == 503
    ready = client.get("/readyz")
    assert ready.status_code == 503 and ready.get_json()["database"] is False
    assert client.get("/healthz").status_code == 200  # the process itself is alive


@pytest.fixture
def sqlite_app(tmp_path):
    path = tmp_path / "locked.db"
    app = create_app({**base_config(f"sqlite:///{path}", tmp_path), "SQLITE_BUSY_TIMEOUT_MS": 200})
    with app.app_context():
        db.create_all()
        yield app, path
        db.session.remove()
        db.engine.dispose()


def test_sqlite_locked_beyond_busy_timeout_is_503_and_writes_nothing(sqlite_app):
    app, path = sqlite_app
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")  # another process holds the write lock
    try:
        resp = app.test_client().post("/api/v1/auth/login", json={"code": "dev:alice"})
        assert resp.status_code == 503
        assert resp.get_json()["error"] == "database_unavailable"
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert db.session.scalar(select(func.count()).select_from(User)) == 0
    resp = app.test_client().post("/api/v1/auth/login", json={"code": "dev:alice"})
    assert resp.status_code == 200


def test_reads_proceed_while_a_writer_holds_the_lock(sqlite_app):
    """WAL: GET requests begin deferred transactions and are not blocked by a writer."""
    app, path = sqlite_app
    client = app.test_client()
    token = client.post("/api/v1/auth/login", json={"code": "dev:reader"}).get_json()["token"]
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        resp = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
        assert resp.status_code == 200
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()


def test_sqlite_pragmas(sqlite_app):
    with db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 200
