"""The OpenAPI 3.0.3 description of GeoReport v2, served at ``/open311/v2/openapi.json``.

``make schemas`` exports it to ``schemas/dist/open311-openapi.json``; ``tests/test_fuzz.py``
fuzzes every operation in it. Each path is concrete, once per format
(``/open311/v2/services.json`` and ``.xml``): the same representations
(``schemas/open311.py``) as JSON or as the spec's XML (``text/xml``, with ``xml`` names).
Parameters carry the bounds that ``params`` enforces. What each operation can answer:

- discovery: 200 and 429 (rate limit, with ``Retry-After``), nothing else;
- the other reads: 200, 400 (a parameter too long or malformed), 404 (another
  ``jurisdiction_id``; an unknown service, request or token), 429, 503 (database unavailable,
  with ``Retry-After``);
- POST requests: 201, 400, 403 (``api_key``), 404 (``jurisdiction_id``), 413 (body too large),
  429 (per key), 503.
"""

from functools import cache

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin

from schemas.open311 import (
    Open311DiscoverySchema,
    Open311EndpointSchema,
    Open311ErrorSchema,
    Open311RequestCreatedSchema,
    Open311ServiceDefinitionSchema,
    Open311ServiceRequestSchema,
    Open311ServiceSchema,
    Open311TokenSchema,
)
from server.web.open311 import params, render

PREFIX = "/open311/v2"
MEDIA_TYPES = {"json": "application/json", "xml": "text/xml"}
# Component name, schema, and its element name in XML (nested schemas before their parents).
COMPONENTS = (
    ("Endpoint", Open311EndpointSchema, "endpoint"),
    ("Discovery", Open311DiscoverySchema, "discovery"),
    ("Service", Open311ServiceSchema, "service"),
    ("ServiceDefinition", Open311ServiceDefinitionSchema, "service_definition"),
    ("ServiceRequest", Open311ServiceRequestSchema, "request"),
    ("Token", Open311TokenSchema, "request"),
    ("RequestCreated", Open311RequestCreatedSchema, "request"),
    ("Error", Open311ErrorSchema, "error"),
)
ERRORS = {
    400: "A parameter is missing, too long or malformed, or names no service",
    403: "api_key was not provided, is invalid or has been revoked",
    404: "Not found (or another jurisdiction_id)",
    413: "The request body is too large",
    429: "Too many requests: try again after Retry-After seconds",
    503: "Service temporarily unavailable: try again after Retry-After seconds",
}
RETRY_AFTER = {
    "description": "Seconds to wait before trying again",
    "required": True,
    "schema": {"type": "integer", "minimum": 1},
}
PUBLIC = {
    "Access-Control-Allow-Origin": {
        "description": "Open data: any web page may read it",
        "required": True,
        "schema": {"type": "string", "enum": ["*"]},
    }
}
NO_NUL = "^[^\\x00]*$"


def _schema_name(schema) -> str:
    cls = schema if isinstance(schema, type) else type(schema)
    return cls.__name__.removeprefix("Open311").removesuffix("Schema")


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _list(root: str, item: str) -> dict:
    """The spec's lists: a JSON array, or ``<root>`` holding one element per item in XML."""
    return {"type": "array", "items": _ref(item), "xml": {"name": root, "wrapped": True}}


def _content(fmt: str, schema: dict) -> dict:
    return {MEDIA_TYPES[fmt]: {"schema": schema}}


def _ok(fmt: str, description: str, schema: dict, public: bool = True) -> dict:
    answer = {"description": description, "content": _content(fmt, schema)}
    if public:
        answer["headers"] = PUBLIC
    return answer


def _errors(fmt: str, *statuses: int) -> dict:
    return {
        str(status): {"$ref": f"#/components/responses/Error{status}{fmt.upper()}"}
        for status in statuses
    }


def _query(name: str, description: str, schema: dict, **extra) -> dict:
    return {"in": "query", "name": name, "description": description, "schema": schema, **extra}


def _path(name: str, description: str, schema: dict) -> dict:
    return {
        "in": "path",
        "name": name,
        "required": True,
        "description": description,
        "schema": schema,
    }


