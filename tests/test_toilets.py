"""Toilet finder: resident search, detail, ratings and reports; staff editing and history."""

import datetime as dt

import pytest
import responses
from sqlalchemy import func, select

from server.extensions import db
from server.models.outbox import OutboxMessage
from server.models.toilets import Toilet, ToiletAudit, ToiletRating, ToiletReport
from server.models.uploads import Upload
from server.services import users as users_service
from server.services.toilets import feedback
from server.util import geo
from server.util import opening_hours as hours
from server.util.clock import CST, utcnow
from tests.conftest import auth_headers, make_user

# Xinmi city centre, on 青屏大街 (GCJ-02).
CENTRE = (34.5318, 113.3850)
NEARBY = "/api/v1/toilets/nearby"
MSG_SEC_CHECK = "https://api.weixin.qq.com/wxa/msg_sec_check"
STABLE_TOKEN = "https://api.weixin.qq.com/cgi-bin/stable_token"


def make_toilet(north_m: float = 0, east_m: float = 0, **overrides) -> Toilet:
    """A toilet ``north_m``/``east_m`` metres from the centre."""
    lat = CENTRE[0] + north_m / 111_195
    lng = CENTRE[1] + east_m / (111_195 * 0.8236)  # cos(34.53°)
    values = {
        "name": "【演示】测试公厕",
        "lat": lat,
        "lng": lng,
        "category": "class_2",
        "opening_hours": "24/7",
        "photo_ids": [],
    }
    values.update(overrides)
    toilet = Toilet(**values)
    db.session.add(toilet)
    db.session.commit()
    return toilet


def nearby(client, **params):
    query = {"lat": CENTRE[0], "lng": CENTRE[1], **params}
    return client.get(NEARBY, query_string=query)


# -- nearby ---------------------------------------------------------------------------------
def test_nearby_sorted_with_distance_walk_time_and_gcj02(client):
    far = make_toilet(north_m=600, name="远")
    near = make_toilet(east_m=100, name="近")
    mid = make_toilet(north_m=-300, name="中")
    body = nearby(client).get_json()
    assert [item["id"] for item in body["items"]] == [near.id, mid.id, far.id]
    first = body["items"][0]
    assert 95 <= first["distance_m"] <= 105
    assert first["walk_minutes"] == 2
    assert first["location"] == {"lat": near.lat, "lng": near.lng, "coord_type": "gcj02"}
    assert first["is_open_now"] is True and first["next_change"] is None
    assert first["facilities"]["third_restroom"] == "unknown"
    assert body["fewer_than_limit"] is True  # 3 < 10
    assert body["count"] == 3 and body["radius_m"] == 1000


def test_nearby_from_wgs84_converts_before_searching(client):
    toilet = make_toilet()
    # A phone standing at the toilet reports GPS (WGS-84) about 600 m off in GCJ-02 terms here.
    wgs_lat, wgs_lng = CENTRE[0] + 0.0010266, CENTRE[1] - 0.0065109
    assert geo.haversine_m(*geo.wgs84_to_gcj02(wgs_lat, wgs_lng), *CENTRE) < 5
    body = client.get(
        NEARBY, query_string={"lat": wgs_lat, "lng": wgs_lng, "coord_type": "wgs84"}
    ).get_json()
    assert body["items"][0]["id"] == toilet.id and body["items"][0]["distance_m"] < 5
    plain = client.get(NEARBY, query_string={"lat": wgs_lat, "lng": wgs_lng}).get_json()
    assert plain["items"][0]["distance_m"] > 550


def test_nearby_fewer_than_limit_offers_nearest_beyond(client):
    inside = make_toilet(east_m=200)
    outside = make_toilet(north_m=2500)
    body = nearby(client, radius=500, limit=5).get_json()
    assert [i["id"] for i in body["items"]] == [inside.id]
    assert body["fewer_than_limit"] is True
    assert [b["id"] for b in body["beyond"]] == [outside.id]
    assert body["message"]
    empty = nearby(client, radius=100, limit=1).get_json()
    assert empty["items"] == [] and empty["beyond"][0]["id"] == inside.id
    assert "没有" in empty["message"]


