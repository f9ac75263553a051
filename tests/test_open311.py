"""Open311 GeoReport v2 at /open311/v2/: every endpoint in JSON and XML, filters, the
90-day / 1000-row defaults, errors in the spec's shape, API keys, and no personal data."""

import datetime as dt
import json
import xml.etree.ElementTree as ET

import pytest
from sqlalchemy import func, insert, select

from server.extensions import db
from server.models.complaints import Complaint, ComplaintCategory, ComplaintEvent
from server.models.open311 import Open311ApiKey, Open311Submission
from server.services import open311 as open311_service
from server.services.complaints import workflow
from server.util import geo
from server.util.clock import utcnow
from server.web.open311 import params
from server.web.open311 import spec as open311_spec
from tests.conftest import auth_headers, make_user
from tests.test_complaints import (  # noqa: F401  (reference_data is an autouse fixture)
    LAT,
    LNG,
    advance,
    make_complaint,
    make_upload,
    reference_data,
)

BASE = "/open311/v2"
REQUEST_FIELDS = [
    "service_request_id",
    "status",
    "status_notes",
    "service_name",
    "service_code",
    "description",
    "agency_responsible",
    "service_notice",
    "requested_datetime",
    "updated_datetime",
    "expected_datetime",
    "address",
    "address_id",
    "zipcode",
    "lat",
    "long",
    "media_url",
]
SERVICE_FIELDS = [
    "service_code",
    "service_name",
    "description",
    "metadata",
    "type",
    "keywords",
    "group",
]
# A WGS-84 point (GPS) in the city: what an Open311 client sends.
WGS_LAT, WGS_LNG = 30.276, 120.150


# -- helpers -------------------------------------------------------------------------------------
def get(client, path, fmt="json", **query):
    resp = client.get(f"{BASE}/{path}.{fmt}", query_string=query)
    return resp, parse(resp, fmt)


def parse(resp, fmt):
    if fmt == "json":
        assert resp.content_type == "application/json; charset=utf-8"
        return resp.get_json()
    assert resp.content_type == "text/xml; charset=utf-8"
    assert resp.data.startswith(b'<?xml version="1.0" encoding="utf-8"?>')
    return ET.fromstring(resp.data)


def issue_key(name="12345 市民热线平台") -> str:
    _, key = open311_service.issue_key(name, None)
    db.session.commit()
    return key


def post_request(client, fmt="json", in_query=(), **form):
    """POST requests with ``form`` as the body; names in ``in_query`` go in the query string."""
    query = {name: form.pop(name) for name in in_query}
    resp = client.post(f"{BASE}/requests.{fmt}", query_string=query, data=form)
    return resp, parse(resp, fmt)


def request_form(key, **overrides):
    form = {
        "api_key": key,
        "service_code": "B0102",
        "lat": str(WGS_LAT),
        "long": str(WGS_LNG),
        "address_string": "人民路与解放路交叉口",
        "description": "污水井盖破损，车辆经过有响声",
        "email": "zhang.san@example.com",
        "first_name": "三",
        "last_name": "张",
        "phone": "13900001111",
        "device_id": "device-42",
        "account_id": "acct-7",
        "media_url": "https://hotline.example.gov.cn/media/abc.jpg",
    }
    form.update(overrides)
    return {k: v for k, v in form.items() if v is not None}


def errors_of(resp, body, fmt):
    if fmt == "json":
        assert isinstance(body, list) and set(body[0]) == {"code", "description"}
        return [(e["code"], e["description"]) for e in body]
    assert body.tag == "errors"
    found = []
    for error in body:
        assert error.tag == "error" and [c.tag for c in error] == ["code", "description"]
        found.append((int(error.find("code").text), error.find("description").text))
    return found


def ids(body) -> list[str]:
    return [item["service_request_id"] for item in body]


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


# -- discovery and services ----------------------------------------------------------------------
def test_discovery_json_and_xml(client):
    resp, body = get(client, "discovery")
    assert resp.status_code == 200
    assert set(body) == {"changeset", "contact", "key_service", "endpoints"}
    endpoint = body["endpoints"][0]
    assert endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"
    assert endpoint["url"] == "http://localhost/open311/v2"
    assert endpoint["type"] == "test"
    assert endpoint["formats"] == ["text/xml", "application/json"]
    assert dt.datetime.fromisoformat(body["changeset"]).utcoffset() == dt.timedelta(hours=8)
    assert resp.headers["Access-Control-Allow-Origin"] == "*"

    resp, root = get(client, "discovery", "xml")
    assert root.tag == "discovery"
    assert [c.tag for c in root] == ["changeset", "contact", "key_service", "endpoints"]
    endpoint = root.find("endpoints/endpoint")
    assert [c.tag for c in endpoint] == ["specification", "url", "changeset", "type", "formats"]
    assert [f.text for f in endpoint.findall("formats/format")] == ["text/xml", "application/json"]


