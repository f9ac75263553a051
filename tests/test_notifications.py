"""The outbox: messages written with the change, sent after commit, failures recorded."""

import datetime as dt

import pytest
from sqlalchemy import select

from server.extensions import db
from server.jobs import tasks as jobs
from server.models.outbox import OutboxMessage
from server.services import notifications
from server.util.clock import utcnow
from tests.conftest import make_user

STABLE_TOKEN = "https://api.weixin.qq.com/cgi-bin/stable_token"
SEND = "https://api.weixin.qq.com/cgi-bin/message/subscribe/send"
TEMPLATES = {"complaint_status": "TPL_COMPLAINT"}

real = pytest.mark.config(WECHAT_MODE="real", WECHAT_TEMPLATES=TEMPLATES)


def queue_one(user, **overrides):
    values = {
        "subject_type": "complaint",
        "subject_id": 7,
        "event": "accepted",
        "template": "complaint_status",
        "data": {"thing1": notifications.thing("窨井盖缺失，青屏大街与平安路交叉口北侧")},
        "page": "pages/complaints/detail?id=7",
    }
    values.update(overrides)
    message = notifications.notify(user, **values)
    db.session.commit()
    return message


def test_field_limits():
    assert len(notifications.thing("一" * 30)) == 20
    assert notifications.thing("短") == "短"
    assert notifications.phrase("处理中请等待") == "处理中请等"
    assert len(notifications.character_string("x" * 40)) == 32
    moment = dt.datetime(2026, 11, 26, 0, 30, tzinfo=dt.UTC)
    assert notifications.time_value(moment) == "2026-11-26 08:30"


def test_notify_enqueues_after_commit(app):
    user = make_user()
    jobs.huey.flush()
    message = queue_one(user)
    assert message.status == "pending"
    assert jobs.huey.pending_count() == 1


def test_nothing_enqueued_on_rollback(app):
    user = make_user()
    jobs.huey.flush()
    notifications.notify(user, subject_type="x", subject_id=1, event="e", template="t", data={})
    db.session.rollback()
    db.session.commit()
    assert jobs.huey.pending_count() == 0


@real
def test_delivery_sends_once(app, mocked_wechat):
    user = make_user(openid="oUSER1")
    message = queue_one(user)
    mocked_wechat.post(STABLE_TOKEN, json={"access_token": "AT", "expires_in": 7200})
    mocked_wechat.post(SEND, json={"errcode": 0, "errmsg": "ok"})
    assert jobs.deliver_now(message.id) == "sent"
    assert jobs.deliver_now(message.id) is None  # already sent: not claimed again
    sent = db.session.get(OutboxMessage, message.id)
    assert sent.status == "sent" and sent.attempts == 1 and sent.sent_at
    body = mocked_wechat.calls[1].request.body
    assert b"TPL_COMPLAINT" in body and b"oUSER1" in body


@real
def test_not_subscribed_recorded_not_retried(app, mocked_wechat):
    message = queue_one(make_user())
    mocked_wechat.post(STABLE_TOKEN, json={"access_token": "AT", "expires_in": 7200})
    mocked_wechat.post(SEND, json={"errcode": 43101, "errmsg": "user refuse"})
    assert jobs.deliver_now(message.id) == "skipped"
    row = db.session.get(OutboxMessage, message.id)
    assert row.last_errcode == 43101
    assert notifications.due_ids(now=utcnow() + dt.timedelta(days=1)) == []


@real
def test_wechat_down_retries_with_backoff_then_delivers(app, mocked_wechat):
    message = queue_one(make_user())
    mocked_wechat.post(STABLE_TOKEN, json={"access_token": "AT", "expires_in": 7200})
    mocked_wechat.post(SEND, status=502)
    assert jobs.deliver_now(message.id) == "pending"
    row = db.session.get(OutboxMessage, message.id)
    assert row.next_attempt_at > utcnow() + dt.timedelta(seconds=20)
    assert notifications.due_ids() == []  # not due yet
    later = utcnow() + dt.timedelta(minutes=2)
    assert notifications.due_ids(now=later) == [message.id]
    mocked_wechat.post(SEND, json={"errcode": 0})
    assert notifications.claim(message.id, now=later) is not None
    assert notifications.send(db.session.get(OutboxMessage, message.id)) == "sent"


@real
def test_permanent_error_fails(app, mocked_wechat):
    message = queue_one(make_user())
    mocked_wechat.post(STABLE_TOKEN, json={"access_token": "AT", "expires_in": 7200})
    mocked_wechat.post(SEND, json={"errcode": 47003, "errmsg": "argument invalid"})
    assert jobs.deliver_now(message.id) == "failed"


@real
def test_crashed_delivery_is_retried_after_lease(app, mocked_wechat):
    message = queue_one(make_user())
    assert notifications.claim(message.id) is not None  # a worker took it, then died
    db.session.commit()
    assert jobs.deliver_now(message.id) is None  # leased: nobody else sends it
    later = utcnow() + notifications.LEASE + dt.timedelta(seconds=1)
    assert notifications.due_ids(now=later) == [message.id]
    mocked_wechat.post(STABLE_TOKEN, json={"access_token": "AT", "expires_in": 7200})
    mocked_wechat.post(SEND, json={"errcode": 0})
    assert notifications.claim(message.id, now=later) is not None
    assert notifications.send(db.session.get(OutboxMessage, message.id)) == "sent"


def test_deleted_user_gets_nothing(app):
    user = make_user()
    message = queue_one(user)
    user.status = "deleted"
    db.session.commit()
    assert jobs.deliver_now(message.id) == "skipped"
    assert (
        notifications.notify(user, subject_type="x", subject_id=1, event="e", template="t", data={})
        is None
    )


def test_sweep_delivers_due_messages_in_fake_mode(app):
    user = make_user()
    ids = [queue_one(user, subject_id=i).id for i in range(3)]
    assert jobs.sweep_outbox.call_local() == 3
    statuses = db.session.scalars(select(OutboxMessage.status).where(OutboxMessage.id.in_(ids)))
    assert set(statuses) == {"sent"}
