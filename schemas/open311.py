"""Open311 API keys, as admins issue, list and revoke them."""

from marshmallow import fields, validate

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
