"""Login and logout."""

from marshmallow import fields, validate

from schemas.common import BaseSchema, CSTDateTime
from schemas.users import MeSchema


class LoginSchema(BaseSchema):
    code = fields.String(
        required=True,
        validate=validate.Length(min=1, max=128),
        metadata={"description": "The one-time code from wx.login() (dev:<name> in fake mode)"},
    )


class TokenSchema(BaseSchema):
    token = fields.String(required=True, metadata={"description": "Bearer token"})
    token_type = fields.Constant("Bearer", required=True)
    expires_at = CSTDateTime(required=True)
    expires_in = fields.Integer(required=True, metadata={"description": "Seconds"})
    user = fields.Nested(MeSchema, required=True)
