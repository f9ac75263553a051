"""Reading GeoReport v2 parameters: empty means absent, anything malformed is a 400."""

import datetime as dt
import math

from flask import request

from server.services.complaints.cases import MAX_DESCRIPTION
from server.services.open311 import EARLIEST, LATEST
from server.util import geo
from server.util.clock import CST

FORMATS = ("json", "xml")
# The longest value of each parameter, in characters (blanks around it not counted); the
# OpenAPI description (``spec.py``) publishes the same bounds.
MAX_LENGTH = {
    "jurisdiction_id": 100,
    "service_code": 16,
    "address_string": 200,
    "description": MAX_DESCRIPTION,
    "media_url": 500,
    "start_date": 40,
    "end_date": 40,
    "lat": 40,
    "long": 40,
}
LIST_LENGTH = 20_000  # a whole comma-delimited list
# What ``str.strip()`` removes (``str.isspace``), spelled out for the published patterns.
WHITESPACE = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005"
    "\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
# The WGS-84 points a filing may place a case at: China's box (``server.util.geo``) less a margin
# wider than GCJ-02 ever moves a point (0.004° of latitude, 0.010° of longitude), so that the
# converted point stays inside the box that ``create_complaint`` checks.
MARGIN = 0.02
LAT_RANGE = (round(geo.CHINA_BBOX[0] + MARGIN, 6), round(geo.CHINA_BBOX[2] - MARGIN, 6))
LONG_RANGE = (round(geo.CHINA_BBOX[1] + MARGIN, 6), round(geo.CHINA_BBOX[3] - MARGIN, 6))
# How many values a comma-delimited list may name (after dropping repeats).
MAX_ITEMS = {"service_request_id": 1000, "service_code": 100, "status": 2}


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


def text(name: str, max_length: int | None = None) -> str | None:
    """A parameter from the query string or the form body; blank counts as absent."""
    max_length = max_length or MAX_LENGTH[name]
    value = request.values.get(name)
    if value is None or not value.strip():
        return None
    value = value.strip()
    if len(value) > max_length:
        raise bad(f"{name} is too long (at most {max_length} characters)")
    if "\x00" in value:  # no text column takes it (PostgreSQL refuses it even to compare)
        raise bad(f"{name} must not contain NUL characters")
    return value


def credential(name: str) -> str | None:
    """A secret (``api_key``): any value may be tried, and a wrong one is a 403, not a 400."""
    value = (request.values.get(name) or "").strip()
    return value or None


def csv(name: str) -> list[str] | None:
    """A comma-delimited list (``a,b``); empty items are ignored."""
    max_items = MAX_ITEMS[name]
    value = text(name, max_length=LIST_LENGTH)
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
    value = text(name)
    if value is None:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        raise bad(f"{name} must be a W3C datetime, e.g. 2026-11-01T00:00:00+08:00") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=CST)
    try:
        return parsed.astimezone(dt.UTC)
    except OverflowError:
        # Hours from the ends of the calendar (year 1 or 9999) with an offset that takes the
        # UTC time past them: as early or as late as a datetime can be.
        return EARLIEST if parsed.year == 1 else LATEST


def number(name: str, low: float, high: float) -> float | None:
    value = text(name)
    if value is None:
        return None
    try:
        parsed = float(value)
    except ValueError:
        raise bad(f"{name} must be a number") from None
    if not math.isfinite(parsed) or not low <= parsed <= high:
        raise bad(f"{name} must be between {low:g} and {high:g}")
    return parsed


def is_request_id(value: str) -> bool:
    """1 to 12 ASCII digits (``str.isdigit`` alone also takes ``²``, which ``int`` refuses)."""
    return value.isascii() and value.isdigit() and len(value) <= 12


def in_jurisdiction(lat: float, lng: float) -> bool:
    return LAT_RANGE[0] <= lat <= LAT_RANGE[1] and LONG_RANGE[0] <= lng <= LONG_RANGE[1]


def http_url(name: str) -> str | None:
    value = text(name)
    if value is None:
        return None
    scheme, _, rest = value.partition("://")
    if scheme.lower() not in ("http", "https") or not rest or any(c.isspace() for c in value):
        raise bad(f"{name} must be an http(s) URL")
    return value
