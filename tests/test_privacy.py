"""Personal data: nothing secret in any log line during a whole user journey (with real-mode
WeChat mocked), staff views of unmasked data in the access log, account deletion leaving no
personal data anywhere in the database, and CORS closed unless configured."""

import datetime as dt
import io
import logging
import runpy
import time
import types
import uuid
from pathlib import Path

import pytest
from gunicorn.config import Config
from gunicorn.glogging import Logger as GunicornLogger
from PIL import Image
from responses import matchers
from sqlalchemy import select

from server.extensions import db
from server.jobs.tasks import sweep_outbox
from server.models.stalls import FarmerProfile, StallBooking
from server.models.users import User
from server.services.complaints import staff as complaints_staff
from tests.conftest import WECHAT_APPID, WECHAT_SECRET, auth_headers, make_user
from tests.stalls_factories import make_point, move_slot, tomorrow

API = "https://api.weixin.qq.com"
SESSION_KEY = "tiihtNczf5v6AKRyjwEUhQ=="
ACCESS_TOKEN = "ACCESS-TOKEN-9f8e7d6c5b4a"
RESIDENT = {"code": "0a1B2c3D4e5F6g7H8i9J0k", "openid": "oRESIDENT-privacy-0001"}
FARMER = {"code": "0z9Y8x7W6v5U4t3S2r1Q0p", "openid": "oFARMER-privacy-0002"}
RESIDENT_PHONE, FARMER_PHONE = "13912345678", "13787654321"
PHONE_CODES = {"phone-code-resident-77": RESIDENT_PHONE, "phone-code-farmer-88": FARMER_PHONE}
CONTACT_PHONE = "13611112222"
REAL_NAME = "欧阳秀英"
NICKNAME = "隐私测试居民"
TEMPLATES = {
    "complaint_status": "TPL-complaint",
    "farmer_review": "TPL-review",
    "booking_status": "TPL-booking",
    "toilet_report_result": "TPL-toilet",
}
GUNICORN_FORMAT = runpy.run_path(str(Path(__file__).resolve().parent.parent / "gunicorn.conf.py"))[
    "access_log_format"
]


class AccessLog:
    """WSGI middleware writing gunicorn's access line (gunicorn.conf.py's format) per request."""

    def __init__(self, wsgi_app):
        self.wsgi_app = wsgi_app
        self.lines: list[str] = []
        self.logger = GunicornLogger(Config())

    def __call__(self, environ, start_response):
        started = time.perf_counter()
        seen = {}

        def recording_start(status, headers, exc_info=None):
            seen.update(status=status, headers=headers)
            return start_response(status, headers, exc_info)

        body = b"".join(self.wsgi_app(environ, recording_start))
        environ.setdefault("RAW_URI", environ["PATH_INFO"] + "?" + environ["QUERY_STRING"])
        resp = types.SimpleNamespace(status=seen["status"], sent=len(body), headers=seen["headers"])
        request_headers = [
            (key[5:].replace("_", "-"), value)
            for key, value in environ.items()
            if key.startswith("HTTP_")
        ]
        elapsed = dt.timedelta(seconds=time.perf_counter() - started)
        atoms = self.logger.atoms(resp, request_headers, environ, elapsed)
        self.lines.append(GUNICORN_FORMAT % atoms)
        return [body]


