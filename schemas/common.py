"""Schemas and fields shared by every feature.

Conventions (documented in README "API conventions"):
- datetimes are ISO 8601 in Asia/Shanghai time with the ``+08:00`` offset;
- ids are integers;
- list endpoints take ``page``/``page_size`` and answer ``{items, page, page_size, total,
  has_more}``;
- coordinates come with an explicit ``coord_type`` and are answered in GCJ-02.
"""

import datetime as dt
import re
from functools import cache

from marshmallow import (
    EXCLUDE,
    Schema,
    ValidationError,
    fields,
    post_load,
    validate,
)

from server.core.errors import AppError
from server.util import geo
from server.util.bounds import INT_MAX, INT_MIN
from server.util.clock import CST

# NUL is the one character no text column takes (PostgreSQL refuses it): text without a
# pattern of its own gets STORABLE_TEXT. Patterns are written for both regex engines that
# read them (Python's here, the ECMA/Rust ones of clients): explicit classes, no \s.
STORABLE_TEXT = validate.Regexp(r"^[^\x00]*$", error="包含无法识别的字符")
_BLANK = r"\x09-\x0d\x20\u00a0\u3000"  # ASCII whitespace, no-break and ideographic space
NOT_BLANK = validate.Regexp(
    rf"^[{_BLANK}]*[^\x00{_BLANK}][^\x00]*$", error="不能为空或包含无法识别的字符"
)
INT32 = validate.Range(min=INT_MIN, max=INT_MAX, error="数值超出范围")


def _encodable(value: str) -> None:
    try:
        value.encode()
    except UnicodeEncodeError:
        raise ValidationError("包含无法识别的字符") from None


def _harden(field: fields.Field) -> None:
    """Bound what the database cannot store, in the validator AND the published schema.

    An integer without an upper bound gets the 32-bit range; text without a pattern of
    its own gets ``STORABLE_TEXT`` (every pattern of ours is a character class that
    excludes NUL). Both show in the OpenAPI spec as ``minimum``/``maximum``/``pattern``.
    Text must also be encodable (no lone UTF-16 surrogate from a ``\\ud800`` JSON escape),
    which is what any JSON Schema string is anyway.
    """
    validators = field.validators
    if isinstance(field, fields.List):
        _harden(field.inner)
    elif isinstance(field, fields.Integer) and all(
        getattr(v, "max", None) is None for v in validators
    ):
        validators.append(INT32)
    elif isinstance(field, fields.String) and not any(
        isinstance(v, validate.Regexp | validate.OneOf) for v in validators
    ):
        validators.append(STORABLE_TEXT)
    if isinstance(field, fields.String):
        validators.append(_encodable)


def rule_error(location: str, field: str, error: str, message: str):
    """A 422 for a rule the published schema cannot state (one field against another).

    Raised from a ``@validates_schema`` hook instead of a ``ValidationError``: it has its
    own stable ``error`` code, so a client (and the fuzz test) can tell it from a request
    that does not match the schema (``validation_error``). ``location`` is ``json`` or
    ``query``, as in ``errors`` of a validation error.
    """

    return AppError(422, error, message, errors={location: {field: [message]}})


class BaseSchema(Schema):
    # Unknown fields are dropped, not rejected: older and newer mini-program
    # versions talk to the same server, and a client can never smuggle a field
    # (such as a role) that the schema does not declare.
    class Meta:
        unknown = EXCLUDE

    def on_bind_field(self, field_name: str, field_obj: fields.Field) -> None:
        if not field_obj.dump_only:
            _harden(field_obj)


class CSTDateTime(fields.DateTime):
    """A datetime answered in Asia/Shanghai time (``+08:00``); naive input means +08:00."""

    def __init__(self, **kwargs):
        super().__init__(format="iso", **kwargs)

    def _serialize(self, value, attr, obj, **kwargs):
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return value.astimezone(CST).isoformat()

    def _deserialize(self, value, attr, data, **kwargs):
        result = super()._deserialize(value, attr, data, **kwargs)
        if result.tzinfo is None:
            result = result.replace(tzinfo=CST)
        return result


class ClockTime(fields.Time):
    """A wall-clock time ``HH:MM`` (24-hour), exactly as the published pattern says."""

    PATTERN = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"
    default_error_messages = {"invalid": "时间格式应为 HH:MM"}

    def __init__(self, **kwargs):
        metadata = {
            "description": "HH:MM",
            **kwargs.pop("metadata", {}),
            "pattern": self.PATTERN,
            "maxLength": 5,
        }
        super().__init__(format="%H:%M", metadata=metadata, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, str) or not re.fullmatch(self.PATTERN, value):
            raise self.make_error("invalid")
        return super()._deserialize(value, attr, data, **kwargs)


class PageQuerySchema(BaseSchema):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=10_000))
    page_size = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))


class PageSchema(Schema):
    page = fields.Integer(required=True)
    page_size = fields.Integer(required=True)
    total = fields.Integer(required=True)
    has_more = fields.Boolean(required=True)


@cache
def page_of(item_schema: type[Schema]) -> type[Schema]:
    """The paginated list schema for ``item_schema`` (``ToiletSchema`` → ``ToiletPageSchema``)."""
    name = item_schema.__name__.removesuffix("Schema") + "PageSchema"
    return type(
        name, (PageSchema,), {"items": fields.List(fields.Nested(item_schema), required=True)}
    )


COORD_TYPES = ("gcj02", "wgs84")
# The service area (China's bounding box) as plain ranges, so the published schema says
# exactly which points are accepted; (0, 0), a failed fix, lies outside it.
_SOUTH, _WEST, _NORTH, _EAST = geo.CHINA_BBOX
LAT_IN_CHINA = validate.Range(min=_SOUTH, max=_NORTH, error="位置不在服务范围内")
LNG_IN_CHINA = validate.Range(min=_WEST, max=_EAST, error="位置不在服务范围内")


class CoordinatesSchema(BaseSchema):
    """A point from ``wx.getLocation``; loaded as GCJ-02 whatever ``coord_type`` was."""

    lat = fields.Float(required=True, validate=LAT_IN_CHINA)
    lng = fields.Float(required=True, validate=LNG_IN_CHINA)
    coord_type = fields.String(
        load_default="gcj02",
        validate=validate.OneOf(COORD_TYPES),
        metadata={"description": "Datum of lat/lng: gcj02 (wx maps) or wgs84 (GPS)"},
    )

    @post_load
    def _to_gcj02(self, data, **kwargs):
        if "lat" in data and "lng" in data:
            data["lat"], data["lng"] = geo.to_gcj02(
                data["lat"], data["lng"], data.get("coord_type", "gcj02")
            )
            data["coord_type"] = "gcj02"
        return data
