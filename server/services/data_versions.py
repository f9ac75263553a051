"""Data versions: a counter per data set, bumped in the transaction that changes the data.

``track(Model, name)`` makes every flush that inserts, updates or deletes a ``Model`` row move
the counter ``name`` in the same transaction, so a value computed from the data stays right
for as long as the counter has not moved (the ETag fast path of ``server.http.not_modified``).

``current(app, name)`` reads the counter at most once per ``DATA_VERSION_TTL_SECONDS`` in a process
(each read is one primary-key lookup); a process that commits a change forgets its copy at
once, other processes and hosts see it within the TTL. ``read(name)`` always asks the database.
"""

import time
from itertools import chain

from flask import Flask, current_app, has_app_context
from sqlalchemy import event, insert, select, update
from sqlalchemy.orm import Session

from server.core.db import reading
from server.extensions import db
from server.models.versions import DataVersion

_TRACKED: dict[type, str] = {}
_TABLE = DataVersion.__table__


def track(model: type, name: str) -> None:
    _TRACKED[model] = name


def read(name: str) -> int:
    """The counter as the current transaction sees it."""
    return db.session.scalar(select(DataVersion.version).where(DataVersion.name == name)) or 0


def current(app: Flask, name: str) -> int:
    """The counter, cached for ``DATA_VERSION_TTL_SECONDS`` in this process; for callers
    outside any request (WSGI middleware): a read runs in an application context (and a
    session) of its own, ended at once."""
    cache = app.extensions.setdefault("data_versions", {})
    now = time.monotonic()
    cached = cache.get(name)
    if cached is not None and now - cached[0] < app.config["DATA_VERSION_TTL_SECONDS"]:
        return cached[1]
    with app.app_context(), reading():
        version = read(name)
    cache[name] = (now, version)
    return version


@event.listens_for(Session, "before_flush")
def _bump_changed(session, flush_context, instances) -> None:
    names = {
        _TRACKED[type(obj)]
        for obj in chain(session.new, session.dirty, session.deleted)
        if type(obj) in _TRACKED
    }
    if not names:
        return
    connection = session.connection()  # Core statements: no autoflush inside the flush
    for name in sorted(names):  # one order for every writer: no deadlock between two names
        moved = connection.execute(
            update(_TABLE).where(_TABLE.c.name == name).values(version=_TABLE.c.version + 1)
        )
        if moved.rowcount == 0:  # the migration creates the rows; a bare create_all does not
            connection.execute(insert(_TABLE).values(name=name, version=1))
    session.info.setdefault("changed_versions", set()).update(names)


@event.listens_for(Session, "after_commit")
def _forget_committed(session) -> None:
    names = session.info.pop("changed_versions", None)
    if names and has_app_context():
        cache = current_app.extensions.get("data_versions", {})
        for name in names:
            cache.pop(name, None)


@event.listens_for(Session, "after_rollback")
def _drop_rolled_back(session) -> None:
    session.info.pop("changed_versions", None)
