"""Stall booking: sales points, availability, farmer profiles, bookings, waitlist, staff."""

from marshmallow import fields, post_load, validate, validates_schema

from schemas.common import (
    COORD_TYPES,
    LAT_IN_CHINA,
    LNG_IN_CHINA,
    BaseSchema,
    ClockTime,
    CoordinatesSchema,
    CSTDateTime,
    PageQuerySchema,
    rule_error,
)
from schemas.uploads import PhotoSchema
from server.models.stalls import (
    BOOKING_STATUSES,
    CLOSURE_REASONS,
    PROFILE_STATUSES,
    WAITLIST_STATUSES,
)
from server.util import geo

PRODUCE = validate.Length(min=1, max=16)


def _text(max_len: int, **kwargs):
    return fields.String(validate=validate.Length(min=1, max=max_len), **kwargs)


# -- points -----------------------------------------------------------------------------------
class SessionSchema(BaseSchema):
    id = fields.Integer(dump_only=True)
    name = _text(16, required=True, metadata={"description": "e.g. 早市"})
    start_time = ClockTime(required=True)
    end_time = ClockTime(required=True)
    capacity = fields.Integer(
        required=True,
        validate=validate.Range(min=0, max=1000),
        metadata={"description": "Default places per date (≤ the point's stall count)"},
    )
    active = fields.Boolean(dump_only=True)


class SessionUpdateSchema(SessionSchema):
    active = fields.Boolean()


class PointSchema(BaseSchema):
    id = fields.Integer(dump_only=True)
    name = fields.String()
    address = fields.String()
    lat = fields.Float(metadata={"description": "GCJ-02"})
    lng = fields.Float(metadata={"description": "GCJ-02"})
    photo_id = fields.Integer(allow_none=True)
    photo = fields.Nested(PhotoSchema, dump_only=True, allow_none=True)
    rules = fields.String()
    stall_count = fields.Integer()
    active_from = fields.Date()
    active_until = fields.Date(allow_none=True)
    status = fields.String()
    sessions = fields.Method("_sessions")
    distance_m = fields.Integer(
        allow_none=True, metadata={"description": "From the given location, when one was sent"}
    )

    def _sessions(self, point):
        return SessionSchema(many=True).dump([s for s in point.sessions if s.active])


class PointCreateSchema(CoordinatesSchema):
    name = _text(64, required=True)
    address = _text(200, required=True)
    photo_id = fields.Integer(allow_none=True, metadata={"description": "An upload id"})
    rules = fields.String(load_default="", validate=validate.Length(max=2000))
    stall_count = fields.Integer(required=True, validate=validate.Range(min=1, max=1000))
    active_from = fields.Date(required=True)
    active_until = fields.Date(allow_none=True)


class PointUpdateSchema(PointCreateSchema):
    status = fields.String(validate=validate.OneOf(("active", "inactive")))

    @validates_schema
    def _both_coordinates(self, data, **kwargs):
        if ("lat" in data) != ("lng" in data):
            raise rule_error("json", "lat", "incomplete_location", "经纬度需同时提供")


class PointsQuerySchema(BaseSchema):
    """An optional location (both lat and lng, or neither), loaded as GCJ-02."""

    lat = fields.Float(validate=LAT_IN_CHINA)
    lng = fields.Float(validate=LNG_IN_CHINA)
    coord_type = fields.String(load_default="gcj02", validate=validate.OneOf(COORD_TYPES))

    @validates_schema
    def _both_or_none(self, data, **kwargs):
        if ("lat" in data) != ("lng" in data):
            raise rule_error("query", "lat", "incomplete_location", "经纬度需同时提供")

    @post_load
    def _to_gcj02(self, data, **kwargs):
        if "lat" in data:
            data["lat"], data["lng"] = geo.to_gcj02(data["lat"], data["lng"], data["coord_type"])
            data["coord_type"] = "gcj02"
        return data


class PointQrSchema(BaseSchema):
    point_id = fields.Integer()
    point_code = fields.String(metadata={"description": "QR payload to print on the sign"})


# -- availability -----------------------------------------------------------------------------
class DateRangeQuerySchema(BaseSchema):
    from_date = fields.Date(data_key="from", metadata={"description": "Default: today"})
    to_date = fields.Date(data_key="to", metadata={"description": "Default: from + 7 days"})


class SlotAvailabilitySchema(BaseSchema):
    session_id = fields.Integer()
    name = fields.String()
    starts_at = CSTDateTime()
    ends_at = CSTDateTime()
    capacity = fields.Integer()
    booked = fields.Integer()
    remaining = fields.Integer()
    closed = fields.Boolean()
    closure_reason = fields.String(allow_none=True)
    booking = fields.String(metadata={"description": "not_yet_open | open | closed"})
    booking_opens_at = CSTDateTime()
    booking_closes_at = CSTDateTime()


