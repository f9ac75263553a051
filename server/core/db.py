"""Database wiring: SQLite pragmas and write locks, one transaction per request.

SQLite: WAL, ``busy_timeout``, foreign keys on, and write transactions start with
``BEGIN IMMEDIATE`` so two writers queue on the lock instead of failing half-way
(DOMAIN.md §5). Reads (GET/HEAD/OPTIONS requests) begin a deferred transaction
and run concurrently under WAL. PostgreSQL needs none of this.
"""

import sqlite3
from contextlib import contextmanager
from contextvars import ContextVar

from flask import Flask, request
from sqlalchemy import event
from sqlalchemy.engine import Engine

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_write_intent: ContextVar[bool] = ContextVar("sqlite_write_intent", default=True)


@event.listens_for(Engine, "connect")
def _sqlite_on_connect(dbapi_connection, connection_record):
    if not isinstance(dbapi_connection, sqlite3.Connection):
        return
    # Let SQLAlchemy's "begin" event below emit BEGIN itself (pysqlite recipe).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


@event.listens_for(Engine, "begin")
def _sqlite_on_begin(conn):
    if conn.dialect.name != "sqlite":
        return
    conn.exec_driver_sql("BEGIN IMMEDIATE" if _write_intent.get() else "BEGIN")


def engine_options(uri: str, busy_timeout_ms: int, pool_size: int = 1) -> dict:
    """Engine settings. PostgreSQL: ``pool_size`` connections kept per process, one per
    request it serves at a time (gunicorn: ``GUNICORN_THREADS``, 1 for sync workers), so
    a host keeps ``WEB_CONCURRENCY × GUNICORN_THREADS`` connections open; the overflow
    (opened on demand, closed when returned) covers bursts such as ``/readyz``'s second
    connection or in-process threads."""
    # Statement parameters (phones, names before encryption, tokens' hashes) never reach a log
    # line or an exception message, even with sqlalchemy.engine logging at INFO/DEBUG.
    common = {"hide_parameters": True}
    if uri.startswith("sqlite"):
        return {
            **common,
            "connect_args": {"timeout": busy_timeout_ms / 1000, "check_same_thread": False},
        }
    return {
        **common,
        "pool_pre_ping": True,
        "pool_size": max(1, pool_size),
        "max_overflow": 10,
        "pool_timeout": 5,
    }


@contextmanager
def reading():
    """Transactions begun inside only read: on SQLite a deferred ``BEGIN`` (no write lock)."""
    token = _write_intent.set(False)
    try:
        yield
    finally:
        _write_intent.reset(token)


def _mark_read_only_requests():
    _write_intent.set(request.method not in READ_METHODS)


def _reset_write_intent(exc=None):
    _write_intent.set(True)


def init_request_transactions(app: Flask) -> None:
    app.before_request(_mark_read_only_requests)
    app.teardown_request(_reset_write_intent)
