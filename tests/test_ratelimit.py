"""Abuse limits per user on the endpoints a script would hammer: over the limit is a 429 in the
error shape with ``Retry-After``, it writes nothing, and other users are not affected."""

import uuid

import pytest
from sqlalchemy import func, select

from server.core.ratelimit import DEFAULT_LIMITS
from server.extensions import db
from server.models.complaints import Complaint, ComplaintFollower
from server.models.stalls import StallBooking, WaitlistEntry
from server.models.toilets import ToiletRating, ToiletReport
from server.models.uploads import Upload
from tests.test_authz import COMPLAINT, World, _jpeg, slot_body

LOW = "2/minute"


def _complaint(w, role):
    assert w.reference
    return {"json": COMPLAINT}


def _booking(w, role):
    return {"json": slot_body(w, role)}


def _waitlist(w, role):
    return {"json": w.full_slot}


def _upload(w, role):
    return {"data": _jpeg(), "content_type": "multipart/form-data"}


def _rating(w, role):
    return {"json": {"cleanliness": 4, "smell": 4, "facilities": 4}}


def _report(w, role):
    return {"json": {"kind": "dirty"}}


def _nothing(w, role):
    return {}


# name, method, path (formatted with w=World), request, who, the rows a success writes
LIMITED = [
    ("UPLOAD", "POST", "/api/v1/uploads", _upload, "resident", Upload),
    ("COMPLAINT", "POST", "/api/v1/complaints", _complaint, "resident", Complaint),
    (
        "FOLLOW",
        "POST",
        "/api/v1/complaints/{w.complaint}/follow",
        _nothing,
        "other",
        ComplaintFollower,
    ),
    ("FOLLOW", "DELETE", "/api/v1/complaints/{w.complaint}/follow", _nothing, "other", None),
    (
        "TOILET_RATING",
        "PUT",
        "/api/v1/toilets/{w.toilet}/rating",
        _rating,
        "resident",
        ToiletRating,
    ),
    (
        "TOILET_REPORT",
        "POST",
        "/api/v1/toilets/{w.toilet}/reports",
        _report,
        "resident",
        ToiletReport,
    ),
    ("BOOKING", "POST", "/api/v1/stalls/bookings", _booking, "farmer", StallBooking),
    ("WAITLIST", "POST", "/api/v1/stalls/waitlist", _waitlist, "farmer", WaitlistEntry),
]


def _count(model) -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(model)) if model else 0


@pytest.mark.parametrize(
    ("name", "method", "path", "request_for", "role", "model"),
    [
        pytest.param(*row, marks=pytest.mark.config(**{f"RATELIMIT_{row[0]}": LOW}), id=row[0])
        for row in LIMITED
    ],
)
def test_over_the_limit_is_429_with_retry_after_and_writes_nothing(
    client, name, method, path, request_for, role, model
):
    w = World()
    url = path.format(w=w)

    def send(who):
        headers = {**w.headers(who), "Idempotency-Key": uuid.uuid4().hex}
        return client.open(url, method=method, headers=headers, **request_for(w, who))

    first = [send(role).status_code for _ in range(2)]
    assert all(status < 500 and status != 429 for status in first), first
    before = _count(model)
    resp = send(role)
    assert resp.status_code == 429
    body = resp.get_json()
    assert body["code"] == 429 and body["error"] == "rate_limited" and body["message"]
    assert 1 <= int(resp.headers["Retry-After"]) <= 60
    assert _count(model) == before
    # Another person is not held back by it.
    other = "staff" if role != "staff" else "admin"
    assert send(other).status_code != 429


def test_every_limit_has_a_default_and_is_documented(app, client):
    """Each decorated operation lists 429 in the spec, and each limit has a default."""
    spec = client.get("/api/v1/openapi.json").get_json()
    for name, method, path, *_ in LIMITED:
        assert f"RATELIMIT_{name}" in DEFAULT_LIMITS
        assert app.config[f"RATELIMIT_{name}"] == DEFAULT_LIMITS[f"RATELIMIT_{name}"]
        spec_path = path.replace("{w.complaint}", "{complaint_id}").replace(
            "{w.toilet}", "{toilet_id}"
        )
        assert "429" in spec["paths"][spec_path][method.lower()]["responses"], (method, path)


def test_the_readme_lists_every_limit():
    from pathlib import Path

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    for key, value in DEFAULT_LIMITS.items():
        assert f"| `{key}` | `{value}` |" in readme, key


@pytest.mark.config(RATELIMIT_STORAGE_URI="redis://127.0.0.1:1/0")  # nothing listens there
def test_unreachable_counters_let_requests_through(client, caplog):
    """Redis down: limited operations keep working, uncounted, with a warning (no 500)."""
    for _ in range(3):
        resp = client.post("/api/v1/auth/login", json={"code": "dev:redis-down"})
        assert resp.status_code == 200, resp.get_json()
    assert "storage unavailable" in caplog.text