class DayAvailabilitySchema(BaseSchema):
    date = fields.Date()
    sessions = fields.List(fields.Nested(SlotAvailabilitySchema))


class AvailabilitySchema(BaseSchema):
    point_id = fields.Integer()
    days = fields.List(fields.Nested(DayAvailabilitySchema))


# -- farmer profile ---------------------------------------------------------------------------
class FarmerProfileSchema(BaseSchema):
    """The owner's own profile: the phone is shown in full to them."""

    id = fields.Integer(dump_only=True)
    real_name = _text(32, required=True)
    phone = fields.String(dump_only=True, metadata={"description": "From POST /api/v1/me/phone"})
    township = _text(32, required=True)
    village = _text(32, required=True)
    produce_types = fields.List(
        fields.String(validate=PRODUCE),
        required=True,
        validate=validate.Length(min=1, max=10),
        metadata={"description": "e.g. 蔬菜, 水果, 鸡蛋"},
    )
    self_produce_declared = fields.Boolean(
        required=True,
        load_only=True,
        validate=validate.Equal(True, error="需承诺所售农产品为自产自销"),
        metadata={"description": "自产自销承诺; must be true"},
    )
    self_produce_declared_at = CSTDateTime(dump_only=True)
    status = fields.String(dump_only=True, metadata={"enum": list(PROFILE_STATUSES)})
    rejection_reason = fields.String(dump_only=True, allow_none=True)
    reviewed_at = CSTDateTime(dump_only=True, allow_none=True)
    suspended_until = CSTDateTime(dump_only=True, allow_none=True)
    strikes = fields.Integer(
        dump_only=True, metadata={"description": "No-shows and late cancels counting now"}
    )
    created_at = CSTDateTime(dump_only=True)


class FarmerProfileUpdateSchema(FarmerProfileSchema):
    """PATCH: any subset of the fields (used with ``partial=True``)."""


class StaffFarmerProfileSchema(FarmerProfileSchema):
    """For staff verifying farmers: full phone number (they need to call)."""

    user_id = fields.Integer(dump_only=True)
    phone_masked = fields.Method("_masked", dump_only=True)
    reviewed_by_id = fields.Integer(dump_only=True, allow_none=True)

    def _masked(self, profile):
        from server.util.privacy import mask_phone

        return mask_phone(profile.phone)


class ProfileListQuerySchema(PageQuerySchema):
    status = fields.String(validate=validate.OneOf(PROFILE_STATUSES))


class ReviewSchema(BaseSchema):
    decision = fields.String(required=True, validate=validate.OneOf(("approve", "reject")))
    reason = fields.String(validate=validate.Length(min=1, max=200))

    @validates_schema
    def _reason_for_rejection(self, data, **kwargs):
        if data.get("decision") == "reject" and not data.get("reason"):
            raise rule_error("json", "reason", "reason_required", "驳回时请填写原因")


# -- bookings ---------------------------------------------------------------------------------
class SlotRequestSchema(BaseSchema):
    point_id = fields.Integer(required=True, validate=validate.Range(min=1))
    date = fields.Date(required=True)
    session_id = fields.Integer(
        required=True, validate=validate.Range(min=1), metadata={"description": "The session"}
    )


class BookingPointSchema(BaseSchema):
    id = fields.Integer()
    name = fields.String()
    address = fields.String()
    lat = fields.Float()
    lng = fields.Float()


class BookingSessionSchema(BaseSchema):
    id = fields.Integer()
    name = fields.String()


class BookingSchema(BaseSchema):
    id = fields.Integer()
    point = fields.Nested(BookingPointSchema)
    session = fields.Nested(BookingSessionSchema)
    date = fields.Date()
    stall_number = fields.Integer()
    status = fields.String(metadata={"enum": list(BOOKING_STATUSES)})
    source = fields.String(metadata={"description": "direct | waitlist"})
    starts_at = CSTDateTime(attribute="slot.starts_at")
    ends_at = CSTDateTime(attribute="slot.ends_at")
    free_cancel_until = CSTDateTime()
    checkin_opens_at = CSTDateTime()
    checkin_closes_at = CSTDateTime()
    checkin_code = fields.String(
        allow_none=True,
        metadata={"description": "QR payload for staff to scan (only while the booking is active)"},
    )
    created_at = CSTDateTime()
    cancelled_at = CSTDateTime(allow_none=True)
    checked_in_at = CSTDateTime(allow_none=True)


class MyBookingsQuerySchema(PageQuerySchema):
    when = fields.String(validate=validate.OneOf(("upcoming", "past")))