def test_nearby_closed_shown_as_closed_removed_hidden(client):
    closed = make_toilet(east_m=50, status="temporarily_closed", status_reason="维修")
    make_toilet(east_m=60, status="removed", status_reason="拆除")
    open_one = make_toilet(east_m=300)
    items = nearby(client).get_json()["items"]
    assert [i["id"] for i in items] == [closed.id, open_one.id]
    assert items[0]["is_open_now"] is False and items[0]["status_reason"] == "维修"
    only_open = nearby(client, open_now="true").get_json()["items"]
    assert [i["id"] for i in only_open] == [open_one.id]


def test_nearby_open_now_uses_hours_in_beijing_time(client, monkeypatch):
    day = make_toilet(east_m=100, opening_hours="Mo-Su 06:00-22:00")
    night = make_toilet(east_m=200, opening_hours="22:00-06:00")
    unknown = make_toilet(east_m=300, opening_hours=None)
    # 23:30 Beijing time is 15:30 UTC: a UTC-minded server would call it afternoon.
    late = dt.datetime(2026, 11, 26, 23, 30, tzinfo=CST)
    monkeypatch.setattr("server.services.toilets.search.utcnow", lambda: late.astimezone(dt.UTC))
    body = nearby(client, open_now="true").get_json()
    assert [i["id"] for i in body["items"]] == [night.id]
    assert body["items"][0]["next_change"] == "2026-11-27T06:00:00+08:00"
    everything = {i["id"]: i for i in nearby(client).get_json()["items"]}
    assert everything[day.id]["is_open_now"] is False
    assert everything[day.id]["next_change"] == "2026-11-27T06:00:00+08:00"
    assert everything[unknown.id]["is_open_now"] is None


@pytest.mark.parametrize(
    "param, column",
    [
        ("third_restroom", "third_restroom"),
        ("accessible", "accessible_stall"),
        ("free", "free"),
    ],
)
def test_nearby_facility_filters_need_yes_not_unknown(client, param, column):
    yes = make_toilet(east_m=300, **{column: "yes"})
    make_toilet(east_m=100, **{column: "unknown"})
    make_toilet(east_m=200, **{column: "no"})
    items = nearby(client, **{param: "true"}).get_json()["items"]
    assert [i["id"] for i in items] == [yes.id]


def test_nearby_baby_care_means_room_or_table(client):
    room = make_toilet(east_m=100, mother_baby_room="yes")
    table = make_toilet(east_m=200, changing_table="yes")
    make_toilet(east_m=300)
    items = nearby(client, baby_care="true").get_json()["items"]
    assert [i["id"] for i in items] == [room.id, table.id]


@pytest.mark.parametrize(
    "params, field",
    [
        ({"lat": 91, "lng": 113}, "lat"),
        ({"lat": 34.5, "lng": 181}, "lng"),
        ({"lat": 0, "lng": 0}, "lat"),
        ({"lat": 48.85, "lng": 2.35}, "lng"),  # Paris: outside China
        ({"lat": 1.3, "lng": 103.8}, "lat"),  # Singapore: south of China
        ({"lat": "abc", "lng": 113.3}, "lat"),
        ({"lat": 34.5, "lng": "1e"}, "lng"),
        ({"lat": 34.5, "lng": 113.3, "coord_type": "bd09"}, "coord_type"),
        ({"lat": 34.5, "lng": 113.3, "radius": 5001}, "radius"),
        ({"lat": 34.5, "lng": 113.3, "radius": 10}, "radius"),
        ({"lat": 34.5, "lng": 113.3, "limit": 51}, "limit"),
        ({"lat": 34.5, "lng": 113.3, "limit": 0}, "limit"),
        ({"lng": 113.3}, "lat"),
    ],
)
def test_nearby_bad_input(client, params, field):
    resp = client.get(NEARBY, query_string=params)
    assert resp.status_code == 422
    body = resp.get_json()
    assert body["error"] == "validation_error" and body["message"]
    assert field in body["errors"]["query"]


