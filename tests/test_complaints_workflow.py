"""Complaints, the staff side: the 12319 workflow end to end, illegal transitions, roles,
extensions, 回退, merging duplicates, closed-not-fixed, overdue, the queue and notifications."""

import datetime as dt
import threading

import pytest
from sqlalchemy import func, select

from server.extensions import db
from server.jobs.tasks import sweep_outbox
from server.models.complaints import Complaint, ComplaintEvent, ComplaintFollower
from server.models.outbox import OutboxMessage
from server.services.complaints import cases, workflow
from server.services.complaints import staff as staff_service
from server.util.clock import CST, utcnow
from tests.conftest import auth_headers, make_user
from tests.test_complaints import (  # noqa: F401  (reference_data is an autouse fixture)
    API,
    LAT,
    LNG,
    advance,
    file_complaint,
    make_complaint,
    make_upload,
    reference_data,
)

TEMPLATES = {"complaint_status": "TPL-complaint-status"}


def act(client, user, complaint_id, action, **body):
    return client.post(
        f"/api/v1/staff/complaints/{complaint_id}/{action}", json=body, headers=auth_headers(user)
    )


# -- the whole flow ----------------------------------------------------------------------------
@pytest.mark.config(WECHAT_MODE="real", WECHAT_TEMPLATES=TEMPLATES)
def test_full_case_flow_with_timeline_and_notifications(client, resident, staff, mocked_wechat):
    mocked_wechat.post(
        f"{API}/cgi-bin/stable_token", json={"access_token": "ACCESS", "expires_in": 7200}
    )
    mocked_wechat.post(
        f"{API}/wxa/msg_sec_check", json={"errcode": 0, "result": {"suggest": "pass"}}
    )
    sends = mocked_wechat.post(
        f"{API}/cgi-bin/message/subscribe/send", json={"errcode": 0, "errmsg": "ok"}
    )
    photos = [make_upload(resident).id for _ in range(3)]
    complaint_id = file_complaint(client, resident, photo_ids=photos).get_json()["id"]
    follower = make_user(nickname="邻居")
    client.post(f"/api/v1/complaints/{complaint_id}/follow", headers=auth_headers(follower))

    assert act(client, staff, complaint_id, "accept", note="已立案").status_code == 200
    resp = act(client, staff, complaint_id, "dispatch", note="已派市政所")
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["status"] == "dispatched" and body["unit_name"] == "市政设施管理所"
    assert body["deadline_at"].endswith("+08:00")
    after = make_upload(staff)
    resp = act(client, staff, complaint_id, "resolve", photo_ids=[after.id], note="已补装井盖")
    assert resp.status_code == 200
    assert [p["id"] for p in resp.get_json()["resolution_photos"]] == [after.id]
    resp = act(client, staff, complaint_id, "verify", passed=False, note="井盖尺寸不符，需返工")
    assert resp.status_code == 200
    assert resp.get_json()["status"] == "dispatched" and resp.get_json()["rework_count"] == 1
    second = make_upload(staff)
    assert act(client, staff, complaint_id, "resolve", photo_ids=[second.id]).status_code == 200
    assert act(client, staff, complaint_id, "verify", passed=True).status_code == 200
    resp = act(client, staff, complaint_id, "close", note="已更换合格井盖")
    assert resp.status_code == 200
    assert resp.get_json()["status"] == "closed" and resp.get_json()["resolution"] == "fixed"

    timeline = client.get(
        f"/api/v1/complaints/{complaint_id}", headers=auth_headers(resident)
    ).get_json()["timeline"]
    assert [(e["step"], e["status"]) for e in timeline] == [
        ("提交反映", "submitted"),
        ("立案", "accepted"),
        ("派遣", "dispatched"),
        ("处置完成", "resolved"),
        ("核查未通过，返工", "dispatched"),
        ("处置完成", "resolved"),
        ("核查通过", "verified"),
        ("结案", "closed"),
    ]
    assert timeline[4]["note"] == "井盖尺寸不符，需返工"
    assert all(e["created_at"].endswith("+08:00") for e in timeline)

    messages = db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
    events = [m.event for m in messages if m.user_id == resident.id]
    assert events == ["accepted", "dispatched", "resolved", "resolved", "closed"]
    assert [m.event for m in messages if m.user_id == follower.id] == events
    closed = messages[-1]
    assert closed.data["phrase3"] == "已解决" and closed.data["thing2"] == "污水井盖"
    assert closed.page == f"pages/complaints/detail?id={complaint_id}"

    assert sweep_outbox.call_local() == 10
    assert sends.call_count == 10
    assert {m.status for m in db.session.scalars(select(OutboxMessage))} == {"sent"}


