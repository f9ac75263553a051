"""Complaints, the citizen side: categories, filing with photos, idempotency, bad input,
similar cases, following, who sees what, content check, rating, reopening, account deletion.

Factories used by the other ``test_complaints_*`` modules live here too.
"""

import datetime as dt
import os
import uuid

import pytest
from sqlalchemy import func, select

from server.extensions import db
from server.models.complaints import Complaint, ComplaintEvent, ComplaintFollower
from server.models.outbox import OutboxMessage
from server.models.uploads import Upload
from server.models.users import User
from server.services.complaints import cases, staff, workflow
from server.services.complaints import reporter as reporter_service
from server.util.clock import CST, utcnow
from tests.conftest import auth_headers, make_user

API = "https://api.weixin.qq.com"
# People's Square of a small city (GCJ-02), well inside China.
LAT, LNG = 30.2741, 120.1551


# -- factories -----------------------------------------------------------------------------------
@pytest.fixture(autouse=True)
def reference_data(app):
    """Units, categories, office hours and holidays, as the migration loads them."""
    staff.seed_reference_data()
    db.session.commit()


def make_upload(owner: User, **overrides) -> Upload:
    name = os.urandom(8).hex()
    values = {
        "owner_id": owner.id,
        "path": f"2026/11/{name}.jpg",
        "thumb_path": f"2026/11/{name}_t.jpg",
        "content_type": "image/jpeg",
        "width": 1600,
        "height": 1200,
        "size_bytes": 180_000,
        "expires_at": utcnow() + dt.timedelta(hours=24),
    }
    values.update(overrides)
    upload = Upload(**values)
    db.session.add(upload)
    db.session.commit()
    return upload


def complaint_body(photo_ids=(), **overrides) -> dict:
    body = {
        "category": "B0102",
        "description": "人民路与解放路路口污水井盖缺失，夜里很危险",
        "lat": LAT,
        "lng": LNG,
        "coord_type": "gcj02",
        "address": "人民路与解放路交叉口东北角",
        "photo_ids": list(photo_ids),
        "anonymous": False,
        "contact_phone": "13812345678",
    }
    body.update(overrides)
    return body


def file_complaint(client, user, key=None, **overrides):
    headers = {**auth_headers(user), "Idempotency-Key": key or str(uuid.uuid4())}
    return client.post("/api/v1/complaints", json=complaint_body(**overrides), headers=headers)


NEW = object()


def make_complaint(reporter=NEW, category="B0102", now=None, **kwargs) -> Complaint:
    """A submitted complaint made through the service (no HTTP), committed."""
    if reporter is NEW:
        reporter = make_user(nickname="反映人")
    complaint = cases.create_complaint(
        reporter,
        category,
        kwargs.pop("description", "井盖缺失"),
        kwargs.pop("lat", LAT),
        kwargs.pop("lng", LNG),
        kwargs.pop("address", "人民路1号"),
        kwargs.pop("photos", []),
        now=now,
        **kwargs,
    )
    db.session.commit()
    return complaint


def advance(complaint: Complaint, to: str, actor: User, now=None) -> Complaint:
    """Drive a case through the workflow up to status ``to``."""
    now = now or utcnow()
    steps = ["accepted", "dispatched", "resolved", "verified", "closed"]
    for status in steps[: steps.index(to) + 1]:
        if status == "accepted":
            workflow.accept(complaint, actor, now=now)
        elif status == "dispatched":
            workflow.dispatch(complaint, actor, now=now)
        elif status == "resolved":
            photo = make_upload(actor)
            workflow.resolve(complaint, actor, photo_ids=[photo.id], now=now)
        elif status == "verified":
            workflow.verify(complaint, actor, passed=True, now=now)
        elif status == "closed":
            workflow.close(complaint, actor, note="已更换新井盖", now=now)
    db.session.commit()
    return complaint


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