# -- list, detail ---------------------------------------------------------------------------
def test_list_bbox_paginated_with_etag_and_304(client):
    inside = [make_toilet(east_m=100 * i) for i in range(3)]
    make_toilet(north_m=20_000)
    make_toilet(east_m=150, status="removed", status_reason="拆除")
    west, south = CENTRE[1] - 0.01, CENTRE[0] - 0.01
    bbox = f"{west},{south},{CENTRE[1] + 0.01},{CENTRE[0] + 0.01}"
    resp = client.get("/api/v1/toilets", query_string={"bbox": bbox, "page_size": 2})
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["total"] == 3 and body["has_more"] is True
    assert [i["id"] for i in body["items"]] == [t.id for t in inside[:2]]
    assert "max-age" in resp.headers["Cache-Control"]
    etag = resp.headers["ETag"]
    again = client.get(
        "/api/v1/toilets",
        query_string={"bbox": bbox, "page_size": 2},
        headers={"If-None-Match": etag},
    )
    assert again.status_code == 304 and again.data == b""
    assert again.headers["ETag"] == etag and "max-age" in again.headers["Cache-Control"]
    inside[0].name = "改名"
    db.session.commit()
    changed = client.get(
        "/api/v1/toilets",
        query_string={"bbox": bbox, "page_size": 2},
        headers={"If-None-Match": etag},
    )
    assert changed.status_code == 200 and changed.headers["ETag"] != etag
    whole = client.get("/api/v1/toilets").get_json()
    assert whole["total"] == 4  # the whole city, removed ones aside


@pytest.mark.parametrize(
    "bbox, error",
    [
        ("1,2,3", "validation_error"),
        ("a,b,c,d", "validation_error"),
        ("nan,1,2,3", "validation_error"),
        ("113.3, 34.5,113.4,34.6", "validation_error"),
        ("1e2,34.5,113.4,34.6", "validation_error"),
        ("113.4,34.5,113.3,34.6", "bbox_inverted"),
        ("113.3,34.6,113.4,34.5", "bbox_inverted"),
        ("113,34,116,35", "bbox_too_large"),
        ("2.2,48.8,2.4,48.9", "outside_service_area"),
    ],
)
def test_list_malformed_bbox(client, bbox, error):
    """Malformed per the published pattern: validation_error; well-formed but unusable: its own
    code (the fuzz test holds the two apart)."""
    resp = client.get("/api/v1/toilets", query_string={"bbox": bbox})
    assert resp.status_code == 422
    body = resp.get_json()
    assert body["error"] == error and body["message"]
    assert "bbox" in body["errors"]["query"]


def test_detail_with_week_table_rating_and_reports(client, resident):
    toilet = make_toilet(opening_hours="Mo-Fr 06:00-22:00; Sa,Su 07:00-21:00; PH off")
    other = make_user()
    for user, score in ((resident, 5), (other, 2)):
        feedback.rate(user, toilet.id, cleanliness=score, smell=score, facilities=score)
    feedback.create_report(resident, toilet.id, kind="dirty")
    db.session.commit()
    body = client.get(f"/api/v1/toilets/{toilet.id}").get_json()
    assert body["opening_hours"].startswith("Mo-Fr")
    assert len(body["week"]) == 7
    assert {row["weekday"] for row in body["week"]} == set(hours.WEEKDAYS)
    assert body["rating"]["count"] == 2 and body["rating"]["average"] == 3.5
    assert body["recent_reports"] == 1
    assert body["photos"] == []
    assert client.get("/api/v1/toilets/99999").status_code == 404


def test_detail_shows_the_photos_with_urls_in_order(client, staff):
    first, second = make_upload(staff, n=1), make_upload(staff, n=2)
    toilet = make_toilet(photo_ids=[second.id, first.id])
    photos = client.get(f"/api/v1/toilets/{toilet.id}").get_json()["photos"]
    assert [p["id"] for p in photos] == [second.id, first.id]
    assert photos[0]["url"] == f"http://localhost/media/{second.path}"
    assert photos[0]["thumb_url"] == f"http://localhost/media/{second.thumb_path}"
    db.session.delete(first)  # a photo no longer stored is left out, not an error
    db.session.commit()
    photos = client.get(f"/api/v1/toilets/{toilet.id}").get_json()["photos"]
    assert [p["id"] for p in photos] == [second.id]