@pytest.mark.config(WECHAT_MODE="real", WECHAT_TEMPLATES=TEMPLATES)
def test_failed_sends_never_undo_the_transition(client, staff, mocked_wechat):
    complaint = make_complaint(reporter=None)  # no reporter: no content check call
    refuser, flaky = make_user(), make_user()
    for user in (refuser, flaky):
        cases.follow(complaint.id, user)
    db.session.commit()
    mocked_wechat.post(
        f"{API}/cgi-bin/stable_token", json={"access_token": "ACCESS", "expires_in": 7200}
    )
    mocked_wechat.post(
        f"{API}/cgi-bin/message/subscribe/send",
        json={"errcode": 43101, "errmsg": "user refuse to accept the msg"},
    )
    mocked_wechat.post(f"{API}/cgi-bin/message/subscribe/send", status=502, body="bad gateway")
    resp = act(client, staff, complaint.id, "accept", note="已立案")
    assert resp.status_code == 200
    sweep_outbox.call_local()
    statuses = {
        m.user_id: (m.status, m.last_errcode, m.attempts)
        for m in db.session.scalars(select(OutboxMessage))
    }
    assert statuses[refuser.id] == ("skipped", 43101, 1)  # recorded, not retried
    assert statuses[flaky.id][0] == "pending"  # retried later with backoff
    assert db.session.get(Complaint, complaint.id).status == "accepted"
    # The not-subscribed message is never picked up again.
    sweep_outbox.call_local()
    assert len([c for c in mocked_wechat.calls if "subscribe/send" in c.request.url]) == 2


# -- illegal transitions and roles -------------------------------------------------------------
@pytest.mark.parametrize(
    "status, action, body, allowed",
    [
        ("submitted", "dispatch", {}, ["accept", "reject", "merge"]),
        ("submitted", "close", {}, ["accept", "reject", "merge"]),
        ("accepted", "accept", {}, ["dispatch", "close_unfixed", "merge"]),
        (
            "dispatched",
            "verify",
            {"passed": True},
            ["return", "resolve", "close_unfixed", "merge", "request_extension"],
        ),
        ("resolved", "resolve", {"photo_ids": [1]}, ["verify", "rework", "close_unfixed"]),
        ("verified", "reject", {"reason": "x"}, ["close"]),
        ("closed", "accept", {}, []),
    ],
)
def test_illegal_transition_is_409_with_allowed_steps(client, staff, status, action, body, allowed):
    complaint = make_complaint()
    if status != "submitted":
        advance(complaint, status, staff)
    events_before = len(complaint.events)
    resp = act(client, staff, complaint.id, action, **body)
    assert resp.status_code == 409, resp.get_json()
    assert resp.get_json()["error"] == "illegal_transition"
    assert resp.get_json()["errors"]["allowed"] == allowed
    db.session.expire_all()
    complaint = db.session.get(Complaint, complaint.id)
    assert complaint.status == status and len(complaint.events) == events_before


def test_staff_endpoints_refuse_residents_and_anonymous(client, resident):
    complaint = make_complaint()
    for path in ("accept", "reject", "dispatch", "close"):
        resp = act(client, resident, complaint.id, path, reason="x")
        assert resp.status_code == 403 and resp.get_json()["error"] == "forbidden"
    assert client.get("/api/v1/staff/complaints").status_code == 401
    assert client.get("/api/v1/staff/complaints", headers=auth_headers(resident)).status_code == 403
    assert (
        client.get(
            "/api/v1/staff/stats/complaints?from=2026-11-01&to=2026-11-30",
            headers=auth_headers(resident),
        ).status_code
        == 403
    )
    assert db.session.get(Complaint, complaint.id).status == "submitted"