# -- categories ----------------------------------------------------------------------------------
def test_categories_grouped_with_limits_and_etag(client):
    resp = client.get("/api/v1/complaints/categories")
    assert resp.status_code == 200
    groups = resp.get_json()
    assert [g["class_code"] for g in groups if g["kind"] == "component"] == ["01", "02", "03", "04"]
    public = next(g for g in groups if g["kind"] == "component" and g["class_code"] == "03")
    assert public["kind_name"] == "部件" and public["class_name"] == "市容环境"
    toilet = next(c for c in public["categories"] if c["code"] == "B0301")
    assert toilet == {
        "code": "B0301",
        "name": "公共厕所",
        "icon": "toilet",
        "limit_value": 1,
        "limit_unit": "working_days",
        "limit_text": "1个工作日",
    }
    assert "public" in resp.headers["Cache-Control"]
    etag = resp.headers["ETag"]
    again = client.get("/api/v1/complaints/categories", headers={"If-None-Match": etag})
    assert again.status_code == 304


def test_category_edit_changes_etag_and_hides_inactive(client, admin):
    etag = client.get("/api/v1/complaints/categories").headers["ETag"]
    category = cases.category_by_code("S0504")
    resp = client.patch(
        f"/api/v1/staff/complaints/categories/{category.id}",
        json={"active": False},
        headers=auth_headers(admin),
    )
    assert resp.status_code == 200 and resp.get_json()["active"] is False
    resp = client.get("/api/v1/complaints/categories", headers={"If-None-Match": etag})
    assert resp.status_code == 200
    codes = [c["code"] for g in resp.get_json() for c in g["categories"]]
    assert "S0504" not in codes and "S0501" in codes


# -- filing --------------------------------------------------------------------------------------
def test_file_with_three_photos_replayed_five_times_is_one_case(client, resident):
    photos = [make_upload(resident).id for _ in range(3)]
    key = str(uuid.uuid4())
    first = file_complaint(client, resident, key=key, photo_ids=photos)
    assert first.status_code == 201, first.get_json()
    body = first.get_json()
    assert body["status"] == "submitted" and body["status_label"] == "已受理"
    assert [p["id"] for p in body["photos"]] == photos
    assert body["mine"]["contact_phone"] == "13812345678"
    assert body["timeline"][0]["step"] == "提交反映"
    for _ in range(5):
        replay = file_complaint(client, resident, key=key, photo_ids=photos)
        assert replay.status_code == 201
        assert replay.get_json() == body
        assert replay.headers["Idempotent-Replayed"] == "true"
    assert count(Complaint) == 1
    used = db.session.scalars(select(Upload.used_for)).all()
    assert used == ["complaint"] * 3


def test_same_key_other_body_is_422_and_missing_key_is_400(client, resident):
    key = str(uuid.uuid4())
    assert file_complaint(client, resident, key=key).status_code == 201
    resp = file_complaint(client, resident, key=key, description="另一处井盖缺失")
    assert resp.status_code == 422
    assert resp.get_json()["error"] == "idempotency_key_reused"
    resp = client.post("/api/v1/complaints", json=complaint_body(), headers=auth_headers(resident))
    assert resp.status_code == 400
    assert resp.get_json()["error"] == "idempotency_key_required"
    assert count(Complaint) == 1


def test_wgs84_location_stored_as_gcj02(client, resident):
    resp = file_complaint(client, resident, lat=30.2766, lng=120.1501, coord_type="wgs84")
    assert resp.status_code == 201
    body = resp.get_json()
    assert body["coord_type"] == "gcj02"
    assert body["lat"] != 30.2766 and abs(body["lng"] - 120.1501) > 0.003


def test_anonymous_client_cannot_file(client):
    resp = client.post(
        "/api/v1/complaints", json=complaint_body(), headers={"Idempotency-Key": "k" * 16}
    )
    assert resp.status_code == 401


