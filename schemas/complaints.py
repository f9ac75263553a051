"""Complaints: filing, the public and reporter views, staff actions, reference data, stats."""

import itertools

from marshmallow import ValidationError, fields, validate, validates, validates_schema

from schemas.common import BaseSchema, CoordinatesSchema, CSTDateTime, PageQuerySchema
from server.models.complaints import (
    ALL_STATUSES,
    CALENDAR_KINDS,
    LIMIT_UNITS,
    STATUS_LABELS,
)
from server.services.complaints.workflow import ACTION_LABELS, PUBLIC_ACTIONS, allowed_actions
from server.timeutil import utcnow

CATEGORY_CODE = validate.Regexp(r"^[BS]\d{4}$", error="类别编码应为 B 或 S 加4位数字")
PHONE = validate.Regexp(r"^(1\d{10}|0\d{2,3}-?\d{7,8})$", error="请输入正确的手机或座机号码")
NOTE = validate.Length(max=500)
MAX_PHOTOS = 9


def _not_blank(value: str) -> None:
    if not value.strip():
        raise ValidationError("不能为空")


def photo_url(path: str) -> str:
    return f"/uploads/{path}"


# -- categories --------------------------------------------------------------------------------
class CategorySchema(BaseSchema):
    code = fields.String(required=True, metadata={"description": "B = 部件, S = 事件, e.g. B0101"})
    name = fields.String(required=True)
    icon = fields.String(required=True, metadata={"description": "Icon key in the mini-program"})
    limit_value = fields.Integer(required=True)
    limit_unit = fields.String(required=True, metadata={"enum": list(LIMIT_UNITS)})
    limit_text = fields.Method("_limit_text", metadata={"description": "e.g. 4个工作小时"})

    def _limit_text(self, obj) -> str:
        unit = "个工作小时" if obj.limit_unit == "working_hours" else "个工作日"
        return f"{obj.limit_value}{unit}"


class CategoryGroupSchema(BaseSchema):
    kind = fields.String(required=True, metadata={"enum": ["component", "event"]})
    kind_name = fields.String(required=True, metadata={"description": "部件 or 事件"})
    class_code = fields.String(required=True)
    class_name = fields.String(required=True)
    categories = fields.List(fields.Nested(CategorySchema), required=True)


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
    name = fields.String(required=True, validate=[validate.Length(min=1, max=64), _not_blank])
    phone = fields.String(allow_none=True, validate=validate.Length(max=32))
    active = fields.Boolean(load_default=True)


class UnitUpdateSchema(UnitSchema):
    """Load with ``partial=True``."""


# -- filing ------------------------------------------------------------------------------------
class ComplaintCreateSchema(CoordinatesSchema):
    category = fields.String(required=True, validate=CATEGORY_CODE)
    description = fields.String(
        required=True, validate=[validate.Length(min=1, max=1000), _not_blank]
    )
    address = fields.String(required=True, validate=[validate.Length(min=1, max=200), _not_blank])
    photo_ids = fields.List(
        fields.Integer(strict=True, validate=validate.Range(min=1)),
        load_default=list,
        validate=validate.Length(max=MAX_PHOTOS, error="最多上传9张照片"),
        metadata={"description": "Ids from POST /api/v1/uploads, at most 9"},
    )
    anonymous = fields.Boolean(
        load_default=False, metadata={"description": "Hide me from the public (always hidden)"}
    )
    contact_phone = fields.String(allow_none=True, load_default=None, validate=PHONE)


class SimilarQuerySchema(CoordinatesSchema):
    category = fields.String(required=True, validate=CATEGORY_CODE)


class MyComplaintsQuerySchema(PageQuerySchema):
    scope = fields.String(
        load_default="reported", validate=validate.OneOf(["reported", "following"])
    )


class RatingSchema(BaseSchema):
    rating = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=5))
    comment = fields.String(allow_none=True, load_default=None, validate=NOTE)


class ReopenSchema(BaseSchema):
    reason = fields.String(required=True, validate=[validate.Length(min=1, max=500), _not_blank])


# -- what people see -----------------------------------------------------------------------------
class PhotoSchema(BaseSchema):
    id = fields.Integer(attribute="upload.id", required=True)
    url = fields.Function(lambda p: photo_url(p.upload.path))
    thumb_url = fields.Function(lambda p: photo_url(p.upload.thumb_path))
    width = fields.Integer(attribute="upload.width")
    height = fields.Integer(attribute="upload.height")


class EventSchema(BaseSchema):
    """A timeline step as the public and the reporter see it (no names, no internal notes)."""

    action = fields.String(required=True)
    step = fields.Function(lambda e: ACTION_LABELS.get(e.action, e.action))
    status = fields.String(attribute="to_status", required=True)
    status_label = fields.Function(lambda e: STATUS_LABELS.get(e.to_status, e.to_status))
    actor = fields.Function(
        lambda e: "市民" if e.actor_role in ("reporter", "citizen") else "城市管理部门"
    )
    note = fields.String(allow_none=True)
    created_at = CSTDateTime(required=True)