def test_services_list_active_categories(client):
    db.session.scalar(
        select(ComplaintCategory).where(ComplaintCategory.code == "B0101")
    ).active = False
    db.session.commit()
    resp, body = get(client, "services")
    assert resp.status_code == 200
    codes = [s["service_code"] for s in body]
    assert "B0102" in codes and "B0101" not in codes
    cover = next(s for s in body if s["service_code"] == "B0102")
    assert list(cover) == SERVICE_FIELDS
    assert cover["service_name"] == "污水井盖"
    assert cover["metadata"] is False and cover["type"] == "batch"
    assert cover["group"] == "公用设施"
    assert "处置时限" in cover["description"]

    resp, root = get(client, "services", "xml")
    assert root.tag == "services"
    first = root.find("service")
    assert [c.tag for c in first] == SERVICE_FIELDS
    assert first.find("metadata").text == "false"
    assert len(root.findall("service")) == len(body)


@pytest.mark.config(OPEN311_REVIEW_SUBMISSIONS=False)
def test_services_are_realtime_without_review(client):
    _, body = get(client, "services")
    assert {s["type"] for s in body} == {"realtime"}


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_service_definition_has_no_attributes(client, fmt):
    resp, body = get(client, "services/B0102", fmt)
    assert resp.status_code == 200
    if fmt == "json":
        assert body == {"service_code": "B0102", "attributes": []}
    else:
        assert body.tag == "service_definition"
        assert [c.tag for c in body] == ["service_code", "attributes"]
        assert body.find("service_code").text == "B0102" and len(body.find("attributes")) == 0
    resp, body = get(client, "services/X9999", fmt)
    assert resp.status_code == 404
    assert errors_of(resp, body, fmt)[0][0] == 404


# -- reading requests -----------------------------------------------------------------------------
def test_request_fields_json_and_xml(client, staff):
    reporter = make_user(nickname="反映人")
    photo = make_upload(reporter)
    complaint = make_complaint(reporter, description="井盖缺失，夜里很危险", photos=[photo.id])
    advance(complaint, "dispatched", staff)

    resp, body = get(client, f"requests/{complaint.id}")
    assert resp.status_code == 200 and len(body) == 1
    item = body[0]
    assert list(item) == REQUEST_FIELDS
    assert item["service_request_id"] == str(complaint.id)
    assert item["status"] == "open"
    assert item["status_notes"].startswith("处置中")
    assert item["service_code"] == "B0102" and item["service_name"] == "污水井盖"
    assert item["description"] == "井盖缺失，夜里很危险"
    assert item["agency_responsible"] == complaint.unit.name
    expected = dt.datetime.fromisoformat(item["expected_datetime"])
    assert expected == complaint.deadline_at.replace(microsecond=0)
    assert expected.utcoffset() == dt.timedelta(hours=8)
    requested = dt.datetime.fromisoformat(item["requested_datetime"])
    assert requested.utcoffset() == dt.timedelta(hours=8)
    assert abs(requested - complaint.created_at) < dt.timedelta(seconds=1)
    assert item["media_url"] == f"http://localhost/media/{photo.path}"
    # Coordinates go out in WGS-84, as Open311 clients expect: back where GPS would put them.
    wgs_lat, wgs_lng = geo.gcj02_to_wgs84(LAT, LNG)
    assert item["lat"] == pytest.approx(wgs_lat, abs=1e-6)
    assert item["long"] == pytest.approx(wgs_lng, abs=1e-6)
    assert geo.haversine_m(LAT, LNG, item["lat"], item["long"]) > 100  # not the GCJ-02 point

    resp, root = get(client, f"requests/{complaint.id}", "xml")
    assert root.tag == "service_requests"
    request_element = root.find("request")
    assert [c.tag for c in request_element] == REQUEST_FIELDS
    assert request_element.find("status").text == "open"
    assert request_element.find("expected_datetime").text == item["expected_datetime"]
    assert request_element.find("address_id").text is None  # empty element


def test_statuses_map_to_open_and_closed_with_notes(client, staff):
    submitted = make_complaint()
    closed = advance(make_complaint(), "closed", staff)
    rejected = make_complaint()
    workflow.reject(rejected, staff, reason="不属于城管职责，已转交供电部门")
    target = make_complaint()
    duplicate = make_complaint()
    workflow.merge(duplicate, target, staff)
    db.session.commit()
    _, body = get(client, "requests")
    by_id = {item["service_request_id"]: item for item in body}
    assert by_id[str(submitted.id)]["status"] == "open"
    assert by_id[str(submitted.id)]["status_notes"] == "已受理"
    assert by_id[str(submitted.id)]["expected_datetime"] is None
    assert by_id[str(closed.id)]["status"] == "closed"
    assert by_id[str(closed.id)]["status_notes"] == "已结案：已更换新井盖"
    assert by_id[str(rejected.id)]["status"] == "closed"
    assert "转交供电部门" in by_id[str(rejected.id)]["status_notes"]
    assert by_id[str(duplicate.id)]["status"] == "closed"
    assert target.case_no in by_id[str(duplicate.id)]["status_notes"]


