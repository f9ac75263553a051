"""One log line per request: method, path, status, duration, user id.

Never the query string, headers or body: tokens, login codes and phone numbers
travel there.
"""

import logging
import time

from flask import Flask, g, request
from sqlalchemy import inspect

log = logging.getLogger("xiuhua.request")


def _start_timer():
    g.request_started = time.perf_counter()


def _log_request(response):
    started = g.get("request_started")
    duration_ms = (time.perf_counter() - started) * 1000 if started else 0.0
    user = g.get("current_user")
    # The id from the identity map: ``user.id`` would reload the row the commit expired.
    user_id = inspect(user).identity[0] if user is not None else "-"
    log.info(
        "%s %s %s %.1fms user=%s",
        request.method,
        request.path,
        response.status_code,
        duration_ms,
        user_id,
    )
    return response


def init_request_log(app: Flask) -> None:
    logging.basicConfig(
        level=app.config.get("LOG_LEVEL", "INFO"),
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    app.before_request(_start_timer)
    app.after_request(_log_request)
