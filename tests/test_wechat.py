"""The WeChat gateway: access_token via stable_token, shared cache, refresh on 40001."""

import pytest
import responses

from server.integrations.wechat import WeChatError, wechat
from tests.conftest import WECHAT_APPID, WECHAT_SECRET, real_wechat

STABLE_TOKEN = "https://api.weixin.qq.com/cgi-bin/stable_token"
SEND = "https://api.weixin.qq.com/cgi-bin/message/subscribe/send"
CHECK = "https://api.weixin.qq.com/wxa/msg_sec_check"

pytestmark = real_wechat


def test_stable_token_fetched_once_and_cached(app, mocked_wechat):
    mocked_wechat.post(
        STABLE_TOKEN,
        json={"access_token": "AT1", "expires_in": 7200},
        match=[
            responses.matchers.json_params_matcher(
                {
                    "grant_type": "client_credential",
                    "appid": WECHAT_APPID,
                    "secret": WECHAT_SECRET,
                    "force_refresh": False,
                }
            )
        ],
    )
    assert wechat.access_token() == "AT1"
    assert wechat.access_token() == "AT1"
    assert len(mocked_wechat.calls) == 1
    assert "access_token" not in mocked_wechat.calls[0].request.url


def test_token_shared_between_app_instances(app, mocked_wechat):
    """With Redis, a second app (another worker or host) reuses the first one's token."""
    if not app.config["REDIS_URL"]:
        pytest.skip("needs Redis (TEST_REDIS_URL)")
    from server.app import create_app

    mocked_wechat.post(STABLE_TOKEN, json={"access_token": "SHARED", "expires_in": 7200})
    assert wechat.access_token() == "SHARED"
    other = create_app(dict(app.config))
    with other.app_context():
        assert wechat.access_token() == "SHARED"
    assert len(mocked_wechat.calls) == 1


def test_expired_token_refreshed_once_and_retried_once(app, mocked_wechat):
    mocked_wechat.post(STABLE_TOKEN, json={"access_token": "OLD", "expires_in": 7200})
    mocked_wechat.post(SEND + "?access_token=OLD", json={"errcode": 40001, "errmsg": "invalid"})
    mocked_wechat.post(
        STABLE_TOKEN,
        json={"access_token": "NEW", "expires_in": 7200},
        match=[responses.matchers.json_params_matcher({"force_refresh": True}, strict_match=False)],
    )
    mocked_wechat.post(SEND + "?access_token=NEW", json={"errcode": 0, "errmsg": "ok"})
    wechat.send_subscribe_message("oUSER", "TPL", {"thing1": "井盖破损"}, page="pages/x")
    assert len(mocked_wechat.calls) == 4
    assert wechat.access_token() == "NEW"


def test_second_token_failure_is_not_retried_forever(app, mocked_wechat):
    mocked_wechat.post(STABLE_TOKEN, json={"access_token": "A", "expires_in": 7200})
    mocked_wechat.post(SEND, json={"errcode": 42001, "errmsg": "expired"})
    mocked_wechat.post(STABLE_TOKEN, json={"access_token": "B", "expires_in": 7200})
    mocked_wechat.post(SEND, json={"errcode": 42001, "errmsg": "expired"})
    with pytest.raises(WeChatError) as info:
        wechat.send_subscribe_message("oUSER", "TPL", {"thing1": "x"})
    assert info.value.errcode == 42001
    assert len(mocked_wechat.calls) == 4


def test_subscribe_error_carries_errcode_only(app, mocked_wechat):
    mocked_wechat.post(STABLE_TOKEN, json={"access_token": "A", "expires_in": 7200})
    mocked_wechat.post(SEND, json={"errcode": 43101, "errmsg": "user refuse to accept the msg"})
    with pytest.raises(WeChatError) as info:
        wechat.send_subscribe_message("oUSER", "TPL", {"thing1": "x"})
    assert info.value.errcode == 43101
    assert "refuse" not in str(info.value)


@pytest.mark.parametrize("suggest", ["pass", "review", "risky"])
def test_msg_sec_check(app, mocked_wechat, suggest):
    mocked_wechat.post(STABLE_TOKEN, json={"access_token": "A", "expires_in": 7200})
    mocked_wechat.post(
        CHECK,
        json={"errcode": 0, "result": {"suggest": suggest, "label": 100}},
        match=[
            responses.matchers.json_params_matcher(
                {"content": "井盖丢了", "version": 2, "scene": 2, "openid": "oUSER"}
            )
        ],
    )
    assert wechat.msg_sec_check("井盖丢了", "oUSER") == suggest