def test_week_table_overnight_holidays_and_unknown():
    monday = dt.datetime(2026, 9, 28, 10, tzinfo=CST)
    table = hours.week_table("Mo-Fr 06:00-22:00; Sa,Su 07:00-21:00; PH off", monday)
    assert [row["hours"] for row in table] == [
        "06:00–22:00", "06:00–22:00", "06:00–22:00",
        "不开放",  # 2026-10-01 国庆节
        "06:00–22:00", "07:00–21:00", "07:00–21:00",
    ]  # fmt: skip
    assert table[3]["holiday"] is True and table[3]["date"] == dt.date(2026, 10, 1)
    assert hours.week_table("22:00-02:00", monday)[0]["hours"] == "00:00–02:00, 22:00–24:00"
    assert hours.week_table("24/7", monday)[0]["hours"] == "全天开放"
    assert hours.week_table(None, monday)[0]["hours"] == "未知"


def test_open_state_holiday_and_overnight():
    national_day = dt.datetime(2026, 10, 1, 12, tzinfo=CST)
    rule = "Mo-Fr 08:30-17:30; PH off"
    assert hours.state(rule, "open", national_day).is_open is False
    assert hours.state(rule, "open", national_day + dt.timedelta(days=7)).is_open is True
    one_am = dt.datetime(2026, 10, 6, 1, tzinfo=CST)
    assert hours.state("22:00-02:00", "open", one_am) == hours.OpenState(
        True, dt.datetime(2026, 10, 6, 2, tzinfo=CST)
    )
    assert hours.state("24/7", "temporarily_closed", one_am).is_open is False


# -- ratings --------------------------------------------------------------------------------
def test_rating_requires_login_and_is_one_per_user(client, resident):
    toilet = make_toilet()
    body = {"cleanliness": 4, "smell": 3, "facilities": 5, "comment": "挺干净"}
    assert client.put(f"/api/v1/toilets/{toilet.id}/rating", json=body).status_code == 401
    headers = auth_headers(resident)
    first = client.put(f"/api/v1/toilets/{toilet.id}/rating", json=body, headers=headers)
    assert first.status_code == 200 and first.get_json()["comment_status"] == "visible"
    second = client.put(
        f"/api/v1/toilets/{toilet.id}/rating",
        json={**body, "cleanliness": 1, "comment": None},
        headers=headers,
    )
    assert second.get_json()["id"] == first.get_json()["id"]
    assert db.session.scalar(select(func.count()).select_from(ToiletRating)) == 1
    db.session.refresh(toilet)
    assert toilet.rating_count == 1 and toilet.rating_avg == 3.0
    mine = client.get(f"/api/v1/toilets/{toilet.id}/rating", headers=headers).get_json()
    assert mine["cleanliness"] == 1


@pytest.mark.parametrize(
    "body",
    [
        {"cleanliness": 0, "smell": 3, "facilities": 3},
        {"cleanliness": 6, "smell": 3, "facilities": 3},
        {"cleanliness": 3, "smell": "很好", "facilities": 3},
        {"cleanliness": 3, "smell": 3},
        {"cleanliness": 3, "smell": 3, "facilities": 3, "comment": "长" * 201},
    ],
)
def test_rating_bad_input_writes_nothing(client, resident, body):
    toilet = make_toilet()
    resp = client.put(
        f"/api/v1/toilets/{toilet.id}/rating", json=body, headers=auth_headers(resident)
    )
    assert resp.status_code == 422
    assert db.session.scalar(select(func.count()).select_from(ToiletRating)) == 0


def test_rating_a_removed_toilet_is_refused(client, resident):
    toilet = make_toilet(status="removed", status_reason="拆除")
    resp = client.put(
        f"/api/v1/toilets/{toilet.id}/rating",
        json={"cleanliness": 3, "smell": 3, "facilities": 3},
        headers=auth_headers(resident),
    )
    assert resp.status_code == 409 and resp.get_json()["error"] == "toilet_removed"


def _mock_sec_check(mocked_wechat, suggest: str) -> None:
    mocked_wechat.post(STABLE_TOKEN, json={"access_token": "AT", "expires_in": 7200})
    mocked_wechat.post(
        MSG_SEC_CHECK,
        json={"errcode": 0, "result": {"suggest": suggest, "label": 100}},
        match=[responses.matchers.query_param_matcher({"access_token": "AT"})],
    )


