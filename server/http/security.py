"""Security headers on every response; JSON bodies of bounded depth."""

from flask import Flask, current_app, request

from server.core.errors import AppError

HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}


def _add_headers(response):
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)
    # Personal data must not sit in shared caches; cacheable endpoints set their own.
    if "Cache-Control" not in response.headers:
        response.headers["Cache-Control"] = "no-store"
    return response


def init_security_headers(app: Flask) -> None:
    app.after_request(_add_headers)


# -- bounded JSON --------------------------------------------------------------------------------
# No request body of ours nests deeper than 4; a deeper one is an attack on the parser (the
# standard library's recursive decoder ends in RecursionError, i.e. a 500) or on what walks it.
MAX_JSON_DEPTH = 16


def _too_deep(value, limit: int) -> bool:
    """Whether ``value`` nests more than ``limit`` containers (checked without recursion)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


def _bounded_json():
    if not request.is_json:
        return
    data = request.get_data(cache=True)
    if not data:
        return
    try:
        body = current_app.json.loads(data)
    except RecursionError:
        too_deep = True
    except ValueError:
        return  # malformed: the argument parser answers it with its own 400
    else:
        too_deep = isinstance(body, dict | list) and _too_deep(body, MAX_JSON_DEPTH)
    if too_deep:
        raise AppError(400, "json_too_deep", "提交的数据层级过深")


def init_json_bounds(app: Flask) -> None:
    app.before_request(_bounded_json)