def test_reject_needs_a_reason_shown_to_the_reporter(client, staff):
    reporter = make_user()
    complaint = make_complaint(reporter=reporter)
    assert act(client, staff, complaint.id, "reject").status_code == 422
    assert act(client, staff, complaint.id, "reject", reason=" ").status_code == 422
    resp = act(client, staff, complaint.id, "reject", reason="属于物业管理范围，请联系物业")
    assert resp.status_code == 200
    view = client.get(f"/api/v1/complaints/{complaint.id}", headers=auth_headers(reporter))
    body = view.get_json()
    assert body["status"] == "rejected" and body["timeline"][-1]["note"].startswith("属于物业")
    message = db.session.scalar(select(OutboxMessage))
    assert message.event == "rejected" and message.user_id == reporter.id


def test_resolve_needs_an_after_photo_of_the_actor(client, staff):
    complaint = make_complaint()
    advance(complaint, "dispatched", staff)
    assert act(client, staff, complaint.id, "resolve", photo_ids=[]).status_code == 422
    someone_elses = make_upload(make_user())
    resp = act(client, staff, complaint.id, "resolve", photo_ids=[someone_elses.id])
    assert resp.status_code == 422 and resp.get_json()["error"] == "invalid_photos"
    assert db.session.get(Complaint, complaint.id).status == "dispatched"


def test_verify_failure_needs_a_reason(client, staff):
    complaint = make_complaint()
    advance(complaint, "resolved", staff)
    resp = act(client, staff, complaint.id, "verify", passed=False)
    assert resp.status_code == 422 and resp.get_json()["error"] == "note_required"
    assert db.session.get(Complaint, complaint.id).status == "resolved"


# -- 回退, dispatch to another unit, close not fixed --------------------------------------------
def test_return_and_redispatch_to_another_unit(client, staff):
    complaint = make_complaint()
    advance(complaint, "dispatched", staff)
    assert act(client, staff, complaint.id, "return").status_code == 422
    resp = act(client, staff, complaint.id, "return", reason="该井盖属电力部门")
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["status"] == "accepted" and body["unit_id"] is None and body["deadline_at"] is None
    unit = staff_unit("城市管理综合执法大队")
    resp = act(client, staff, complaint.id, "dispatch", unit_id=unit.id)
    assert resp.status_code == 200 and resp.get_json()["unit_name"] == unit.name
    bad = act(client, staff, complaint.id, "return", reason="x")
    assert bad.status_code == 200
    assert act(client, staff, complaint.id, "dispatch", unit_id=9999).status_code == 422


def staff_unit(name):
    return next(u for u in staff_service.list_units() if u.name == name)


def test_closed_not_fixed_is_distinct_from_fixed(client, staff):
    complaint = make_complaint()
    advance(complaint, "dispatched", staff)
    resp = act(client, staff, complaint.id, "close-unfixed", reason="私人产权，已告知业主")
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["status"] == "closed" and body["resolution"] == "not_fixed"
    assert body["status_label"] == "已结案（未解决）"
    message = db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id.desc())).first()
    assert message.event == "closed" and message.data["phrase3"] == "未解决结案"


