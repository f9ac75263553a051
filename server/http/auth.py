"""Request authentication: ``Authorization: Bearer <token>`` and role checks."""

from functools import wraps

from flask import current_app, request
from flask_smorest import Blueprint

from server.core.errors import AppError
from server.core.identity import set_current_user
from server.models.users import User
from server.services import auth as auth_service

STAFF_ROLES = ("staff", "admin")


def bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    token = token.strip()
    # Our tokens are 43 url-safe characters; anything else cannot be one.
    if len(token) > 128:
        return None
    return token


def _load_user(optional: bool) -> User | None:
    if not request.headers.get("Authorization"):
        if optional:
            return None
        raise AppError(401, "unauthorized", "请先登录")
    token = bearer_token()
    if token is None:
        raise AppError(401, "token_invalid", "登录已失效，请重新登录")
    return auth_service.authenticate(token)


def auth_required(*roles: str, optional: bool = False):
    """View decorator: require a logged-in user, optionally with one of ``roles``.

    ``admin`` satisfies ``staff``. With ``optional=True`` anonymous callers get
    through with ``current_user() is None``.
    """
    allowed = set(roles)
    if "staff" in allowed:
        allowed.add("admin")

    def decorator(func):
        @wraps(func)
        def wrapper(*args, **kwargs):
            user = _load_user(optional)
            if user is not None and allowed and user.role not in allowed:
                raise AppError(403, "forbidden", "没有权限执行此操作")
            set_current_user(user)
            return func(*args, **kwargs)

        security = [{"bearerAuth": []}]
        if optional:
            security.append({})
        return Blueprint.doc(security=security)(wrapper)

    return decorator


def staff_required(func):
    return auth_required(*STAFF_ROLES)(func)


def admin_required(func):
    return auth_required("admin")(func)


def token_ttl() -> int:
    return current_app.config["TOKEN_TTL_SECONDS"]
