"""Complaints for staff: the queue, workflow actions, extensions, calendar, statistics."""

import itertools

from marshmallow import fields, validate, validates, validates_schema

from schemas.common import (
    NOT_BLANK,
    BaseSchema,
    ClockTime,
    CSTDateTime,
    PageQuerySchema,
    rule_error,
)
from schemas.complaints.citizen import (
    CATEGORY_CODE,
    MAX_PHOTOS,
    NOTE,
    CategorySchema,
    ComplaintListItemSchema,
    ComplaintSchema,
    EventSchema,
)
from server.models.complaints import ALL_STATUSES, CALENDAR_KINDS, LIMIT_UNITS, allowed_actions
from server.util.clock import utcnow


# -- reference data ---------------------------------------------------------------------------
class StaffCategorySchema(CategorySchema):
    id = fields.Integer(dump_only=True)
    kind = fields.String(dump_only=True)
    class_code = fields.String(dump_only=True)
    class_name = fields.String(required=True, validate=validate.Length(min=1, max=32))
    code = fields.String(required=True, validate=CATEGORY_CODE)
    name = fields.String(required=True, validate=validate.Length(min=1, max=32))
    icon = fields.String(
        required=True, validate=validate.Regexp(r"^[a-z0-9_]{1,32}$", error="图标键无效")
    )
    unit_id = fields.Integer(allow_none=True, load_default=None)
    unit_name = fields.String(attribute="unit.name", dump_only=True, allow_none=True)
    limit_value = fields.Integer(required=True, validate=validate.Range(min=1, max=720))
    limit_unit = fields.String(required=True, validate=validate.OneOf(LIMIT_UNITS))
    active = fields.Boolean(load_default=True)
    sort_order = fields.Integer(load_default=0, validate=validate.Range(min=0, max=10_000))


class CategoryUpdateSchema(StaffCategorySchema):
    """Load with ``partial=True``; the code of a category never changes."""

    class Meta(StaffCategorySchema.Meta):
        exclude = ("code",)


class UnitSchema(BaseSchema):
    id = fields.Integer(dump_only=True)
    name = fields.String(required=True, validate=[validate.Length(min=1, max=64), NOT_BLANK])
    phone = fields.String(allow_none=True, validate=validate.Length(max=32))
    active = fields.Boolean(load_default=True)


class UnitUpdateSchema(UnitSchema):
    """Load with ``partial=True``."""


class StaffEventSchema(EventSchema):
    actor = fields.Function(lambda e: e.actor_role)
    actor_id = fields.Integer(allow_none=True)
    internal_note = fields.String(allow_none=True)
    data = fields.Dict(allow_none=True)


# -- staff -----------------------------------------------------------------------------------------
class ReporterSchema(BaseSchema):
    id = fields.Integer()
    nickname = fields.String(allow_none=True)
    phone_masked = fields.String(allow_none=True)


class ExtensionSchema(BaseSchema):
    id = fields.Integer(required=True)
    complaint_id = fields.Integer(required=True)
    amount = fields.Integer(required=True)
    limit_unit = fields.String(required=True)
    reason = fields.String(required=True)
    status = fields.String(required=True)
    requested_by_id = fields.Integer(allow_none=True)
    requested_at = CSTDateTime(required=True)
    decided_by_id = fields.Integer(allow_none=True)
    decided_at = CSTDateTime(allow_none=True)
    decision_note = fields.String(allow_none=True)
    old_deadline_at = CSTDateTime(allow_none=True)
    new_deadline_at = CSTDateTime(allow_none=True)


class StaffComplaintSchema(ComplaintSchema):
    """Everything staff need to handle the case, including how to reach the reporter."""

    source = fields.String()
    moderation = fields.String()
    anonymous = fields.Boolean()
    reporter = fields.Nested(ReporterSchema, allow_none=True)
    contact_phone = fields.String(allow_none=True)
    unit_id = fields.Integer(allow_none=True)
    rework_count = fields.Integer()
    rating_comment = fields.String(allow_none=True)
    accepted_at = CSTDateTime(allow_none=True)
    dispatched_at = CSTDateTime(allow_none=True)
    resolved_at = CSTDateTime(allow_none=True)
    verified_at = CSTDateTime(allow_none=True)
    rejected_at = CSTDateTime(allow_none=True)
    timeline = fields.Function(lambda c: StaffEventSchema(many=True).dump(c.events))
    extensions = fields.List(fields.Nested(ExtensionSchema))
    actions = fields.Function(allowed_actions, metadata={"description": "Possible next steps"})


