"""Schemas and fields shared by every feature.

Conventions (documented in README "API conventions"):
- datetimes are ISO 8601 in Asia/Shanghai time with the ``+08:00`` offset;
- ids are integers;
- list endpoints take ``page``/``page_size`` and answer ``{items, page, page_size, total,
  has_more}``;
- coordinates come with an explicit ``coord_type`` and are answered in GCJ-02.
"""

import datetime as dt
from functools import cache
from zoneinfo import ZoneInfo

from marshmallow import (
    EXCLUDE,
    Schema,
    ValidationError,
    fields,
    post_load,
    validate,
    validates_schema,
)

from server import geo

CST = ZoneInfo("Asia/Shanghai")


class BaseSchema(Schema):
    # Unknown fields are dropped, not rejected: older and newer mini-program
    # versions talk to the same server, and a client can never smuggle a field
    # (such as a role) that the schema does not declare.
    class Meta:
        unknown = EXCLUDE


class ErrorSchema(Schema):
    """The one error shape of every endpoint."""

    code = fields.Integer(required=True, metadata={"description": "HTTP status code"})
    status = fields.String(required=True, metadata={"description": "HTTP status name"})
    error = fields.String(
        required=True, metadata={"description": "Stable machine-readable error code"}
    )
    message = fields.String(
        required=True, metadata={"description": "Chinese message fit to show to the user"}
    )
    errors = fields.Dict(metadata={"description": "Field errors, by location and field"})


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


class CoordinatesSchema(BaseSchema):
    """A point from ``wx.getLocation``; loaded as GCJ-02 whatever ``coord_type`` was."""

    lat = fields.Float(required=True, validate=validate.Range(min=-90, max=90))
    lng = fields.Float(required=True, validate=validate.Range(min=-180, max=180))
    coord_type = fields.String(
        load_default="gcj02",
        validate=validate.OneOf(COORD_TYPES),
        metadata={"description": "Datum of lat/lng: gcj02 (wx maps) or wgs84 (GPS)"},
    )

    @validates_schema
    def _inside_china(self, data, **kwargs):
        lat, lng = data.get("lat"), data.get("lng")
        if lat is None or lng is None:
            return
        if lat == 0 and lng == 0:
            raise ValidationError("坐标无效，请重新定位", "lat")
        if not geo.in_china_bbox(lat, lng):
            raise ValidationError("位置不在服务范围内", "lat")

    @post_load
    def _to_gcj02(self, data, **kwargs):
        if "lat" in data and "lng" in data:
            data["lat"], data["lng"] = geo.to_gcj02(data["lat"], data["lng"], data["coord_type"])
            data["coord_type"] = "gcj02"
        return data


class IdempotencyHeaderSchema(BaseSchema):
    idempotency_key = fields.String(
        data_key="Idempotency-Key",
        required=True,
        validate=validate.Length(min=8, max=64),
        metadata={"description": "Client-generated unique key (e.g. a UUID) for this submission"},
    )
