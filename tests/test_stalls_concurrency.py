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
    assert result.statuses["waitlist"].get(201, 0) > 0, result.codes
    violations = storm.check_invariants()
    assert all(not rows for rows in violations.values()), violations
    totals = storm.totals()
    active = sum(n for s, n in totals["bookings"].items() if s in ("confirmed", "checked_in"))
    assert 0 < active <= CAPACITY * 2  # morning slot + the evening slot of the duplicates
    assert totals["bookings"].get("cancelled", 0) == result.statuses["cancel"][200]
