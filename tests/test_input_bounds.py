"""Bounded input: every string and array in a request has a documented limit, JSON nesting is
bounded, and bodies over MAX_CONTENT_LENGTH are refused before they are read."""

import re
import uuid

import pytest

from server.http.security import MAX_JSON_DEPTH
from tests.conftest import auth_headers, make_user

# Strings bounded by what they are rather than by maxLength.
BOUNDED_FORMATS = {"date", "date-time", "time", "binary"}
# A pattern anchored at both ends with no unbounded repetition bounds the length by itself
# (character classes such as ``[0-9+]`` are taken out before looking for ``*``, ``+``, ``{n,}``).
CHARACTER_CLASS = re.compile(r"\[(?:\\.|[^\]\\])*\]")
UNBOUNDED_REPEAT = re.compile(r"(?<!\\)[*+]|\{\d+,\}")


def _spec(client) -> dict:
    return client.get("/api/v1/openapi.json").get_json()


def _problems(spec: dict) -> list[str]:
    components = spec["components"]["schemas"]
    found = []

    def resolve(schema):
        while "$ref" in schema:
            schema = components[schema["$ref"].rsplit("/", 1)[-1]]
        return schema

    def walk(schema, where):
        schema = resolve(schema)
        for key in ("allOf", "anyOf", "oneOf"):
            for sub in schema.get(key, []):
                walk(sub, where)
        kind = schema.get("type")
        if kind == "array":
            if "maxItems" not in schema:
                found.append(f"{where}: array without maxItems")
            walk(schema.get("items", {}), where + "[]")
        elif kind == "string":
            pattern = schema.get("pattern", "")
            bounded_pattern = (
                pattern.startswith("^")
                and pattern.endswith("$")
                and not UNBOUNDED_REPEAT.search(CHARACTER_CLASS.sub("C", pattern))
            )
            if not (
                "maxLength" in schema
                or "enum" in schema
                or schema.get("format") in BOUNDED_FORMATS
                or bounded_pattern
            ):
                found.append(f"{where}: string without maxLength")
        elif kind == "object" or "properties" in schema:
            if schema.get("additionalProperties") not in (None, False) or not schema.get(
                "properties"
            ):
                found.append(f"{where}: free-form object")
            for name, prop in schema.get("properties", {}).items():
                if not prop.get("readOnly"):
                    walk(prop, f"{where}.{name}")

    for path, operations in spec["paths"].items():
        shared = operations.get("parameters", [])
        for method, operation in operations.items():
            if method == "parameters":
                continue
            label = f"{method.upper()} {path}"
            for media in operation.get("requestBody", {}).get("content", {}).values():
                walk(media["schema"], label)
            for parameter in shared + operation.get("parameters", []):
                if "schema" in parameter:
                    walk(parameter["schema"], f"{label} ?{parameter['name']}")
    return found


def test_every_request_string_and_array_is_bounded(client):
    assert _problems(_spec(client)) == []


def test_the_spec_walk_finds_unbounded_fields():
    """The walk above must be able to fail."""
    body = {
        "properties": {
            "tags": {"type": "array", "items": {"type": "string", "maxLength": 8}},
            "free": {"type": "object", "additionalProperties": {}},
            "code": {"type": "string", "pattern": "^[a-z]+$"},
            "day": {"type": "string", "format": "date"},
            "kind": {"type": "string", "enum": ["a", "b"]},
            "unit": {"type": "string", "pattern": "^[BS]\\d{4}$"},
        }
    }
    spec = {
        "components": {"schemas": {"Body": body}},
        "paths": {
            "/x": {
                "post": {
                    "requestBody": {
                        "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/Body"}}
                        }
                    },
                    "parameters": [{"in": "query", "name": "q", "schema": {"type": "string"}}],
                }
            }
        },
    }
    assert sorted(_problems(spec)) == [
        "POST /x ?q: string without maxLength",
        "POST /x.code: string without maxLength",
        "POST /x.free: free-form object",
        "POST /x.tags: array without maxItems",
    ]


def _nested(depth: int, kind: str) -> str:
    if kind == "array":
        return "[" * depth + "]" * depth
    return '{"a":' * depth + "1" + "}" * depth


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, 1000, 100_000])
@pytest.mark.parametrize("kind", ["array", "object"])
def test_deeply_nested_json_is_a_400_not_a_500(client, depth, kind):
    user = make_user()
    targets = [
        ("/api/v1/auth/login", {}),
        ("/api/v1/me", auth_headers(user)),
        ("/api/v1/complaints", {**auth_headers(user), "Idempotency-Key": uuid.uuid4().hex}),
    ]
    for url, headers in targets:
        method = "PATCH" if url == "/api/v1/me" else "POST"
        resp = client.open(
            url,
            method=method,
            data=_nested(depth, kind),
            content_type="application/json",
            headers=headers,
        )
        assert resp.status_code == 400, (url, resp.get_json())
        assert resp.get_json()["error"] == "json_too_deep"


def test_nesting_up_to_the_limit_reaches_validation(client):
    resp = client.post(
        "/api/v1/auth/login",
        data='{"code": "dev:x", "extra": ' + _nested(MAX_JSON_DEPTH - 1, "array") + "}",
        content_type="application/json",
    )
    assert resp.status_code == 200  # unknown fields are dropped, the login goes through


def test_malformed_json_is_still_the_parsers_400(client):
    resp = client.post("/api/v1/auth/login", data="{", content_type="application/json")
    assert resp.status_code == 400 and resp.get_json()["error"] == "bad_request"


@pytest.mark.config(MAX_CONTENT_LENGTH=1024)
def test_body_over_max_content_length_is_413(client):
    resp = client.post(
        "/api/v1/auth/login",
        data='{"code": "' + "x" * 2000 + '"}',
        content_type="application/json",
    )
    assert resp.status_code == 413 and resp.get_json()["code"] == 413


def test_long_opening_hours_refused_before_the_database(client, staff):
    """A valid but 300-character rule used to reach a VARCHAR(255) column (500 on PostgreSQL)."""
    rule = "; ".join(f"2027 Jan {day:02d} off" for day in range(1, 30))
    assert len(rule) > 255
    resp = client.post(
        "/api/v1/staff/toilets",
        json={
            "name": "【演示】长规则公厕",
            "location": {"lat": 34.5318, "lng": 113.3850},
            "category": "class_1",
            "opening_hours": rule,
        },
        headers=auth_headers(staff),
    )
    assert resp.status_code == 422
    assert "opening_hours" in resp.get_json()["errors"]["json"]
