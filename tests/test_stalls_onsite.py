"""Stall booking on the day: check-in, no-shows and suspension, roster, statistics, deletion."""

import csv
import datetime as dt
import io
import uuid

import pytest
from itsdangerous import URLSafeSerializer
from sqlalchemy import select

from server.extensions import db
from server.jobs import tasks as jobs
from server.models.outbox import OutboxMessage
from server.models.stalls import FarmerProfile, StallBooking, StallSlot
from server.services.stalls import bookings, checkin, reports
from server.util.clock import CST, local_today, utcnow
from tests.conftest import auth_headers
from tests.stalls_factories import (
    LAT,
    LNG,
    farmer_with_headers,
    make_point,
    morning,
    move_slot,
    tomorrow,
)


def book(client, headers, point, day=None):
    body = {
        "point_id": point.id,
        "date": (day or tomorrow()).isoformat(),
        "session_id": morning(point).id,
    }
    resp = client.post(
        "/api/v1/stalls/bookings",
        json=body,
        headers={**headers, "Idempotency-Key": uuid.uuid4().hex},
    )
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()


def slot_id_of(booking: dict) -> int:
    return db.session.get(StallBooking, booking["id"]).slot_id


def scan(client, staff, code, **extra):
    return client.post(
        "/api/v1/staff/stalls/checkin", json={"code": code, **extra}, headers=auth_headers(staff)
    )


# -- check-in ---------------------------------------------------------------------------------
def test_staff_scan_in_window(client, staff):
    point = make_point()
    _, headers = farmer_with_headers()
    booking = book(client, headers, point)
    slot_id = slot_id_of(booking)
    move_slot(slot_id, dt.timedelta(hours=3))
    code = client.get(f"/api/v1/stalls/bookings/{booking['id']}", headers=headers).get_json()[
        "checkin_code"
    ]
    early = scan(client, staff, code)
    assert early.status_code == 409 and early.get_json()["error"] == "checkin_not_open"
    move_slot(slot_id, dt.timedelta(minutes=20))
    code = client.get(f"/api/v1/stalls/bookings/{booking['id']}", headers=headers).get_json()[
        "checkin_code"
    ]
    other = make_point(name="北门销售点")
    wrong = scan(client, staff, code, point_id=other.id)
    assert wrong.status_code == 409 and wrong.get_json()["error"] == "wrong_point"
    resp = scan(client, staff, code, point_id=point.id)
    assert resp.status_code == 200
    assert resp.get_json()["status"] == "checked_in"
    again = scan(client, staff, code)
    assert again.status_code == 409 and again.get_json()["error"] == "already_checked_in"
    cancel = client.post(f"/api/v1/stalls/bookings/{booking['id']}/cancel", headers=headers)
    assert cancel.status_code == 409 and cancel.get_json()["error"] == "already_checked_in"


def test_forged_and_expired_codes(client, staff, app):
    point = make_point()
    _, headers = farmer_with_headers()
    booking = book(client, headers, point)
    move_slot(slot_id_of(booking), -dt.timedelta(hours=3))
    expired = client.get(f"/api/v1/stalls/bookings/{booking['id']}", headers=headers).get_json()
    resp = scan(client, staff, expired["checkin_code"])
    assert resp.status_code == 422 and resp.get_json()["error"] == "checkin_code_expired"
    later = int((utcnow() + dt.timedelta(hours=5)).timestamp())
    forged = "XHB1." + URLSafeSerializer("not-the-secret", salt="stall-checkin").dumps(
        {"b": booking["id"], "x": later}
    )
    for code in (forged, "XHB1.garbage", "hello", expired["checkin_code"][:-3] + "abc"):
        resp = scan(client, staff, code)
        assert resp.status_code == 422, code
        assert resp.get_json()["error"] == "checkin_code_invalid"
    assert db.session.get(StallBooking, booking["id"]).status == "confirmed"
    assert (
        client.post("/api/v1/staff/stalls/checkin", json={"code": "x"}, headers=headers).status_code
        == 403
    )


