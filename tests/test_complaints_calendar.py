"""The working-time calendar: deadlines across lunch, nights, weekends, holidays and 调休 days,
and its upkeep by admins."""

import datetime as dt

import pytest

from server.extensions import db
from server.services.complaints import calendar
from server.util.clock import CST
from tests.conftest import auth_headers
from tests.test_complaints import advance, make_complaint, reference_data  # noqa: F401


def cst(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=CST)


@pytest.mark.parametrize(
    "start, amount, unit, expected",
    [
        # Within one morning.
        (cst(2026, 11, 23, 9, 0), 2, "working_hours", cst(2026, 11, 23, 11, 0)),
        # Across the lunch break (12:00–14:00 does not count).
        (cst(2026, 11, 23, 11, 0), 2, "working_hours", cst(2026, 11, 23, 15, 0)),
        # Friday afternoon + 4 h: 2.5 h on Friday, the weekend skipped, 1.5 h on Monday.
        (cst(2026, 11, 27, 15, 0), 4, "working_hours", cst(2026, 11, 30, 10, 0)),
        # Filed on a Saturday night: the clock starts on Monday morning.
        (cst(2026, 11, 28, 22, 0), 1, "working_hours", cst(2026, 11, 30, 9, 30)),
        # Before office hours: starts at 08:30.
        (cst(2026, 11, 24, 6, 0), 1, "working_hours", cst(2026, 11, 24, 9, 30)),
        # The day before National Day + 4 h: 2 h on 30 Sep, then 1–7 Oct off, 2 h on 8 Oct.
        (cst(2026, 9, 30, 15, 30), 4, "working_hours", cst(2026, 10, 8, 10, 30)),
        # 1 working day from 30 Sep: the holiday week is skipped, due Thursday 8 Oct 17:30.
        (cst(2026, 9, 30, 10, 0), 1, "working_days", cst(2026, 10, 8, 17, 30)),
        # Saturday 10 Oct is a make-up working day (调休): day 1; then Mon 12, Tue 13.
        (cst(2026, 10, 9, 10, 0), 3, "working_days", cst(2026, 10, 13, 17, 30)),
        # Spring Festival: Saturday 14 Feb works (调休), 15–23 Feb off.
        (cst(2026, 2, 13, 16, 0), 4, "working_hours", cst(2026, 2, 14, 11, 0)),
        (cst(2026, 2, 14, 10, 0), 1, "working_days", cst(2026, 2, 24, 17, 30)),
        # An ordinary week: Monday + 3 working days = Thursday.
        (cst(2026, 11, 23, 9, 0), 3, "working_days", cst(2026, 11, 26, 17, 30)),
        # Friday + 1 working day = Monday.
        (cst(2026, 11, 27, 9, 0), 1, "working_days", cst(2026, 11, 30, 17, 30)),
    ],
)
def test_deadlines(app, start, amount, unit, expected):
    assert calendar.deadline(start, amount, unit) == expected


def test_dispatch_uses_the_calendar(app, staff):
    eve = cst(2026, 9, 30, 16, 0)
    complaint = make_complaint(category="B0301", now=eve)  # 公共厕所: 1 working day
    advance(complaint, "dispatched", staff, now=eve)
    assert complaint.deadline_at == cst(2026, 10, 8, 17, 30)


def test_admin_edits_days_and_hours_and_deadlines_follow(client, admin, staff):
    headers = auth_headers(admin)
    # A local holiday on Monday 30 Nov 2026.
    resp = client.put(
        "/api/v1/staff/complaints/calendar/days/2026-11-30",
        json={"kind": "holiday", "name": "地方节日"},
        headers=headers,
    )
    assert resp.status_code == 200 and resp.get_json()["day"] == "2026-11-30"
    assert calendar.deadline(cst(2026, 11, 27, 9, 0), 1, "working_days") == cst(2026, 12, 1, 17, 30)
    year = client.get("/api/v1/staff/complaints/calendar?year=2026", headers=auth_headers(staff))
    days = {d["day"]: d for d in year.get_json()}
    assert days["2026-11-30"]["name"] == "地方节日"
    assert days["2026-10-10"]["kind"] == "workday"
    assert len([d for d in days.values() if d["kind"] == "holiday"]) == 34
    resp = client.delete("/api/v1/staff/complaints/calendar/days/2026-11-30", headers=headers)
    assert resp.status_code == 204
    again = client.delete("/api/v1/staff/complaints/calendar/days/2026-11-30", headers=headers)
    assert again.status_code == 404
    # Summer hours: 08:00–12:00 and 15:00–18:00.
    resp = client.put(
        "/api/v1/staff/complaints/calendar/hours",
        json={
            "periods": [
                {"start_time": "15:00", "end_time": "18:00"},
                {"start_time": "08:00", "end_time": "12:00"},
            ]
        },
        headers=headers,
    )
    assert resp.status_code == 200
    assert resp.get_json()["periods"][0] == {"start_time": "08:00", "end_time": "12:00"}
    assert calendar.deadline(cst(2026, 11, 23, 11, 0), 2, "working_hours") == cst(
        2026, 11, 23, 16, 0
    )