# -- extensions ----------------------------------------------------------------------------------
def test_extension_needs_reason_and_another_staff_member(client, staff, admin):
    monday = dt.datetime(2026, 11, 23, 9, 0, tzinfo=CST)
    complaint = make_complaint(category="B0214", now=monday)  # 3 working days
    advance(complaint, "dispatched", staff, now=monday)
    assert complaint.deadline_at == dt.datetime(2026, 11, 26, 17, 30, tzinfo=CST)
    url = f"/api/v1/staff/complaints/{complaint.id}/extensions"
    bad = client.post(
        url, json={"amount": 2, "limit_unit": "working_days"}, headers=auth_headers(staff)
    )
    assert bad.status_code == 422
    body = {"amount": 2, "limit_unit": "working_days", "reason": "需订购特殊规格人行道板"}
    resp = client.post(url, json=body, headers=auth_headers(staff))
    assert resp.status_code == 201
    extension_id = resp.get_json()["id"]
    assert client.post(url, json=body, headers=auth_headers(staff)).status_code == 409
    pending = client.get("/api/v1/staff/complaints/extensions", headers=auth_headers(admin))
    assert [e["id"] for e in pending.get_json()] == [extension_id]
    decide = f"{url}/{extension_id}/decision"
    own = client.post(decide, json={"approve": True}, headers=auth_headers(staff))
    assert own.status_code == 403 and own.get_json()["error"] == "extension_self_approval"
    resp = client.post(decide, json={"approve": True, "note": "同意"}, headers=auth_headers(admin))
    assert resp.status_code == 200
    # Thursday 17:30 + 2 working days → Monday 30 Nov 17:30 (the weekend does not count).
    assert resp.get_json()["new_deadline_at"] == "2026-11-30T17:30:00+08:00"
    db.session.expire_all()
    assert db.session.get(Complaint, complaint.id).deadline_at == dt.datetime(
        2026, 11, 30, 17, 30, tzinfo=CST
    )
    again = client.post(decide, json={"approve": False}, headers=auth_headers(admin))
    assert again.status_code == 409
    # Extension requests stay internal: not on the reporter's timeline.
    public = client.get(f"/api/v1/complaints/{complaint.id}").get_json()
    assert "申请延期" not in [e["step"] for e in public["timeline"]]
    assert "批准延期" in [e["step"] for e in public["timeline"]]


def test_extension_only_for_dispatched_cases(client, staff):
    complaint = make_complaint()
    resp = client.post(
        f"/api/v1/staff/complaints/{complaint.id}/extensions",
        json={"amount": 1, "limit_unit": "working_days", "reason": "等待"},
        headers=auth_headers(staff),
    )
    assert resp.status_code == 409 and resp.get_json()["errors"]["allowed"]


# -- merging duplicates ----------------------------------------------------------------------------
def test_merge_duplicate_carries_reporter_and_followers(client, staff):
    target = make_complaint()
    duplicate_reporter = make_user()
    duplicate = make_complaint(reporter=duplicate_reporter)
    fan = make_user()
    cases.follow(duplicate.id, fan)
    cases.follow(target.id, fan)
    db.session.commit()
    assert act(client, staff, duplicate.id, "merge", into_id=duplicate.id).status_code == 422
    assert act(client, staff, duplicate.id, "merge", into_id=99999).status_code == 404
    resp = act(client, staff, duplicate.id, "merge", into_id=target.id)
    assert resp.status_code == 200
    assert resp.get_json()["status"] == "merged" and resp.get_json()["merged_into_id"] == target.id
    followers = set(
        db.session.scalars(
            select(ComplaintFollower.user_id).where(ComplaintFollower.complaint_id == target.id)
        )
    )
    assert followers == {fan.id, duplicate_reporter.id}
    assert db.session.get(Complaint, target.id).follower_count == 2
    act(client, staff, target.id, "accept")
    told = {m.user_id for m in db.session.scalars(select(OutboxMessage))}
    assert {target.reporter_id, duplicate_reporter.id, fan.id} <= told
    assert act(client, staff, duplicate.id, "accept").status_code == 409