def test_farmer_scans_point_qr_nearby(client, staff):
    point = make_point()
    other = make_point(name="北门销售点")
    _, headers = farmer_with_headers()
    booking = book(client, headers, point)
    move_slot(slot_id_of(booking), dt.timedelta(minutes=10))
    staff_h = auth_headers(staff)
    qr = client.get(f"/api/v1/staff/stalls/points/{point.id}/qr", headers=staff_h).get_json()
    other_qr = client.get(f"/api/v1/staff/stalls/points/{other.id}/qr", headers=staff_h).get_json()
    url = f"/api/v1/stalls/bookings/{booking['id']}/checkin"
    here = {"lat": LAT + 0.001, "lng": LNG, "coord_type": "gcj02"}
    far = {"lat": LAT + 0.01, "lng": LNG, "coord_type": "gcj02"}
    resp = client.post(url, json={**far, "point_code": qr["point_code"]}, headers=headers)
    assert resp.status_code == 422 and resp.get_json()["error"] == "too_far"
    assert resp.get_json()["errors"]["distance_m"] > 1000
    resp = client.post(url, json={**here, "point_code": other_qr["point_code"]}, headers=headers)
    assert resp.status_code == 422 and resp.get_json()["error"] == "wrong_point"
    resp = client.post(url, json={**here, "point_code": "XHP1.forged"}, headers=headers)
    assert resp.status_code == 422 and resp.get_json()["error"] == "checkin_code_invalid"
    _, stranger = farmer_with_headers()
    resp = client.post(url, json={**here, "point_code": qr["point_code"]}, headers=stranger)
    assert resp.status_code == 404
    resp = client.post(url, json={**here, "point_code": qr["point_code"]}, headers=headers)
    assert resp.status_code == 200 and resp.get_json()["status"] == "checked_in"
    assert db.session.get(StallBooking, booking["id"]).checkin_method == "point_qr"


def test_manual_checkin_after_window_refused(client, staff):
    point = make_point()
    _, headers = farmer_with_headers()
    booking = book(client, headers, point)
    move_slot(slot_id_of(booking), -dt.timedelta(minutes=61))
    url = f"/api/v1/staff/stalls/bookings/{booking['id']}/checkin"
    resp = client.post(url, headers=auth_headers(staff))
    assert resp.status_code == 409 and resp.get_json()["error"] == "checkin_closed"
    move_slot(slot_id_of(booking), -dt.timedelta(minutes=59))
    assert client.post(url, headers=auth_headers(staff)).get_json()["status"] == "checked_in"
    assert (
        client.post(
            "/api/v1/staff/stalls/bookings/999/checkin", headers=auth_headers(staff)
        ).status_code
        == 404
    )


# -- no-shows and suspension ------------------------------------------------------------------
def test_no_show_job_frees_stall_and_suspends_after_three(client):
    point = make_point()
    _, headers = farmer_with_headers()
    made = [
        book(client, headers, point, day=local_today() + dt.timedelta(days=n)) for n in (1, 2, 3)
    ]
    for booking in made[:2]:
        move_slot(slot_id_of(booking), -dt.timedelta(hours=2))
    assert jobs.mark_stall_no_shows.call_local() == 2
    db.session.expire_all()
    assert [db.session.get(StallBooking, b["id"]).status for b in made] == [
        "no_show",
        "no_show",
        "confirmed",
    ]
    assert db.session.get(StallSlot, slot_id_of(made[0])).booked == 0
    profile = client.get("/api/v1/stalls/farmer-profile", headers=headers).get_json()
    assert profile["strikes"] == 2 and profile["suspended_until"] is None
    assert jobs.mark_stall_no_shows.call_local() == 0  # idempotent
    move_slot(slot_id_of(made[2]), dt.timedelta(minutes=30))
    client.post(f"/api/v1/stalls/bookings/{made[2]['id']}/cancel", headers=headers)  # late
    profile = client.get("/api/v1/stalls/farmer-profile", headers=headers).get_json()
    assert profile["suspended_until"] is not None
    until = dt.datetime.fromisoformat(profile["suspended_until"])
    assert dt.timedelta(days=13, hours=23) < until - utcnow() <= dt.timedelta(days=14)
    resp = client.post(
        "/api/v1/stalls/bookings",
        json={
            "point_id": point.id,
            "date": (local_today() + dt.timedelta(days=5)).isoformat(),
            "session_id": morning(point).id,
        },
        headers={**headers, "Idempotency-Key": uuid.uuid4().hex},
    )
    assert resp.status_code == 403 and resp.get_json()["error"] == "farmer_suspended"
    assert profile["suspended_until"][:10] in resp.get_json()["message"]