class CheckinByPointSchema(CoordinatesSchema):
    point_code = fields.String(
        required=True, validate=validate.Length(min=1, max=256), metadata={"description": "QR"}
    )


class WaitlistEntrySchema(BaseSchema):
    id = fields.Integer()
    point = fields.Nested(BookingPointSchema, attribute="slot.point")
    session = fields.Nested(BookingSessionSchema, attribute="slot.session")
    date = fields.Date(attribute="slot.date")
    status = fields.String(metadata={"enum": list(WAITLIST_STATUSES)})
    position = fields.Integer(allow_none=True, metadata={"description": "1 = next in line"})
    booking_id = fields.Integer(allow_none=True)
    created_at = CSTDateTime()


# -- staff ------------------------------------------------------------------------------------
class SlotCapacitySchema(BaseSchema):
    date = fields.Date(required=True)
    capacity = fields.Integer(required=True, validate=validate.Range(min=0, max=1000))


class SlotSchema(BaseSchema):
    id = fields.Integer()
    session_id = fields.Integer()
    date = fields.Date()
    capacity = fields.Integer()
    booked = fields.Integer()
    closed = fields.Boolean()


class ClosureCreateSchema(BaseSchema):
    point_id = fields.Integer(required=True, validate=validate.Range(min=1))
    session_id = fields.Integer(
        allow_none=True, metadata={"description": "Omit to close the whole point that day"}
    )
    date = fields.Date(required=True)
    reason_type = fields.String(required=True, validate=validate.OneOf(CLOSURE_REASONS))
    reason = _text(200, required=True, metadata={"description": "Shown to farmers"})


class ClosureSchema(BaseSchema):
    id = fields.Integer()
    point_id = fields.Integer()
    session_id = fields.Integer(allow_none=True)
    date = fields.Date()
    reason_type = fields.String()
    reason = fields.String()
    created_at = CSTDateTime()
    cancelled_bookings = fields.Integer(dump_default=0)
    cancelled_waiting = fields.Integer(dump_default=0)


class ClosureListQuerySchema(PageQuerySchema):
    point_id = fields.Integer()
    from_date = fields.Date(data_key="from")
    to_date = fields.Date(data_key="to")


class RosterQuerySchema(BaseSchema):
    point_id = fields.Integer(required=True)
    date = fields.Date(load_default=None, metadata={"description": "Default: today"})


class RosterRowSchema(BaseSchema):
    booking_id = fields.Integer()
    session_id = fields.Integer()
    session_name = fields.String()
    stall_number = fields.Integer()
    farmer_name = fields.String(allow_none=True)
    phone = fields.String(allow_none=True)
    township = fields.String(allow_none=True)
    village = fields.String(allow_none=True)
    produce_types = fields.List(fields.String())
    status = fields.String()
    checked_in_at = CSTDateTime(allow_none=True)
    checkin_method = fields.String(allow_none=True)


class RosterSchema(BaseSchema):
    point_id = fields.Integer()
    date = fields.Date()
    rows = fields.List(fields.Nested(RosterRowSchema))


class StaffCheckinSchema(BaseSchema):
    code = fields.String(required=True, validate=validate.Length(min=1, max=256))
    point_id = fields.Integer(
        metadata={"description": "The point where staff scan (refuses codes of other points)"}
    )


class StatsQuerySchema(BaseSchema):
    from_date = fields.Date(data_key="from", required=True)
    to_date = fields.Date(data_key="to", required=True)
    point_id = fields.Integer()


class RatesSchema(BaseSchema):
    capacity = fields.Integer()
    booked = fields.Integer()
    checked_in = fields.Integer()
    no_shows = fields.Integer()
    utilisation = fields.Float(allow_none=True, metadata={"description": "checked_in/capacity"})
    booking_rate = fields.Float(allow_none=True, metadata={"description": "booked/capacity"})
    no_show_rate = fields.Float(
        allow_none=True, metadata={"description": "no_shows/(checked_in+no_shows)"}
    )


class SessionStatsSchema(RatesSchema):
    session_id = fields.Integer()
    name = fields.String()


class PointStatsSchema(RatesSchema):
    point_id = fields.Integer()
    name = fields.String()
    sessions = fields.List(fields.Nested(SessionStatsSchema))


class WeekSchema(BaseSchema):
    week = fields.String(metadata={"description": "ISO week, e.g. 2026-W48"})
    farmers = fields.Integer()


class StatsSchema(BaseSchema):
    from_date = fields.Date(data_key="from")
    to_date = fields.Date(data_key="to")
    points = fields.List(fields.Nested(PointStatsSchema))
    total = fields.Nested(RatesSchema)
    farmers_per_week = fields.List(fields.Nested(WeekSchema))