@pytest.mark.config(WECHAT_MODE="real")
def test_risky_comment_rejected_review_comment_hidden(client, resident, mocked_wechat):
    toilet = make_toilet()
    headers = auth_headers(resident)
    _mock_sec_check(mocked_wechat, "risky")
    body = {"cleanliness": 3, "smell": 3, "facilities": 3, "comment": "不良内容"}
    resp = client.put(f"/api/v1/toilets/{toilet.id}/rating", json=body, headers=headers)
    assert resp.status_code == 422 and resp.get_json()["error"] == "content_risky"
    assert db.session.scalar(select(func.count()).select_from(ToiletRating)) == 0

    mocked_wechat.reset()
    mocked_wechat.post(
        MSG_SEC_CHECK, json={"errcode": 0, "result": {"suggest": "review", "label": 100}}
    )
    resp = client.put(
        f"/api/v1/toilets/{toilet.id}/rating", json={**body, "comment": "待审核"}, headers=headers
    )
    assert resp.status_code == 200 and resp.get_json()["comment_status"] == "hidden"
    public = client.get(f"/api/v1/toilets/{toilet.id}/comments").get_json()
    assert public["items"] == [] and public["total"] == 0


def test_staff_publish_held_comment(client, resident, staff):
    toilet = make_toilet()
    rating = ToiletRating(
        toilet_id=toilet.id,
        user_id=resident.id,
        cleanliness=4,
        smell=4,
        facilities=4,
        comment="需要审核",
        comment_status="hidden",
    )
    db.session.add(rating)
    db.session.commit()
    held = client.get("/api/v1/staff/toilets/comments", headers=auth_headers(staff)).get_json()
    assert [c["id"] for c in held["items"]] == [rating.id]
    resp = client.post(
        f"/api/v1/staff/toilets/comments/{rating.id}/moderate",
        json={"publish": True},
        headers=auth_headers(staff),
    )
    assert resp.status_code == 200
    public = client.get(f"/api/v1/toilets/{toilet.id}/comments").get_json()
    assert [c["comment"] for c in public["items"]] == ["需要审核"]
    assert "user_id" not in public["items"][0]


# -- reports --------------------------------------------------------------------------------
def report(client, user, toilet_id, key="key-00000001", **body):
    headers = {**auth_headers(user), "Idempotency-Key": key}
    return client.post(
        f"/api/v1/toilets/{toilet_id}/reports", json={"kind": "closed", **body}, headers=headers
    )


def make_upload(owner, **overrides) -> Upload:
    values = {
        "owner_id": owner.id,
        "path": f"2026/11/{owner.id}-{utcnow().timestamp()}-{overrides.get('n', 0)}.jpg",
        "thumb_path": "t.jpg",
        "content_type": "image/jpeg",
        "width": 10,
        "height": 10,
        "size_bytes": 100,
        "expires_at": utcnow() + dt.timedelta(hours=1),
    }
    overrides.pop("n", None)
    values.update(overrides)
    upload = Upload(**values)
    db.session.add(upload)
    db.session.commit()
    return upload


def test_report_closed_queued_for_staff_and_resolved_with_notice(client, resident, staff):
    toilet = make_toilet()
    photo = make_upload(resident)
    resp = report(client, resident, toilet.id, note="锁门了", photo_ids=[photo.id])
    assert resp.status_code == 201
    created = resp.get_json()
    assert created["status"] == "open" and created["photo_ids"] == [photo.id]
    assert db.session.get(Upload, photo.id).used_for == "toilet_report"
    replay = report(client, resident, toilet.id, note="锁门了", photo_ids=[photo.id])
    assert replay.status_code == 201 and replay.get_json()["id"] == created["id"]

    queue = client.get(
        "/api/v1/staff/toilets/reports?status=open", headers=auth_headers(staff)
    ).get_json()
    assert [r["id"] for r in queue["items"]] == [created["id"]]
    assert queue["items"][0]["toilet_name"] == toilet.name
    resolve = client.post(
        f"/api/v1/staff/toilets/reports/{created['id']}/resolve",
        json={"outcome": "resolved", "note": "已开门"},
        headers=auth_headers(staff),
    )
    assert resolve.status_code == 200 and resolve.get_json()["status"] == "resolved"
    message = db.session.scalar(select(OutboxMessage))
    assert message.user_id == resident.id and message.template == "toilet_report_result"
    assert all(len(v) <= 20 for v in message.data.values())
    twice = client.post(
        f"/api/v1/staff/toilets/reports/{created['id']}/resolve",
        json={"outcome": "dismissed"},
        headers=auth_headers(staff),
    )
    assert twice.status_code == 409 and twice.get_json()["error"] == "report_closed"


