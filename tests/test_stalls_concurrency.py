"""The booking storm: the real app under gunicorn with several worker processes, 200+
simultaneous requests at a capacity-10 slot with cancellations and waitlist joins, then the
invariants checked in the database (SQLite file or PostgreSQL, whichever the suite runs on)."""

import pytest

from bench.stalls import storm
from server.extensions import db

FARMERS = 210
CAPACITY = 10


@pytest.fixture
def server_db(app, database_url):
    if database_url.startswith("sqlite") and ":memory:" in database_url:
        pytest.skip("needs a database shared between processes")
    tokens, targets = storm.seed(FARMERS, points=1, capacity=CAPACITY)
    db.session.remove()
    return tokens, targets


def test_booking_storm_never_oversells(app, database_url, tmp_path, server_db):
    tokens, targets = server_db
    with storm.gunicorn(database_url, app.config["SECRET_KEY"], tmp_path, workers=4) as (base, log):
        result = storm.storm(base, tokens, targets, cancel_ratio=0.3, duplicates=10)
    assert result.errors == [], (result.errors[:5], log.read_text()[-2000:])
    assert result.server_errors == 0
    booked = result.statuses["book"]
    assert sum(booked.values()) >= FARMERS + 10
    assert set(booked) <= {201, 409}, booked
    assert set(result.statuses.get("waitlist", {})) <= {201, 409}
    assert set(result.statuses.get("cancel", {})) <= {200}
    assert booked[201] >= CAPACITY
    # The turned-away joined the waitlist (how many got in depends on the interleaving).
    assert sum(result.statuses["waitlist"].values()) > 0, result.codes
    violations = storm.check_invariants()
    assert all(not rows for rows in violations.values()), violations
    totals = storm.totals()
    active = sum(n for s, n in totals["bookings"].items() if s in ("confirmed", "checked_in"))
    assert 0 < active <= CAPACITY * 2  # morning slot + the evening slot of the duplicates
    assert totals["bookings"].get("cancelled", 0) == result.statuses["cancel"][200]


def test_cancellations_promote_waiting_farmers_under_load(app, database_url, tmp_path):
    """10 holders cancel while 100 others try to book the same full slot: every freed place
    goes to a waiting farmer, in the cancel's own transaction, never to two of them."""
    import threading
    import uuid
    from concurrent.futures import ThreadPoolExecutor

    import requests
    from sqlalchemy import select

    from server.models.stalls import StallBooking, WaitlistEntry
    from server.models.users import ApiToken
    from server.services.stalls import bookings

    tokens, (target,) = storm.seed(150, points=1, capacity=CAPACITY)
    users = [t.user for t in db.session.scalars(select(ApiToken).order_by(ApiToken.id))]
    holders = [
        bookings.book(u, target.point_id, target.date, target.session_id) for u in users[:10]
    ]
    for user in users[10:40]:
        bookings.join_waitlist(user, target.point_id, target.date, target.session_id)
    db.session.commit()
    holder_ids = [b.id for b in holders]
    db.session.remove()

    jobs = [("cancel", tokens[i], holder_ids[i]) for i in range(10)]
    jobs += [("book", token, None) for token in tokens[40:150]]
    barrier = threading.Barrier(len(jobs))
    statuses: list[tuple[str, int]] = []

    def run(job, base):
        kind, token, booking_id = job
        headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": uuid.uuid4().hex}
        barrier.wait(timeout=30)
        if kind == "cancel":
            url, body = f"{base}/api/v1/stalls/bookings/{booking_id}/cancel", None
        else:
            url = f"{base}/api/v1/stalls/bookings"
            body = {
                "point_id": target.point_id,
                "date": target.date.isoformat(),
                "session_id": target.session_id,
            }
        resp = requests.post(url, json=body, headers=headers, timeout=60)
        statuses.append((kind, resp.status_code))

    with (
        storm.gunicorn(database_url, app.config["SECRET_KEY"], tmp_path, workers=4) as (base, _),
        ThreadPoolExecutor(max_workers=len(jobs)) as pool,
    ):
        list(pool.map(lambda job: run(job, base), jobs))

    assert sorted(set(statuses)) == [("book", 409), ("cancel", 200)], set(statuses)
    violations = storm.check_invariants()
    assert all(not rows for rows in violations.values()), violations
    db.session.expire_all()
    promoted = db.session.scalars(
        select(WaitlistEntry).where(WaitlistEntry.status == "promoted").order_by(WaitlistEntry.id)
    ).all()
    assert len(promoted) == 10
    # First come, first served: the ten who waited longest.
    first_waiting = db.session.scalars(select(WaitlistEntry.id).order_by(WaitlistEntry.id)).all()
    assert [e.id for e in promoted] == first_waiting[:10]
    active = db.session.scalars(
        select(StallBooking).where(StallBooking.status == "confirmed")
    ).all()
    assert len(active) == CAPACITY and {b.source for b in active} == {"waitlist"}
    assert sorted(b.stall_number for b in active) == list(range(1, CAPACITY + 1))
