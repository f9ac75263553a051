"""Stall booking through the API: profiles, points, booking, waitlist, closures, check-in."""

import datetime as dt
import uuid

import pytest
from sqlalchemy import func, select, text

from server.extensions import db
from server.models.outbox import OutboxMessage
from server.models.stalls import (
    FarmerProfile,
    StallBooking,
    StallSlot,
    WaitlistEntry,
)
from server.util.clock import local_today
from tests.conftest import auth_headers, make_user
from tests.stalls_factories import (
    LAT,
    LNG,
    farmer_with_headers,
    make_point,
    morning,
    move_slot,
    tomorrow,
)
from tests.test_toilets import make_upload

PROFILE = {
    "real_name": "李秀英",
    "township": "城南镇",
    "village": "桃源村",
    "produce_types": ["蔬菜", "鸡蛋"],
    "self_produce_declared": True,
}


def book(client, headers, point, day=None, session=None, key=None):
    body = {
        "point_id": point.id,
        "date": (day or tomorrow()).isoformat(),
        "session_id": (session or morning(point)).id,
    }
    headers = {**headers, "Idempotency-Key": key or uuid.uuid4().hex}
    return client.post("/api/v1/stalls/bookings", json=body, headers=headers)


def wait(client, headers, point, day=None, session=None):
    body = {
        "point_id": point.id,
        "date": (day or tomorrow()).isoformat(),
        "session_id": (session or morning(point)).id,
    }
    headers = {**headers, "Idempotency-Key": uuid.uuid4().hex}
    return client.post("/api/v1/stalls/waitlist", json=body, headers=headers)


def count(model, *where) -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def slot_of(point, day=None) -> StallSlot:
    db.session.expire_all()
    return db.session.scalar(
        select(StallSlot).where(
            StallSlot.session_id == morning(point).id, StallSlot.date == (day or tomorrow())
        )
    )


# -- farmer profile ---------------------------------------------------------------------------
def test_apply_needs_bound_phone_and_declaration(client):
    user = make_user()
    headers = auth_headers(user)
    resp = client.post("/api/v1/stalls/farmer-profile", json=PROFILE, headers=headers)
    assert resp.status_code == 422
    assert resp.get_json()["error"] == "phone_required"
    user.phone = "13912345678"
    db.session.commit()
    resp = client.post(
        "/api/v1/stalls/farmer-profile",
        json={**PROFILE, "self_produce_declared": False},
        headers=headers,
    )
    assert resp.status_code == 422
    assert "self_produce_declared" in resp.get_json()["errors"]["json"]
    assert count(FarmerProfile) == 0


def test_apply_review_and_farmer_role(client, staff):
    user = make_user()
    headers = auth_headers(user)
    assert client.post("/api/v1/me/phone", json={"code": "dev:13912345678"}, headers=headers)
    resp = client.post("/api/v1/stalls/farmer-profile", json=PROFILE, headers=headers)
    assert resp.status_code == 201, resp.get_json()
    body = resp.get_json()
    assert body["status"] == "pending" and body["phone"] == "13912345678"
    assert body["self_produce_declared_at"].endswith("+08:00")
    # Stored encrypted.
    raw = db.session.execute(text("SELECT real_name, phone FROM farmer_profiles")).one()
    assert "李秀英" not in raw[0] and "13912345678" not in raw[1]
    assert (
        client.post("/api/v1/stalls/farmer-profile", json=PROFILE, headers=headers).status_code
        == 409
    )
    assert "farmer" not in client.get("/api/v1/me", headers=headers).get_json()["roles"]

    staff_headers = auth_headers(staff)
    assert client.get("/api/v1/staff/stalls/farmer-profiles", headers=headers).status_code == 403
    listed = client.get(
        "/api/v1/staff/stalls/farmer-profiles?status=pending", headers=staff_headers
    ).get_json()
    assert listed["total"] == 1
    item = listed["items"][0]
    assert item["phone"] == "13912345678" and item["phone_masked"] == "139****5678"
    review = f"/api/v1/staff/stalls/farmer-profiles/{item['id']}/review"
    resp = client.post(review, json={"decision": "reject"}, headers=staff_headers)
    assert resp.status_code == 422
    resp = client.post(review, json={"decision": "approve"}, headers=staff_headers)
    assert resp.status_code == 200 and resp.get_json()["status"] == "approved"
    assert (
        client.post(review, json={"decision": "approve"}, headers=staff_headers).status_code == 409
    )
    assert client.get("/api/v1/me", headers=headers).get_json()["roles"] == ["resident", "farmer"]
    message = db.session.scalar(select(OutboxMessage).where(OutboxMessage.user_id == user.id))
    assert message.template == "farmer_review" and message.event == "profile_approved"


