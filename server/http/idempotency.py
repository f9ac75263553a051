"""``Idempotency-Key`` for submissions a weak mobile network makes the client repeat.

The first request with a key runs the view and stores its response in the same
transaction; a replay with the same key and body gets the stored response and
creates nothing; the same key with another body is a 422. Keys are per user and
scope and kept for 24 hours.
"""

import datetime as dt
import hashlib
import json
from functools import wraps

from flask import Response, request
from flask_smorest import Blueprint
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from server.core.errors import AppError
from server.core.identity import current_user
from server.core.signals import account_deleting
from server.extensions import db
from server.models.idempotency import IdempotencyKey
from server.models.users import User
from server.util.clock import utcnow

HEADER = "Idempotency-Key"
KEEP_FOR = dt.timedelta(hours=24)
_DOC = {
    "x-idempotent": True,
    "parameters": [
        {
            "in": "header",
            "name": HEADER,
            "required": True,
            "description": "A fresh random key (e.g. a UUID) per submission; "
            "repeat it when retrying the same submission.",
            "schema": {"type": "string", "minLength": 8, "maxLength": 64},
        }
    ],
}


def _request_hash() -> str:
    body = request.get_json(silent=True)
    raw = (
        json.dumps(body, sort_keys=True, ensure_ascii=False).encode()
        if body is not None
        else request.get_data()
    )
    return hashlib.sha256(request.path.encode() + b"\0" + raw).hexdigest()


def _replay(record: IdempotencyKey, request_hash: str) -> Response:
    if record.request_hash != request_hash:
        raise AppError(422, "idempotency_key_reused", "该提交编号已用于另一份内容，请重新提交")
    if record.status_code is None:
        raise AppError(409, "request_in_progress", "上一次提交仍在处理中，请稍后刷新")
    response = Response(
        record.response_body, status=record.status_code, mimetype="application/json"
    )
    response.headers["Idempotent-Replayed"] = "true"
    return response


def _find(user_id: int, scope: str, key: str) -> IdempotencyKey | None:
    return db.session.scalar(
        select(IdempotencyKey).where(
            IdempotencyKey.user_id == user_id,
            IdempotencyKey.scope == scope,
            IdempotencyKey.key == key,
        )
    )


def idempotent(scope: str):
    """View decorator (below ``auth_required``, above ``blp.arguments``)."""

    def decorator(func):
        @wraps(func)
        def wrapper(*args, **kwargs):
            key = request.headers.get(HEADER, "").strip()
            if not key:
                raise AppError(400, "idempotency_key_required", "缺少提交编号，请更新小程序后重试")
            if not 8 <= len(key) <= 64 or not key.isascii():
                raise AppError(400, "idempotency_key_invalid", "提交编号格式不正确")
            user = current_user()
            request_hash = _request_hash()
            record = _find(user.id, scope, key)
            if record is not None:
                return _replay(record, request_hash)
            record = IdempotencyKey(
                user_id=user.id, scope=scope, key=key, request_hash=request_hash
            )
            try:
                with db.session.begin_nested():
                    db.session.add(record)
            except IntegrityError:
                # A simultaneous request with the same key won; answer as it did.
                return _replay(_find(user.id, scope, key), request_hash)
            response = func(*args, **kwargs)
            if isinstance(response, Response) and response.status_code < 300:
                record.status_code = response.status_code
                record.response_body = response.get_data(as_text=True)
            else:
                # Nothing worth replaying: free the key for a corrected retry.
                db.session.delete(record)
            return response

        wrapper = Blueprint.doc(**_DOC)(wrapper)
        return wrapper

    return decorator


def purge_expired(now: dt.datetime | None = None) -> int:
    cutoff = (now or utcnow()) - KEEP_FOR
    return db.session.execute(
        delete(IdempotencyKey).where(IdempotencyKey.created_at < cutoff)
    ).rowcount


@account_deleting.connect
def _forget_on_account_deletion(user: User, **kwargs) -> None:
    """Stored answers are the user's data (their phone, their check-in codes): gone with them."""
    db.session.execute(delete(IdempotencyKey).where(IdempotencyKey.user_id == user.id))
