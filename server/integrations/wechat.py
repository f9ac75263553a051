"""The WeChat gateway: every call to api.weixin.qq.com goes through here, via wechatpy.

Rules kept here once for every feature:
- a 5 s timeout and no automatic retry loop (wechatpy's ``auto_retry`` can recurse);
- the session_key, the app secret and WeChat's errmsg never leave this module: not
  in a response, a log line, an exception message or the database;
- the access_token comes from ``stable_token`` (which does not invalidate the token
  other workers hold), cached in Redis when configured, refreshed under a lock,
  with one forced refresh and one retry on 40001/42001.
"""

import logging
import re
import threading
import time
from dataclasses import dataclass

import requests
from flask import current_app
from wechatpy import WeChatClient
from wechatpy.exceptions import WeChatClientException

from server.core.errors import AppError

log = logging.getLogger(__name__)

FAKE_CODE = re.compile(r"^dev:([A-Za-z0-9_-]{1,32})$")
TOKEN_EXPIRED = (40001, 42001)


class WeChatError(Exception):
    """A failed WeChat call; carries WeChat's errcode (``None`` for HTTP/network faults)."""

    def __init__(self, errcode: int | None):
        super().__init__(f"wechat errcode={errcode}")
        self.errcode = errcode


def unavailable() -> AppError:
    return AppError(
        503, "wechat_unavailable", "微信服务暂时不可用，请稍后再试", headers={"Retry-After": "5"}
    )


def login_error(err: WeChatError) -> AppError:
    if err.errcode in (40029, 40163):
        return AppError(401, "invalid_wechat_code", "登录凭证无效或已使用，请重新打开小程序")
    if err.errcode == 45011:
        return AppError(
            429, "wechat_rate_limited", "登录太频繁，请一分钟后再试", headers={"Retry-After": "60"}
        )
    if err.errcode == 40226:
        return AppError(403, "wechat_user_blocked", "该微信账号存在风险，暂时无法登录")
    return unavailable()


@dataclass(frozen=True)
class WeChatIdentity:
    openid: str
    unionid: str | None


@dataclass(frozen=True)
class PhoneNumber:
    phone: str
    country_code: str


class _MemoryTokenCache:
    """Process-local token cache for development and single-process deployments."""

    def __init__(self):
        self._value: tuple[str, float] | None = None
        self._lock = threading.Lock()

    def get(self) -> str | None:
        if self._value and self._value[1] > time.time():
            return self._value[0]
        return None

    def set(self, token: str, ttl: int) -> None:
        self._value = (token, time.time() + ttl)

    def lock(self):
        return self._lock


class _RedisTokenCache:
    """Token cache shared by every worker and host."""

    def __init__(self, url: str, appid: str):
        import redis

        self._redis = redis.Redis.from_url(url)
        self._key = f"xiuhua:wechat:access_token:{appid}"

    def get(self) -> str | None:
        value = self._redis.get(self._key)
        return value.decode() if value else None

    def set(self, token: str, ttl: int) -> None:
        self._redis.set(self._key, token, ex=ttl)

    def lock(self):
        return self._redis.lock(self._key + ":lock", timeout=15, blocking_timeout=15)


class _State:
    def __init__(self, config: dict):
        self.mode = config["WECHAT_MODE"]
        self.appid = config["WECHAT_APPID"]
        self.secret = config["WECHAT_SECRET"]
        self.timeout = config["WECHAT_TIMEOUT"]
        # Only ever changed to point a multi-process test at a local fake WeChat.
        self.api_base = config["WECHAT_API_BASE"].rstrip("/")
        self.client = WeChatClient(self.appid, self.secret, timeout=self.timeout, auto_retry=False)
        redis_url = config.get("REDIS_URL")
        self.cache = _RedisTokenCache(redis_url, self.appid) if redis_url else _MemoryTokenCache()