def test_rejection_then_reapplication(client, staff):
    _, headers = farmer_with_headers(status="pending")
    profile = db.session.scalar(select(FarmerProfile))
    resp = client.post(
        f"/api/v1/staff/stalls/farmer-profiles/{profile.id}/review",
        json={"decision": "reject", "reason": "村名与身份证不符"},
        headers=auth_headers(staff),
    )
    assert resp.get_json()["status"] == "rejected"
    mine = client.get("/api/v1/stalls/farmer-profile", headers=headers).get_json()
    assert mine["rejection_reason"] == "村名与身份证不符"
    point = make_point()
    resp = book(client, headers, point)
    assert resp.status_code == 403 and resp.get_json()["error"] == "farmer_rejected"
    resp = client.patch(
        "/api/v1/stalls/farmer-profile", json={"village": "杏花村"}, headers=headers
    )
    assert resp.status_code == 200
    assert resp.get_json()["status"] == "pending" and resp.get_json()["village"] == "杏花村"


def test_approved_identity_change_is_verified_again(client):
    _, headers = farmer_with_headers()
    resp = client.patch(
        "/api/v1/stalls/farmer-profile", json={"produce_types": ["水果"]}, headers=headers
    )
    assert resp.get_json()["status"] == "approved"
    resp = client.patch(
        "/api/v1/stalls/farmer-profile", json={"real_name": "王五"}, headers=headers
    )
    assert resp.get_json()["status"] == "pending"


# -- points and availability ------------------------------------------------------------------
def test_staff_manage_points_and_sessions(client, staff, resident):
    headers = auth_headers(staff)
    body = {
        "name": "西街临时销售点",
        "address": "西街88号",
        "lat": 30.2741,
        "lng": 120.1551,
        "coord_type": "wgs84",
        "stall_count": 20,
        "active_from": local_today().isoformat(),
    }
    assert (
        client.post(
            "/api/v1/staff/stalls/points", json=body, headers=auth_headers(resident)
        ).status_code
        == 403
    )
    bad = client.post(
        "/api/v1/staff/stalls/points", json={**body, "lat": 0, "lng": 0}, headers=headers
    )
    assert bad.status_code == 422
    resp = client.post("/api/v1/staff/stalls/points", json=body, headers=headers)
    assert resp.status_code == 201
    point = resp.get_json()
    assert point["lat"] != 30.2741  # stored as GCJ-02
    sessions = f"/api/v1/staff/stalls/points/{point['id']}/sessions"
    early = {"name": "早市", "start_time": "05:30", "end_time": "09:00", "capacity": 15}
    assert client.post(sessions, json=early, headers=headers).status_code == 201
    overlap = {"name": "上午市", "start_time": "08:00", "end_time": "11:00", "capacity": 5}
    assert (
        client.post(sessions, json=overlap, headers=headers).get_json()["error"]
        == "sessions_overlap"
    )
    too_big = {"name": "晚市", "start_time": "17:00", "end_time": "20:00", "capacity": 21}
    assert (
        client.post(sessions, json=too_big, headers=headers).get_json()["error"]
        == "capacity_exceeds_stalls"
    )
    backwards = {"name": "晚市", "start_time": "20:00", "end_time": "17:00", "capacity": 5}
    assert client.post(sessions, json=backwards, headers=headers).status_code == 422
    resp = client.patch(
        f"/api/v1/staff/stalls/points/{point['id']}", json={"stall_count": 10}, headers=headers
    )
    assert resp.status_code == 409 and resp.get_json()["error"] == "stall_count_too_small"
    public = client.get(f"/api/v1/stalls/points/{point['id']}").get_json()
    assert [s["name"] for s in public["sessions"]] == ["早市"]
    assert public["sessions"][0]["start_time"] == "05:30"
    client.patch(
        f"/api/v1/staff/stalls/points/{point['id']}", json={"status": "inactive"}, headers=headers
    )
    assert client.get(f"/api/v1/stalls/points/{point['id']}").status_code == 404