def test_xml_stays_well_formed_with_control_characters(client):
    complaint = make_complaint(description="井盖\x01缺失\x1b<b>&amp;</b>")
    _, root = get(client, f"requests/{complaint.id}", "xml")
    assert root.find("request/description").text == "井盖缺失<b>&amp;</b>"
    _, body = get(client, f"requests/{complaint.id}")
    assert body[0]["description"] == "井盖\x01缺失\x1b<b>&amp;</b>"


def test_held_cases_are_not_public(client):
    public = make_complaint()
    held = make_complaint()
    held.moderation = "held"
    db.session.commit()
    _, body = get(client, "requests")
    assert ids(body) == [str(public.id)]
    resp, body = get(client, f"requests/{held.id}")
    assert resp.status_code == 404
    _, body = get(client, "requests", service_request_id=f"{public.id},{held.id}")
    assert ids(body) == [str(public.id)]


def test_filters_by_code_status_and_dates(client, staff):
    now = utcnow()
    cover = make_complaint(category="B0102", now=now - dt.timedelta(days=10))
    dust = make_complaint(category="S0302", now=now - dt.timedelta(days=5))
    closed = make_complaint(category="B0102", now=now - dt.timedelta(days=2))
    advance(closed, "closed", staff)

    def found(**query):
        resp, body = get(client, "requests", **query)
        assert resp.status_code == 200, body
        return set(ids(body))

    everything = {str(cover.id), str(dust.id), str(closed.id)}
    assert found() == everything
    assert found(service_code="B0102") == {str(cover.id), str(closed.id)}
    assert found(service_code="B0102,S0302") == everything
    assert found(status="open") == {str(cover.id), str(dust.id)}
    assert found(status="closed") == {str(closed.id)}
    assert found(status="open,closed") == everything
    six_days = (now - dt.timedelta(days=6)).astimezone(dt.UTC).isoformat()
    assert found(start_date=six_days) == {str(dust.id), str(closed.id)}
    assert found(end_date=six_days) == {str(cover.id)}
    three_days = (now - dt.timedelta(days=3)).replace(tzinfo=None) + dt.timedelta(hours=8)
    assert found(start_date=six_days, end_date=three_days.isoformat()) == {str(dust.id)}
    assert found(service_code="S0302", status="closed") == set()
    # Empty optional parameters are absent.
    assert found(service_code="", status="", start_date="", end_date="", jurisdiction_id="") == (
        everything
    )
    assert found(service_request_id="", status="closed") == {str(closed.id)}


def test_service_request_id_list_overrides_other_filters(client):
    old = make_complaint(now=utcnow() - dt.timedelta(days=200))
    new = make_complaint()
    resp, body = get(
        client, "requests", service_request_id=f"{old.id}, {new.id},999999", status="closed"
    )
    assert resp.status_code == 200
    assert set(ids(body)) == {str(old.id), str(new.id)}


def test_default_window_is_the_last_90_days(client):
    now = utcnow()
    recent = make_complaint(now=now - dt.timedelta(days=89))
    old = make_complaint(now=now - dt.timedelta(days=91))
    _, body = get(client, "requests")
    assert ids(body) == [str(recent.id)]
    ancient = make_complaint(now=now - dt.timedelta(days=150))
    # One end given: the window spans 90 days from it.
    for query, expected in [
        ({"start_date": now - dt.timedelta(days=95)}, [recent, old]),
        ({"start_date": now - dt.timedelta(days=200)}, [ancient]),
        ({"end_date": now - dt.timedelta(days=90)}, [old, ancient]),
    ]:
        _, body = get(client, "requests", **{k: v.isoformat() for k, v in query.items()})
        assert ids(body) == [str(c.id) for c in expected], query


def test_at_most_1000_requests_newest_first(client):
    category_id = db.session.scalar(
        select(ComplaintCategory.id).where(ComplaintCategory.code == "B0102")
    )
    start = utcnow() - dt.timedelta(days=30)
    rows = [
        {
            "category_id": category_id,
            "description": f"井盖 {n}",
            "lat": LAT,
            "lng": LNG,
            "address": "人民路",
            "source": "staff",
            "status": "submitted",
            "created_at": start + dt.timedelta(minutes=n),
            "updated_at": start + dt.timedelta(minutes=n),
        }
        for n in range(1005)
    ]
    db.session.execute(insert(Complaint), rows)
    db.session.commit()
    _, body = get(client, "requests")
    assert len(body) == 1000
    assert body[0]["description"] == "井盖 1004" and body[-1]["description"] == "井盖 5"
    _, root = get(client, "requests", "xml")
    assert len(root.findall("request")) == 1000