@pytest.mark.parametrize(
    "overrides, field, error",
    [
        ({"category": "B9999"}, "category", "unknown_category"),
        ({"category": "manhole"}, "category", "validation_error"),
        ({"category": None}, "category", "validation_error"),
        ({"description": ""}, "description", "validation_error"),
        ({"description": "   "}, "description", "validation_error"),
        ({"description": "井" * 1001}, "description", "validation_error"),
        ({"lat": 0, "lng": 0}, "lat", "validation_error"),
        ({"lat": 48.8566, "lng": 2.3522}, "lng", "validation_error"),
        ({"lat": 91, "lng": 120}, "lat", "validation_error"),
        ({"lat": "abc"}, "lat", "validation_error"),
        ({"coord_type": "bd09"}, "coord_type", "validation_error"),
        ({"address": ""}, "address", "validation_error"),
        ({"photo_ids": list(range(1, 11))}, "photo_ids", "validation_error"),
        ({"photo_ids": ["a"]}, "photo_ids", "validation_error"),
        ({"contact_phone": "12345"}, "contact_phone", "validation_error"),
    ],
)
def test_bad_input_is_422_and_writes_nothing(client, resident, overrides, field, error):
    resp = file_complaint(client, resident, **overrides)
    assert resp.status_code == 422, resp.get_json()
    body = resp.get_json()
    assert body["error"] == error
    assert body["message"]
    assert field in body["errors"]["json"]
    assert count(Complaint) == 0 and count(ComplaintEvent) == 0


def test_unknown_category_code_of_right_shape(client, resident):
    resp = file_complaint(client, resident, category="S0999")
    assert resp.status_code == 422 and resp.get_json()["error"] == "unknown_category"


@pytest.mark.parametrize("problem", ["someone_else", "expired", "used", "unknown", "duplicate"])
def test_bad_photos_rejected_and_nothing_half_written(client, resident, problem):
    mine = make_upload(resident)
    other = make_user()
    photo_ids = {
        "someone_else": [mine.id, make_upload(other).id],
        "expired": [mine.id, make_upload(resident, expires_at=utcnow()).id],
        "used": [
            mine.id,
            make_upload(resident, used_at=utcnow(), used_for="complaint").id,
        ],
        "unknown": [mine.id, 999_999],
        "duplicate": [mine.id, mine.id],
    }[problem]
    resp = file_complaint(client, resident, photo_ids=photo_ids)
    assert resp.status_code == 422
    assert resp.get_json()["error"] in ("invalid_photos", "duplicate_photos")
    assert count(Complaint) == 0
    assert db.session.get(Upload, mine.id).used_at is None
    # The key was freed: the corrected retry with the same key works.


def test_failed_submission_frees_its_key_for_a_corrected_retry(client, resident):
    key = str(uuid.uuid4())
    assert file_complaint(client, resident, key=key, category="B9999").status_code == 422
    assert file_complaint(client, resident, key=key).status_code == 201


def test_create_complaint_service_usable_without_http(app):
    """The toilets feature files 公厕 problem reports through the service."""
    reporter = make_user()
    photo = make_upload(reporter)
    complaint = cases.create_complaint(
        reporter,
        "B0301",
        "公厕无水洗手",
        LAT,
        LNG,
        "人民公园公厕",
        [photo.id],
        anonymous=True,
        contact_phone=None,
        source="toilets",
    )
    db.session.commit()
    assert complaint.category.name == "公共厕所" and complaint.source == "toilets"
    assert complaint.photos[0].upload_id == photo.id
    with pytest.raises(Exception) as info:
        cases.create_complaint(reporter, "B0301", " ", LAT, LNG, "x", [])
    assert info.value.code == 422


# -- content security check -------------------------------------------------------------------
def _mock_sec_check(mocked_wechat, suggest=None, status=200):
    mocked_wechat.post(
        f"{API}/cgi-bin/stable_token", json={"access_token": "ACCESS", "expires_in": 7200}
    )
    if suggest is None:
        mocked_wechat.post(f"{API}/wxa/msg_sec_check", status=502, body="bad gateway")
    else:
        mocked_wechat.post(
            f"{API}/wxa/msg_sec_check",
            json={"errcode": 0, "result": {"suggest": suggest, "label": 100}},
        )