def test_point_photo_shown_with_its_url(client, staff):
    headers = auth_headers(staff)
    photo = make_upload(staff)
    point = make_point()
    resp = client.patch(
        f"/api/v1/staff/stalls/points/{point.id}", json={"photo_id": photo.id}, headers=headers
    )
    assert resp.status_code == 200
    public = client.get(f"/api/v1/stalls/points/{point.id}").get_json()
    assert public["photo_id"] == photo.id
    assert public["photo"]["url"] == f"http://localhost/media/{photo.path}"
    listed = client.get("/api/v1/stalls/points").get_json()
    assert [p["photo"] for p in listed["items"] if p["id"] == point.id] == [public["photo"]]
    without = make_point(name="无照片销售点")
    assert client.get(f"/api/v1/stalls/points/{without.id}").get_json()["photo"] is None


def test_points_nearest_first_with_distance(client):
    far = make_point(name="远处销售点", lat=LAT + 0.05, lng=LNG)
    near = make_point(name="近处销售点", lat=LAT + 0.001, lng=LNG)
    resp = client.get(f"/api/v1/stalls/points?lat={LAT}&lng={LNG}")
    items = resp.get_json()["items"]
    assert [i["id"] for i in items] == [near.id, far.id]
    assert 100 <= items[0]["distance_m"] <= 120
    incomplete = client.get(f"/api/v1/stalls/points?lat={LAT}")
    assert incomplete.status_code == 422
    assert incomplete.get_json()["error"] == "incomplete_location"
    assert client.get("/api/v1/stalls/points?lat=10&lng=10").status_code == 422
    assert client.get("/api/v1/stalls/points").get_json()["items"][0]["distance_m"] is None


def test_points_near_a_gps_position_measure_from_its_gcj02_point(client):
    point = make_point(lat=LAT, lng=LNG)
    # The same numbers read as WGS-84 are some 500 m from the (GCJ-02) point.
    resp = client.get(f"/api/v1/stalls/points?lat={LAT}&lng={LNG}&coord_type=wgs84")
    (item,) = resp.get_json()["items"]
    assert item["id"] == point.id and item["distance_m"] > 300
    resp = client.get(f"/api/v1/stalls/points?lat={LAT}&lng={LNG}")
    assert resp.get_json()["items"][0]["distance_m"] == 0


def test_point_and_session_edits_as_the_spec_says(client, staff):
    headers = auth_headers(staff)
    point = make_point()
    url = f"/api/v1/staff/stalls/points/{point.id}"
    resp = client.patch(url, json={"lat": LAT + 0.01, "lng": LNG}, headers=headers)
    assert resp.status_code == 200 and resp.get_json()["lat"] == LAT + 0.01  # GCJ-02 default
    resp = client.patch(url, json={"lat": LAT}, headers=headers)
    assert resp.status_code == 422 and resp.get_json()["error"] == "incomplete_location"
    session = {"name": "午市", "start_time": "9:30", "end_time": "11:00", "capacity": 5}
    resp = client.post(f"{url}/sessions", json=session, headers=headers)
    assert resp.status_code == 422
    assert resp.get_json()["errors"]["json"]["start_time"] == ["时间格式应为 HH:MM"]


def test_availability(client):
    point = make_point(capacity=2)
    _, headers = farmer_with_headers()
    assert book(client, headers, point).status_code == 201
    start = local_today()
    url = f"/api/v1/stalls/points/{point.id}/availability"
    resp = client.get(f"{url}?from={start}&to={start + dt.timedelta(days=9)}")
    assert resp.status_code == 200
    days = {d["date"]: d["sessions"] for d in resp.get_json()["days"]}
    slot = days[tomorrow().isoformat()][0]
    assert (slot["capacity"], slot["booked"], slot["remaining"]) == (2, 1, 1)
    assert slot["booking"] == "open" and slot["starts_at"].endswith("05:30:00+08:00")
    assert days[(start + dt.timedelta(days=9)).isoformat()][0]["booking"] == "not_yet_open"
    too_long = client.get(f"{url}?from={start}&to={start + dt.timedelta(days=30)}")
    assert too_long.status_code == 422 and too_long.get_json()["error"] == "range_too_long"
    assert client.get("/api/v1/stalls/points/9999/availability").status_code == 404


