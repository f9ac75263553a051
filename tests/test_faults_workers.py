"""Faults where a process dies: a gunicorn worker SIGKILLed in the middle of a storm of complaint
submissions and bookings, and a job worker that dies while delivering a notification.

Nothing is lost: every request that got a 2xx has its records, none that got no answer left a
half-written record (each request is one transaction), and the booking invariants hold. The
third fault of the issue, a full or unwritable upload directory, is covered by
``tests/test_uploads_storage.py`` (507 ``storage_full`` / 503 ``storage_unavailable``, neither
file nor row left behind).
"""

import datetime as dt
import os
import signal
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from sqlalchemy import func, select, update

from bench.stalls import storm
from server.extensions import db
from server.jobs import tasks as jobs
from server.models.complaints import Complaint, ComplaintEvent, ComplaintPhoto
from server.models.outbox import OutboxMessage
from server.models.uploads import Upload
from server.models.users import ApiToken
from server.services import notifications
from server.services.complaints import staff as complaints_staff
from server.util.clock import utcnow
from tests.conftest import make_user

FARMERS = 120  # the first 60 book a stall, the other 60 file a complaint with two photos
CAPACITY = 10


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # "pid (comm) state ppid ...": comm may hold spaces, so split after the last ")".
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(entry.name))
    return found


def _gunicorn_workers() -> list[int]:
    """The workers of the gunicorn master that this test process started (its only child)."""
    masters = [p for p in _children(os.getpid()) if b"gunicorn" in _cmdline(p)]
    assert len(masters) == 1, masters
    return _children(masters[0])


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