def _text(name: str, pattern: str = NO_NUL) -> dict:
    return {"type": "string", "maxLength": params.MAX_LENGTH[name], "pattern": pattern}


def _comma_list(items: dict, max_items: int) -> dict:
    # style form, explode false: GeoReport's comma-delimited lists (``status=open,closed``).
    return {"schema": {"type": "array", "items": items, "maxItems": max_items}, "explode": False}


JURISDICTION = _query(
    "jurisdiction_id",
    "Ignored unless the server has one configured; another one is a 404",
    _text("jurisdiction_id"),
)
# Blank values count as absent, so a required text needs one character that is not blank
# (Python's whitespace, spelled out for every regex engine that reads the pattern).
BLANK = "".join(f"\\u{ord(c):04x}" for c in params.WHITESPACE)
NOT_BLANK = f"^[{BLANK}]*[^\\x00{BLANK}][^\\x00]*$"
HTTP_URL = f"^[Hh][Tt][Tt][Pp][Ss]?://[^\\x00{BLANK}]+$"
LAT, LONG = params.LAT_RANGE, params.LONG_RANGE


def _filing_form() -> dict:
    ignored = "Accepted and never stored: the calling system keeps its own contact"
    return {
        "type": "object",
        "required": ["service_code", "lat", "long", "description"],
        "properties": {
            "api_key": {"type": "string", "description": "Or in the query string"},
            "jurisdiction_id": _text("jurisdiction_id"),
            "service_code": {**_text("service_code", NOT_BLANK), "example": "B0102"},
            "lat": {
                "type": "number",
                "minimum": LAT[0],
                "maximum": LAT[1],
                "description": "WGS-84 latitude, inside the jurisdiction",
            },
            "long": {
                "type": "number",
                "minimum": LONG[0],
                "maximum": LONG[1],
                "description": "WGS-84 longitude, inside the jurisdiction",
            },
            "address_string": _text("address_string"),
            "address_id": {"type": "string", "description": "Ignored: lat/long are required"},
            "description": _text("description", NOT_BLANK),
            "media_url": {**_text("media_url", HTTP_URL), "description": "An http(s) URL"},
            **{
                name: {"type": "string", "description": ignored}
                for name in ("email", "first_name", "last_name", "phone", "device_id")
            },
            "account_id": {"type": "string", "description": ignored},
        },
    }