@pytest.mark.config(WECHAT_MODE="real")
def test_risky_text_refused_with_clear_message(client, resident, mocked_wechat):
    _mock_sec_check(mocked_wechat, "risky")
    resp = file_complaint(client, resident)
    assert resp.status_code == 422
    assert resp.get_json()["error"] == "content_risky"
    assert "违规" in resp.get_json()["message"]
    assert count(Complaint) == 0


@pytest.mark.config(WECHAT_MODE="real")
@pytest.mark.parametrize("suggest", ["review", None])
def test_review_or_unavailable_check_holds_for_staff(
    client, resident, staff, mocked_wechat, suggest
):
    _mock_sec_check(mocked_wechat, suggest)
    resp = file_complaint(client, resident)
    assert resp.status_code == 201
    complaint_id = resp.get_json()["id"]
    assert db.session.get(Complaint, complaint_id).moderation == "held"
    # Only the reporter and staff can see it.
    assert client.get(f"/api/v1/complaints/{complaint_id}").status_code == 404
    mine = client.get(f"/api/v1/complaints/{complaint_id}", headers=auth_headers(resident))
    assert mine.status_code == 200
    queue = client.get("/api/v1/staff/complaints", headers=auth_headers(staff)).get_json()
    assert queue["total"] == 0
    review = client.get("/api/v1/staff/complaints/review", headers=auth_headers(staff))
    assert [c["id"] for c in review.get_json()["items"]] == [complaint_id]
    # Held cases cannot be accepted before a person releases them.
    resp = client.post(
        f"/api/v1/staff/complaints/{complaint_id}/accept", json={}, headers=auth_headers(staff)
    )
    assert resp.status_code == 409
    assert resp.get_json()["errors"]["allowed"] == ["release", "reject"]
    resp = client.post(
        f"/api/v1/staff/complaints/{complaint_id}/release",
        json={"internal_note": "内容正常"},
        headers=auth_headers(staff),
    )
    assert resp.status_code == 200 and resp.get_json()["moderation"] == "ok"
    assert client.get(f"/api/v1/complaints/{complaint_id}").status_code == 200


# -- who sees what ---------------------------------------------------------------------------
def test_reporter_sees_everything_others_a_public_anonymised_view(client, resident, staff):
    resident.nickname = "张三丰"
    resident.phone = "13900001111"
    db.session.commit()
    complaint_id = file_complaint(client, resident, contact_phone="13812345678").get_json()["id"]
    complaint = db.session.get(Complaint, complaint_id)
    workflow.accept(complaint, staff, note="已立案，将尽快处理", internal_note="老城区片区，优先")
    db.session.commit()

    mine = client.get(f"/api/v1/complaints/{complaint_id}", headers=auth_headers(resident))
    body = mine.get_json()
    assert body["mine"]["contact_phone"] == "13812345678"
    assert [e["step"] for e in body["timeline"]] == ["提交反映", "立案"]
    assert body["timeline"][1]["note"] == "已立案，将尽快处理"
    assert body["timeline"][1]["actor"] == "城市管理部门"

    for headers in ({}, auth_headers(make_user())):
        resp = client.get(f"/api/v1/complaints/{complaint_id}", headers=headers)
        assert resp.status_code == 200
        public = resp.get_json()
        assert public["mine"] is None
        assert public["description"] == body["description"]
        raw = resp.get_data(as_text=True)
        for secret in ("13812345678", "13900001111", "张三丰", resident.openid, "优先"):
            assert secret not in raw
    # Even the reporter never sees internal notes.
    assert "优先" not in mine.get_data(as_text=True)


def test_unknown_complaint_is_404(client, resident):
    resp = client.get("/api/v1/complaints/12345", headers=auth_headers(resident))
    assert resp.status_code == 404 and resp.get_json()["error"] == "not_found"