# -- errors ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", ["json", "xml"])
@pytest.mark.parametrize(
    "query, fragment",
    [
        ({"status": "pending"}, "status"),
        ({"start_date": "yesterday"}, "start_date"),
        ({"end_date": "2026-13-01"}, "end_date"),
        ({"service_code": "B0102,NOPE"}, "NOPE"),
        ({"service_request_id": "12,abc"}, "service_request_id"),
        ({"start_date": "2026-01-01T00:00:00+08:00", "end_date": "2026-05-01T00:00"}, "90"),
        ({"start_date": "2026-05-01T00:00:00Z", "end_date": "2026-04-01T00:00:00Z"}, "after"),
    ],
)
def test_bad_parameters_are_400_in_the_requested_format(client, fmt, query, fragment):
    resp, body = get(client, "requests", fmt, **query)
    assert resp.status_code == 400
    [(code, description)] = errors_of(resp, body, fmt)
    assert code == 400 and fragment in description


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_not_found_errors(client, fmt):
    for path in ("requests/424242", "requests/abc", "tokens/nope", "services/NOPE", "nothing"):
        resp, body = get(client, path, fmt)
        assert resp.status_code == 404, path
        assert errors_of(resp, body, fmt)[0][0] == 404


def test_unknown_format_and_method(client):
    resp = client.get(f"{BASE}/services.csv")
    assert resp.status_code == 404
    assert resp.get_json()[0]["code"] == 404
    resp = client.post(f"{BASE}/discovery.xml")
    assert resp.status_code == 405 and resp.headers["Allow"] == "GET"
    assert errors_of(resp, ET.fromstring(resp.data), "xml") == [(405, "Method Not Allowed")]


@pytest.mark.config(OPEN311_JURISDICTION_ID="xiuhua.example.gov.cn")
def test_other_jurisdiction_is_404(client):
    resp, _ = get(client, "services", jurisdiction_id="xiuhua.example.gov.cn")
    assert resp.status_code == 200
    resp, body = get(client, "services", "xml", jurisdiction_id="elsewhere")
    assert resp.status_code == 404 and "jurisdiction_id" in errors_of(resp, body, "xml")[0][1]


# -- filing ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_post_files_a_held_case_answered_with_a_token(client, staff, fmt):
    key = issue_key()
    resp, body = post_request(client, fmt, **request_form(key))
    assert resp.status_code == 201
    if fmt == "json":
        [answer] = body
        assert set(answer) == {"token", "service_notice", "account_id"}
        token = answer["token"]
        assert answer["account_id"] is None
    else:
        assert body.tag == "service_requests"
        answer = body.find("request")
        assert [c.tag for c in answer] == ["token", "service_notice", "account_id"]
        token = answer.find("token").text

    complaint = db.session.scalar(select(Complaint))
    assert complaint.source == "open311" and complaint.reporter_id is None
    assert complaint.moderation == "held" and complaint.status == "submitted"
    assert complaint.category.code == "B0102"
    assert complaint.address == "人民路与解放路交叉口"
    # Stored in GCJ-02, like every case; answered in WGS-84 again.
    assert (complaint.lat, complaint.lng) == pytest.approx(geo.wgs84_to_gcj02(WGS_LAT, WGS_LNG))
    submission = db.session.scalar(select(Open311Submission))
    assert submission.token == token and submission.complaint_id == complaint.id

    # Not public yet: in the staff review queue, the token has no id.
    review = client.get("/api/v1/staff/complaints/review", headers=auth_headers(staff))
    assert [c["id"] for c in review.get_json()["items"]] == [complaint.id]
    assert get(client, f"requests/{complaint.id}")[0].status_code == 404
    resp, body = get(client, f"tokens/{token}", fmt)
    assert resp.status_code == 200
    if fmt == "json":
        assert body == [{"service_request_id": None, "token": token}]
    else:
        assert [c.tag for c in body.find("request")] == ["service_request_id", "token"]
        assert body.find("request/service_request_id").text is None

    # A person releases it: the token resolves, the request is public in WGS-84.
    resp = client.post(
        f"/api/v1/staff/complaints/{complaint.id}/release", json={}, headers=auth_headers(staff)
    )
    assert resp.status_code == 200
    _, body = get(client, f"tokens/{token}")
    assert body == [{"service_request_id": str(complaint.id), "token": token}]
    queue = client.get("/api/v1/staff/complaints", headers=auth_headers(staff)).get_json()
    assert [c["id"] for c in queue["items"]] == [complaint.id]
    _, body = get(client, f"requests/{complaint.id}")
    assert body[0]["lat"] == pytest.approx(WGS_LAT, abs=1e-6)
    assert body[0]["long"] == pytest.approx(WGS_LNG, abs=1e-6)
    assert body[0]["media_url"] == "https://hotline.example.gov.cn/media/abc.jpg"


