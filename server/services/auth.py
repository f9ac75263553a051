"""Login with WeChat and opaque bearer tokens."""

import datetime as dt
import hashlib
import secrets

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from server.core import ratelimit
from server.core.errors import AppError
from server.extensions import db
from server.integrations.wechat import wechat
from server.models.users import ApiToken, User
from server.util.clock import utcnow

TOKEN_BYTES = 32


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _get_or_create_user(openid: str, unionid: str | None) -> User:
    user = db.session.scalar(select(User).where(User.openid == openid))
    if user is not None:
        return user
    try:
        # A savepoint, so that losing the race to a simultaneous first login
        # does not throw away the rest of the transaction.
        with db.session.begin_nested():
            user = User(openid=openid, unionid=unionid)
            db.session.add(user)
    except IntegrityError:
        user = db.session.scalar(select(User).where(User.openid == openid))
        if user is None:
            raise
    return user


def issue_token(
    user: User, ttl_seconds: int, now: dt.datetime | None = None
) -> tuple[str, ApiToken]:
    now = now or utcnow()
    token = secrets.token_urlsafe(TOKEN_BYTES)
    record = ApiToken(
        user=user,
        token_hash=hash_token(token),
        created_at=now,
        expires_at=now + dt.timedelta(seconds=ttl_seconds),
    )
    db.session.add(record)
    return token, record


def login(code: str, ttl_seconds: int) -> tuple[str, ApiToken]:
    """Exchange a ``wx.login`` code for a bearer token, creating the account on first login."""
    identity = wechat.code_to_session(code)
    ratelimit.hit("LOGIN_OPENID", identity.openid)
    user = _get_or_create_user(identity.openid, identity.unionid)
    if user.status == "banned":
        raise AppError(403, "account_banned", "账号已被停用，如有疑问请联系12319")
    if identity.unionid and user.unionid != identity.unionid:
        user.unionid = identity.unionid
    return issue_token(user, ttl_seconds)


def authenticate(token: str, now: dt.datetime | None = None) -> User:
    """The active user owning ``token``; raises 401 for anything else."""
    # One query for the token and its user: this runs on every authenticated request.
    row = db.session.execute(
        select(User, ApiToken.expires_at)
        .join(ApiToken, ApiToken.user_id == User.id)
        .where(ApiToken.token_hash == hash_token(token))
    ).one_or_none()
    if row is None:
        raise AppError(401, "token_invalid", "登录已失效，请重新登录")
    user, expires_at = row
    if expires_at <= (now or utcnow()):
        raise AppError(401, "token_expired", "登录已过期，请重新登录")
    if user.status != "active":
        raise AppError(401, "token_invalid", "登录已失效，请重新登录")
    return user


def revoke_token(token: str) -> None:
    db.session.execute(delete(ApiToken).where(ApiToken.token_hash == hash_token(token)))


def revoke_all_tokens(user: User) -> None:
    db.session.execute(delete(ApiToken).where(ApiToken.user_id == user.id))


def purge_expired_tokens(now: dt.datetime | None = None) -> int:
    result = db.session.execute(delete(ApiToken).where(ApiToken.expires_at <= (now or utcnow())))
    return result.rowcount