# -- booking ----------------------------------------------------------------------------------
def test_book_stall_numbers_code_and_my_bookings(client):
    point = make_point(capacity=2)
    _, first = farmer_with_headers()
    _, second = farmer_with_headers()
    _, third = farmer_with_headers()
    key = uuid.uuid4().hex
    resp = book(client, first, point, key=key)
    assert resp.status_code == 201, resp.get_json()
    body = resp.get_json()
    assert body["status"] == "confirmed" and body["stall_number"] == 1
    assert body["checkin_code"].startswith("XHB1.")
    assert body["free_cancel_until"].endswith("03:30:00+08:00")
    replay = book(client, first, point, key=key)
    assert replay.status_code == 201 and replay.headers["Idempotent-Replayed"] == "true"
    assert book(client, second, point).get_json()["stall_number"] == 2
    full = book(client, third, point)
    assert full.status_code == 409
    assert full.get_json()["error"] == "full"
    assert full.get_json()["errors"]["waitlist_available"] is True
    assert slot_of(point).booked == 2
    assert count(StallBooking) == 2
    mine = client.get("/api/v1/me/bookings?when=upcoming", headers=first).get_json()
    assert mine["total"] == 1 and mine["items"][0]["point"]["name"] == "东门临时销售点"
    assert client.get("/api/v1/me/bookings", headers=third).get_json()["total"] == 0


@pytest.mark.parametrize(
    "case, status, error",
    [
        ("no_profile", 403, "farmer_profile_required"),
        ("pending", 403, "farmer_not_verified"),
        ("suspended", 403, "farmer_suspended"),
        ("past", 422, "date_past"),
        ("not_open", 409, "booking_not_open"),
        ("unknown_session", 422, "unknown_session"),
        ("unknown_point", 404, "point_not_found"),
        ("closed", 409, "session_closed"),
        ("duplicate", 409, "already_booked"),
        ("inactive_date", 422, "point_not_open_on_date"),
    ],
)
def test_bad_bookings_write_nothing(client, staff, case, status, error):
    point = make_point()
    other = make_point(name="另一个销售点")
    day, session, target = tomorrow(), morning(point), point
    if case == "no_profile":
        headers = auth_headers(make_user())
    else:
        user, headers = farmer_with_headers(status="pending" if case == "pending" else "approved")
    if case == "suspended":
        profile = db.session.scalar(select(FarmerProfile).where(FarmerProfile.user_id == user.id))
        profile.suspended_until = dt.datetime.now(dt.UTC) + dt.timedelta(days=3)
        db.session.commit()
    if case == "past":
        day = local_today() - dt.timedelta(days=1)
    if case == "not_open":
        day = local_today() + dt.timedelta(days=9)
    if case == "unknown_session":
        session = morning(other)
    if case == "unknown_point":
        target = type(point)(id=9999)
        target.sessions = []
    if case == "closed":
        client.post(
            "/api/v1/staff/stalls/closures",
            json={
                "point_id": point.id,
                "date": day.isoformat(),
                "reason_type": "weather",
                "reason": "暴雨",
            },
            headers=auth_headers(staff),
        )
    if case == "duplicate":
        assert book(client, headers, point, session=point.sessions[1]).status_code == 201
    if case == "inactive_date":
        point.active_until = local_today()
        db.session.commit()
    before = count(StallBooking)
    body = {"point_id": target.id, "date": day.isoformat(), "session_id": session.id}
    resp = client.post(
        "/api/v1/stalls/bookings",
        json=body,
        headers={**headers, "Idempotency-Key": uuid.uuid4().hex},
    )
    assert resp.status_code == status, resp.get_json()
    payload = resp.get_json()
    assert payload["error"] == error and payload["message"]
    if case == "suspended":
        assert payload["errors"]["suspended_until"].endswith("+08:00")
    assert count(StallBooking) == before
    slot = slot_of(point, day)
    assert slot is None or slot.booked == before


def test_rolling_seven_day_limit(client):
    point = make_point()
    _, headers = farmer_with_headers()
    days = [local_today() + dt.timedelta(days=n) for n in (1, 2, 3, 4)]
    for day in days[:3]:
        assert book(client, headers, point, day=day).status_code == 201
    resp = book(client, headers, point, day=days[3])
    assert resp.status_code == 409 and resp.get_json()["error"] == "booking_limit_reached"


# -- cancel and waitlist ----------------------------------------------------------------------
def test_cancel_rules(client):
    point = make_point()
    _, headers = farmer_with_headers()
    _, stranger = farmer_with_headers()
    booking = book(client, headers, point).get_json()
    url = f"/api/v1/stalls/bookings/{booking['id']}/cancel"
    assert client.post(url, headers=stranger).status_code == 404
    assert (
        client.get(f"/api/v1/stalls/bookings/{booking['id']}", headers=stranger).status_code == 404
    )
    resp = client.post(url, headers=headers)
    assert resp.status_code == 200 and resp.get_json()["status"] == "cancelled"
    assert resp.get_json()["checkin_code"] is None
    assert slot_of(point).booked == 0
    again = client.post(url, headers=headers)
    assert again.status_code == 409 and again.get_json()["error"] == "booking_not_active"
    # Booking again the same day is allowed after a cancellation.
    assert book(client, headers, point).status_code == 201