@pytest.mark.config(OPEN311_REVIEW_SUBMISSIONS=False)
def test_post_without_review_answers_the_id_and_is_public(client, staff):
    key = issue_key()
    resp, body = post_request(client, in_query=("api_key",), **request_form(key, media_url=""))
    assert resp.status_code == 201
    [answer] = body
    assert set(answer) == {"service_request_id", "service_notice", "account_id"}
    complaint = db.session.get(Complaint, int(answer["service_request_id"]))
    assert complaint.moderation == "ok" and complaint.source == "open311"
    queue = client.get("/api/v1/staff/complaints", headers=auth_headers(staff)).get_json()
    assert [c["id"] for c in queue["items"]] == [complaint.id]
    detail = client.get(f"/api/v1/staff/complaints/{complaint.id}", headers=auth_headers(staff))
    assert detail.get_json()["source"] == "open311"
    _, listed = get(client, "requests")
    assert ids(listed) == [answer["service_request_id"]]
    assert listed[0]["media_url"] is None


def test_personal_fields_are_accepted_and_never_stored(client, staff):
    key = issue_key()
    resp, _ = post_request(client, **request_form(key))
    assert resp.status_code == 201
    stored = json.dumps(
        [
            [getattr(row, c.key) for c in type(row).__table__.columns]
            for model in (Complaint, ComplaintEvent, Open311Submission)
            for row in db.session.scalars(select(model))
        ],
        default=str,
        ensure_ascii=False,
    )
    for personal in ("zhang.san@example.com", "13900001111", "device-42", "acct-7", "张"):
        assert personal not in stored
    complaint = db.session.scalar(select(Complaint))
    assert complaint.contact_phone is None


@pytest.mark.parametrize(
    "overrides, fragment",
    [
        ({"service_code": None}, "service_code was not provided"),
        ({"service_code": "  "}, "service_code was not provided"),
        ({"service_code": "X9999"}, "not found"),
        ({"lat": None}, "lat and long"),
        ({"long": ""}, "lat and long"),
        ({"lat": "north"}, "lat must be a number"),
        ({"lat": "nan"}, "lat must be between"),
        ({"lat": "48.85", "long": "2.35"}, "inside the jurisdiction"),
        ({"description": None}, "description was not provided"),
        ({"description": "井" * 1001}, "description is too long"),
        ({"media_url": "javascript:alert(1)"}, "media_url"),
    ],
)
def test_bad_submissions_are_400_and_write_nothing(client, overrides, fragment):
    key = issue_key()
    resp, body = post_request(client, **request_form(key, **overrides))
    assert resp.status_code == 400
    [(code, description)] = errors_of(resp, body, "json")
    assert code == 400 and fragment in description
    assert count(Complaint) == 0 and count(Open311Submission) == 0


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_api_key_required_valid_and_not_revoked(client, fmt):
    key = issue_key()
    for form in (request_form(None), request_form(""), request_form("o311_wrong")):
        resp, body = post_request(client, fmt, **form)
        assert resp.status_code == 403
        assert errors_of(resp, body, fmt)[0][0] == 403
    row = db.session.scalar(select(Open311ApiKey))
    open311_service.revoke_key(row)
    db.session.commit()
    resp, body = post_request(client, fmt, **request_form(key))
    assert resp.status_code == 403
    assert count(Complaint) == 0


def test_key_from_query_string_or_form_body_marks_last_use(client):
    key = issue_key()
    assert post_request(client, **request_form(key))[0].status_code == 201
    assert post_request(client, in_query=("api_key",), **request_form(key))[0].status_code == 201
    row = db.session.scalar(select(Open311ApiKey))
    db.session.refresh(row)
    assert row.last_used_at is not None
    assert count(Complaint) == 2


@pytest.mark.config(RATELIMIT_OPEN311_POST="2/minute")
def test_post_is_rate_limited_per_key(client):
    first, second = issue_key("A"), issue_key("B")
    for _ in range(2):
        assert post_request(client, **request_form(first))[0].status_code == 201
    resp, body = post_request(client, "xml", **request_form(first))
    assert resp.status_code == 429 and int(resp.headers["Retry-After"]) >= 1
    assert errors_of(resp, body, "xml")[0][0] == 429
    assert post_request(client, **request_form(second))[0].status_code == 201
    assert count(Complaint) == 3