@pytest.fixture
def storm_data(app, database_url):
    if database_url.startswith("sqlite") and ":memory:" in database_url:
        pytest.skip("needs a database shared between processes")
    complaints_staff.seed_reference_data()
    tokens, (target,) = storm.seed(FARMERS, points=1, capacity=CAPACITY)
    users = [t.user for t in db.session.scalars(select(ApiToken).order_by(ApiToken.id))]
    photos = {}
    for user in users[FARMERS // 2 :]:
        photos[user.id] = []
        for n in range(2):
            upload = Upload(
                owner_id=user.id,
                path=f"2026/11/{uuid.uuid4().hex}.jpg",
                thumb_path=f"2026/11/{uuid.uuid4().hex}_t.jpg",
                content_type="image/jpeg",
                width=40,
                height=30,
                size_bytes=100 + n,
                expires_at=utcnow() + dt.timedelta(hours=24),
            )
            db.session.add(upload)
            db.session.flush()
            photos[user.id].append(upload.id)
    db.session.commit()
    plans = []
    for i, (token, user) in enumerate(zip(tokens, users, strict=True)):
        key = uuid.uuid4().hex
        if i < FARMERS // 2:
            body = {
                "point_id": target.point_id,
                "date": target.date.isoformat(),
                "session_id": target.session_id,
            }
            plans.append(("book", token, key, "/api/v1/stalls/bookings", body))
        else:
            body = {
                "category": "B0102",
                "description": f"井盖缺失，第{i}号反映",
                "lat": 30.2741,
                "lng": 120.1551,
                "address": "人民路1号",
                "photo_ids": photos[user.id],
                "contact_phone": "13812345678",
            }
            plans.append(("complaint", token, key, "/api/v1/complaints", body))
    db.session.remove()
    return plans


def test_worker_killed_mid_storm_loses_nothing(app, database_url, tmp_path, storm_data):
    plans = storm_data
    answers: dict[str, tuple[str, int, dict | None]] = {}
    lock = threading.Lock()
    started = threading.Event()
    killed: list[int] = []

    def send(base, plan):
        kind, token, key, url, body = plan
        headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": key}
        started.set()
        try:
            resp = requests.post(base + url, json=body, headers=headers, timeout=60)
        except requests.RequestException:
            return  # no answer: the worker died with the request
        with lock:
            answers[key] = (kind, resp.status_code, resp.json())

    with storm.gunicorn(database_url, app.config["SECRET_KEY"], tmp_path, workers=4) as (
        base,
        log,
    ):
        workers_before = _gunicorn_workers()
        with ThreadPoolExecutor(max_workers=40) as pool:
            futures = [pool.submit(send, base, plan) for plan in plans]
            started.wait(10)
            for victim in workers_before[:2]:
                time.sleep(0.3)  # requests in flight in every worker
                os.kill(victim, signal.SIGKILL)
                killed.append(victim)
            for future in futures:
                future.result()
        # The master replaces the dead worker; the service goes on.
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            workers = _gunicorn_workers()
            if not set(killed) & set(workers) and len(workers) == len(workers_before):
                break
            time.sleep(0.2)
        assert not set(killed) & set(_gunicorn_workers())
        assert requests.get(base + "/healthz", timeout=5).status_code == 200
        unanswered = [plan for plan in plans if plan[2] not in answers]
        # A client without an answer retries with the same key: it gets the first answer
        # (the request had committed) or a fresh one (it had not), never a duplicate.
        # Sync workers are never idle under this load: each kill cut a request off.
        assert unanswered, "no request was in flight in the killed workers"
        for plan in unanswered:
            send(base, plan)
        server_log = log.read_text()

    # The real gunicorn access log: a line per request, no token, key or phone number in it.
    assert '"POST /api/v1/complaints"' in server_log
    for _kind, token, key, _url, _body in plans:
        assert token not in server_log and key not in server_log
    assert "13812345678" not in server_log
    statuses = [status for _, status, _ in answers.values()]
    assert all(status < 500 for status in statuses), (statuses, server_log[-2000:])
    assert len(answers) == len(plans), "a retried request got no answer"
    db.session.expire_all()
    # Every 2xx has its record, whole: the complaint with both photos and its first event.
    created = {body["id"] for kind, status, body in answers.values() if kind == "complaint"}
    complaint_answers = [a for a in answers.values() if a[0] == "complaint"]
    assert {status for _, status, _ in complaint_answers} == {201}
    complaints = db.session.scalars(select(Complaint)).all()
    assert {c.id for c in complaints} == created
    assert len(complaints) == FARMERS // 2  # one per person, retries included
    for complaint in complaints:
        photos = db.session.scalar(
            select(func.count()).where(ComplaintPhoto.complaint_id == complaint.id)
        )
        events = db.session.scalar(
            select(func.count()).where(ComplaintEvent.complaint_id == complaint.id)
        )
        assert (photos, events) == (2, 1), complaint.id
    # No photo taken by a submission that did not happen.
    used = db.session.scalar(select(func.count()).where(Upload.used_at.is_not(None)))
    assert used == 2 * len(complaints)
    # Bookings: every 201 is in the database; slot.booked == active bookings, no oversell.
    booked = {
        body["id"] for kind, status, body in answers.values() if kind == "book" and status == 201
    }
    assert {s for k, s, _ in answers.values() if k == "book"} <= {201, 409}
    assert len(booked) == CAPACITY
    rows = storm.totals()["bookings"]
    assert rows.get("confirmed") == CAPACITY
    violations = storm.check_invariants()
    assert all(not found for found in violations.values()), violations


# -- restart during outbox delivery --------------------------------------------------------------
SEND = "https://api.weixin.qq.com/cgi-bin/message/subscribe/send"
STABLE_TOKEN = "https://api.weixin.qq.com/cgi-bin/stable_token"


@pytest.mark.config(WECHAT_MODE="real", WECHAT_TEMPLATES={"complaint_status": "TPL"})
def test_message_of_a_killed_job_worker_is_sent_once_after_its_lease(app, mocked_wechat):
    user = make_user()
    message = notifications.notify(
        user,
        subject_type="complaint",
        subject_id=1,
        event="accepted",
        template="complaint_status",
        data={"thing1": "井盖缺失"},
        page="pages/complaints/detail?id=1",
    )
    db.session.commit()
    # A worker claims it and is killed before it talks to WeChat (claim committed, no send).
    assert notifications.claim(message.id) is not None
    db.session.commit()
    mocked_wechat.post(STABLE_TOKEN, json={"access_token": "AT", "expires_in": 7200})
    sends = mocked_wechat.post(SEND, json={"errcode": 0, "errmsg": "ok"})

    # Other workers and the sweep leave a leased message alone.
    assert jobs.deliver_now(message.id) is None
    assert jobs.sweep_outbox.call_local() == 0
    assert sends.call_count == 0
    # The lease runs out (as if 5 minutes passed): the sweep sends it, once.
    db.session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == message.id)
        .values(claimed_at=utcnow() - notifications.LEASE - dt.timedelta(seconds=1))
    )
    db.session.commit()
    assert jobs.sweep_outbox.call_local() == 1
    assert jobs.sweep_outbox.call_local() == 0
    assert jobs.deliver_now(message.id) is None
    assert sends.call_count == 1
    db.session.expire_all()
    sent = db.session.get(OutboxMessage, message.id)
    assert sent.status == "sent" and sent.attempts == 2
