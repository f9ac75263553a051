"""WeChat login, tokens, logout and role handling."""

import datetime as dt
import logging
import threading
import time

import pytest
import requests
import responses
from sqlalchemy import func, select

from server.extensions import db
from server.models.users import ApiToken, User
from server.services import auth as auth_service
from tests.conftest import WECHAT_APPID, WECHAT_SECRET, auth_headers, make_user, real_wechat

CODE2SESSION = "https://api.weixin.qq.com/sns/jscode2session"
SESSION_KEY = "tiihtNczf5v6AKRyjwEUhQ=="


def login(client, code="dev:alice", **extra):
    return client.post("/api/v1/auth/login", json={"code": code, **extra})


def test_fake_login_creates_resident_and_returns_token(client):
    resp = login(client)
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 7200
    assert body["expires_at"].endswith("+08:00")
    assert body["user"]["roles"] == ["resident"]
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {body['token']}"})
    assert me.status_code == 200
    assert me.get_json()["id"] == body["user"]["id"]
    assert db.session.scalar(select(User.openid)) == "dev_alice"


def test_token_stored_only_as_hash(client):
    token = login(client).get_json()["token"]
    stored = db.session.scalar(select(ApiToken.token_hash))
    assert stored != token and stored == auth_service.hash_token(token)


def test_same_openid_twice_is_same_user(client):
    first = login(client).get_json()["user"]["id"]
    second = login(client).get_json()["user"]["id"]
    assert first == second
    assert db.session.scalar(select(func.count()).select_from(User)) == 1


