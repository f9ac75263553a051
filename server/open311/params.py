"""Reading GeoReport v2 parameters: empty means absent, anything malformed is a 400."""

import datetime as dt
import math

from flask import request

from server.timeutil import CST

FORMATS = ("json", "xml")


class Open311Error(Exception):
    """An error answered as the spec's ``[{code, description}]`` in the requested format."""

    def __init__(self, code: int, description: str, headers: dict | None = None):
        super().__init__(description)
        self.code = code
        self.description = description
        self.headers = headers or {}


def bad(description: str) -> Open311Error:
    return Open311Error(400, description)


def fmt_of(path: str) -> str:
    """The format an error should use: the path's extension when it is one we serve."""
    extension = path.rsplit(".", 1)[-1].lower() if "." in path.rsplit("/", 1)[-1] else ""
    return extension if extension in FORMATS else "json"


def check_format(fmt: str) -> str:
    if fmt not in FORMATS:
        raise Open311Error(404, f"format '{fmt}' is not supported: use .json or .xml")
    return fmt


def text(name: str, max_length: int = 1000) -> str | None:
    """A parameter from the query string or the form body; blank counts as absent."""
    value = request.values.get(name)
    if value is None or not value.strip():
        return None
    value = value.strip()
    if len(value) > max_length:
        raise bad(f"{name} is too long (at most {max_length} characters)")
    return value


def csv(name: str, max_items: int = 1000) -> list[str] | None:
    """A comma-delimited list (``a,b``); empty items are ignored."""
    value = text(name, max_length=20_000)
    if value is None:
        return None
    items = list(dict.fromkeys(item.strip() for item in value.split(",") if item.strip()))
    if not items:
        return None
    if len(items) > max_items:
        raise bad(f"{name} lists more than {max_items} values")
    return items


def w3c_datetime(name: str) -> dt.datetime | None:
    """A W3C datetime (``2026-11-01T00:00:00+08:00`` or ``...Z``); without an offset, Beijing."""
    value = text(name, max_length=40)
    if value is None:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        raise bad(f"{name} must be a W3C datetime, e.g. 2026-11-01T00:00:00+08:00") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=CST)
    return parsed.astimezone(dt.UTC)


def number(name: str, low: float, high: float) -> float | None:
    value = text(name, max_length=40)
    if value is None:
        return None
    try:
        parsed = float(value)
    except ValueError:
        raise bad(f"{name} must be a number") from None
    if not math.isfinite(parsed) or not low <= parsed <= high:
        raise bad(f"{name} must be between {low:g} and {high:g}")
    return parsed


def http_url(name: str) -> str | None:
    value = text(name, max_length=500)
    if value is None:
        return None
    scheme, _, rest = value.partition("://")
    if scheme.lower() not in ("http", "https") or not rest or any(c.isspace() for c in value):
        raise bad(f"{name} must be an http(s) URL")
    return value