@pytest.mark.config(STALL_STRIKE_LIMIT=2)
def test_no_show_and_suspension_are_told_to_the_farmer(client):
    point = make_point()
    farmer, headers = farmer_with_headers()
    made = [book(client, headers, point, day=local_today() + dt.timedelta(days=n)) for n in (1, 2)]
    move_slot(slot_id_of(made[0]), -dt.timedelta(hours=2))
    jobs.mark_stall_no_shows.call_local()
    move_slot(slot_id_of(made[1]), -dt.timedelta(hours=2))
    jobs.mark_stall_no_shows.call_local()
    messages = db.session.scalars(
        select(OutboxMessage).where(OutboxMessage.event == "no_show").order_by(OutboxMessage.id)
    ).all()
    assert [(m.user_id, m.subject_id) for m in messages] == [(farmer.id, b["id"]) for b in made]
    first, second = (m.data for m in messages)
    assert first["phrase3"] == "爽约" and first["thing5"] == "未按时签到，记爽约一次"
    until = db.session.scalar(
        select(FarmerProfile.suspended_until).where(FarmerProfile.user_id == farmer.id)
    )
    assert second["thing5"] == f"多次爽约，暂停预约至{until.astimezone(CST):%m月%d日}"


@pytest.mark.config(STALL_STRIKE_LIMIT=2)
def test_a_suspension_by_late_cancel_is_told_once(client):
    point = make_point()
    farmer, headers = farmer_with_headers()
    made = [book(client, headers, point, day=local_today() + dt.timedelta(days=n)) for n in (1, 2)]
    for booking in made:
        move_slot(slot_id_of(booking), dt.timedelta(minutes=30))  # a late cancel
    cancel = "/api/v1/stalls/bookings/{}/cancel"
    assert client.post(cancel.format(made[0]["id"]), headers=headers).status_code == 200
    assert (
        db.session.scalar(select(OutboxMessage).where(OutboxMessage.event == "suspended")) is None
    )
    assert client.post(cancel.format(made[1]["id"]), headers=headers).status_code == 200
    message = db.session.scalars(
        select(OutboxMessage).where(OutboxMessage.event == "suspended")
    ).one()
    until = db.session.scalar(
        select(FarmerProfile.suspended_until).where(FarmerProfile.user_id == farmer.id)
    )
    assert (message.user_id, message.subject_id) == (farmer.id, made[1]["id"])
    assert message.data["phrase3"] == "暂停预约"
    assert message.data["thing5"] == f"临近开市取消过多，暂停预约至{until.astimezone(CST):%m月%d日}"


@pytest.mark.config(STALL_STRIKE_LIMIT=1, STALL_SUSPENSION_DAYS=2)
def test_suspension_rules_configurable(client):
    point = make_point()
    _, headers = farmer_with_headers()
    booking = book(client, headers, point)
    move_slot(slot_id_of(booking), -dt.timedelta(hours=2))
    jobs.mark_stall_no_shows.call_local()
    profile = client.get("/api/v1/stalls/farmer-profile", headers=headers).get_json()
    until = dt.datetime.fromisoformat(profile["suspended_until"])
    assert dt.timedelta(days=1) < until - utcnow() <= dt.timedelta(days=2)


@pytest.mark.config(STALL_BOOKING_OPENS_DAYS_BEFORE=20, STALL_MAX_BOOKINGS_PER_WINDOW=5)
def test_booking_window_configurable(client):
    point = make_point()
    _, headers = farmer_with_headers()
    book(client, headers, point, day=local_today() + dt.timedelta(days=15))


def test_waiting_entries_expire_when_booking_closes(app):
    from tests.stalls_factories import make_farmer

    point = make_point(capacity=1)
    first, waiter = make_farmer(), make_farmer()
    now = utcnow()
    booking = bookings.book(first, point.id, tomorrow(), morning(point).id, now=now)
    entry = bookings.join_waitlist(waiter, point.id, tomorrow(), morning(point).id, now=now)
    db.session.commit()
    late = booking.slot.starts_at - dt.timedelta(minutes=30)
    bookings.mark_no_shows(now=late)
    db.session.commit()
    db.session.refresh(entry)
    assert entry.status == "expired"


# -- roster, CSV, stats -----------------------------------------------------------------------
def test_roster_json_and_csv(client, staff):
    point = make_point()
    _, first_h = farmer_with_headers(name="=HYPERLINK(1)")
    _, second_h = farmer_with_headers(name="张翠花", phone="13712345678")
    book(client, first_h, point)
    second = book(client, second_h, point)
    headers = auth_headers(staff)
    url = f"/api/v1/staff/stalls/roster?point_id={point.id}&date={tomorrow()}"
    assert client.get(url, headers=second_h).status_code == 403
    rows = client.get(url, headers=headers).get_json()["rows"]
    assert [(r["stall_number"], r["farmer_name"]) for r in rows] == [
        (1, "=HYPERLINK(1)"),
        (2, "张翠花"),
    ]
    assert rows[1]["phone"] == "13712345678" and rows[1]["produce_types"] == ["蔬菜", "鸡蛋"]
    assert rows[1]["status"] == "confirmed" and rows[1]["booking_id"] == second["id"]
    resp = client.get(url.replace("/roster?", "/roster.csv?"), headers=headers)
    assert resp.status_code == 200 and resp.mimetype == "text/csv"
    assert "attachment" in resp.headers["Content-Disposition"]
    text = resp.get_data(as_text=True)
    assert text.startswith("\ufeff")
    table = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    assert table[1][:3] == ["时段", "摊位号", "农户"]
    assert table[2][:4] == ["早市", "1", "'=HYPERLINK(1)", table[2][3]]
    assert table[3][:7] == [
        "早市",
        "2",
        "张翠花",
        "137****5678",
        "城南镇桃源村",
        "蔬菜、鸡蛋",
        "未签到",
    ]
    missing = client.get("/api/v1/staff/stalls/roster", headers=headers)
    assert missing.status_code == 422


