"""The one error shape: ``{code, status, error, message, errors}``.

Every failure (validation, auth, WeChat, database, unhandled) leaves the app
through ``error_response`` (wired to Flask by ``server.core.api.XiuhuaApi``). ``message``
is Chinese text the mini-program can show as it is; ``error`` is the stable machine code.
"""

import logging

from flask import current_app
from marshmallow import Schema, fields
from sqlalchemy import exc as sa_exc
from werkzeug.exceptions import HTTPException, InternalServerError, MethodNotAllowed
from werkzeug.http import HTTP_STATUS_CODES

log = logging.getLogger(__name__)

# Seconds a client waits before retrying a 429 that did not say how long.
DEFAULT_RETRY_AFTER = 60

DEFAULTS: dict[int, tuple[str, str]] = {
    400: ("bad_request", "请求格式不正确"),
    401: ("unauthorized", "请先登录"),
    403: ("forbidden", "没有权限执行此操作"),
    404: ("not_found", "内容不存在或已被删除"),
    405: ("method_not_allowed", "不支持该请求方式"),
    409: ("conflict", "操作冲突，请刷新后重试"),
    410: ("gone", "内容已失效"),
    412: ("precondition_failed", "内容已变化，请刷新后重试"),
    413: ("payload_too_large", "上传内容过大"),
    415: ("unsupported_media_type", "不支持的内容类型"),
    422: ("validation_error", "提交的信息有误，请检查后重试"),
    428: ("precondition_required", "请求缺少必要的条件"),
    429: ("rate_limited", "操作太频繁，请稍后再试"),
    500: ("internal_error", "服务器开小差了，请稍后再试"),
    503: ("service_unavailable", "服务暂时不可用，请稍后再试"),
    507: ("insufficient_storage", "服务器存储空间不足，请稍后再试"),
}


class AppError(HTTPException):
    """An error with a stable machine code and a Chinese message for users."""

    def __init__(
        self,
        code: int,
        error: str,
        message: str,
        errors: dict | None = None,
        headers: dict | None = None,
    ):
        super().__init__(description=message)
        self.code = code
        self.error = error
        self.message = message
        self.errors = errors or {}
        self.headers = headers or {}


def not_found(message: str = "内容不存在或已被删除") -> AppError:
    return AppError(404, "not_found", message)


def forbidden(message: str = "没有权限执行此操作") -> AppError:
    return AppError(403, "forbidden", message)


def conflict(error: str, message: str, **errors) -> AppError:
    return AppError(409, error, message, errors=errors or None)


def unprocessable(error: str, message: str, **errors) -> AppError:
    return AppError(422, error, message, errors=errors or None)


def _payload(code: int, error: str, message: str, errors: dict | None) -> dict:
    return {
        "code": code,
        "status": HTTP_STATUS_CODES.get(code, "Error"),
        "error": error,
        "message": message,
        "errors": errors or {},
    }


def to_app_error(original: BaseException | None) -> AppError | None:
    """Map exceptions raised outside a view (e.g. at commit) to the error shape."""
    if isinstance(original, AppError):
        return original
    if isinstance(original, sa_exc.IntegrityError):
        return AppError(409, "conflict", "数据冲突，请刷新后重试")
    if isinstance(original, sa_exc.OperationalError | sa_exc.TimeoutError):
        return AppError(
            503, "database_unavailable", "系统繁忙，请稍后再试", headers={"Retry-After": "2"}
        )
    return None


class ErrorSchema(Schema):
    """The one error shape of every endpoint."""

    code = fields.Integer(required=True, metadata={"description": "HTTP status code"})
    status = fields.String(required=True, metadata={"description": "HTTP status name"})
    error = fields.String(
        required=True, metadata={"description": "Stable machine-readable error code"}
    )
    message = fields.String(
        required=True, metadata={"description": "Chinese message fit to show to the user"}
    )
    errors = fields.Dict(metadata={"description": "Field errors, by location and field"})


def log_database_error(error: Exception) -> None:
    if isinstance(error, sa_exc.IntegrityError):
        log.warning("integrity error: %s", error.orig.__class__.__name__)
    else:
        log.error("database unavailable: %s", error.__class__.__name__)


def error_response(error: HTTPException) -> tuple[dict, int, dict]:
    """``(body, status, headers)`` of the one error shape for any HTTP exception."""
    headers: dict = {}
    if isinstance(error, AppError):
        payload = _payload(error.code, error.error, error.message, error.errors)
        headers.update(error.headers)
        return payload, error.code, headers

    original = getattr(error, "original_exception", None)
    mapped = to_app_error(original)
    if mapped is not None:
        return error_response(mapped)
    if isinstance(error, InternalServerError) and original is not None:
        log.exception("unhandled exception", exc_info=original)

    code = error.code or 500
    machine, message = DEFAULTS.get(code, ("error", "请求失败"))
    errors = None
    data = getattr(error, "data", None) or {}
    if "message" in data and code < 500:
        message = data["message"]
    if "errors" in data:
        errors = data["errors"]
    elif "messages" in data:
        errors = data["messages"]
    headers.update(data.get("headers") or {})
    if isinstance(error, MethodNotAllowed) and error.valid_methods:
        headers["Allow"] = ", ".join(error.valid_methods)
    if code == 429 and "Retry-After" not in headers:
        headers["Retry-After"] = str(DEFAULT_RETRY_AFTER)
    if current_app.config.get("DEBUG_ERRORS") and original is not None:
        errors = {**(errors or {}), "debug": repr(original)}
    return _payload(code, machine, message, errors), code, headers