# -- overdue and the queue -----------------------------------------------------------------------
def test_overdue_flag_and_queue_filters_with_counts(client, staff):
    long_ago = utcnow() - dt.timedelta(days=10)
    late = make_complaint(category="S0102", now=long_ago)
    advance(late, "dispatched", staff, now=long_ago)
    fresh = make_complaint(category="B0102")
    advance(fresh, "dispatched", staff)
    far = make_complaint(category="B0102", lat=LAT + 0.5, lng=LNG)  # submitted, far away
    headers = auth_headers(staff)

    resp = client.get("/api/v1/staff/complaints?overdue=true", headers=headers)
    body = resp.get_json()
    assert [c["id"] for c in body["items"]] == [late.id]
    assert body["items"][0]["overdue"] is True
    assert body["counts"] == {"by_status": {"dispatched": 2, "submitted": 1}, "overdue": 1}
    detail = client.get(f"/api/v1/complaints/{late.id}").get_json()
    assert detail["overdue"] is True

    def ids(query):
        items = client.get(f"/api/v1/staff/complaints?{query}", headers=headers).get_json()
        return sorted(c["id"] for c in items["items"])

    assert len(ids("")) == 3
    assert ids("status=dispatched&category=B0102") == [fresh.id]
    unit = staff_unit("环境卫生管理所")
    assert ids(f"unit_id={unit.id}") == [late.id]
    today = utcnow().astimezone(CST).date()
    assert ids(f"date_from={today}") == sorted([fresh.id, far.id])
    assert ids(f"south={LAT - 0.01}&west={LNG - 0.01}&north={LAT + 0.01}&east={LNG + 0.01}") == [
        late.id,
        fresh.id,
    ]
    assert ids("order=deadline")[0] == late.id
    assert len(ids("date_from=0001-01-01&date_to=9999-12-31")) == 3  # any date, no overflow
    for bad in ("status=open", "date_from=2026-12-01&date_to=2026-11-01", "south=30", "page=0"):
        resp = client.get(f"/api/v1/staff/complaints?{bad}", headers=headers)
        assert resp.status_code == 422, bad


def test_staff_detail_shows_contact_and_history(client, staff, resident):
    complaint_id = file_complaint(client, resident, contact_phone="13812345678").get_json()["id"]
    act(client, staff, complaint_id, "accept", internal_note="片区：城东")
    body = client.get(
        f"/api/v1/staff/complaints/{complaint_id}", headers=auth_headers(staff)
    ).get_json()
    assert body["contact_phone"] == "13812345678"
    assert body["reporter"]["id"] == resident.id
    assert body["timeline"][-1]["internal_note"] == "片区：城东"
    assert body["actions"] == ["dispatch", "close_unfixed", "merge"]
    assert (
        db.session.scalar(select(ComplaintEvent.actor_id).where(ComplaintEvent.action == "accept"))
        == staff.id
    )


def test_unknown_case_for_staff_is_404(client, staff):
    assert act(client, staff, 4242, "accept").status_code == 404


def test_workflow_service_runs_without_http(app):
    """Services take ``now``; nothing here touches the network or a request."""
    actor = make_user(role="staff")
    complaint = make_complaint(now=dt.datetime(2026, 9, 30, 9, 0, tzinfo=CST))
    workflow.accept(complaint, actor, now=dt.datetime(2026, 9, 30, 9, 5, tzinfo=CST))
    workflow.dispatch(complaint, actor, now=dt.datetime(2026, 9, 30, 9, 10, tzinfo=CST))
    # 4 working hours from Wednesday 30 Sep 09:10: 09:10–12:00 and 14:00–15:10.
    assert complaint.deadline_at == dt.datetime(2026, 9, 30, 15, 10, tzinfo=CST)
    assert complaint.is_overdue(dt.datetime(2026, 10, 8, 9, 0, tzinfo=CST))
    assert staff_service.queue(page=1, page_size=10, overdue=True)["total"] == 1


def test_simultaneous_staff_actions_move_the_case_once(app):
    """Six officers press "立案" at the same moment: one wins, the others get the 409."""
    complaint_id = make_complaint().id
    officers = [make_user(role="staff") for _ in range(6)]
    headers = [auth_headers(officer) for officer in officers]
    statuses = []
    barrier = threading.Barrier(len(officers))

    def worker(h):
        client = app.test_client()
        barrier.wait()
        statuses.append(
            client.post(
                f"/api/v1/staff/complaints/{complaint_id}/accept", json={}, headers=h
            ).status_code
        )

    threads = [threading.Thread(target=worker, args=(h,)) for h in headers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(statuses) == [200, 409, 409, 409, 409, 409]
    accepts = db.session.scalars(
        select(ComplaintEvent).where(ComplaintEvent.action == "accept")
    ).all()
    assert len(accepts) == 1
    assert db.session.scalar(select(func.count()).select_from(OutboxMessage)) == 1