@pytest.mark.parametrize(
    "periods, error",
    [
        ([], "validation_error"),
        ([{"start_time": "09:00", "end_time": "08:00"}], "invalid_work_period"),
        (
            [
                {"start_time": "08:00", "end_time": "12:00"},
                {"start_time": "11:00", "end_time": "17:00"},
            ],
            "overlapping_work_periods",
        ),
        ([{"start_time": "8am", "end_time": "12:00"}], "validation_error"),
        ([{"start_time": "8:00", "end_time": "12:00"}], "validation_error"),
    ],
)
def test_bad_work_hours_rejected(client, admin, periods, error):
    resp = client.put(
        "/api/v1/staff/complaints/calendar/hours",
        json={"periods": periods},
        headers=auth_headers(admin),
    )
    assert resp.status_code == 422
    assert resp.get_json()["error"] == error
    assert len(calendar.list_periods()) == 2


def test_calendar_edits_are_admin_only_and_validated(client, staff, admin):
    url = "/api/v1/staff/complaints/calendar/days/2027-01-01"
    body = {"kind": "holiday", "name": "元旦"}
    assert client.put(url, json=body, headers=auth_headers(staff)).status_code == 403
    bad_kind = client.put(url, json={"kind": "party", "name": "x"}, headers=auth_headers(admin))
    assert bad_kind.status_code == 422
    bad_date = client.put(
        "/api/v1/staff/complaints/calendar/days/2027-13-01", json=body, headers=auth_headers(admin)
    )
    assert bad_date.status_code == 404
    assert client.put(url, json=body, headers=auth_headers(admin)).status_code == 200
    assert (
        client.get(
            "/api/v1/staff/complaints/calendar?year=1999", headers=auth_headers(staff)
        ).status_code
        == 422
    )


def test_missing_office_hours_is_a_clear_409(client, staff, admin):
    calendar.set_periods([])
    db.session.commit()
    hours = client.get("/api/v1/staff/complaints/calendar/hours", headers=auth_headers(staff))
    assert hours.get_json() == {"periods": []}
    complaint = make_complaint()
    advance(complaint, "accepted", staff)
    resp = client.post(
        f"/api/v1/staff/complaints/{complaint.id}/dispatch", json={}, headers=auth_headers(staff)
    )
    assert resp.status_code == 409 and resp.get_json()["error"] == "calendar_not_configured"


def test_seed_is_idempotent_and_keeps_admin_edits(app):
    from server.services.complaints import staff as staff_service

    category = staff_service.list_categories()[0]
    category.limit_value = 8
    db.session.commit()
    assert set(staff_service.seed_reference_data().values()) == {0}
    db.session.refresh(category)
    assert category.limit_value == 8


def test_category_admin_create_and_validation(client, admin, staff):
    headers = auth_headers(admin)
    body = {
        "code": "S0509",
        "class_name": "街面秩序",
        "name": "露天烧烤",
        "icon": "bbq",
        "limit_value": 4,
        "limit_unit": "working_hours",
    }
    assert (
        client.post(
            "/api/v1/staff/complaints/categories", json=body, headers=auth_headers(staff)
        ).status_code
        == 403
    )
    resp = client.post("/api/v1/staff/complaints/categories", json=body, headers=headers)
    assert resp.status_code == 201
    assert resp.get_json()["kind"] == "event" and resp.get_json()["class_code"] == "05"
    dup = client.post("/api/v1/staff/complaints/categories", json=body, headers=headers)
    assert dup.status_code == 409
    for bad in ({"code": "X0101"}, {"limit_value": 0}, {"limit_unit": "weeks"}, {"unit_id": 999}):
        resp = client.post(
            "/api/v1/staff/complaints/categories",
            json={**body, "code": "S0510", **bad},
            headers=headers,
        )
        assert resp.status_code == 422, bad
    resp = client.post("/api/v1/staff/complaints/units", json={"name": "供电公司"}, headers=headers)
    assert resp.status_code == 201
    unit_id = resp.get_json()["id"]
    category_id = next(
        c["id"]
        for c in client.get("/api/v1/staff/complaints/categories", headers=headers).get_json()
        if c["code"] == "B0118"
    )
    resp = client.patch(
        f"/api/v1/staff/complaints/categories/{category_id}",
        json={"unit_id": unit_id, "limit_value": 2},
        headers=headers,
    )
    assert resp.status_code == 200
    assert resp.get_json()["unit_name"] == "供电公司" and resp.get_json()["limit_value"] == 2
    assert resp.get_json()["code"] == "B0118"
    dup_unit = client.post(
        "/api/v1/staff/complaints/units", json={"name": "供电公司"}, headers=headers
    )
    assert dup_unit.status_code == 409