def test_problem_reports_become_public_toilet_complaints(client, resident, staff):
    from server.models.complaints import Complaint
    from server.services.complaints import staff as complaints_staff

    complaints_staff.seed_reference_data()
    db.session.commit()
    toilet = make_toilet(name="【演示】青屏大街公厕", address="青屏大街12号")
    photo = make_upload(resident)
    resp = report(client, resident, toilet.id, kind="dirty", note="地面很脏", photo_ids=[photo.id])
    assert resp.status_code == 201
    complaint = db.session.get(Complaint, resp.get_json()["complaint_id"])
    assert complaint.category.code == "B0301" and complaint.status == "submitted"
    assert complaint.reporter_id == resident.id and complaint.source == "toilet_report"
    assert complaint.description == "【公厕反馈】【演示】青屏大街公厕：不干净。地面很脏"
    assert (complaint.lat, complaint.lng, complaint.address) == (
        toilet.lat,
        toilet.lng,
        "青屏大街12号",
    )
    assert [u.id for u in complaint.report_uploads] == [photo.id]
    assert db.session.get(Upload, photo.id).used_for == "complaint"
    # the case is in the staff queue and the reporter can follow it
    detail = client.get(f"/api/v1/complaints/{complaint.id}", headers=auth_headers(resident))
    assert detail.status_code == 200
    queue = client.get("/api/v1/staff/complaints", headers=auth_headers(staff)).get_json()
    assert complaint.id in [item["id"] for item in queue["items"]]

    # wrong data and confirmations stay with the toilet's editors
    info = report(client, resident, toilet.id, key="key-00000009", kind="info_wrong")
    assert info.status_code == 201 and info.get_json()["complaint_id"] is None
    assert db.session.scalar(select(func.count()).select_from(Complaint)) == 1


def test_report_bad_input_and_removed_toilet(client, resident):
    toilet = make_toilet()
    assert report(client, resident, toilet.id, kind="smelly").status_code == 422
    too_many = report(client, resident, toilet.id, key="key-00000002", photo_ids=[1, 2, 3, 4])
    assert too_many.status_code == 422
    stranger = make_user()
    theirs = make_upload(stranger)
    stolen = report(client, resident, toilet.id, key="key-00000003", photo_ids=[theirs.id])
    assert stolen.status_code == 422 and stolen.get_json()["error"] == "invalid_photos"
    assert db.session.scalar(select(func.count()).select_from(ToiletReport)) == 0

    assert report(client, resident, toilet.id, key="key-00000004").status_code == 201
    again = report(client, resident, toilet.id, key="key-00000005")
    assert again.status_code == 409 and again.get_json()["error"] == "report_duplicate"

    gone = make_toilet(east_m=500, status="removed", status_reason="拆除")
    resp = report(client, resident, gone.id, key="key-00000006")
    assert resp.status_code == 409 and resp.get_json()["error"] == "toilet_removed"
    assert report(client, resident, 99999, key="key-00000007").status_code == 404
    assert db.session.scalar(select(func.count()).select_from(ToiletReport)) == 1


def test_still_accurate_refreshes_verified_at_after_three_people(client):
    old = utcnow() - dt.timedelta(days=400)
    toilet = make_toilet(verified_at=old)
    people = [make_user() for _ in range(3)]
    for n, person in enumerate(people[:2]):
        report(client, person, toilet.id, key=f"confirm-{n:04d}", kind="still_accurate")
    # The same person twice counts once (and is refused the second time).
    dup = report(client, people[0], toilet.id, key="confirm-9999", kind="still_accurate")
    assert dup.status_code == 409
    db.session.refresh(toilet)
    assert toilet.verified_at == old
    report(client, people[2], toilet.id, key="confirm-0002", kind="still_accurate")
    db.session.refresh(toilet)
    assert toilet.verified_at > utcnow() - dt.timedelta(minutes=1)
    audit = db.session.scalar(select(ToiletAudit).where(ToiletAudit.action == "verify"))
    assert audit.actor_id is None and "3位居民" in audit.reason


