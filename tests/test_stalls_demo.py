"""The issue's "done when" walk-through, in fake-login demo mode, over the API."""

import uuid

from sqlalchemy import select

from server.extensions import db
from server.models.outbox import OutboxMessage
from server.models.stalls import SalesPoint
from tests.stalls_factories import tomorrow


def login(client, name: str) -> dict:
    token = client.post("/api/v1/auth/login", json={"code": f"dev:{name}"}).get_json()["token"]
    return {"Authorization": f"Bearer {token}"}


def post(client, url, headers, body=None):
    return client.post(url, json=body, headers={**headers, "Idempotency-Key": uuid.uuid4().hex})


def test_demo_walkthrough(app, client):
    result = app.test_cli_runner().invoke(args=["demo-data"])
    assert result.exit_code == 0, result.output
    point = db.session.scalar(select(SalesPoint).where(SalesPoint.name.contains("西街")))
    morning = point.sessions[0]
    assert point.name.startswith("【演示】")
    staff = login(client, "staff")
    farmer = login(client, "farmer")
    assert "farmer" in client.get("/api/v1/me", headers=farmer).get_json()["roles"]

    # Two new farmers apply; staff approve them.
    newcomers = []
    for name, phone in (("farmer2", "13900000002"), ("farmer3", "13900000003")):
        headers = login(client, name)
        client.post("/api/v1/me/phone", json={"code": f"dev:{phone}"}, headers=headers)
        resp = client.post(
            "/api/v1/stalls/farmer-profile",
            json={
                "real_name": "李四",
                "township": "城北镇",
                "village": "杏花村",
                "produce_types": ["水果"],
                "self_produce_declared": True,
            },
            headers=headers,
        )
        assert resp.status_code == 201
        review = f"/api/v1/staff/stalls/farmer-profiles/{resp.get_json()['id']}/review"
        assert client.post(review, json={"decision": "approve"}, headers=staff).status_code == 200
        newcomers.append(headers)
    second, third = newcomers

    slot = {"point_id": point.id, "date": tomorrow().isoformat(), "session_id": morning.id}
    first_booking = post(client, "/api/v1/stalls/bookings", farmer, slot)
    assert first_booking.status_code == 201
    assert post(client, "/api/v1/stalls/bookings", third, slot).status_code == 201
    assert post(client, "/api/v1/stalls/bookings", second, slot).get_json()["error"] == "full"
    assert post(client, "/api/v1/stalls/waitlist", second, slot).status_code == 201

    cancel = f"/api/v1/stalls/bookings/{first_booking.get_json()['id']}/cancel"
    assert client.post(cancel, headers=farmer).status_code == 200
    promoted = client.get("/api/v1/me/bookings", headers=second).get_json()["items"][0]
    assert promoted["status"] == "confirmed" and promoted["source"] == "waitlist"

    roster = client.get(
        f"/api/v1/staff/stalls/roster.csv?point_id={point.id}&date={tomorrow()}", headers=staff
    ).get_data(as_text=True)
    assert roster.count("早市") == 2 and "李四" in roster

    closure = {**slot, "reason_type": "weather", "reason": "暴雨橙色预警"}
    resp = client.post("/api/v1/staff/stalls/closures", json=closure, headers=staff)
    assert resp.get_json()["cancelled_bookings"] == 2
    events = [m.event for m in db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))]
    assert events.count("waitlist_promoted") == 1
    assert events.count("closure_cancelled") == 2