class StaffEventSchema(EventSchema):
    actor = fields.Function(lambda e: e.actor_role)
    actor_id = fields.Integer(allow_none=True)
    internal_note = fields.String(allow_none=True)
    data = fields.Dict(allow_none=True)


class CategoryRefSchema(BaseSchema):
    code = fields.String()
    name = fields.String()
    icon = fields.String()


def _photos(stage):
    return lambda c: PhotoSchema(many=True).dump([p for p in c.photos if p.stage == stage])


class ComplaintSchema(BaseSchema):
    """The public, anonymised view of a case."""

    id = fields.Integer(required=True)
    case_no = fields.String(required=True)
    category = fields.Nested(CategoryRefSchema, required=True)
    description = fields.String(required=True)
    lat = fields.Float(required=True)
    lng = fields.Float(required=True)
    coord_type = fields.Constant("gcj02")
    address = fields.String(required=True)
    status = fields.String(required=True, metadata={"enum": list(ALL_STATUSES)})
    status_label = fields.String(required=True)
    resolution = fields.String(allow_none=True, metadata={"enum": ["fixed", "not_fixed", None]})
    unit_name = fields.String(attribute="unit.name", allow_none=True)
    deadline_at = CSTDateTime(allow_none=True)
    overdue = fields.Function(lambda c: c.is_overdue(utcnow()))
    follower_count = fields.Integer(required=True)
    rating = fields.Integer(allow_none=True)
    merged_into_id = fields.Integer(allow_none=True)
    photos = fields.Function(_photos("report"))
    resolution_photos = fields.Function(_photos("resolution"))
    created_at = CSTDateTime(required=True)
    closed_at = CSTDateTime(allow_none=True)
    timeline = fields.Function(
        lambda c: EventSchema(many=True).dump([e for e in c.events if e.action in PUBLIC_ACTIONS])
    )


class MineSchema(BaseSchema):
    """Only for the reporter."""

    anonymous = fields.Boolean(required=True)
    contact_phone = fields.String(allow_none=True)
    rating_comment = fields.String(allow_none=True)
    actions = fields.List(
        fields.String(), required=True, metadata={"description": "rate / reopen when allowed"}
    )


class ComplaintDetailSchema(ComplaintSchema):
    mine = fields.Nested(
        MineSchema, allow_none=True, metadata={"description": "Present for the reporter only"}
    )
    following = fields.Boolean(required=True)


class ComplaintListItemSchema(BaseSchema):
    id = fields.Integer(required=True)
    case_no = fields.String(required=True)
    category = fields.Nested(CategoryRefSchema, required=True)
    description = fields.String(required=True)
    address = fields.String(required=True)
    status = fields.String(required=True)
    status_label = fields.String(required=True)
    resolution = fields.String(allow_none=True)
    follower_count = fields.Integer(required=True)
    thumb_url = fields.Function(
        lambda c: next(
            (photo_url(p.upload.thumb_path) for p in c.photos if p.stage == "report"), None
        )
    )
    created_at = CSTDateTime(required=True)
    updated_at = CSTDateTime(required=True)


class SimilarSchema(ComplaintListItemSchema):
    distance_m = fields.Integer(required=True)
    lat = fields.Float(required=True)
    lng = fields.Float(required=True)


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
            raise ValidationError("开始日期不能晚于结束日期", "date_from")
        box = [data.get(k) for k in ("south", "west", "north", "east")]
        if any(v is not None for v in box):
            if any(v is None for v in box):
                raise ValidationError("区域需同时给出 south, west, north, east", "south")
            if box[0] > box[2] or box[1] > box[3]:
                raise ValidationError("区域范围无效", "south")


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
        validate=[validate.Length(min=1, max=500), _not_blank],
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
            raise ValidationError("核查不通过时请说明原因", "note")


class MergeSchema(StaffNoteSchema):
    into_id = fields.Integer(required=True, validate=validate.Range(min=1))


class ExtensionCreateSchema(BaseSchema):
    amount = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=60))
    limit_unit = fields.String(required=True, validate=validate.OneOf(LIMIT_UNITS))
    reason = fields.String(required=True, validate=[validate.Length(min=1, max=500), _not_blank])


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
    name = fields.String(required=True, validate=[validate.Length(min=1, max=32), _not_blank])


class WorkPeriodSchema(BaseSchema):
    start_time = fields.Time(required=True, format="%H:%M")
    end_time = fields.Time(required=True, format="%H:%M")


class WorkHoursSchema(BaseSchema):
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
                raise ValidationError("结束时间应晚于开始时间")
        for (_, end), (start, _) in itertools.pairwise(ordered):
            if start < end:
                raise ValidationError("工作时段不能重叠")


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
                raise ValidationError("开始日期不能晚于结束日期", "from")
            if (end - start).days > 3 * 366:
                raise ValidationError("统计区间不能超过3年", "to")


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
