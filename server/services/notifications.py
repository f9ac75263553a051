"""WeChat subscribe messages through the transactional outbox.

A feature calls ``notify(...)`` in the same transaction as the change it reports;
the message is sent after commit by the job worker (``server.jobs.tasks``), with retries
and backoff. A failed send never rolls back or blocks the change. Delivery is at
least once: a worker that dies after sending but before recording the result
leaves the message in ``sending``; it is retried when its lease runs out.
"""

import datetime as dt
import logging

from flask import current_app
from sqlalchemy import or_, select, update

from server.extensions import db
from server.integrations.wechat import WeChatError, wechat
from server.models.outbox import OutboxMessage
from server.models.users import User
from server.util.clock import CST, utcnow

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
LEASE = dt.timedelta(minutes=5)
NOT_SUBSCRIBED = 43101
# Errors that retrying cannot fix: bad template data, bad template id, bad openid.
PERMANENT_ERRORS = {40003, 40037, 47003, 41030}


# -- field limits of subscribe message values (DOMAIN.md §2) --------------------------------
def thing(text: str) -> str:
    """A ``thing`` value: at most 20 characters."""
    return text if len(text) <= 20 else text[:19] + "…"


def phrase(text: str) -> str:
    """A ``phrase`` value: at most 5 Chinese characters."""
    return text[:5]


def character_string(text: str) -> str:
    return text[:32]


def time_value(moment: dt.datetime) -> str:
    """A ``time`` value, e.g. ``2026-11-26 08:30``, in Beijing time."""
    return moment.astimezone(CST).strftime("%Y-%m-%d %H:%M")


def date_value(day: dt.date) -> str:
    return day.strftime("%Y-%m-%d")


# -- writing --------------------------------------------------------------------------------
def notify(
    user: User | None,
    *,
    subject_type: str,
    subject_id: int,
    event: str,
    template: str,
    data: dict[str, str],
    page: str | None = None,
) -> OutboxMessage | None:
    """Queue one subscribe message for ``user`` (nothing for deleted or absent users)."""
    if user is None or user.status == "deleted":
        return None
    message = OutboxMessage(
        user_id=user.id,
        subject_type=subject_type,
        subject_id=subject_id,
        event=event,
        template=template,
        page=page,
        data=data,
    )
    db.session.add(message)
    db.session.flush()
    db.session.info.setdefault("outbox_new", []).append(message.id)
    return message


# -- delivering (called by server.jobs.tasks, which owns the transactions) ------------------------
def claim(message_id: int, now: dt.datetime | None = None) -> OutboxMessage | None:
    """Take the message for sending, or ``None`` if it is not due or someone else has it."""
    now = now or utcnow()
    result = db.session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.id == message_id,
            or_(
                (OutboxMessage.status == "pending") & (OutboxMessage.next_attempt_at <= now),
                (OutboxMessage.status == "sending") & (OutboxMessage.claimed_at < now - LEASE),
            ),
        )
        .values(status="sending", claimed_at=now, attempts=OutboxMessage.attempts + 1)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        return None
    return db.session.get(OutboxMessage, message_id, populate_existing=True)


def due_ids(limit: int = 100, now: dt.datetime | None = None) -> list[int]:
    now = now or utcnow()
    return list(
        db.session.scalars(
            select(OutboxMessage.id)
            .where(
                or_(
                    (OutboxMessage.status == "pending") & (OutboxMessage.next_attempt_at <= now),
                    (OutboxMessage.status == "sending") & (OutboxMessage.claimed_at < now - LEASE),
                )
            )
            .order_by(OutboxMessage.id)
            .limit(limit)
        )
    )


def _backoff(attempts: int) -> dt.timedelta:
    return dt.timedelta(seconds=min(3600, 30 * 2 ** (attempts - 1)))


def send(message: OutboxMessage, now: dt.datetime | None = None) -> str:
    """Send a claimed message and record the outcome on it; returns the new status."""
    now = now or utcnow()
    user = db.session.get(User, message.user_id) if message.user_id else None
    template_id = current_app.config.get("WECHAT_TEMPLATES", {}).get(message.template)
    if user is None or user.status == "deleted":
        message.status = "skipped"
    elif not template_id and not wechat.is_fake:
        log.warning(
            "no template id configured for %s; message %s skipped", message.template, message.id
        )
        message.status = "skipped"
    else:
        try:
            wechat.send_subscribe_message(
                user.openid, template_id or message.template, message.data, message.page
            )
        except WeChatError as err:
            message.last_errcode = err.errcode
            if err.errcode == NOT_SUBSCRIBED:
                message.status = "skipped"  # the user did not accept: recorded, not retried
            elif err.errcode in PERMANENT_ERRORS or message.attempts >= MAX_ATTEMPTS:
                message.status = "failed"
            else:
                message.status = "pending"
                message.next_attempt_at = now + _backoff(message.attempts)
        else:
            message.status = "sent"
            message.sent_at = now
    return message.status