def test_late_cancel_and_cancel_after_start(client):
    point = make_point()
    _, headers = farmer_with_headers()
    first = book(client, headers, point).get_json()
    move_slot(slot_of(point).id, dt.timedelta(hours=1))
    resp = client.post(f"/api/v1/stalls/bookings/{first['id']}/cancel", headers=headers)
    assert resp.get_json()["status"] == "cancelled_late"
    profile = client.get("/api/v1/stalls/farmer-profile", headers=headers).get_json()
    assert profile["strikes"] == 1
    other_day = local_today() + dt.timedelta(days=2)
    second = book(client, headers, point, day=other_day).get_json()
    move_slot(slot_of(point, other_day).id, -dt.timedelta(minutes=5))
    resp = client.post(f"/api/v1/stalls/bookings/{second['id']}/cancel", headers=headers)
    assert resp.status_code == 409 and resp.get_json()["error"] == "cancel_after_start"
    assert slot_of(point, other_day).booked == 1


def test_waitlist_promotion_on_cancel(client):
    point = make_point(capacity=1)
    _, first_h = farmer_with_headers()
    second, second_h = farmer_with_headers()
    _, third_h = farmer_with_headers()
    resp = wait(client, second_h, point)
    assert resp.status_code == 409 and resp.get_json()["error"] == "places_available"
    booking = book(client, first_h, point).get_json()
    entry = wait(client, second_h, point)
    assert entry.status_code == 201 and entry.get_json()["position"] == 1
    assert wait(client, second_h, point).get_json()["error"] == "already_waiting"
    assert wait(client, third_h, point).get_json()["position"] == 2
    assert wait(client, first_h, point).get_json()["error"] == "already_booked"

    client.post(f"/api/v1/stalls/bookings/{booking['id']}/cancel", headers=first_h)
    mine = client.get("/api/v1/me/bookings", headers=second_h).get_json()["items"]
    assert len(mine) == 1
    assert mine[0]["status"] == "confirmed" and mine[0]["source"] == "waitlist"
    assert mine[0]["stall_number"] == 1
    entries = client.get("/api/v1/stalls/waitlist", headers=second_h).get_json()["items"]
    assert entries[0]["status"] == "promoted" and entries[0]["booking_id"] == mine[0]["id"]
    assert (
        client.get("/api/v1/stalls/waitlist", headers=third_h).get_json()["items"][0]["position"]
        == 1
    )
    slot = slot_of(point)
    assert slot.booked == 1
    message = db.session.scalar(select(OutboxMessage).where(OutboxMessage.user_id == second.id))
    assert message.template == "booking_status" and message.event == "waitlist_promoted"
    assert message.data["character_string4"] == "1"
    third_entry = client.get("/api/v1/stalls/waitlist", headers=third_h).get_json()["items"][0]
    assert (
        client.delete(f"/api/v1/stalls/waitlist/{third_entry['id']}", headers=second_h).status_code
        == 404
    )
    assert (
        client.delete(f"/api/v1/stalls/waitlist/{third_entry['id']}", headers=third_h).status_code
        == 204
    )
    assert (
        client.delete(f"/api/v1/stalls/waitlist/{third_entry['id']}", headers=third_h).status_code
        == 409
    )


def test_waiting_farmer_who_cannot_book_is_skipped(client):
    point = make_point(capacity=1)
    _, first_h = farmer_with_headers()
    suspended, suspended_h = farmer_with_headers()
    _, third_h = farmer_with_headers()
    booking = book(client, first_h, point).get_json()
    wait(client, suspended_h, point)
    wait(client, third_h, point)
    profile = db.session.scalar(select(FarmerProfile).where(FarmerProfile.user_id == suspended.id))
    profile.suspended_until = dt.datetime.now(dt.UTC) + dt.timedelta(days=5)
    db.session.commit()
    client.post(f"/api/v1/stalls/bookings/{booking['id']}/cancel", headers=first_h)
    assert client.get("/api/v1/me/bookings", headers=third_h).get_json()["total"] == 1
    assert count(WaitlistEntry, WaitlistEntry.status == "expired") == 1