def _mock_wechat(mocked):
    for who in (RESIDENT, FARMER):
        mocked.get(
            f"{API}/sns/jscode2session",
            json={"openid": who["openid"], "session_key": SESSION_KEY},
            match=[matchers.query_param_matcher({"js_code": who["code"]}, strict_match=False)],
        )
    mocked.post(
        f"{API}/cgi-bin/stable_token", json={"access_token": ACCESS_TOKEN, "expires_in": 7200}
    )
    for code, phone in PHONE_CODES.items():
        mocked.post(
            f"{API}/wxa/business/getuserphonenumber",
            json={
                "errcode": 0,
                "phone_info": {
                    "phoneNumber": phone,
                    "purePhoneNumber": phone,
                    "countryCode": "86",
                    "watermark": {"timestamp": 1700000000, "appid": WECHAT_APPID},
                },
            },
            match=[matchers.json_params_matcher({"code": code})],
        )
    mocked.post(f"{API}/wxa/msg_sec_check", json={"errcode": 0, "result": {"suggest": "pass"}})
    mocked.post(f"{API}/cgi-bin/message/subscribe/send", json={"errcode": 0, "errmsg": "ok"})


def _jpeg() -> io.BytesIO:
    data = io.BytesIO()
    Image.new("RGB", (64, 48), (10, 120, 30)).save(data, "JPEG")
    data.seek(0)
    return data


def _journey(client, staff_headers) -> dict:
    """Everything a resident, a farmer and staff do; returns the secrets that went by."""
    secrets = {}

    def login(who) -> dict:
        resp = client.post("/api/v1/auth/login", json={"code": who["code"]})
        assert resp.status_code == 200, resp.get_json()
        token = resp.get_json()["token"]
        secrets[f"token-{who['openid']}"] = token
        return {"Authorization": f"Bearer {token}"}

    def ok(resp, status=200):
        assert resp.status_code == status, resp.get_json()
        return resp.get_json()

    # the resident: login, phone, nickname, photo, complaint, toilet rating and report
    resident = login(RESIDENT)
    ok(client.post("/api/v1/me/phone", json={"code": "phone-code-resident-77"}, headers=resident))
    ok(client.patch("/api/v1/me", json={"nickname": NICKNAME}, headers=resident))
    photo = ok(
        client.post(
            "/api/v1/uploads",
            data={"file": (_jpeg(), "p.jpg")},
            headers=resident,
            content_type="multipart/form-data",
        ),
        201,
    )
    complaint = ok(
        client.post(
            "/api/v1/complaints",
            json={
                "category": "B0102",
                "description": "人民路井盖缺失",
                "lat": 30.2741,
                "lng": 120.1551,
                "address": "人民路1号",
                "photo_ids": [photo["id"]],
                "contact_phone": CONTACT_PHONE,
            },
            headers={**resident, "Idempotency-Key": uuid.uuid4().hex},
        ),
        201,
    )
    from tests.test_toilets import make_toilet

    toilet = make_toilet()
    ok(
        client.put(
            f"/api/v1/toilets/{toilet.id}/rating",
            json={"cleanliness": 5, "smell": 4, "facilities": 4, "comment": "很干净"},
            headers=resident,
        )
    )
    ok(
        client.post(
            f"/api/v1/toilets/{toilet.id}/reports",
            json={"kind": "dirty", "note": "地面有水"},
            headers={**resident, "Idempotency-Key": uuid.uuid4().hex},
        ),
        201,
    )
    # the farmer: login, phone, application with a real name, booking, check-in code
    farmer = login(FARMER)
    ok(client.post("/api/v1/me/phone", json={"code": "phone-code-farmer-88"}, headers=farmer))
    profile = ok(
        client.post(
            "/api/v1/stalls/farmer-profile",
            json={
                "real_name": REAL_NAME,
                "township": "城南镇",
                "village": "桃源村",
                "produce_types": ["蔬菜"],
                "self_produce_declared": True,
            },
            headers=farmer,
        ),
        201,
    )
    # staff: verify the farmer, work the case, the roster and the check-in
    ok(client.get(f"/api/v1/staff/stalls/farmer-profiles/{profile['id']}", headers=staff_headers))
    ok(
        client.post(
            f"/api/v1/staff/stalls/farmer-profiles/{profile['id']}/review",
            json={"decision": "approve"},
            headers=staff_headers,
        )
    )
    point = make_point()
    booking = ok(
        client.post(
            "/api/v1/stalls/bookings",
            json={
                "point_id": point.id,
                "date": tomorrow().isoformat(),
                "session_id": point.sessions[0].id,
            },
            headers={**farmer, "Idempotency-Key": uuid.uuid4().hex},
        ),
        201,
    )
    move_slot(db.session.get(StallBooking, booking["id"]).slot_id, dt.timedelta(minutes=10))
    code = ok(client.get(f"/api/v1/stalls/bookings/{booking['id']}", headers=farmer))
    secrets["checkin-code"] = code["checkin_code"]
    roster = f"point_id={point.id}&date={tomorrow().isoformat()}"
    ok(client.get(f"/api/v1/staff/stalls/roster?{roster}", headers=staff_headers))
    ok(client.get(f"/api/v1/staff/stalls/roster.csv?{roster}", headers=staff_headers))
    ok(
        client.post(
            "/api/v1/staff/stalls/checkin",
            json={"code": code["checkin_code"]},
            headers=staff_headers,
        )
    )
    ok(client.get(f"/api/v1/staff/complaints/{complaint['id']}", headers=staff_headers))
    ok(
        client.post(
            f"/api/v1/staff/complaints/{complaint['id']}/accept", json={}, headers=staff_headers
        )
    )
    assert sweep_outbox.call_local() >= 1  # notifications delivered (WeChat mocked)
    return {"resident": resident, "farmer": farmer, "profile_id": profile["id"], **secrets}