def test_role_claims_in_body_are_ignored(client):
    body = login(client, role="admin", roles=["admin"]).get_json()
    assert body["user"]["roles"] == ["resident"]
    token = body["token"]
    resp = client.patch(
        "/api/v1/me",
        json={"role": "admin", "nickname": "小李"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert resp.status_code == 200
    assert resp.get_json()["roles"] == ["resident"]
    assert db.session.scalar(select(User.role)) == "resident"


@pytest.mark.parametrize(
    "payload, status",
    [
        ({}, 422),
        ({"code": ""}, 422),
        ({"code": "x" * 129}, 422),
        ({"code": 12345}, 422),
        ({"code": None}, 422),
    ],
)
def test_malformed_code_rejected(client, payload, status):
    resp = client.post("/api/v1/auth/login", json=payload)
    assert resp.status_code == status
    assert resp.get_json()["error"] == "validation_error"


def test_non_json_body_rejected(client):
    resp = client.post("/api/v1/auth/login", data="code=dev:a", content_type="text/plain")
    assert resp.status_code in (400, 415, 422)
    assert resp.get_json()["error"]


def test_fake_code_format_enforced(client):
    resp = login(client, code="not-a-dev-code")
    assert resp.status_code == 401
    assert resp.get_json()["error"] == "invalid_wechat_code"


# -- real WeChat, mocked at the HTTP level -----------------------------------------------------
@real_wechat
def test_real_login_sends_expected_query_and_hides_session_key(client, mocked_wechat, caplog):
    caplog.set_level(logging.DEBUG)
    mocked_wechat.get(
        CODE2SESSION,
        json={"openid": "oABC123", "session_key": SESSION_KEY, "unionid": "uXYZ"},
        match=[
            responses.matchers.query_param_matcher(
                {
                    "appid": WECHAT_APPID,
                    "secret": WECHAT_SECRET,
                    "js_code": "081abcCode",
                    "grant_type": "authorization_code",
                }
            )
        ],
    )
    resp = login(client, code="081abcCode")
    assert resp.status_code == 200
    assert len(mocked_wechat.calls) == 1  # no access_token fetch for this call
    assert mocked_wechat.calls[0].request.req_kwargs["timeout"] == 5  # never blocks longer
    raw = resp.get_data(as_text=True) + str(resp.headers)
    assert SESSION_KEY not in raw
    user = db.session.scalar(select(User))
    assert user.openid == "oABC123" and user.unionid == "uXYZ"
    for row in db.session.execute(select(User.__table__)).all():
        assert SESSION_KEY not in str(row)
    assert SESSION_KEY not in caplog.text
    assert WECHAT_SECRET not in caplog.text
    assert "081abcCode" not in caplog.text


@real_wechat
@pytest.mark.parametrize(
    "errcode, status, error",
    [
        (40029, 401, "invalid_wechat_code"),
        (40163, 401, "invalid_wechat_code"),
        (45011, 429, "wechat_rate_limited"),
        (40226, 403, "wechat_user_blocked"),
        (-1, 503, "wechat_unavailable"),
        (40013, 503, "wechat_unavailable"),
    ],
)
def test_wechat_errors_mapped(client, mocked_wechat, caplog, errcode, status, error):
    secret_errmsg = "errmsg-must-not-leak rid: 1234"
    mocked_wechat.get(CODE2SESSION, json={"errcode": errcode, "errmsg": secret_errmsg})
    resp = login(client, code="badcode")
    assert resp.status_code == status
    body = resp.get_json()
    assert body["error"] == error
    assert body["message"]
    assert secret_errmsg not in resp.get_data(as_text=True)
    assert secret_errmsg not in caplog.text
    if status in (429, 503):
        assert resp.headers["Retry-After"]
    assert db.session.scalar(select(func.count()).select_from(User)) == 0


@real_wechat
@pytest.mark.parametrize(
    "mock",
    [
        {"status": 502, "body": "<html>bad gateway</html>"},
        {"status": 500, "json": {"errcode": -1}},
        {"status": 200, "body": "<html>not json</html>"},
        {"body": requests.exceptions.ConnectTimeout("timeout")},
        {"body": requests.exceptions.ReadTimeout("timeout")},
        {"body": requests.exceptions.ConnectionError("down")},
        {"status": 200, "json": {"unexpected": True}},
    ],
)
def test_wechat_unavailable_is_503(client, mocked_wechat, caplog, mock):
    mocked_wechat.get(CODE2SESSION, **mock)
    resp = login(client, code="somecode")
    assert resp.status_code == 503
    assert resp.get_json()["error"] == "wechat_unavailable"
    assert resp.headers["Retry-After"] == "5"
    assert WECHAT_SECRET not in caplog.text


@real_wechat
def test_wechat_client_has_timeout_and_no_auto_retry(app):
    state = app.extensions["wechat"]
    assert state.client.timeout == 5
    assert state.client.auto_retry is False


# -- tokens -----------------------------------------------------------------------------------
def test_missing_malformed_unknown_tokens_are_401(client):
    assert client.get("/api/v1/me").status_code == 401
    for header in ("Bearer", "Bearer ", "Token abc", "Basic dXNlcjpwYXNz", "Bearer " + "x" * 500):
        resp = client.get("/api/v1/me", headers={"Authorization": header})
        assert resp.status_code == 401, header
        assert resp.get_json()["error"] in ("unauthorized", "token_invalid")
    resp = client.get("/api/v1/me", headers={"Authorization": "Bearer unknown-token"})
    assert resp.status_code == 401
    assert resp.get_json()["error"] == "token_invalid"


def test_expired_token_is_401(client, resident):
    token, record = auth_service.issue_token(resident, 60)
    record.expires_at = record.created_at - dt.timedelta(seconds=1)
    db.session.commit()
    resp = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 401
    assert resp.get_json()["error"] == "token_expired"


@pytest.mark.config(TOKEN_TTL_SECONDS=900)
def test_token_lifetime_configurable(client):
    body = login(client).get_json()
    assert body["expires_in"] == 900


def test_logout_revokes_token(client):
    token = login(client).get_json()["token"]
    headers = {"Authorization": f"Bearer {token}"}
    assert client.post("/api/v1/auth/logout", headers=headers).status_code == 204
    resp = client.get("/api/v1/me", headers=headers)
    assert resp.status_code == 401
    assert resp.get_json()["error"] == "token_invalid"


def test_role_change_and_ban_revoke_all_tokens(app, client):
    user = make_user(openid="dev_bob")
    headers = [auth_headers(user), auth_headers(user)]
    runner = app.test_cli_runner()
    result = runner.invoke(args=["users", "grant", "dev_bob", "staff"])
    assert result.exit_code == 0, result.output
    for h in headers:
        assert client.get("/api/v1/me", headers=h).status_code == 401
    fresh = auth_headers(db.session.get(User, user.id))
    assert client.get("/api/v1/me", headers=fresh).get_json()["roles"] == ["resident", "staff"]
    result = runner.invoke(args=["users", "ban", "dev_bob"])
    assert result.exit_code == 0, result.output
    assert client.get("/api/v1/me", headers=fresh).status_code == 401
    resp = login(client, code="dev:bob")
    assert resp.status_code == 403
    assert resp.get_json()["error"] == "account_banned"


def test_users_cli_list_and_revoke(app):
    make_user(openid="dev_carol", role="admin", phone="13812345678")
    runner = app.test_cli_runner()
    out = runner.invoke(args=["users", "list"]).output
    assert "dev_carol" in out and "138****5678" in out and "13812345678" not in out
    assert runner.invoke(args=["users", "revoke", "dev_carol"]).exit_code == 0
    assert db.session.scalar(select(User.role).where(User.openid == "dev_carol")) == "resident"
    assert runner.invoke(args=["users", "grant", "nobody", "staff"]).exit_code != 0


def test_concurrent_first_logins_create_one_user(app):
    """Two simultaneous first logins of one openid end with one account."""
    errors = []
    barrier = threading.Barrier(6)

    def worker():
        client = app.test_client()
        barrier.wait()
        resp = login(client, code="dev:race")
        if resp.status_code != 200:
            errors.append(resp.get_json())

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert db.session.scalar(select(func.count()).select_from(User)) == 1
    assert db.session.scalar(select(func.count()).select_from(ApiToken)) == 6


def test_login_is_logged_without_secrets(client, caplog):
    caplog.set_level(logging.INFO)
    token = login(client, code="dev:loggy").get_json()["token"]
    client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert token not in caplog.text
    assert "dev:loggy" not in caplog.text
    assert "POST /api/v1/auth/login 200" in caplog.text
    assert time.time()  # the log line carries a duration, checked above by format


@pytest.mark.config(RATELIMIT_LOGIN_IP="3/minute")
def test_login_limited_per_ip(client):
    for i in range(3):
        assert login(client, code=f"dev:ip{i}").status_code == 200
    resp = login(client, code="dev:ip9")
    assert resp.status_code == 429
    assert resp.get_json()["error"] == "rate_limited"
    assert int(resp.headers["Retry-After"]) > 0
    other_ip = client.post(
        "/api/v1/auth/login", json={"code": "dev:ip9"}, environ_base={"REMOTE_ADDR": "10.0.0.9"}
    )
    assert other_ip.status_code == 200


@pytest.mark.config(RATELIMIT_LOGIN_OPENID="2/minute")
def test_login_limited_per_openid(client):
    assert login(client, code="dev:same").status_code == 200
    assert login(client, code="dev:same").status_code == 200
    resp = login(client, code="dev:same")
    assert resp.status_code == 429
    assert resp.get_json()["error"] == "rate_limited"
    assert resp.headers["Retry-After"]
    assert login(client, code="dev:different").status_code == 200