class StaffComplaintListItemSchema(ComplaintListItemSchema):
    unit_name = fields.String(attribute="unit.name", allow_none=True)
    deadline_at = CSTDateTime(allow_none=True)
    overdue = fields.Function(lambda c: c.is_overdue(utcnow()))
    moderation = fields.String()
    rework_count = fields.Integer()
    lat = fields.Float()
    lng = fields.Float()


class QueueCountsSchema(BaseSchema):
    by_status = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True)
    overdue = fields.Integer(required=True)


class StaffComplaintPageSchema(BaseSchema):
    items = fields.List(fields.Nested(StaffComplaintListItemSchema), required=True)
    page = fields.Integer(required=True)
    page_size = fields.Integer(required=True)
    total = fields.Integer(required=True)
    has_more = fields.Boolean(required=True)
    counts = fields.Nested(QueueCountsSchema, required=True)


class QueueQuerySchema(PageQuerySchema):
    status = fields.String(validate=validate.OneOf(ALL_STATUSES))
    category = fields.String(validate=CATEGORY_CODE)
    unit_id = fields.Integer(validate=validate.Range(min=1))
    overdue = fields.Boolean()
    extension_pending = fields.Boolean()
    date_from = fields.Date(metadata={"description": "Filed on or after (Beijing date)"})
    date_to = fields.Date(metadata={"description": "Filed on or before (Beijing date)"})
    south = fields.Float(validate=validate.Range(min=-90, max=90))
    west = fields.Float(validate=validate.Range(min=-180, max=180))
    north = fields.Float(validate=validate.Range(min=-90, max=90))
    east = fields.Float(validate=validate.Range(min=-180, max=180))
    order = fields.String(load_default="newest", validate=validate.OneOf(["newest", "deadline"]))

    @validates_schema
    def _check(self, data, **kwargs):
        if data.get("date_from") and data.get("date_to") and data["date_from"] > data["date_to"]:
            raise rule_error("query", "date_from", "invalid_date_range", "开始日期不能晚于结束日期")
        box = [data.get(k) for k in ("south", "west", "north", "east")]
        if any(v is not None for v in box):
            if any(v is None for v in box):
                raise rule_error(
                    "query", "south", "incomplete_area", "区域需同时给出 south, west, north, east"
                )
            if box[0] > box[2] or box[1] > box[3]:
                raise rule_error("query", "south", "invalid_area", "区域范围无效")


class StaffNoteSchema(BaseSchema):
    note = fields.String(
        allow_none=True, load_default=None, validate=NOTE, metadata={"description": "Public"}
    )
    internal_note = fields.String(
        allow_none=True, load_default=None, validate=NOTE, metadata={"description": "Staff only"}
    )


class StaffReasonSchema(BaseSchema):
    reason = fields.String(
        required=True,
        validate=[validate.Length(min=1, max=500), NOT_BLANK],
        metadata={"description": "Shown to the reporter"},
    )
    internal_note = fields.String(allow_none=True, load_default=None, validate=NOTE)


class DispatchSchema(StaffNoteSchema):
    unit_id = fields.Integer(
        allow_none=True,
        load_default=None,
        metadata={"description": "Default: the category's responsible unit"},
    )


class ResolveSchema(StaffNoteSchema):
    photo_ids = fields.List(
        fields.Integer(strict=True, validate=validate.Range(min=1)),
        required=True,
        validate=validate.Length(min=1, max=MAX_PHOTOS, error="请上传1到9张处置后照片"),
    )


class VerifySchema(StaffNoteSchema):
    passed = fields.Boolean(required=True)

    @validates_schema
    def _reason_when_failed(self, data, **kwargs):
        if data.get("passed") is False and not (data.get("note") or "").strip():
            raise rule_error("json", "note", "note_required", "核查不通过时请说明原因")


class MergeSchema(StaffNoteSchema):
    into_id = fields.Integer(required=True, validate=validate.Range(min=1))


class ExtensionCreateSchema(BaseSchema):
    amount = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=60))
    limit_unit = fields.String(required=True, validate=validate.OneOf(LIMIT_UNITS))
    reason = fields.String(required=True, validate=[validate.Length(min=1, max=500), NOT_BLANK])


