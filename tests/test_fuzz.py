"""Fuzzing every documented operation from the OpenAPI specs (schemathesis), per role.

Both documents: the mini-program API (``/api/v1/openapi.json``, per role) and Open311
GeoReport v2 (``/open311/v2/openapi.json``, anonymously and with an API key). Zero 5xx,
every response conforms to its documented schema, status code and headers (Open311's XML
answers are read back as JSON by ``open311_xml`` and checked against the same schemas). The
profile is bounded and deterministic (``FUZZ_EXAMPLES`` examples per operation and role,
derandomized); ``make fuzz`` runs a longer one.
"""

import os
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import positive_data_acceptance

from server.extensions import db
from server.services import open311 as open311_service
from server.services.complaints import staff as complaints_staff
from server.services.complaints import workflow
from tests.conftest import auth_headers, make_user
from tests.test_complaints import advance, make_complaint

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "15"))
ROLES = ("anonymous", "resident", "staff", "admin")


def _positive(case) -> bool:
    return case.meta is not None and case.meta.generation.mode == GenerationMode.POSITIVE


def fuzz(schema, checks: list, cases: Callable | None = None) -> list[str]:
    """Run ``EXAMPLES`` cases of every operation in ``schema``; one failure report per operation.

    ``cases(operation)`` replaces the operation's strategy (by default its positive cases).
    schemathesis's ``positive_data_acceptance`` is replaced by each API's own ``checks``.
    """
    failures = []
    for result in schema.get_all_operations():
        operation = result.ok()
        strategy = operation.as_strategy() if cases is None else cases(operation)

        @given(case=strategy)
        @settings(
            max_examples=EXAMPLES,
            derandomize=True,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def check(case):
            case.call_and_validate(
                excluded_checks=[positive_data_acceptance], additional_checks=checks
            )

        try:
            check()
        # Collect every operation's failure, then report all (schemathesis raises a
        # BaseExceptionGroup, which `except Exception` would not catch).
        except (Exception, BaseExceptionGroup) as exc:
            failures.append(f"{operation.label}: {exc}")
    return failures


# -- the mini-program API -------------------------------------------------------------------------
def schema_agrees_with_validation(ctx, response, case):
    """A schema-valid request must not fail our own input validation.

    Replaces schemathesis's ``positive_data_acceptance``, which also counts business
    rejections (a phone code WeChat does not know, a date in the past) as failures:
    those are 4xx with their own ``error`` code, while ``validation_error`` means the
    published schema and the validator disagree.
    """
    if not _positive(case):
        return None
    if response.status_code == 422 and response.json().get("error") == "validation_error":
        raise AssertionError(f"schema-valid request failed validation: {response.text}")
    return None


def load_schema(app, role: str):
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    if role == "anonymous":
        return schema

    @schema.auth(refresh_interval=None)
    class FreshUserToken:
        """A new user and token for every case: logout or 注销 in one case cannot spoil the next."""

        def get(self, case, context):
            user = make_user(role="resident" if role == "resident" else role)
            return auth_headers(user, ttl=86_400)["Authorization"]

        def set(self, case, data, context):
            case.headers = {**(case.headers or {}), "Authorization": data}

    return schema


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.config(RATELIMIT_ENABLED=False)
def test_every_operation_conforms(app, role):
    failures = fuzz(load_schema(app, role), checks=[schema_agrees_with_validation])
    assert not failures, "\n\n".join(failures)


# -- Open311 GeoReport v2 ------------------------------------------------------------------------
# GeoReport answers every rejection with a 400, told apart only by its description. These
# follow from the data (a code that names no service) or from two parameters together (the
# 90-day window), which no schema can state. Any other 400 to a schema-valid request means
# that the published description and the validation disagree.
OPEN311_DATA_RULES = re.compile(
    r"service_code not found: .*"
    r"|service_code '.*' not found"
    r"|start_date must not be after end_date"
    r"|start_date and end_date may not span more than 90 days",
    re.DOTALL,
)


def _resolve(document: dict, node: dict) -> dict:
    while "$ref" in node:
        target = document
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def _from_xml(document: dict, element: ET.Element, schema: dict):
    """What ``element`` stands for as JSON, read the way ``schema`` describes it.

    The inverse of ``render.to_xml``: an array's items are its children, each named as its
    ``xml`` says; an object's properties are its children by tag; a scalar is the text
    (empty is null where nullable, else "").
    """
    schema = _resolve(document, schema)
    if schema.get("type") == "array":
        items = _resolve(document, schema["items"])
        name = items.get("xml", {}).get("name")
        for child in element:
            if name and child.tag != name:
                raise ValueError(f"<{child.tag}> in <{element.tag}>, documented: <{name}>")
        return [_from_xml(document, child, items) for child in element]
    if schema.get("type") == "object":
        properties = schema.get("properties", {})
        return {
            child.tag: _from_xml(document, child, properties.get(child.tag, {}))
            for child in element
        }
    text = element.text or ""
    if not text:
        return None if schema.get("nullable") or schema.get("type") != "string" else ""
    readers = {"integer": int, "number": float, "boolean": {"true": True, "false": False}.get}
    try:
        return readers.get(schema.get("type"), str)(text)
    except ValueError:
        return text  # the schema says what is wrong with it


@schemathesis.deserializer("text/xml")
def open311_xml(ctx, response):
    """Open311's XML answers, as JSON, so that their bodies are checked against the schemas."""
    document = ctx.operation.schema.raw_schema
    answer = _resolve(
        document, ctx.operation.definition.raw["responses"][str(response.status_code)]
    )
    schema = answer["content"]["text/xml"]["schema"]
    root = ET.fromstring(response.content)
    name = _resolve(document, schema).get("xml", {}).get("name")
    if root.tag != name:
        raise ValueError(f"root element <{root.tag}>, documented: <{name}>")
    return _from_xml(document, root, schema)


def _open311_errors(response) -> list[str]:
    if response.headers.get("content-type", [""])[0].startswith("text/xml"):
        root = ET.fromstring(response.content)
        return [error.findtext("description") or "" for error in root.iter("error")]
    return [error["description"] for error in response.json()]


def open311_accepts_valid_data(with_key: bool):
    """A schema-valid request is not refused as malformed (nor, with a valid key, its key)."""

    def check(ctx, response, case):
        if not _positive(case):
            return None
        if response.status_code == 403 and with_key:
            raise AssertionError(f"valid api_key refused: {response.text}")
        if response.status_code == 400:
            for description in _open311_errors(response):
                if not OPEN311_DATA_RULES.fullmatch(description):
                    raise AssertionError(f"schema-valid request refused: {description}")
        return None

    return check


def seed_open311() -> dict[str, list[str]]:
    """Public and held cases, filed in every way, to answer with; the values that name them."""
    complaints_staff.seed_reference_data()
    db.session.commit()
    staff = make_user(role="staff")
    key_row, _ = open311_service.issue_key("数据开放平台", None)
    public = [
        make_complaint(description="井盖缺失，有事打我电话 13612340000"),
        advance(make_complaint(category="S0302"), "closed", staff),
        advance(make_complaint(), "dispatched", staff),
    ]
    rejected = make_complaint()
    workflow.reject(rejected, staff, reason="不属于城管职责")
    filed = [
        open311_service.submit(
            key_row,
            category_code="B0102",
            description="经热线反映：井盖破损",
            lat=30.27,
            lng=120.15,
            address="人民路",
            media_url="https://hotline.example.gov.cn/a.jpg",
            hold=hold,
        )
        for hold in (True, False)
    ]
    db.session.commit()
    return {
        "service_code": ["B0102", "S0302", "B0101"],
        "service_request_id": [str(c.id) for c in [*public, rejected]]
        + [str(s.complaint_id) for s in filed],
        "token": [s.token for s in filed],
    }


def with_known_values(known: dict[str, list[str]]) -> Callable:
    """Cases where a parameter sometimes names a real row (a service, a case, a token).

    Random strings almost never do, so without this every filing would stop at "service_code
    not found" and every lookup at a 404. A known value is schema-valid where it is put.
    """

    def cases(operation):
        @st.composite
        def draw_case(draw):
            case = draw(operation.as_strategy())
            for container in (case.path_parameters, case.query, case.body):
                if not isinstance(container, dict):
                    continue
                for name in sorted(container.keys() & known.keys()):
                    if draw(st.booleans()):
                        value = draw(st.sampled_from(known[name]))
                        container[name] = [value] if isinstance(container[name], list) else value
            return case

        return draw_case()

    return cases


def load_open311_schema(app, api_key: str | None):
    schema = schemathesis.openapi.from_wsgi("/open311/v2/openapi.json", app)
    if api_key is None:
        return schema

    @schema.auth(refresh_interval=None).apply_to(method="POST")
    class ApiKey:
        def get(self, case, context):
            return api_key

        def set(self, case, data, context):
            case.query = {**(case.query or {}), "api_key": data}

    return schema


@pytest.mark.parametrize(
    "role",
    [
        "anonymous",
        "api_key",  # filings held for review: answered with a token
        pytest.param(
            "api_key",
            marks=pytest.mark.config(OPEN311_REVIEW_SUBMISSIONS=False),
            id="api_key-realtime",  # public at once: answered with the request id
        ),
    ],
)
@pytest.mark.config(RATELIMIT_ENABLED=False)
def test_every_open311_operation_conforms(app, role):
    known = seed_open311()
    api_key = None
    if role == "api_key":
        _, api_key = open311_service.issue_key("12345 市民热线平台", None)
        db.session.commit()
    failures = fuzz(
        load_open311_schema(app, api_key),
        checks=[open311_accepts_valid_data(with_key=api_key is not None)],
        cases=with_known_values(known),
    )
    assert not failures, "\n\n".join(failures)