def test_my_complaints_paginated_and_following(client, resident):
    for i in range(3):
        file_complaint(client, resident, description=f"第{i}处井盖缺失")
    other_case = make_complaint(category="S0102")
    client.post(f"/api/v1/complaints/{other_case.id}/follow", headers=auth_headers(resident))
    page = client.get(
        "/api/v1/me/complaints?page=1&page_size=2", headers=auth_headers(resident)
    ).get_json()
    assert page["total"] == 3 and page["has_more"] is True and len(page["items"]) == 2
    assert page["items"][0]["description"] == "第2处井盖缺失"
    following = client.get(
        "/api/v1/me/complaints?scope=following", headers=auth_headers(resident)
    ).get_json()
    assert [c["id"] for c in following["items"]] == [other_case.id]
    bad = client.get("/api/v1/me/complaints?page_size=500", headers=auth_headers(resident))
    assert bad.status_code == 422


# -- similar and following -----------------------------------------------------------------------
def test_similar_finds_open_cases_nearby_of_the_category(client, staff):
    now = utcnow()
    near = make_complaint(category="B0102", lat=LAT + 0.001, lng=LNG)  # ~111 m
    make_complaint(category="B0102", lat=LAT + 0.003, lng=LNG)  # ~333 m
    make_complaint(category="S0102", lat=LAT, lng=LNG)  # other category
    old = make_complaint(category="B0102", now=now - dt.timedelta(days=8))
    closed = make_complaint(category="B0102")
    advance(closed, "closed", staff)
    resp = client.get(f"/api/v1/complaints/similar?lat={LAT}&lng={LNG}&category=B0102")
    assert resp.status_code == 200, resp.get_json()
    found = resp.get_json()
    assert [c["id"] for c in found] == [near.id]
    assert 100 <= found[0]["distance_m"] <= 120
    assert old.id not in [c["id"] for c in found]
    bad = client.get(f"/api/v1/complaints/similar?lat={LAT}&lng={LNG}")
    assert bad.status_code == 422


def test_follow_is_counted_once_and_refused_for_own_or_finished(client, resident, staff):
    complaint = make_complaint(reporter=resident)
    fan = make_user()
    for _ in range(2):
        resp = client.post(f"/api/v1/complaints/{complaint.id}/follow", headers=auth_headers(fan))
        assert resp.status_code == 200
        assert resp.get_json()["follower_count"] == 1 and resp.get_json()["following"] is True
    own = client.post(f"/api/v1/complaints/{complaint.id}/follow", headers=auth_headers(resident))
    assert own.status_code == 409 and own.get_json()["error"] == "own_complaint"
    resp = client.delete(f"/api/v1/complaints/{complaint.id}/follow", headers=auth_headers(fan))
    assert resp.get_json()["follower_count"] == 0
    workflow.reject(db.session.get(Complaint, complaint.id), staff, reason="非城管职责")
    db.session.commit()
    late = client.post(f"/api/v1/complaints/{complaint.id}/follow", headers=auth_headers(fan))
    assert late.status_code == 409 and late.get_json()["error"] == "complaint_finished"


# -- after closure: rating and reopening -----------------------------------------------------------
def test_rating_only_after_closure_once_and_by_the_reporter(client, resident, staff):
    complaint = make_complaint(reporter=resident)
    url = f"/api/v1/complaints/{complaint.id}/rating"
    early = client.post(url, json={"rating": 5}, headers=auth_headers(resident))
    assert early.status_code == 409 and early.get_json()["error"] == "not_closed"
    advance(complaint, "closed", staff)
    assert client.post(url, json={"rating": 6}, headers=auth_headers(resident)).status_code == 422
    assert client.post(url, json={"rating": "5"}, headers=auth_headers(resident)).status_code == 422
    other = client.post(url, json={"rating": 1}, headers=auth_headers(make_user()))
    assert other.status_code == 404
    resp = client.post(
        url, json={"rating": 4, "comment": "处理很及时"}, headers=auth_headers(resident)
    )
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["rating"] == 4 and body["mine"]["rating_comment"] == "处理很及时"
    assert body["mine"]["actions"] == ["reopen"]
    again = client.post(url, json={"rating": 1}, headers=auth_headers(resident))
    assert again.status_code == 409 and again.get_json()["error"] == "already_rated"
    public = client.get(f"/api/v1/complaints/{complaint.id}").get_data(as_text=True)
    assert "处理很及时" not in public