@pytest.mark.config(WECHAT_MODE="real", WECHAT_TEMPLATES=TEMPLATES)
def test_no_secret_or_personal_data_in_any_log_line(app, client, caplog, mocked_wechat, staff):
    complaints_staff.seed_reference_data()
    db.session.commit()
    _mock_wechat(mocked_wechat)
    access = AccessLog(app.wsgi_app)
    app.wsgi_app = access
    caplog.set_level(logging.DEBUG)
    # Every logger, not only those that propagate to the root one pytest listens to.
    for name in list(logging.root.manager.loggerDict):
        logging.getLogger(name).setLevel(logging.DEBUG)

    journey = _journey(client, auth_headers(staff))
    assert client.delete("/api/v1/me", headers=journey["resident"]).status_code == 204

    lines = [(record.name, record.getMessage()) for record in caplog.records]
    lines += [(record.name, f"{record.args!r} {record.__dict__!r}") for record in caplog.records]
    lines += [("gunicorn.access", line) for line in access.lines]
    assert len(access.lines) >= 20 and any("xiuhua.request" in r.name for r in caplog.records)
    forbidden = {
        "app secret": WECHAT_SECRET,
        "session_key": SESSION_KEY,
        "access_token": ACCESS_TOKEN,
        "resident login code": RESIDENT["code"],
        "farmer login code": FARMER["code"],
        "resident phone": RESIDENT_PHONE,
        "farmer phone": FARMER_PHONE,
        "contact phone": CONTACT_PHONE,
        "real name": REAL_NAME,
        "phone code": "phone-code-resident-77",
        **{name: value for name, value in journey.items() if isinstance(value, str)},
    }
    leaks = {name: line for name, value in forbidden.items() for line in lines if value in line}
    assert leaks == {}


def _pii_records(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "xiuhua.pii_access"]


