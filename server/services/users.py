"""Profiles, phone binding, roles and account deletion (注销)."""

import secrets

from sqlalchemy import select

from server.core.errors import AppError
from server.core.signals import account_deleting
from server.extensions import db
from server.integrations.wechat import wechat
from server.models.users import ROLES, User
from server.services.auth import revoke_all_tokens
from server.util.clock import utcnow


def update_profile(user: User, **changes) -> User:
    for field in ("nickname", "avatar_url"):
        if field in changes:
            setattr(user, field, changes[field])
    return user


def bind_phone(user: User, code: str) -> User:
    number = wechat.phone_number(code)
    user.phone = number.phone
    user.phone_country_code = number.country_code
    return user


def delete_account(user: User) -> None:
    """Erase personal data; records others depend on stay, without it."""
    account_deleting.send(user)
    revoke_all_tokens(user)
    user.openid = f"deleted:{user.id}:{secrets.token_hex(8)}"
    user.unionid = None
    user.nickname = None
    user.avatar_url = None
    user.phone = None
    user.phone_country_code = None
    user.role = "resident"
    user.status = "deleted"
    user.deleted_at = utcnow()


def find_by_openid(openid: str) -> User:
    user = db.session.scalar(select(User).where(User.openid == openid))
    if user is None:
        raise AppError(404, "user_not_found", "用户不存在")
    return user


def set_role(user: User, role: str) -> User:
    """Change a user's role; all their tokens are revoked so the change takes effect now."""
    if role not in ROLES:
        raise AppError(422, "invalid_role", "角色无效")
    if user.status == "deleted":
        raise AppError(409, "account_deleted", "账号已注销")
    if user.role != role:
        user.role = role
        revoke_all_tokens(user)
    return user


def set_banned(user: User, banned: bool) -> User:
    if user.status == "deleted":
        raise AppError(409, "account_deleted", "账号已注销")
    user.status = "banned" if banned else "active"
    if banned:
        revoke_all_tokens(user)
    return user
