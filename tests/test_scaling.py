"""Two app instances (two gunicorn processes on different ports) sharing one PostgreSQL and
one Redis, as on several hosts behind nginx: a token issued by one works on the other, rate
limits are counted once for both, and the WeChat access_token is fetched once for both.

Runs only on PostgreSQL + Redis (``TEST_DATABASE_URL`` and ``TEST_REDIS_URL``, the CI's
PostgreSQL pass). WeChat is a tiny fake HTTP server on 127.0.0.1 started by the test
(``WECHAT_API_BASE``); the instances run with ``WECHAT_MODE=real`` against it.
"""

import contextlib
import json
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from bench.common import free_port
from bench.stalls.storm import serve
from tests.conftest import WECHAT_APPID, WECHAT_SECRET

ROOT = Path(__file__).resolve().parent.parent
ACCESS_TOKEN = "fake-access-token-0001"


class FakeWeChat(BaseHTTPRequestHandler):
    """jscode2session, stable_token (counted), getuserphonenumber and msg_sec_check."""

    stable_token_calls = 0
    lock = threading.Lock()

    def log_message(self, *args):  # keep the test output quiet
        pass

    def _answer(self, body: dict) -> None:
        raw = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def do_GET(self):
        url = urlsplit(self.path)
        query = parse_qs(url.query)
        if url.path == "/sns/jscode2session" and query.get("secret") == [WECHAT_SECRET]:
            code = query["js_code"][0]
            return self._answer({"openid": f"o_{code}", "session_key": "not-kept"})
        return self._answer({"errcode": 40029, "errmsg": "invalid code"})

    def do_POST(self):
        url = urlsplit(self.path)
        query = parse_qs(url.query)
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        if url.path == "/cgi-bin/stable_token":
            with FakeWeChat.lock:
                FakeWeChat.stable_token_calls += 1
            assert body["appid"] == WECHAT_APPID and body["secret"] == WECHAT_SECRET
            return self._answer({"access_token": ACCESS_TOKEN, "expires_in": 7200})
        if query.get("access_token") != [ACCESS_TOKEN]:
            return self._answer({"errcode": 40001, "errmsg": "invalid credential"})
        if url.path == "/wxa/business/getuserphonenumber":
            return self._answer(
                {
                    "errcode": 0,
                    "phone_info": {
                        "purePhoneNumber": "13812345678",
                        "countryCode": "86",
                        "watermark": {"appid": WECHAT_APPID},
                    },
                }
            )
        if url.path == "/wxa/msg_sec_check":
            return self._answer({"errcode": 0, "result": {"suggest": "pass"}})
        return self._answer({"errcode": -1, "errmsg": "unknown"})


@pytest.fixture
def postgres_and_redis(app, database_url):
    if not database_url.startswith("postgresql") or not os.environ.get("TEST_REDIS_URL"):
        pytest.skip("needs TEST_DATABASE_URL on PostgreSQL and TEST_REDIS_URL")
    return database_url, os.environ["TEST_REDIS_URL"]


@pytest.fixture
def fake_wechat():
    FakeWeChat.stable_token_calls = 0
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeWeChat)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@contextlib.contextmanager
def instance(env: dict, log_path: Path):
    """One app instance (gunicorn, one worker) on its own port; always killed."""
    bind = f"127.0.0.1:{free_port()}"
    with serve({**os.environ, **env, "BIND": bind}, log_path, startup_seconds=20) as base:
        yield base


@pytest.fixture
def two_instances(app, postgres_and_redis, fake_wechat, tmp_path):
    database_url, redis_url = postgres_and_redis
    env = {
        "APP_ENV": "development",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "SECRET_KEY": app.config["SECRET_KEY"],
        "WECHAT_MODE": "real",
        "WECHAT_APPID": WECHAT_APPID,
        "WECHAT_SECRET": WECHAT_SECRET,
        "WECHAT_API_BASE": fake_wechat,
        "WECHAT_TIMEOUT": "5",
        "RATELIMIT_LOGIN_IP": "3/minute",
        "UPLOAD_DIR": str(tmp_path / "uploads"),
        "WEB_CONCURRENCY": "1",
        "GUNICORN_TIMEOUT": "30",
        "GUNICORN_ACCESSLOG": "",
        "LOG_LEVEL": "WARNING",
    }
    with (
        instance(env, tmp_path / "a.log") as a,
        instance(env, tmp_path / "b.log") as b,
    ):
        yield a, b


def login(base: str, code: str) -> requests.Response:
    return requests.post(f"{base}/api/v1/auth/login", json={"code": code}, timeout=10)


def test_a_token_issued_by_one_instance_works_on_the_other(two_instances):
    a, b = two_instances
    resp = login(a, "alice")
    assert resp.status_code == 200, resp.text
    token, user_id = resp.json()["token"], resp.json()["user"]["id"]

    me = requests.get(f"{b}/api/v1/me", headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert me.status_code == 200, me.text
    assert me.json()["id"] == user_id

    # Logging out on B revokes the token on A too.
    out = requests.post(
        f"{b}/api/v1/auth/logout", headers={"Authorization": f"Bearer {token}"}, timeout=10
    )
    assert out.status_code == 204
    again = requests.get(f"{a}/api/v1/me", headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert again.status_code == 401


def test_rate_limits_are_shared_between_instances(two_instances):
    a, b = two_instances
    # RATELIMIT_LOGIN_IP is 3/minute on both: two logins on A, one on B, then B refuses.
    assert [login(base, f"user{n}").status_code for n, base in enumerate((a, a, b))] == [
        200,
        200,
        200,
    ]
    refused = login(b, "user3")
    assert refused.status_code == 429, refused.text
    assert refused.json()["error"] == "rate_limited"
    assert int(refused.headers["Retry-After"]) >= 1
    assert login(a, "user4").status_code == 429


def test_wechat_access_token_is_fetched_once_for_both_instances(two_instances):
    a, b = two_instances
    for base, code in ((a, "bob"), (b, "carol")):
        token = login(base, code).json()["token"]
        resp = requests.post(
            f"{base}/api/v1/me/phone",
            json={"code": f"phone-{code}"},
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        )
        assert resp.status_code == 200, resp.text
        assert resp.json()["phone"] == "13812345678"
    assert FakeWeChat.stable_token_calls == 1