class WeChatGateway:
    def init_app(self, app) -> None:
        if app.config["WECHAT_MODE"] not in ("real", "fake"):
            raise ValueError("WECHAT_MODE must be 'real' or 'fake'")
        app.extensions["wechat"] = _State(app.config)

    @property
    def _state(self) -> _State:
        return current_app.extensions["wechat"]

    @property
    def _api(self) -> str:
        return self._state.api_base

    @property
    def is_fake(self) -> bool:
        return self._state.mode == "fake"

    # -- low level -----------------------------------------------------------------------
    def _call(self, method: str, url: str, **kwargs) -> dict:
        """One HTTP call; any failure becomes a ``WeChatError`` without errmsg or secrets."""
        try:
            result = getattr(self._state.client, method)(url, **kwargs)
        except WeChatClientException as exc:
            errcode = exc.errcode
        except (requests.RequestException, ValueError):
            errcode = None
        else:
            if isinstance(result, dict):
                return result
            errcode = None  # not JSON (an HTML error page, a proxy's answer)
        log.warning("wechat call failed: %s errcode=%s", url.rsplit("/", 1)[-1], errcode)
        raise WeChatError(errcode) from None

    def access_token(self, stale: str | None = None) -> str:
        """A valid access_token; ``stale`` is one that WeChat just refused."""
        state = self._state
        cached = state.cache.get()
        if cached and cached != stale:
            return cached
        with state.cache.lock():
            cached = state.cache.get()
            if cached and cached != stale:
                return cached  # another worker refreshed it while we waited
            result = self._call(
                "post",
                f"{self._api}/cgi-bin/stable_token",
                params={"access_token": None},
                data={
                    "grant_type": "client_credential",
                    "appid": state.appid,
                    "secret": state.secret,
                    "force_refresh": stale is not None,
                },
            )
            token, expires_in = result.get("access_token"), int(result.get("expires_in", 0))
            if not token or expires_in <= 0:
                raise WeChatError(None)
            # Keep a safety margin so a token is never used in its last minutes.
            state.cache.set(token, max(60, expires_in - 300))
            return token

    def _call_with_token(self, method: str, url: str, **kwargs) -> dict:
        token = self.access_token()
        try:
            return self._call(method, url, params={"access_token": token}, **kwargs)
        except WeChatError as err:
            if err.errcode not in TOKEN_EXPIRED:
                raise
        token = self.access_token(stale=token)
        return self._call(method, url, params={"access_token": token}, **kwargs)

    # -- features --------------------------------------------------------------------------
    def code_to_session(self, code: str) -> WeChatIdentity:
        """Exchange a ``wx.login`` code for the user's openid; the session_key is dropped."""
        if self.is_fake:
            match = FAKE_CODE.match(code)
            if not match:
                raise AppError(401, "invalid_wechat_code", "开发模式登录码应为 dev:<名字>")
            return WeChatIdentity(openid=f"dev_{match.group(1)}", unionid=None)
        state = self._state
        try:
            result = self._call(
                "get",
                f"{self._api}/sns/jscode2session",
                params={
                    "appid": state.appid,
                    "secret": state.secret,
                    "js_code": code,
                    "grant_type": "authorization_code",
                    "access_token": None,  # this call takes no access_token
                },
            )
        except WeChatError as err:
            raise login_error(err) from None
        openid = result.get("openid")
        if not openid:
            raise unavailable()
        return WeChatIdentity(openid=openid, unionid=result.get("unionid"))

    def phone_number(self, code: str) -> PhoneNumber:
        """Resolve a ``getPhoneNumber`` button code to the user's phone number."""
        if self.is_fake:
            match = re.fullmatch(r"dev:(1\d{10})", code)
            if not match:
                raise AppError(422, "invalid_phone_code", "开发模式手机号码应为 dev:<11位手机号>")
            return PhoneNumber(phone=match.group(1), country_code="86")
        try:
            result = self._call_with_token(
                "post", f"{self._api}/wxa/business/getuserphonenumber", data={"code": code}
            )
        except WeChatError as err:
            if err.errcode in (40029, 40163, 40013):
                raise AppError(422, "invalid_phone_code", "手机号授权已失效，请重新授权") from None
            raise unavailable() from None
        info = result.get("phone_info") or {}
        if (info.get("watermark") or {}).get("appid") != self._state.appid:
            log.warning("phone number watermark does not match our appid")
            raise AppError(422, "phone_watermark_mismatch", "手机号授权校验失败，请重新授权")
        phone = info.get("purePhoneNumber")
        if not phone:
            raise unavailable()
        return PhoneNumber(phone=phone, country_code=str(info.get("countryCode", "86")))

    def send_subscribe_message(
        self, openid: str, template_id: str, data: dict, page: str | None = None
    ) -> None:
        """Send one subscribe message; raises ``WeChatError`` (e.g. 43101) on failure."""
        if self.is_fake:
            log.info("fake wechat: subscribe message %s not sent", template_id)
            return
        body = {
            "touser": openid,
            "template_id": template_id,
            "data": {key: {"value": value} for key, value in data.items()},
            "miniprogram_state": current_app.config.get("WECHAT_MINIPROGRAM_STATE", "formal"),
            "lang": "zh_CN",
        }
        if page:
            body["page"] = page
        self._call_with_token("post", f"{self._api}/cgi-bin/message/subscribe/send", data=body)

    def msg_sec_check(self, content: str, openid: str, scene: int = 2) -> str:
        """Content security check v2: ``pass``, ``review`` or ``risky``."""
        if self.is_fake:
            return "pass"
        try:
            result = self._call_with_token(
                "post",
                f"{self._api}/wxa/msg_sec_check",
                data={"content": content, "version": 2, "scene": scene, "openid": openid},
            )
        except WeChatError:
            raise unavailable() from None
        suggest = (result.get("result") or {}).get("suggest", "review")
        return suggest if suggest in ("pass", "review", "risky") else "review"


wechat = WeChatGateway()
