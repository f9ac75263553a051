"""Complaints for citizens: categories, filing, and the public and reporter views."""

from marshmallow import fields, validate

from schemas.common import (
    NOT_BLANK,
    BaseSchema,
    CoordinatesSchema,
    CSTDateTime,
    PageQuerySchema,
)
from schemas.uploads import PhotoSchema
from server.models.complaints import (
    ACTION_LABELS,
    ALL_STATUSES,
    LIMIT_UNITS,
    PUBLIC_ACTIONS,
    STATUS_LABELS,
)
from server.util.clock import utcnow
from server.util.media import media_url

CATEGORY_CODE = validate.Regexp(r"^[BS]\d{4}$", error="类别编码应为 B 或 S 加4位数字")
PHONE = validate.Regexp(r"^(1\d{10}|0\d{2,3}-?\d{7,8})$", error="请输入正确的手机或座机号码")
NOTE = validate.Length(max=500)
MAX_PHOTOS = 9


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


# -- filing ------------------------------------------------------------------------------------
class ComplaintCreateSchema(CoordinatesSchema):
    category = fields.String(required=True, validate=CATEGORY_CODE)
    description = fields.String(
        required=True, validate=[validate.Length(min=1, max=1000), NOT_BLANK]
    )
    address = fields.String(required=True, validate=[validate.Length(min=1, max=200), NOT_BLANK])
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


class ComplaintRatingSchema(BaseSchema):
    rating = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=5))
    comment = fields.String(allow_none=True, load_default=None, validate=NOTE)


class ReopenSchema(BaseSchema):
    reason = fields.String(required=True, validate=[validate.Length(min=1, max=500), NOT_BLANK])


# -- what people see -----------------------------------------------------------------------------
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


class CategoryRefSchema(BaseSchema):
    code = fields.String()
    name = fields.String()
    icon = fields.String()


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
    photos = fields.List(fields.Nested(PhotoSchema), attribute="report_uploads")
    resolution_photos = fields.List(fields.Nested(PhotoSchema), attribute="resolution_uploads")
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
        lambda c: next((media_url(upload.thumb_path) for upload in c.report_uploads), None)
    )
    created_at = CSTDateTime(required=True)
    updated_at = CSTDateTime(required=True)


class SimilarSchema(ComplaintListItemSchema):
    distance_m = fields.Integer(required=True)
    lat = fields.Float(required=True)
    lng = fields.Float(required=True)