def test_account_deletion_erases_comments_keeps_scores(client, resident):
    toilet = make_toilet()
    feedback.rate(resident, toilet.id, cleanliness=5, smell=5, facilities=5, comment="我的评论")
    feedback.create_report(resident, toilet.id, kind="dirty", note="地面湿滑")
    db.session.commit()
    users_service.delete_account(resident)
    db.session.commit()
    rating = db.session.scalar(select(ToiletRating))
    assert rating.user_id is None and rating.comment is None and rating.cleanliness == 5
    kept = db.session.scalar(select(ToiletReport))
    assert kept.user_id is None and kept.kind == "dirty"
    db.session.refresh(toilet)
    assert toilet.rating_count == 1


# -- staff ----------------------------------------------------------------------------------
NEW_TOILET = {
    "name": "【演示】平安路新公厕",
    "address": "平安路与青屏大街交叉口",
    "location": {"lat": CENTRE[0], "lng": CENTRE[1], "coord_type": "gcj02"},
    "category": "class_1",
    "opening_hours": "Mo-Su 05:30-23:00",
    "facilities": {"third_restroom": "yes", "accessible_stall": "yes"},
    "stalls": {"male": 4, "female": 6, "accessible": 1},
}


def test_staff_create_update_status_history(client, staff, resident):
    headers = auth_headers(staff)
    assert (
        client.post(
            "/api/v1/staff/toilets", json=NEW_TOILET, headers=auth_headers(resident)
        ).status_code
        == 403
    )
    resp = client.post("/api/v1/staff/toilets", json=NEW_TOILET, headers=headers)
    assert resp.status_code == 201
    created = resp.get_json()
    assert created["facilities"]["third_restroom"] == "yes"
    assert created["facilities"]["mother_baby_room"] == "unknown"  # never "no" by default
    assert created["stalls"] == {"male": 4, "female": 6, "accessible": 1}
    toilet_id = created["id"]

    dup = client.post("/api/v1/staff/toilets", json={**NEW_TOILET, "name": "重复"}, headers=headers)
    assert dup.status_code == 409 and dup.get_json()["error"] == "likely_duplicate"
    assert dup.get_json()["errors"]["duplicates"][0]["toilet_id"] == toilet_id

    patch = client.patch(
        f"/api/v1/staff/toilets/{toilet_id}",
        json={"facilities": {"mother_baby_room": "yes"}, "opening_hours": "24/7"},
        headers=headers,
    )
    assert patch.status_code == 200
    assert patch.get_json()["facilities"]["third_restroom"] == "yes"  # untouched
    assert patch.get_json()["facilities"]["mother_baby_room"] == "yes"

    reopen = (dt.datetime.now(CST).date() + dt.timedelta(days=3)).isoformat()
    closed = client.post(
        f"/api/v1/staff/toilets/{toilet_id}/status",
        json={"status": "temporarily_closed", "reason": "化粪池清掏", "reopen_on": reopen},
        headers=headers,
    )
    assert closed.status_code == 200 and closed.get_json()["is_open_now"] is False
    removed = client.post(
        f"/api/v1/staff/toilets/{toilet_id}/status",
        json={"status": "removed", "reason": "道路拓宽拆除"},
        headers=headers,
    )
    assert removed.get_json()["status"] == "removed"
    public = client.get(f"/api/v1/toilets/{toilet_id}").get_json()
    assert public["status"] == "removed" and public["status_reason"] == "道路拓宽拆除"
    again = client.post(
        f"/api/v1/staff/toilets/{toilet_id}/status",
        json={"status": "removed", "reason": "再次"},
        headers=headers,
    )
    assert again.status_code == 409

    history = client.get(f"/api/v1/staff/toilets/{toilet_id}/history", headers=headers).get_json()
    actions = [entry["action"] for entry in history["items"]]
    assert actions == ["status", "status", "update", "create"]
    assert history["items"][0]["actor"]["id"] == staff.id
    assert history["items"][0]["reason"] == "道路拓宽拆除"
    assert history["items"][2]["changes"] == {
        "opening_hours": ["Mo-Su 05:30-23:00", "24/7"],
        "mother_baby_room": ["unknown", "yes"],
    }


