"""Open311: API keys, as admins issue, list and revoke them; GeoReport v2 representations."""

from marshmallow import Schema, fields, validate

from schemas.common import BaseSchema, CSTDateTime, PageQuerySchema


class Open311KeyCreateSchema(BaseSchema):
    name = fields.String(
        required=True,
        validate=validate.Length(min=1, max=64),
        metadata={"description": "Who will use the key, e.g. 12345 市民热线平台"},
    )


class Open311KeyQuerySchema(PageQuerySchema):
    pass


class Open311KeySchema(BaseSchema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)
    prefix = fields.String(
        required=True, metadata={"description": "First characters of the key, to tell keys apart"}
    )
    active = fields.Boolean(required=True)
    created_at = CSTDateTime(required=True)
    created_by = fields.Integer(attribute="created_by_id", allow_none=True)
    revoked_at = CSTDateTime(allow_none=True)
    last_used_at = CSTDateTime(
        allow_none=True, metadata={"description": "Last request accepted with this key"}
    )


class Open311KeyIssuedSchema(Open311KeySchema):
    key = fields.String(
        required=True,
        metadata={"description": "The key itself: shown once, only its hash is stored"},
    )


# -- GeoReport v2 representations -----------------------------------------------------------------
# What server/open311/render.py answers, described for the interface's OpenAPI document
# (server/open311/spec.py); the fuzz test checks every answer against them. The XML names are
# the spec's: a list is an element holding one element per item (``<services><service>``). The
# roots and the items that are schemas of their own are named in server/open311/spec.py.
WRAPPED = {"xml": {"wrapped": True}}


def _item(name: str) -> dict:
    return {"xml": {"name": name}}


class Open311ErrorSchema(Schema):
    code = fields.Integer(required=True, metadata={"description": "The HTTP status code"})
    description = fields.String(required=True)


class Open311EndpointSchema(Schema):
    specification = fields.String(required=True)
    url = fields.String(required=True, metadata={"description": "Base URL of the endpoint"})
    changeset = fields.DateTime(required=True)
    type = fields.String(required=True, validate=validate.OneOf(["production", "test"]))
    formats = fields.List(
        fields.String(
            validate=validate.OneOf(["text/xml", "application/json"]), metadata=_item("format")
        ),
        required=True,
        metadata=WRAPPED,
    )


class Open311DiscoverySchema(Schema):
    changeset = fields.DateTime(required=True, metadata={"description": "When this changed"})
    contact = fields.String(required=True)
    key_service = fields.String(required=True, metadata={"description": "How to get an api_key"})
    endpoints = fields.List(fields.Nested(Open311EndpointSchema), required=True, metadata=WRAPPED)


class Open311ServiceSchema(Schema):
    service_code = fields.String(required=True, metadata={"example": "B0102"})
    service_name = fields.String(required=True)
    description = fields.String(required=True)
    metadata_ = fields.Boolean(
        required=True,
        data_key="metadata",
        metadata={"description": "Always false: no service has extra attributes"},
    )
    type = fields.String(
        required=True,
        validate=validate.OneOf(["realtime", "batch"]),
        metadata={"description": "batch while filed cases wait for review (token first)"},
    )
    keywords = fields.String(required=True)
    group = fields.String(required=True)


class Open311ServiceDefinitionSchema(Schema):
    service_code = fields.String(required=True)
    attributes = fields.List(
        fields.Dict(metadata=_item("attribute")),
        required=True,
        validate=validate.Length(max=0),
        metadata={**WRAPPED, "description": "Always empty: no service has extra attributes"},
    )


class Open311ServiceRequestSchema(Schema):
    """A public case; times are W3C datetimes in Beijing time, ``lat``/``long`` WGS-84."""

    service_request_id = fields.String(required=True, metadata={"example": "1024"})
    status = fields.String(required=True, validate=validate.OneOf(["open", "closed"]))
    status_notes = fields.String(required=True)
    service_name = fields.String(required=True)
    service_code = fields.String(required=True)
    description = fields.String(required=True)
    agency_responsible = fields.String(required=True, allow_none=True)
    service_notice = fields.String(required=True)
    requested_datetime = fields.DateTime(required=True)
    updated_datetime = fields.DateTime(required=True)
    expected_datetime = fields.DateTime(required=True, allow_none=True)
    address = fields.String(required=True, allow_none=True)
    address_id = fields.String(
        required=True, allow_none=True, metadata={"description": "Always null"}
    )
    zipcode = fields.String(required=True, allow_none=True, metadata={"description": "Always null"})
    lat = fields.Float(required=True, validate=validate.Range(-90, 90))
    long = fields.Float(required=True, validate=validate.Range(-180, 180))
    media_url = fields.String(required=True, allow_none=True)


class Open311TokenSchema(Schema):
    service_request_id = fields.String(
        required=True, allow_none=True, metadata={"description": "Null until the case is public"}
    )
    token = fields.String(required=True)


class Open311RequestCreatedSchema(Schema):
    """The answer to a filing: ``token`` while the case waits for review, else its id."""

    token = fields.String()
    service_request_id = fields.String()
    service_notice = fields.String(required=True)
    account_id = fields.String(
        required=True, allow_none=True, metadata={"description": "Always null"}
    )
