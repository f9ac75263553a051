"""OpenAPI served to the mini-program team; exported schemas kept in sync; probes."""

import json

from server import cli


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