@pytest.mark.config(WECHAT_MODE="real", WECHAT_TEMPLATES=TEMPLATES)
def test_staff_views_of_unmasked_data_are_logged_without_the_values(
    client, caplog, mocked_wechat, staff
):
    complaints_staff.seed_reference_data()
    db.session.commit()
    _mock_wechat(mocked_wechat)
    caplog.set_level(logging.INFO, logger="xiuhua.pii_access")
    journey = _journey(client, auth_headers(staff))
    seen = {(r.subject_type, tuple(r.fields)) for r in _pii_records(caplog)}
    assert seen == {
        ("farmer_profile", ("real_name", "phone")),  # profile review: detail and decision
        ("stall_booking", ("farmer_name", "phone")),  # roster JSON
        ("stall_booking", ("farmer_name",)),  # roster CSV (phones masked)
        ("complaint", ("contact_phone", "reporter")),  # staff case detail and actions
    }
    records = _pii_records(caplog)
    assert {r.staff_id for r in records} == {staff.id}
    assert journey["profile_id"] in {i for r in records for i in r.subject_ids}
    for record in records:
        message = record.getMessage()
        assert f"staff={staff.id}" in message
        assert all(v not in message for v in (REAL_NAME, FARMER_PHONE, CONTACT_PHONE))
    # A resident's own views are not staff access.
    caplog.clear()
    client.get("/api/v1/stalls/farmer-profile", headers=journey["farmer"])
    assert _pii_records(caplog) == []


def _text_values(row) -> list[str]:
    return [str(value) for value in row if value is not None]


@pytest.mark.config(WECHAT_MODE="real", WECHAT_TEMPLATES=TEMPLATES)
def test_account_deletion_leaves_no_personal_data_anywhere(client, mocked_wechat, staff):
    """Complaints, ratings, reports, bookings, uploads, farmer profile, stored answers,
    notifications: after 注销 no table holds the phone, real name, nickname or openid, read
    through the models (so encrypted columns are decrypted) and as raw text."""
    complaints_staff.seed_reference_data()
    db.session.commit()
    _mock_wechat(mocked_wechat)
    journey = _journey(client, auth_headers(staff))
    for who in ("resident", "farmer"):
        assert client.delete("/api/v1/me", headers=journey[who]).status_code == 204
    db.session.expire_all()
    personal = [
        RESIDENT_PHONE,
        FARMER_PHONE,
        CONTACT_PHONE,
        REAL_NAME,
        NICKNAME,
        RESIDENT["openid"],
        FARMER["openid"],
    ]
    found = []
    for table in db.metadata.sorted_tables:
        for row in db.session.execute(select(table)):  # typed: EncryptedString decrypted
            for value in _text_values(row):
                found += [(table.name, p) for p in personal if p in value]
    assert found == []
    # The records others depend on are still there, without the person.
    profile = db.session.scalar(select(FarmerProfile))
    assert profile.erased_at is not None and profile.real_name is None
    deleted = db.session.scalars(select(User).where(User.status == "deleted")).all()
    assert len(deleted) == 2 and all(u.phone is None and u.nickname is None for u in deleted)


# -- CORS --------------------------------------------------------------------------------------
PROBES = [
    ("GET", "/api/v1/toilets/nearby?lat=30.27&lng=120.15"),
    ("OPTIONS", "/api/v1/auth/login"),
    ("POST", "/api/v1/auth/login"),
    ("GET", "/api/v1/me"),
    ("GET", "/api/v1/openapi.json"),
    ("GET", "/healthz"),
]


@pytest.mark.parametrize(("method", "url"), PROBES)
def test_no_cors_headers_by_default(client, method, url):
    resp = client.open(
        url,
        method=method,
        json={"code": "dev:cors"} if method == "POST" else None,
        headers={
            "Origin": "https://evil.example.com",
            "Access-Control-Request-Method": "POST",
            "Authorization": "Bearer x",
        },
    )
    assert resp.status_code < 500
    assert not [k for k, _ in resp.headers.items() if k.lower().startswith("access-control-")]


def test_security_headers_on_every_kind_of_response(client):
    user = make_user()
    for resp in (
        client.get("/api/v1/me", headers=auth_headers(user)),
        client.get("/api/v1/me"),
        client.get("/api/v1/nowhere"),
        client.get("/healthz"),
    ):
        assert resp.headers["X-Content-Type-Options"] == "nosniff"
        assert resp.headers["X-Frame-Options"] == "DENY"
        assert resp.headers["Referrer-Policy"] == "no-referrer"