def test_statistics(app):
    from tests.stalls_factories import make_farmer

    point = make_point(capacity=4)
    day = tomorrow()
    farmers = [make_farmer() for _ in range(3)]
    made = [bookings.book(f, point.id, day, morning(point).id) for f in farmers]
    db.session.commit()
    slot = made[0].slot
    slot.starts_at = utcnow() - dt.timedelta(minutes=10)
    db.session.commit()
    checkin.manual(make_farmer(), made[0].id)
    checkin.manual(make_farmer(), made[1].id)
    db.session.commit()
    bookings.mark_no_shows(now=utcnow() + dt.timedelta(hours=2))
    db.session.commit()
    stats = reports.statistics(day, day, point.id)
    early = stats["points"][0]["sessions"][0]
    assert (early["capacity"], early["booked"], early["checked_in"], early["no_shows"]) == (
        4,
        3,
        2,
        1,
    )
    assert early["utilisation"] == 0.5 and early["no_show_rate"] == round(1 / 3, 4)
    evening = stats["points"][0]["sessions"][1]
    assert evening["capacity"] == 4 and evening["utilisation"] == 0
    assert stats["total"]["capacity"] == 8
    year, week, _ = day.isocalendar()
    assert stats["farmers_per_week"] == [{"week": f"{year}-W{week:02d}", "farmers": 2}]


def test_statistics_endpoint(client, staff):
    make_point()
    headers = auth_headers(staff)
    today = local_today()
    resp = client.get(f"/api/v1/staff/stalls/stats?from={today}&to={today}", headers=headers)
    assert resp.status_code == 200
    assert resp.get_json()["total"]["capacity"] == 20
    bad = client.get(
        f"/api/v1/staff/stalls/stats?from={today}&to={today - dt.timedelta(days=1)}",
        headers=headers,
    )
    assert bad.status_code == 422


# -- account deletion -------------------------------------------------------------------------
def test_account_deletion_erases_profile_and_frees_future_stall(client, staff):
    point = make_point(capacity=1)
    user, headers = farmer_with_headers(name="赵铁柱")
    _, waiter_h = farmer_with_headers()
    past = book(client, headers, point, day=local_today() + dt.timedelta(days=2))
    move_slot(slot_id_of(past), -dt.timedelta(minutes=10))
    client.post(f"/api/v1/staff/stalls/bookings/{past['id']}/checkin", headers=auth_headers(staff))
    future = book(client, headers, point)
    client.post(
        "/api/v1/stalls/waitlist",
        json={
            "point_id": point.id,
            "date": tomorrow().isoformat(),
            "session_id": morning(point).id,
        },
        headers={**waiter_h, "Idempotency-Key": uuid.uuid4().hex},
    )
    assert client.delete("/api/v1/me", headers=headers).status_code == 204
    db.session.expire_all()
    profile = db.session.scalar(select(FarmerProfile).where(FarmerProfile.user_id == user.id))
    assert profile.real_name is None and profile.phone is None and profile.village is None
    assert profile.erased_at is not None
    assert db.session.get(StallBooking, future["id"]).status == "cancelled"
    assert db.session.get(StallBooking, past["id"]).status == "checked_in"  # history kept
    # The freed stall went to the waiting farmer.
    assert client.get("/api/v1/me/bookings", headers=waiter_h).get_json()["total"] == 1
    past_day = db.session.get(StallBooking, past["id"]).date
    rows = client.get(
        f"/api/v1/staff/stalls/roster?point_id={point.id}&date={past_day}",
        headers=auth_headers(staff),
    ).get_json()["rows"]
    assert rows[0]["farmer_name"] == "（已注销）" and rows[0]["phone"] is None
    listed = client.get("/api/v1/staff/stalls/farmer-profiles", headers=auth_headers(staff))
    assert user.id not in [p["user_id"] for p in listed.get_json()["items"]]