class ExtensionDecisionSchema(BaseSchema):
    approve = fields.Boolean(required=True)
    note = fields.String(allow_none=True, load_default=None, validate=NOTE)


# -- calendar ------------------------------------------------------------------------------
class CalendarQuerySchema(BaseSchema):
    year = fields.Integer(required=True, validate=validate.Range(min=2000, max=2100))


class CalendarDaySchema(BaseSchema):
    day = fields.Date(dump_only=True)
    kind = fields.String(
        required=True,
        validate=validate.OneOf(CALENDAR_KINDS),
        metadata={"description": "holiday: a day off; workday: a 调休 working day"},
    )
    name = fields.String(required=True, validate=[validate.Length(min=1, max=32), NOT_BLANK])


class WorkPeriodSchema(BaseSchema):
    start_time = ClockTime(required=True)
    end_time = ClockTime(required=True)


class WorkHoursSchema(BaseSchema):
    periods = fields.List(
        fields.Nested(WorkPeriodSchema),
        required=True,
        metadata={"description": "Seeded 08:30–12:00 and 14:00–17:30; empty if none are set"},
    )


class WorkHoursUpdateSchema(WorkHoursSchema):
    periods = fields.List(
        fields.Nested(WorkPeriodSchema), required=True, validate=validate.Length(min=1, max=4)
    )

    @validates("periods")
    def _no_overlap(self, periods, **kwargs):
        if not all("start_time" in p and "end_time" in p for p in periods):
            return  # the nested field errors already say what is wrong
        ordered = sorted((p["start_time"], p["end_time"]) for p in periods)
        for start, end in ordered:
            if start >= end:
                raise rule_error("json", "periods", "invalid_work_period", "结束时间应晚于开始时间")
        for (_, end), (start, _) in itertools.pairwise(ordered):
            if start < end:
                raise rule_error("json", "periods", "overlapping_work_periods", "工作时段不能重叠")


# -- statistics -----------------------------------------------------------------------------------
class StatsQuerySchema(BaseSchema):
    date_from = fields.Date(required=True, data_key="from", metadata={"description": "First day"})
    date_to = fields.Date(required=True, data_key="to", metadata={"description": "Last day"})
    category = fields.String(validate=CATEGORY_CODE)
    unit = fields.Integer(validate=validate.Range(min=1))

    @validates_schema
    def _period(self, data, **kwargs):
        start, end = data.get("date_from"), data.get("date_to")
        if start and end:
            if start > end:
                raise rule_error("query", "from", "invalid_date_range", "开始日期不能晚于结束日期")
            if (end - start).days > 3 * 366:
                raise rule_error("query", "to", "period_too_long", "统计区间不能超过3年")


class FiguresSchema(BaseSchema):
    collected = fields.Integer(required=True)
    opened = fields.Integer(required=True)
    rejected = fields.Integer(required=True)
    closed = fields.Integer(required=True)
    closed_fixed = fields.Integer(required=True)
    closed_not_fixed = fields.Integer(required=True)
    due = fields.Integer(required=True)
    closed_due = fields.Integer(required=True)
    closed_on_time = fields.Integer(required=True)
    closure_rate = fields.Float(allow_none=True, required=True)
    on_time_rate = fields.Float(allow_none=True, required=True)
    rework_count = fields.Integer(required=True)
    reworked_closed = fields.Integer(required=True)
    rework_rate = fields.Float(allow_none=True, required=True)
    median_handling_hours = fields.Float(allow_none=True, required=True)


class CategoryFiguresSchema(FiguresSchema):
    code = fields.String(required=True)
    name = fields.String(required=True)


class UnitFiguresSchema(FiguresSchema):
    unit_id = fields.Integer(allow_none=True, required=True)
    name = fields.String(required=True)


class ComplaintStatsSchema(BaseSchema):
    date_from = fields.Date(required=True, data_key="from")
    date_to = fields.Date(required=True, data_key="to")
    category = fields.String(allow_none=True)
    unit_id = fields.Integer(allow_none=True)
    total = fields.Nested(FiguresSchema, required=True)
    by_category = fields.List(fields.Nested(CategoryFiguresSchema), required=True)
    by_unit = fields.List(fields.Nested(UnitFiguresSchema), required=True)