# -- personal data ---------------------------------------------------------------------------------
def get_paths(complaint_id: int, token: str) -> list[str]:
    """Every GET operation of the endpoint, for a real case and token."""
    return [
        "discovery",
        "services",
        "services/B0102",
        "requests",
        f"requests/{complaint_id}",
        f"tokens/{token}",
    ]


def test_no_personal_data_in_any_response(client, staff):
    reporter = make_user(
        openid="o_secret_openid_123", nickname="王小明", phone="13712345678", role="resident"
    )
    complaint = make_complaint(
        reporter=reporter,
        description="井盖丢了，有事打我电话 13612340000",
        contact_phone="13598765432",
    )
    workflow.accept(complaint, staff, note="已立案", internal_note="反映人王小明情绪激动")
    db.session.commit()
    key = issue_key()
    post_request(client, **request_form(key))
    token = db.session.scalar(select(Open311Submission.token))

    secrets = [
        "o_secret_openid_123",
        "王小明",
        "13712345678",
        "13598765432",
        "13612340000",
        "情绪激动",
        "13900001111",
        "zhang.san@example.com",
        key,
        "hotline.example.gov.cn/media",  # held case: nothing of it is public yet
    ]
    paths = get_paths(complaint.id, token)
    seen = 0
    for fmt in ("json", "xml"):
        for path in paths:
            resp, _ = get(client, path, fmt)
            assert resp.status_code == 200
            text = resp.get_data(as_text=True)
            for secret in secrets:
                assert secret not in text, (path, fmt, secret)
            seen += 1
    _, body = get(client, f"requests/{complaint.id}")
    assert "136****0000" in body[0]["description"]
    assert seen == 12


# -- API keys (admin) ------------------------------------------------------------------------------
def test_admin_issues_lists_and_revokes_keys(client, admin, staff, resident):
    resp = client.post(
        "/api/v1/staff/open311/keys", json={"name": "12345 热线"}, headers=auth_headers(admin)
    )
    assert resp.status_code == 201
    issued = resp.get_json()
    key = issued["key"]
    assert key.startswith("o311_") and issued["active"] is True
    assert issued["created_by"] == admin.id and issued["created_at"].endswith("+08:00")
    row = db.session.get(Open311ApiKey, issued["id"])
    assert row.key_hash == open311_service.hash_key(key) and key not in row.prefix

    listed = client.get("/api/v1/staff/open311/keys", headers=auth_headers(admin)).get_json()
    assert listed["total"] == 1 and "key" not in listed["items"][0]
    assert listed["items"][0]["prefix"] == key[:11]
    assert key not in json.dumps(listed)

    assert post_request(client, **request_form(key))[0].status_code == 201
    resp = client.delete(f"/api/v1/staff/open311/keys/{row.id}", headers=auth_headers(admin))
    assert resp.status_code == 204
    again = client.delete(f"/api/v1/staff/open311/keys/{row.id}", headers=auth_headers(admin))
    assert again.status_code == 204
    assert post_request(client, **request_form(key))[0].status_code == 403
    listed = client.get("/api/v1/staff/open311/keys", headers=auth_headers(admin)).get_json()
    item = listed["items"][0]
    assert item["active"] is False and item["revoked_at"] and item["last_used_at"]

    for user in (staff, resident):
        headers = auth_headers(user)
        assert client.get("/api/v1/staff/open311/keys", headers=headers).status_code == 403
        resp = client.post("/api/v1/staff/open311/keys", json={"name": "x"}, headers=headers)
        assert resp.status_code == 403
    assert client.get("/api/v1/staff/open311/keys").status_code == 401
    for missing in (999, 2**31, 2**70):
        resp = client.delete(f"/api/v1/staff/open311/keys/{missing}", headers=auth_headers(admin))
        assert resp.status_code == 404


@pytest.mark.parametrize("body", [{}, {"name": ""}, {"name": "   "}, {"name": "x" * 65}])
def test_key_needs_a_name(client, admin, body):
    resp = client.post("/api/v1/staff/open311/keys", json=body, headers=auth_headers(admin))
    assert resp.status_code == 422
    assert count(Open311ApiKey) == 0


def test_cli_issues_and_revokes_keys(app):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["open311", "issue-key", "城管数据开放平台"])
    assert result.exit_code == 0, result.output
    key = result.output.split(": ", 1)[1].split()[0]
    row = db.session.scalar(select(Open311ApiKey))
    assert row.key_hash == open311_service.hash_key(key) and row.name == "城管数据开放平台"
    result = runner.invoke(args=["open311", "list-keys"])
    assert row.prefix in result.output and key not in result.output
    result = runner.invoke(args=["open311", "revoke-key", str(row.id)])
    assert result.exit_code == 0
    db.session.refresh(row)
    assert row.revoked_at is not None
    assert open311_service.authenticate(key) is None


