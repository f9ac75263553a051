"""The logged-in user's own profile."""

from marshmallow import fields, validate

from schemas.common import BaseSchema, CSTDateTime

HTTPS_URL = r"^https://[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+(:[0-9]{1,5})?(/[A-Za-z0-9._~%/-]*)?$"


class MeSchema(BaseSchema):
    id = fields.Integer(required=True, dump_only=True)
    nickname = fields.String(allow_none=True)
    avatar_url = fields.String(allow_none=True)
    # Only the owner sees this endpoint, so the phone is shown in full here.
    phone = fields.String(allow_none=True, dump_only=True)
    phone_masked = fields.String(allow_none=True, dump_only=True)
    roles = fields.List(fields.String(), required=True, dump_only=True)
    created_at = CSTDateTime(dump_only=True)


class MeUpdateSchema(BaseSchema):
    nickname = fields.String(
        allow_none=True,
        validate=validate.Length(min=1, max=32),
        metadata={"description": "1-32 chars"},
    )
    avatar_url = fields.String(
        allow_none=True,
        # One regex for validation and for the published schema, so both agree.
        validate=[validate.Length(max=512), validate.Regexp(HTTPS_URL)],
        metadata={"description": "https URL of the avatar"},
    )


class PhoneBindSchema(BaseSchema):
    code = fields.String(
        required=True,
        validate=validate.Length(min=1, max=128),
        metadata={"description": "The code from a getPhoneNumber button"},
    )
