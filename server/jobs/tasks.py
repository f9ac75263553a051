"""Background jobs on huey: outbox delivery and periodic housekeeping.

Storage: Redis when ``REDIS_URL`` is set (several hosts share one queue),
SQLite (``HUEY_SQLITE_PATH``) otherwise, memory under tests. Run the worker with
``huey_consumer server.jobs.tasks.huey`` (``make run`` starts one). Jobs own their
transactions, like views do.
"""

import logging
from contextlib import nullcontext

from flask import has_app_context
from huey import MemoryHuey, RedisHuey, SqliteHuey, crontab
from sqlalchemy import event
from sqlalchemy.orm import Session

from server import config
from server.extensions import db
from server.http import idempotency
from server.services import auth, notifications, uploads
from server.services.stalls import bookings

log = logging.getLogger(__name__)


def _make_huey():
    settings = config.from_env()
    if settings["APP_ENV"] == "testing":
        return MemoryHuey("xiuhua", immediate=False)
    if settings["REDIS_URL"]:
        return RedisHuey("xiuhua", url=settings["REDIS_URL"])
    config.INSTANCE_DIR.mkdir(exist_ok=True)
    return SqliteHuey("xiuhua", filename=settings["HUEY_SQLITE_PATH"])


huey = _make_huey()
_worker_app = None


def app_context():
    """The web app's context when there is one, else the worker's own app."""
    global _worker_app
    if has_app_context():
        return nullcontext()
    if _worker_app is None:
        from server.app import create_app

        _worker_app = create_app()
    return _worker_app.app_context()


@event.listens_for(Session, "after_commit")
def _enqueue_after_commit(session):
    for message_id in session.info.pop("outbox_new", ()):
        try:
            deliver_message(message_id)
        except Exception:  # the queue is down: the periodic sweep delivers it later
            log.warning("could not enqueue outbox message %s", message_id)


@event.listens_for(Session, "after_rollback")
def _forget_on_rollback(session):
    session.info.pop("outbox_new", None)


def deliver_now(message_id: int) -> str | None:
    """Claim, send and record one outbox message, each step committed."""
    message = notifications.claim(message_id)
    db.session.commit()  # the claim is visible before we talk to WeChat
    if message is None:
        return None
    status = notifications.send(message)
    db.session.commit()
    return status


@huey.task()
def deliver_message(message_id: int) -> str | None:
    with app_context():
        return deliver_now(message_id)


@huey.periodic_task(crontab(minute="*"))
def sweep_outbox() -> int:
    """Deliver what is due: retries, and messages whose enqueue was lost."""
    with app_context():
        ids = notifications.due_ids()
        db.session.rollback()
        for message_id in ids:
            deliver_now(message_id)
        return len(ids)


@huey.periodic_task(crontab(minute="7"))
def purge_expired() -> None:
    with app_context():
        auth.purge_expired_tokens()
        idempotency.purge_expired()
        db.session.commit()


@huey.periodic_task(crontab(minute="23"))
def purge_uploads() -> int:
    """Delete photos uploaded but never used within their 24 hours (rows, then files)."""
    with app_context():
        count = uploads.purge_expired()
        db.session.commit()  # the files go once the rows are gone for good
        return count


@huey.periodic_task(crontab(hour="4", minute="17"))
def sweep_upload_files() -> int:
    """Delete photo files that no upload row refers to (left by crashes)."""
    with app_context():
        count = uploads.sweep_orphan_files()
        db.session.rollback()
        return count


@huey.periodic_task(crontab(minute="*/5"))
def mark_stall_no_shows() -> int:
    """Bookings not checked in by the end of the check-in window: no-show, stall freed."""
    with app_context():
        marked = bookings.mark_no_shows()
        db.session.commit()
        return marked