# -- coordinates -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "wgs",
    [(39.908823, 116.39747), (31.230416, 121.473701), (22.543099, 114.057868), (30.2741, 120.1551)],
)
def test_gcj02_to_wgs84_inverts_the_forward_transform(wgs):
    back = geo.gcj02_to_wgs84(*geo.wgs84_to_gcj02(*wgs))
    assert geo.haversine_m(*wgs, *back) < 0.01  # under a centimetre


def test_gcj02_to_wgs84_outside_china_is_unchanged():
    assert geo.gcj02_to_wgs84(48.8566, 2.3522) == (48.8566, 2.3522)


# -- demo ------------------------------------------------------------------------------------------
@pytest.mark.config(OPEN311_REVIEW_SUBMISSIONS=False)
def test_demo_data_has_a_working_key(app, client):
    from server.demo.open311 import DEMO_KEY

    result = app.test_cli_runner().invoke(args=["demo-data"])
    assert result.exit_code == 0, result.output
    _, before = get(client, "requests")
    assert before and all(item["description"].startswith("【演示】") for item in before)
    resp, _ = post_request(client, **request_form(DEMO_KEY))
    assert resp.status_code == 201
    _, after = get(client, "requests", "xml")
    assert len(after.findall("request")) == len(before) + 1


# -- OpenAPI description ---------------------------------------------------------------------------
def test_openapi_description_is_served_and_cacheable(client):
    resp = client.get(f"{BASE}/openapi.json")
    assert resp.status_code == 200 and resp.content_type == "application/json"
    spec = resp.get_json()
    assert spec == open311_spec.openapi()
    assert spec["openapi"] == "3.0.3"
    operations = {
        (method.upper(), path.removeprefix(BASE))
        for path, item in spec["paths"].items()
        for method in item
    }
    expected = set()
    for fmt in ("json", "xml"):
        for path in ("discovery", "services", "services/{service_code}", "requests"):
            expected.add(("GET", f"/{path}.{fmt}"))
        expected |= {
            ("GET", f"/requests/{{service_request_id}}.{fmt}"),
            ("GET", f"/tokens/{{token}}.{fmt}"),
            ("POST", f"/requests.{fmt}"),
        }
    assert operations == expected
    xml_types = {
        media
        for path, item in spec["paths"].items()
        if path.endswith(".xml")
        for operation in item.values()
        for answer in operation["responses"].values()
        for media in answer.get("content", {})
    }
    assert xml_types == {"text/xml"}  # what render.document sends (answers' refs aside)
    assert "public" in resp.headers["Cache-Control"]
    assert resp.headers["Access-Control-Allow-Origin"] == "*"
    again = client.get(f"{BASE}/openapi.json", headers={"If-None-Match": resp.headers["ETag"]})
    assert again.status_code == 304
    # The catch-all route answers other methods, not this document.
    resp = client.post(f"{BASE}/openapi.json")
    assert resp.status_code == 405 and resp.headers["Allow"] == "GET"


def test_published_whitespace_is_what_strip_removes():
    # The patterns of required texts are built from WHITESPACE; the view strips str.isspace.
    assert set(params.WHITESPACE) == {chr(c) for c in range(0x110000) if chr(c).isspace()}


@pytest.mark.parametrize(
    "query",
    [
        {"end_date": "0001-01-30T00:00:00Z"},  # the 90 days before it start before year 1
        {"start_date": "9999-12-01T00:00:00Z"},  # the 90 days after it end after 9999
        {"start_date": "0001-01-01T00:00:00+08:00"},  # in UTC: before year 1
        {"end_date": "9999-12-31T23:00:00-05:00", "start_date": "9999-12-01T00:00:00Z"},
    ],
)
def test_dates_at_the_ends_of_the_calendar(client, query):
    make_complaint()
    resp, body = get(client, "requests", **query)
    assert resp.status_code == 200 and body == []
    _, body = get(client, "requests", end_date="9999-12-31T23:59:59-23:59")
    assert body == []


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_every_get_answer_is_open_data(client, fmt):
    """Access-Control-Allow-Origin: * on every GET answer, as the README says."""
    complaint = make_complaint()
    post_request(client, **request_form(issue_key()))
    token = db.session.scalar(select(Open311Submission.token))
    paths = get_paths(complaint.id, token)
    for path in paths:
        resp, _ = get(client, path, fmt)
        assert resp.status_code == 200, path
        assert resp.headers["Access-Control-Allow-Origin"] == "*", path