def test_reopen_within_seven_days_counts_as_rework(client, resident, staff):
    complaint = make_complaint(reporter=resident)
    advance(complaint, "closed", staff)
    url = f"/api/v1/complaints/{complaint.id}/reopen"
    assert client.post(url, json={}, headers=auth_headers(resident)).status_code == 422
    other = client.post(url, json={"reason": "没修好"}, headers=auth_headers(make_user()))
    assert other.status_code == 404
    resp = client.post(url, json={"reason": "井盖又丢了"}, headers=auth_headers(resident))
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    assert body["status"] == "dispatched" and body["resolution"] is None
    assert body["timeline"][-1]["step"] == "重新处理"
    assert body["timeline"][-1]["note"] == "井盖又丢了"
    complaint = db.session.get(Complaint, complaint.id)
    assert complaint.rework_count == 1 and complaint.deadline_at > utcnow()


def test_reopen_after_seven_days_refused(client, resident, staff):
    complaint = make_complaint(reporter=resident)
    closed_at = utcnow() - dt.timedelta(days=7, minutes=1)
    advance(complaint, "closed", staff, now=closed_at)
    url = f"/api/v1/complaints/{complaint.id}/reopen"
    resp = client.post(url, json={"reason": "又坏了"}, headers=auth_headers(resident))
    assert resp.status_code == 409
    assert resp.get_json()["error"] == "reopen_expired"
    assert resp.get_json()["errors"]["allowed"] == ["rate"]
    assert db.session.get(Complaint, complaint.id).status == "closed"


def test_reopen_window_boundary_with_pinned_time(app, staff):
    reporter = make_user()
    closed_at = dt.datetime(2026, 11, 2, 10, 0, tzinfo=CST)
    complaint = make_complaint(reporter=reporter, now=closed_at - dt.timedelta(days=1))
    advance(complaint, "closed", staff, now=closed_at)
    reporter_service.reopen(
        complaint, reporter, reason="没修好", now=closed_at + dt.timedelta(days=7)
    )
    assert complaint.status == "dispatched"


# -- account deletion -----------------------------------------------------------------------------
def test_account_deletion_keeps_cases_without_personal_data(client, resident, staff):
    resp = file_complaint(client, resident, contact_phone="13812345678")
    complaint_id = resp.get_json()["id"]
    followed = make_complaint()
    client.post(f"/api/v1/complaints/{followed.id}/follow", headers=auth_headers(resident))
    advance(db.session.get(Complaint, complaint_id), "closed", staff)
    client.post(
        f"/api/v1/complaints/{complaint_id}/rating",
        json={"rating": 2, "comment": "我是张三，电话13812345678"},
        headers=auth_headers(resident),
    )
    assert client.delete("/api/v1/me", headers=auth_headers(resident)).status_code == 204
    db.session.expire_all()
    complaint = db.session.get(Complaint, complaint_id)
    assert complaint.status == "closed" and complaint.description
    assert complaint.reporter_id is None and complaint.contact_phone is None
    assert complaint.rating == 2 and complaint.rating_comment is None
    assert count(ComplaintFollower) == 0
    assert db.session.get(Complaint, followed.id).follower_count == 0
    # Nothing more is queued for the deleted account.
    mine = (
        select(func.count()).select_from(OutboxMessage).where(OutboxMessage.user_id == resident.id)
    )
    before = db.session.scalar(mine)
    workflow.accept(db.session.get(Complaint, followed.id), staff)
    db.session.commit()
    assert db.session.scalar(mine) == before


def test_demo_data_loads_labelled_cases_in_several_states(app):
    make_user(openid="dev_alice")
    runner = app.test_cli_runner()
    result = runner.invoke(args=["demo-data"])
    assert result.exit_code == 0, result.output
    demo = db.session.scalars(select(Complaint).order_by(Complaint.id)).all()
    assert [c.status for c in demo] == ["submitted", "dispatched", "closed"]
    assert all(c.description.startswith("【演示】") for c in demo)
    result = runner.invoke(args=["complaints", "seed"])
    assert result.exit_code == 0 and "categories: +0" in result.output
