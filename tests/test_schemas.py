"""OpenAPI served to the mini-program team; exported schemas kept in sync; probes."""

import json

import pytest

from server.cli import commands as cli
from server.extensions import db
from server.models.users import User
from tests.conftest import auth_headers


def test_openapi_served(client):
    resp = client.get("/api/v1/openapi.json")
    assert resp.status_code == 200
    spec = resp.get_json()
    assert spec["openapi"].startswith("3.")
    assert "/api/v1/auth/login" in spec["paths"]
    assert spec["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"


def test_docs_page_and_local_assets(client):
    page = client.get("/api/docs")
    assert page.status_code == 200
    assert b"/api/docs/static/swagger-ui-bundle.js" in page.data
    asset = client.get("/api/docs/static/swagger-ui-bundle.js")
    assert asset.status_code == 200
    asset.close()


def test_exported_schemas_are_current(app):
    result = app.test_cli_runner().invoke(args=["schemas", "check"])
    assert result.exit_code == 0, result.output


def test_check_detects_stale_files(app, tmp_path, monkeypatch):
    monkeypatch.setattr(cli, "DIST", tmp_path)
    runner = app.test_cli_runner()
    assert runner.invoke(args=["schemas", "export"]).exit_code == 0
    login = json.loads((tmp_path / "Login.schema.json").read_text())
    assert login["required"] == ["code"]
    assert runner.invoke(args=["schemas", "check"]).exit_code == 0
    (tmp_path / "Login.schema.json").write_text("{}")
    result = runner.invoke(args=["schemas", "check"])
    assert result.exit_code == 1
    assert "Login.schema.json" in result.output


def test_healthz(client):
    assert client.get("/healthz").get_json() == {"status": "ok"}


# -- what the database cannot store is refused as bad input, and the spec says so -----------
@pytest.mark.parametrize("escape", ["\\u0000", "\\ud800"], ids=["NUL", "lone surrogate"])
def test_unstorable_text_is_422(client, resident, escape):
    body = f'{{"nickname": "阿{escape}明"}}'.encode()
    resp = client.patch(
        "/api/v1/me", data=body, content_type="application/json", headers=auth_headers(resident)
    )
    assert resp.status_code == 422
    assert resp.get_json()["errors"]["json"]["nickname"] == ["包含无法识别的字符"]
    assert db.session.get(User, resident.id).nickname != "阿\x00明"


def test_ids_beyond_32_bits_are_404_in_paths_and_422_in_bodies(client, resident):
    assert client.get("/api/v1/complaints/2147483648").status_code == 404
    assert client.get("/api/v1/complaints/99999999999999999999999").status_code == 404
    resp = client.post(
        "/api/v1/stalls/bookings",
        json={"point_id": 2**31, "session_id": 1, "date": "2026-11-30"},
        headers={**auth_headers(resident), "Idempotency-Key": "k" * 16},
    )
    assert resp.status_code == 422
    assert resp.get_json()["errors"]["json"]["point_id"] == ["数值超出范围"]


def test_spec_publishes_the_bounds(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    (param,) = spec["paths"]["/api/v1/complaints/{complaint_id}"]["parameters"]
    assert param["schema"]["maximum"] == 2**31 - 1
    create = spec["components"]["schemas"]["ComplaintCreate"]["properties"]
    assert create["photo_ids"]["items"]["maximum"] == 2**31 - 1
    assert create["address"]["pattern"].startswith("^[")  # not blank, no NUL
    assert create["lat"] == {"type": "number", "minimum": 3.86, "maximum": 53.56}
    me = spec["components"]["schemas"]["MeUpdate"]["properties"]
    assert me["nickname"]["pattern"] == "^[^\\x00]*$"