def test_capacity_change(client, staff):
    point = make_point(capacity=1)
    _, first_h = farmer_with_headers()
    _, second_h = farmer_with_headers()
    book(client, first_h, point)
    wait(client, second_h, point)
    url = f"/api/v1/staff/stalls/sessions/{morning(point).id}/capacity"
    headers = auth_headers(staff)
    resp = client.put(url, json={"date": tomorrow().isoformat(), "capacity": 0}, headers=headers)
    assert resp.status_code == 409 and resp.get_json()["error"] == "capacity_below_booked"
    resp = client.put(url, json={"date": tomorrow().isoformat(), "capacity": 11}, headers=headers)
    assert resp.status_code == 422
    resp = client.put(url, json={"date": tomorrow().isoformat(), "capacity": 2}, headers=headers)
    assert resp.status_code == 200 and resp.get_json()["booked"] == 2  # the waiting farmer got it
    assert (
        client.get("/api/v1/me/bookings", headers=second_h).get_json()["items"][0]["stall_number"]
        == 2
    )


# -- closures ---------------------------------------------------------------------------------
def test_closure_cancels_and_notifies_without_strikes(client, staff):
    point = make_point(capacity=1)
    booked, booked_h = farmer_with_headers()
    waiting, waiting_h = farmer_with_headers()
    evening = book(client, booked_h, point, session=point.sessions[1]).get_json()
    other_day = book(client, waiting_h, point, day=local_today() + dt.timedelta(days=2)).get_json()
    booking = book(client, booked_h, point, day=local_today() + dt.timedelta(days=3)).get_json()
    assert evening["status"] == "confirmed"
    _, filler_h = farmer_with_headers()
    book(client, filler_h, point)
    wait(client, waiting_h, point)
    headers = auth_headers(staff)
    closure = {
        "point_id": point.id,
        "date": tomorrow().isoformat(),
        "reason_type": "weather",
        "reason": "台风红色预警",
    }
    resp = client.post("/api/v1/staff/stalls/closures", json=closure, headers=headers)
    assert resp.status_code == 201, resp.get_json()
    assert resp.get_json()["cancelled_bookings"] == 2
    assert resp.get_json()["cancelled_waiting"] == 1
    assert (
        client.post("/api/v1/staff/stalls/closures", json=closure, headers=headers).status_code
        == 409
    )
    mine = {
        b["id"]: b for b in client.get("/api/v1/me/bookings", headers=booked_h).get_json()["items"]
    }
    assert mine[evening["id"]]["status"] == "cancelled_closure"
    assert mine[booking["id"]]["status"] == "confirmed"  # another day: untouched
    assert slot_of(point).booked == 0 and slot_of(point).closed
    events = {
        (m.user_id, m.event, m.data["thing5"])
        for m in db.session.scalars(
            select(OutboxMessage).where(OutboxMessage.template == "booking_status")
        )
    }
    assert (booked.id, "closure_cancelled", "休市：台风红色预警") in events
    assert (waiting.id, "closure_cancelled", "休市：台风红色预警") in events
    profile = client.get("/api/v1/stalls/farmer-profile", headers=booked_h).get_json()
    assert profile["strikes"] == 0
    resp = book(client, filler_h, point)
    assert resp.status_code == 409 and resp.get_json()["error"] == "session_closed"
    availability = client.get(f"/api/v1/stalls/points/{point.id}/availability").get_json()
    day = next(d for d in availability["days"] if d["date"] == tomorrow().isoformat())
    assert day["sessions"][0]["closed"] and day["sessions"][0]["closure_reason"] == "台风红色预警"
    assert other_day["status"] == "confirmed"

    listed = client.get(
        f"/api/v1/staff/stalls/closures?point_id={point.id}", headers=headers
    ).get_json()
    assert listed["total"] == 1
    assert (
        client.delete(
            f"/api/v1/staff/stalls/closures/{listed['items'][0]['id']}", headers=headers
        ).status_code
        == 204
    )
    assert not slot_of(point).closed
    assert book(client, filler_h, point).status_code == 201


def test_closure_of_past_date_refused(client, staff):
    point = make_point()
    resp = client.post(
        "/api/v1/staff/stalls/closures",
        json={
            "point_id": point.id,
            "date": (local_today() - dt.timedelta(days=1)).isoformat(),
            "reason_type": "works",
            "reason": "道路施工",
        },
        headers=auth_headers(staff),
    )
    assert resp.status_code == 422 and resp.get_json()["error"] == "date_past"