def test_request_ids_beyond_the_id_column_name_no_request(client):
    # PostgreSQL refused to compare its INTEGER ids with them: a 500.
    complaint = make_complaint()
    listed = f"{complaint.id},{2**31},999999999999,0"
    resp, body = get(client, "requests", service_request_id=listed)
    assert resp.status_code == 200 and ids(body) == [str(complaint.id)]
    for missing in (2**31, 999999999999, 0):
        resp, body = get(client, f"requests/{missing}", "xml")
        assert resp.status_code == 404 and errors_of(resp, body, "xml")[0][0] == 404


def test_filings_anywhere_in_the_published_range_are_accepted(client):
    # The range used to be China's box itself: at its corners GCJ-02 moved the point out of
    # the box, and create_complaint refused it (400 位置不在服务范围内) after our own check.
    key = issue_key()
    (south, north), (west, east) = params.LAT_RANGE, params.LONG_RANGE
    for lat, lng in [(south, west), (south, east), (north, west), (north, east)]:
        resp, body = post_request(client, **request_form(key, lat=str(lat), long=str(lng)))
        assert resp.status_code == 201, body
    resp, body = post_request(client, **request_form(key, lat="3.86", long="73.5"))
    assert resp.status_code == 400
    assert "inside the jurisdiction" in errors_of(resp, body, "json")[0][1]


def test_published_range_stays_inside_china_once_converted():
    (south, north), (west, east) = params.LAT_RANGE, params.LONG_RANGE
    steps = [n / 200 for n in range(201)]
    edges = [(south + (north - south) * t, lng) for t in steps for lng in (west, east)]
    edges += [(lat, west + (east - west) * t) for t in steps for lat in (south, north)]
    assert all(geo.in_china_bbox(*geo.wgs84_to_gcj02(lat, lng)) for lat, lng in edges)


@pytest.mark.config(RATELIMIT_ENABLED=False, RATELIMIT_OPEN311_POST="1/minute")
def test_post_is_not_limited_while_rate_limits_are_off(client):
    # The per-key count ignored the switch; in a process whose first app had it off, Flask-
    # Limiter has no storage at all and every POST was a 500 (AssertionError).
    key = issue_key()
    for _ in range(2):
        assert post_request(client, **request_form(key))[0].status_code == 201


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_request_ids_are_ascii_digits(client, fmt):
    # "²" and "١" are digits to str.isdigit: int("²") raised, a 500.
    complaint = make_complaint()
    for odd in ("²", "١", f"{complaint.id}²"):
        resp, body = get(client, f"requests/{odd}", fmt)
        assert resp.status_code == 404 and errors_of(resp, body, fmt)[0][0] == 404
        resp, body = get(client, "requests", fmt, service_request_id=f"{complaint.id},{odd}")
        assert resp.status_code == 400
        assert "service_request_id" in errors_of(resp, body, fmt)[0][1]


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_any_wrong_api_key_is_403(client, fmt):
    # A key over 128 characters was a 400 ("api_key is too long"): GeoReport says 403.
    issue_key()
    for wrong in ("o311_" + "x" * 200, "o311_\x00", "\u3000o311_x"):
        resp, body = post_request(client, fmt, **request_form(wrong))
        assert resp.status_code == 403, wrong
        assert errors_of(resp, body, fmt)[0][0] == 403
    assert count(Complaint) == 0


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_nul_characters(client, fmt):
    # PostgreSQL refuses NUL in text, even to compare: the lookups and the filings were 500s
    # there (SQLite stored the NUL). A parameter with one is now a 400, as published.
    key = issue_key()
    for path in ("tokens/a\x00b", "services/B01\x0002"):
        resp, body = get(client, path, fmt)
        assert resp.status_code == 404 and errors_of(resp, body, fmt)[0][0] == 404
    for query in ({"service_code": "B01\x0002"}, {"jurisdiction_id": "a\x00"}):
        resp, body = get(client, "requests", fmt, **query)
        assert resp.status_code == 400
        assert "NUL" in errors_of(resp, body, fmt)[0][1]
    for field in ("service_code", "description", "address_string", "media_url"):
        resp, body = post_request(client, fmt, **request_form(key, **{field: "https://a\x00b"}))
        assert resp.status_code == 400, field
        [(_, description)] = errors_of(resp, body, fmt)
        assert description == f"{field} must not contain NUL characters"
    assert count(Complaint) == 0


@pytest.mark.config(MAX_CONTENT_LENGTH=1000)
def test_post_body_too_large_is_413_in_the_spec_shape(client):
    resp, body = post_request(client, "xml", **request_form(issue_key(), description="井" * 900))
    assert resp.status_code == 413
    assert errors_of(resp, body, "xml")[0][0] == 413
    assert count(Complaint) == 0
