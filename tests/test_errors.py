"""Every class of error leaves in the one shape: {code, status, error, message, errors}."""

import pytest
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import fields
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from schemas.common import BaseSchema
from server.app import create_app
from server.core.api import api
from server.extensions import db
from server.http.auth import staff_required
from server.models.users import User
from tests.conftest import auth_headers, base_config

SHAPE = {"code", "status", "error", "message", "errors"}


class EchoSchema(BaseSchema):
    n = fields.Integer(required=True)


probe = Blueprint("probe", __name__, url_prefix="/api/v1/probe")


@probe.route("/echo")
class Echo(MethodView):
    @probe.arguments(EchoSchema)
    @probe.response(200, EchoSchema)
    def post(self, args):
        """Echo"""
        return args


@probe.route("/staff")
class StaffOnly(MethodView):
    @staff_required
    @probe.response(204)
    def get(self):
        """Staff only"""


@probe.route("/boom")
class Boom(MethodView):
    @probe.response(200)
    def get(self):
        """Unhandled exception"""
        raise RuntimeError("secret internals")


@probe.route("/duplicate")
class Duplicate(MethodView):
    @probe.response(201)
    def post(self):
        """Integrity error at commit"""
        db.session.add(User(openid="dup"))
        db.session.add(User(openid="dup"))


@probe.route("/dbdown")
class DatabaseDown(MethodView):
    @probe.response(200)
    def get(self):
        """Database unavailable"""
        raise OperationalError("SELECT 1", {}, Exception("database is locked"))


@pytest.fixture
def probe_client(database_url, tmp_path, _schema):
    app = create_app({**base_config(database_url, tmp_path), "MAX_CONTENT_LENGTH": 1024})
    api.register_blueprint(probe)
    with app.app_context():
        db.session.execute(text("DELETE FROM api_tokens"))
        db.session.execute(text("DELETE FROM users"))
        db.session.commit()
        yield app.test_client()
        db.session.remove()
        db.engine.dispose()


def check_shape(resp, status, error=None):
    assert resp.status_code == status
    assert resp.mimetype == "application/json"
    body = resp.get_json()
    assert set(body) == SHAPE
    assert body["code"] == status
    assert isinstance(body["message"], str) and body["message"]
    assert any("\u4e00" <= ch <= "\u9fff" for ch in body["message"]), "message must be Chinese"
    if error:
        assert body["error"] == error
    assert "Traceback" not in resp.get_data(as_text=True)
    return body


def test_400_malformed_json(probe_client):
    resp = probe_client.post(
        "/api/v1/probe/echo", data="{not json", content_type="application/json"
    )
    check_shape(resp, 400, "bad_request")


def test_422_validation(probe_client):
    body = check_shape(probe_client.post("/api/v1/probe/echo", json={"n": "x"}), 422)
    assert body["error"] == "validation_error"
    assert "n" in body["errors"]["json"]


def test_401_and_403(probe_client):
    check_shape(probe_client.get("/api/v1/probe/staff"), 401, "unauthorized")
    resident = User(openid="r1")
    db.session.add(resident)
    db.session.commit()
    check_shape(
        probe_client.get("/api/v1/probe/staff", headers=auth_headers(resident)), 403, "forbidden"
    )
    staff = User(openid="s1", role="staff")
    db.session.add(staff)
    db.session.commit()
    assert probe_client.get("/api/v1/probe/staff", headers=auth_headers(staff)).status_code == 204


def test_404_and_405(probe_client):
    check_shape(probe_client.get("/api/v1/nothing-here"), 404, "not_found")
    resp = probe_client.delete("/api/v1/probe/echo")
    check_shape(resp, 405, "method_not_allowed")
    assert "POST" in resp.headers["Allow"]


def test_409_integrity_error_rolls_back(probe_client):
    check_shape(probe_client.post("/api/v1/probe/duplicate"), 409, "conflict")
    assert db.session.scalar(text("SELECT count(*) FROM users")) == 0


def test_413_body_too_large(probe_client):
    resp = probe_client.post("/api/v1/probe/echo", data="x" * 5000, content_type="application/json")
    check_shape(resp, 413, "payload_too_large")


def test_415_or_422_for_wrong_content_type(probe_client):
    resp = probe_client.post("/api/v1/probe/echo", data="n=1", content_type="text/plain")
    body = resp.get_json()
    assert resp.status_code in (415, 422)
    assert set(body) == SHAPE


def test_500_hides_internals(probe_client, caplog):
    body = check_shape(probe_client.get("/api/v1/probe/boom"), 500, "internal_error")
    assert "secret internals" not in str(body)
    assert "unhandled exception" in caplog.text  # but it is logged for us


def test_503_database_unavailable(probe_client):
    resp = probe_client.get("/api/v1/probe/dbdown")
    check_shape(resp, 503, "database_unavailable")
    assert resp.headers["Retry-After"]


def test_security_headers_and_no_store(probe_client):
    resp = probe_client.get("/api/v1/nothing-here")
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["X-Frame-Options"] == "DENY"
    assert resp.headers["Cache-Control"] == "no-store"


def test_error_shape_documented_in_openapi(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    error = spec["components"]["schemas"]["Error"]
    assert set(error["properties"]) == SHAPE


def test_ids_beyond_the_database_range_are_404(client):
    for path in ("/api/v1/toilets/2147483648", "/api/v1/complaints/99999999999999999999"):
        check_shape(client.get(path), 404, "not_found")
    spec = client.get("/api/v1/openapi.json").get_json()
    param = spec["paths"]["/api/v1/toilets/{toilet_id}"]["parameters"][0]
    assert param["schema"] == {"type": "integer", "minimum": 0, "maximum": 2147483647}