def _operations(fmt: str) -> dict[str, dict]:
    """Every path in format ``fmt``, with its operations."""
    ext = f".{fmt}"
    reads = (400, 404, 429, 503)
    code = _path("service_code", "A service_code from the service list", {"type": "string"})
    return {
        f"/discovery{ext}": {
            "get": {
                "summary": "Where the endpoint is, which formats it speaks, whom to ask for a key",
                "responses": {
                    "200": _ok(fmt, "The discovery document", _ref("Discovery")),
                    **_errors(fmt, 429),
                },
            }
        },
        f"/services{ext}": {
            "get": {
                "summary": "The request types: the active complaint categories",
                "parameters": [JURISDICTION],
                "responses": {
                    "200": _ok(fmt, "The service list", _list("services", "Service")),
                    **_errors(fmt, *reads),
                },
            }
        },
        f"/services/{{service_code}}{ext}": {
            "get": {
                "summary": "A service's extra attributes: ours have none",
                "parameters": [code, JURISDICTION],
                "responses": {
                    "200": _ok(fmt, "The service definition", _ref("ServiceDefinition")),
                    **_errors(fmt, *reads),
                },
            }
        },
        f"/requests{ext}": {
            "get": {
                "summary": "Public cases, newest first, at most 1000, within 90 days",
                "description": (
                    "Without start_date and end_date: the last 90 days; with one of them: 90 "
                    "days from it. They may not span more than 90 days. service_request_id "
                    "overrides every other filter."
                ),
                "parameters": [
                    _query(
                        "service_request_id",
                        "Comma-delimited request ids",
                        **_comma_list(
                            {"type": "string", "pattern": "^[0-9]{1,12}$"},
                            params.MAX_ITEMS["service_request_id"],
                        ),
                    ),
                    _query(
                        "service_code",
                        "Comma-delimited service codes (each must exist)",
                        **_comma_list(
                            {
                                "type": "string",
                                "maxLength": params.MAX_LENGTH["service_code"],
                                "pattern": "^[^,\\x00]*$",
                            },
                            params.MAX_ITEMS["service_code"],
                        ),
                    ),
                    _query(
                        "start_date",
                        "Requested at or after (W3C datetime; no offset means Beijing time)",
                        {"type": "string", "format": "date-time", "maxLength": 40},
                    ),
                    _query(
                        "end_date",
                        "Requested at or before (W3C datetime; no offset means Beijing time)",
                        {"type": "string", "format": "date-time", "maxLength": 40},
                    ),
                    _query(
                        "status",
                        "open, closed or both (comma-delimited)",
                        **_comma_list(
                            {"type": "string", "enum": ["open", "closed"]},
                            params.MAX_ITEMS["status"],
                        ),
                    ),
                    JURISDICTION,
                ],
                "responses": {
                    "200": _ok(fmt, "The requests", _list("service_requests", "ServiceRequest")),
                    **_errors(fmt, *reads),
                },
            },
            "post": {
                "summary": "File a case (api_key required); answers a token or the request id",
                "description": (
                    "While OPEN311_REVIEW_SUBMISSIONS is on (services of type batch) the case "
                    "waits for review and the answer carries a token; otherwise its id."
                ),
                "security": [{"api_key": []}],
                "requestBody": {
                    "required": True,
                    "content": {"application/x-www-form-urlencoded": {"schema": _filing_form()}},
                },
                "responses": {
                    "201": _ok(
                        fmt,
                        "Filed",
                        _list("service_requests", "RequestCreated"),
                        public=False,
                    ),
                    **_errors(fmt, 400, 403, 404, 413, 429, 503),
                },
            },
        },
        f"/requests/{{service_request_id}}{ext}": {
            "get": {
                "summary": "One public case (a list of one)",
                "parameters": [
                    _path("service_request_id", "A request id", {"type": "string"}),
                    JURISDICTION,
                ],
                "responses": {
                    "200": _ok(fmt, "The request", _list("service_requests", "ServiceRequest")),
                    **_errors(fmt, *reads),
                },
            }
        },
        f"/tokens/{{token}}{ext}": {
            "get": {
                "summary": "The request id behind a token, once the case is public",
                "parameters": [
                    _path("token", "The token a filing answered", {"type": "string"}),
                    JURISDICTION,
                ],
                "responses": {
                    "200": _ok(fmt, "The token", _list("service_requests", "Token")),
                    **_errors(fmt, *reads),
                },
            }
        },
    }


@cache
def openapi() -> dict:
    """The whole document (the same for every deployment: no host, no settings)."""
    spec = APISpec(
        title="Xiuhua 绣花 — Open311 GeoReport v2",
        version=render.CHANGESET,
        openapi_version="3.0.3",
        plugins=[MarshmallowPlugin(schema_name_resolver=_schema_name)],
        info={
            "description": (
                f"The city's [GeoReport v2]({render.SPECIFICATION}) interface. Errors are the "
                "spec's list of {code, description} in the path's format."
            )
        },
    )
    spec.components.security_scheme(
        "api_key",
        {
            "type": "apiKey",
            "in": "query",
            "name": "api_key",
            "description": "Issued by the city's administrators; may also be a form field",
        },
    )
    for name, schema, element in COMPONENTS:
        spec.components.schema(name, {"xml": {"name": element}}, schema=schema)
    for fmt in params.FORMATS:
        for status, description in ERRORS.items():
            response = {
                "description": description,
                "content": _content(fmt, _list("errors", "Error")),
            }
            if status in (429, 503):
                response["headers"] = {"Retry-After": RETRY_AFTER}
            spec.components.response(f"Error{status}{fmt.upper()}", response)
        for path, operations in _operations(fmt).items():
            for method, operation in operations.items():
                operation["operationId"] = f"{method}{_camel(path)}"
            spec.path(path=PREFIX + path, operations=operations)
    return spec.to_dict()


def _camel(path: str) -> str:
    """``/services/{service_code}.json`` → ``ServicesServiceCodeJson``."""
    words = path.replace("{", "").replace("}", "").replace(".", "/").replace("_", "/").split("/")
    return "".join(word.capitalize() for word in words if word)
