"""Abuse limits (Flask-Limiter): per client IP and per user, shared across workers via Redis.

Each limit is a config value (``RATELIMIT_<NAME>``, the ``limits`` syntax such as
``"5/minute;30/day"``), so operations can tune it without a release. A breach is a
429 in the error shape with ``Retry-After``.

Flask-Limiter provides the storage (Redis when ``REDIS_URL`` is set, memory otherwise) and the
moving-window strategy; the limits are counted by our decorators on the views they guard.
Its own per-request hooks are taken off the app: they resolve limits for every request,
unlimited ones included, which was a fifth of the cost of a request that does nothing
(``bench/perf/profile.py``, RESULTS.md).
"""

import logging
import time
from functools import partial, wraps

from flask import current_app, request
from flask_limiter import Limiter
from flask_smorest import Blueprint
from limits import parse_many
from limits.errors import StorageError

from server.core.errors import AppError
from server.core.identity import current_user

# Per user, generous for a person and tight for a script: a citizen files a few complaints a
# day (up to 9 photos each), and a weak network may replay a submission (replays count too);
# a farmer books a few stalls a week, retrying when a session fills.
DEFAULT_LIMITS = {
    "RATELIMIT_LOGIN_IP": "30/minute;300/hour",
    "RATELIMIT_LOGIN_OPENID": "10/minute",
    "RATELIMIT_OPEN311_POST": "30/minute",  # per Open311 API key
    "RATELIMIT_OPEN311_READ": "300/minute",  # per client IP, Open311 GET endpoints
    "RATELIMIT_UPLOAD": "30/minute;300/day",
    "RATELIMIT_COMPLAINT": "10/minute;50/day",
    "RATELIMIT_FOLLOW": "30/minute;300/day",
    "RATELIMIT_TOILET_RATING": "10/minute;100/day",
    "RATELIMIT_TOILET_REPORT": "10/minute;50/day",
    "RATELIMIT_BOOKING": "20/minute;200/day",
    "RATELIMIT_WAITLIST": "20/minute;200/day",
}


def client_ip() -> str:
    # Behind nginx, ProxyFix (PROXY_FIX_X_FOR) has already put the client's address here.
    return request.remote_addr or "unknown"


def _user_key() -> str:
    user = current_user()
    return f"user:{user.id}" if user is not None else f"ip:{client_ip()}"


log = logging.getLogger(__name__)

# X-RateLimit headers are off: Flask-Limiter would put a Retry-After on every response.
limiter = Limiter(key_func=client_ip, key_prefix="xiuhua:rl", headers_enabled=False)


# For a 429 that does not come from ``hit`` (which knows when its window frees up).


def init_limiter(app) -> None:
    for key, value in DEFAULT_LIMITS.items():
        app.config.setdefault(key, value)
    # Flask-Limiter would otherwise inherit "enabled" from the previous app it served.
    app.config.setdefault("RATELIMIT_ENABLED", True)
    app.config.setdefault("RATELIMIT_STORAGE_URI", app.config.get("REDIS_URL") or "memory://")
    app.config.setdefault("RATELIMIT_STRATEGY", "moving-window")
    # Storage failures (Redis down) reach hit() as limits' StorageError: see there.
    app.config.setdefault("RATELIMIT_STORAGE_OPTIONS", {"wrap_exceptions": True})
    limiter.init_app(app)
    _remove_request_hooks(app)


def _remove_request_hooks(app) -> None:
    """Take Flask-Limiter's before/after/teardown request hooks off ``app`` (see above)."""

    def is_limiters(func) -> bool:
        if isinstance(func, partial):
            return func.args[:1] == (limiter,)
        return getattr(func, "__self__", None) is limiter

    for hooks in (app.before_request_funcs, app.after_request_funcs, app.teardown_request_funcs):
        for key, funcs in hooks.items():
            hooks[key] = [func for func in funcs if not is_limiters(func)]


def _limited(name: str, key_func):
    def decorator(func):
        @wraps(func)
        def wrapper(*args, **kwargs):
            hit(name, key_func())
            return func(*args, **kwargs)

        return Blueprint.doc(**{"x-rate-limited": True})(wrapper)

    return decorator


def per_ip(name: str):
    """Limit a view per client IP with the ``RATELIMIT_<name>`` setting."""
    return _limited(name, client_ip)


def per_user(name: str):
    """Limit a view per logged-in user (place it below ``auth_required``)."""
    return _limited(name, _user_key)


def hit(name: str, identity: str) -> None:
    """Count one event for ``identity`` (e.g. an openid); 429 when over."""
    if not current_app.config["RATELIMIT_ENABLED"]:
        # Switched off (Flask-Limiter then has no storage to count in).
        return
    for item in parse_many(current_app.config[f"RATELIMIT_{name}"]):
        try:
            allowed = limiter.limiter.hit(item, name.lower(), identity)
            if not allowed:
                reset_at, _ = limiter.limiter.get_window_stats(item, name.lower(), identity)
        except StorageError as exc:
            # The counters are unreachable (Redis down): the request goes through, uncounted,
            # rather than a limit turning a Redis outage into an outage of the service.
            log.warning("rate limit %s not counted: storage unavailable (%s)", name, exc)
            return
        if not allowed:
            retry_after = max(1, int(reset_at - time.time()))
            raise AppError(
                429,
                "rate_limited",
                "操作太频繁，请稍后再试",
                headers={"Retry-After": str(retry_after)},
            )