@pytest.mark.parametrize(
    "change, field, error",
    [
        ({"opening_hours": "Mo-Fr 25:00-26:00"}, "opening_hours", "invalid_opening_hours"),
        ({"opening_hours": "周一到周五"}, "opening_hours", "invalid_opening_hours"),
        ({"category": "五类"}, "category", "validation_error"),
        ({"facilities": {"third_restroom": "maybe"}}, "facilities", "validation_error"),
        ({"location": {"lat": 0, "lng": 0}}, "location", "validation_error"),
        ({"location": {"lat": 48.85, "lng": 2.35}}, "location", "validation_error"),
        ({"kind": "sanitation", "access": "customers"}, "access", "access_not_public"),
        ({"stalls": {"male": -1}}, "stalls", "validation_error"),
    ],
)
def test_staff_create_bad_input_writes_nothing(client, staff, change, field, error):
    resp = client.post(
        "/api/v1/staff/toilets", json={**NEW_TOILET, **change}, headers=auth_headers(staff)
    )
    assert resp.status_code == 422
    assert resp.get_json()["error"] == error
    assert field in resp.get_json()["errors"]["json"]
    assert db.session.scalar(select(func.count()).select_from(Toilet)) == 0


@pytest.mark.parametrize(
    "body, error",
    [
        ({"status": "temporarily_closed"}, "reason_required"),
        ({"status": "removed", "reason": " "}, "reason_required"),
        ({"status": "open", "reopen_on": "2030-01-01"}, "reopen_on_not_closed"),
        (
            {"status": "temporarily_closed", "reason": "修", "reopen_on": "2000-01-01"},
            "reopen_on_past",
        ),
        ({"status": "gone", "reason": "x"}, "validation_error"),
    ],
)
def test_status_change_bad_input(client, staff, body, error):
    toilet = make_toilet()
    resp = client.post(
        f"/api/v1/staff/toilets/{toilet.id}/status", json=body, headers=auth_headers(staff)
    )
    assert resp.status_code == 422
    assert resp.get_json()["error"] == error and resp.get_json()["message"]
    db.session.refresh(toilet)
    assert toilet.status == "open"
    assert db.session.scalar(select(func.count()).select_from(ToiletAudit)) == 0


def test_staff_patch_location_is_a_whole_point(client, staff):
    toilet = make_toilet()
    headers = auth_headers(staff)
    url = f"/api/v1/staff/toilets/{toilet.id}"
    half = client.patch(url, json={"location": {"lat": 34.54}}, headers=headers)
    assert half.status_code == 422 and "location" in half.get_json()["errors"]["json"]
    moved = client.patch(url, json={"location": {"lat": 34.54, "lng": 113.39}}, headers=headers)
    assert moved.status_code == 200
    assert moved.get_json()["location"] == {"lat": 34.54, "lng": 113.39, "coord_type": "gcj02"}


@pytest.mark.parametrize(
    "method, path",
    [
        ("get", "/api/v1/toilets/{id}"),
        ("get", "/api/v1/toilets/{id}/comments"),
        ("get", "/api/v1/staff/toilets/{id}"),
        ("post", "/api/v1/staff/toilets/reports/{id}/resolve"),
        ("post", "/api/v1/staff/toilets/comments/{id}/moderate"),
    ],
)
def test_ids_beyond_the_integer_column_are_not_found(client, staff, method, path):
    body = {"outcome": "resolved", "publish": True}
    for huge in (2**31, 2**63, 10**30):
        resp = getattr(client, method)(
            path.format(id=huge),
            json=body if method == "post" else None,
            headers=auth_headers(staff),
        )
        assert resp.status_code == 404, (path, huge)


def test_staff_list_includes_removed(client, staff):
    make_toilet(name="甲")
    make_toilet(east_m=100, name="乙", status="removed", status_reason="拆")
    body = client.get(
        "/api/v1/staff/toilets", query_string={"status": "removed"}, headers=auth_headers(staff)
    ).get_json()
    assert [i["name"] for i in body["items"]] == ["乙"]
