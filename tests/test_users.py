"""My profile, phone binding and account deletion (注销)."""

import pytest
from sqlalchemy import func, select, text

from server.core.signals import account_deleting
from server.extensions import db
from server.models.users import ApiToken, User
from tests.conftest import WECHAT_APPID, auth_headers, real_wechat

STABLE_TOKEN = "https://api.weixin.qq.com/cgi-bin/stable_token"
PHONE_URL = "https://api.weixin.qq.com/wxa/business/getuserphonenumber"


def test_get_and_patch_me(client, resident):
    headers = auth_headers(resident)
    resp = client.patch(
        "/api/v1/me",
        json={"nickname": "小李", "avatar_url": "https://thirdwx.qlogo.cn/a.png"},
        headers=headers,
    )
    assert resp.status_code == 200
    body = client.get("/api/v1/me", headers=headers).get_json()
    assert body["nickname"] == "小李"
    assert body["avatar_url"] == "https://thirdwx.qlogo.cn/a.png"
    assert body["roles"] == ["resident"]
    assert "openid" not in body


@pytest.mark.parametrize(
    "payload",
    [
        {"nickname": ""},
        {"nickname": "长" * 33},
        {"avatar_url": "http://insecure.example/a.png"},
        {"avatar_url": "not a url"},
        {"nickname": 5},
    ],
)
def test_patch_me_rejects_bad_values(client, resident, payload):
    resp = client.patch("/api/v1/me", json=payload, headers=auth_headers(resident))
    assert resp.status_code == 422
    assert resp.get_json()["error"] == "validation_error"
    assert db.session.get(User, resident.id).nickname == "居民"


def test_fake_phone_binding_and_masking(client, resident):
    headers = auth_headers(resident)
    resp = client.post("/api/v1/me/phone", json={"code": "dev:13812345678"}, headers=headers)
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["phone"] == "13812345678"  # the owner sees the full number
    assert body["phone_masked"] == "138****5678"
    stored = db.session.execute(text("SELECT phone FROM users WHERE id = :id"), {"id": resident.id})
    assert "13812345678" not in stored.scalar()  # encrypted at rest


@real_wechat
def test_real_phone_binding(client, resident, mocked_wechat):
    mocked_wechat.post(STABLE_TOKEN, json={"access_token": "AT1", "expires_in": 7200})
    mocked_wechat.post(
        PHONE_URL + "?access_token=AT1",
        json={
            "errcode": 0,
            "phone_info": {
                "phoneNumber": "13912345678",
                "purePhoneNumber": "13912345678",
                "countryCode": "86",
                "watermark": {"timestamp": 1700000000, "appid": WECHAT_APPID},
            },
        },
        match=[__import__("responses").matchers.json_params_matcher({"code": "phonecode"})],
    )
    resp = client.post(
        "/api/v1/me/phone", json={"code": "phonecode"}, headers=auth_headers(resident)
    )
    assert resp.status_code == 200
    assert resp.get_json()["phone"] == "13912345678"


@real_wechat
@pytest.mark.parametrize(
    "answer, error",
    [
        ({"errcode": 40029, "errmsg": "invalid code"}, "invalid_phone_code"),
        (
            {
                "errcode": 0,
                "phone_info": {
                    "purePhoneNumber": "13912345678",
                    "countryCode": "86",
                    "watermark": {"appid": "wxSOMEONEELSE"},
                },
            },
            "phone_watermark_mismatch",
        ),
    ],
)
def test_real_phone_binding_failures(client, resident, mocked_wechat, answer, error):
    mocked_wechat.post(STABLE_TOKEN, json={"access_token": "AT1", "expires_in": 7200})
    mocked_wechat.post(PHONE_URL, json=answer)
    resp = client.post("/api/v1/me/phone", json={"code": "bad"}, headers=auth_headers(resident))
    assert resp.status_code == 422
    assert resp.get_json()["error"] == error
    assert db.session.get(User, resident.id).phone is None


def test_fake_phone_code_format(client, resident):
    resp = client.post("/api/v1/me/phone", json={"code": "dev:123"}, headers=auth_headers(resident))
    assert resp.status_code == 422
    assert resp.get_json()["error"] == "invalid_phone_code"


def test_delete_account_erases_personal_data(client):
    login = client.post("/api/v1/auth/login", json={"code": "dev:leaver"}).get_json()
    headers = {"Authorization": f"Bearer {login['token']}"}
    client.post("/api/v1/me/phone", json={"code": "dev:13700001111"}, headers=headers)
    client.patch("/api/v1/me", json={"nickname": "要走的人"}, headers=headers)
    seen = []
    receiver = seen.append
    account_deleting.connect(receiver)
    try:
        assert client.delete("/api/v1/me", headers=headers).status_code == 204
    finally:
        account_deleting.disconnect(receiver)
    assert [u.id for u in seen] == [login["user"]["id"]]
    assert client.get("/api/v1/me", headers=headers).status_code == 401
    user = db.session.get(User, login["user"]["id"])
    assert user.status == "deleted" and user.deleted_at is not None
    assert user.nickname is None and user.phone is None and user.avatar_url is None
    assert user.openid.startswith("deleted:") and "leaver" not in user.openid
    assert db.session.scalar(select(func.count()).select_from(ApiToken)) == 0
    # Logging in again with the same WeChat account starts a fresh account.
    again = client.post("/api/v1/auth/login", json={"code": "dev:leaver"}).get_json()
    assert again["user"]["id"] != login["user"]["id"]
    assert again["user"]["nickname"] is None
