"""Toilet finder: search, detail, ratings, reports; staff editing, status, import, export."""

from marshmallow import (
    Schema,
    ValidationError,
    fields,
    post_load,
    pre_load,
    validate,
    validates_schema,
)

from schemas.common import (
    COORD_TYPES,
    CST,
    BaseSchema,
    CoordinatesSchema,
    CSTDateTime,
    PageQuerySchema,
    rule_error,
)
from schemas.uploads import PhotoSchema
from server.models.toilets import (
    ACCESS,
    CATEGORIES,
    CATEGORY_LABELS,
    FACILITIES,
    KIND_LABELS,
    KINDS,
    MAX_BBOX_DEGREES,
    MAX_LIMIT,
    MAX_RADIUS_M,
    REPORT_KINDS,
    STATUSES,
    TRISTATE,
)
from server.util import geo
from server.util import opening_hours as hours
from server.util.bounds import MAX_ID
from server.util.clock import local_today

OPENING_HOURS_HELP = (
    "营业时间格式不正确，请使用 OpenStreetMap opening_hours 写法，如 Mo-Su 06:00-22:00 或 24/7"
)


def _check_rule(value: str | None) -> None:
    """An import row's rule: a bad one is that row's error in the import report."""
    if value is None:
        return
    try:
        hours.check(value)
    except hours.InvalidRule:
        raise ValidationError(OPENING_HOURS_HELP) from None


def _check_request_rule(value: str | None) -> None:
    """A request's rule: the OSM syntax is beyond what the published schema can say, so a bad
    rule is refused with its own error code (``invalid_opening_hours``)."""
    if value is None:
        return
    try:
        hours.check(value)
    except hours.InvalidRule:
        raise rule_error(
            "json", "opening_hours", "invalid_opening_hours", OPENING_HOURS_HELP
        ) from None


# -- shared pieces ------------------------------------------------------------------------------
_SOUTH, _WEST, _NORTH, _EAST = geo.CHINA_BBOX
OUTSIDE_CHINA = "位置不在服务范围内"


def _id(**kwargs) -> fields.Integer:
    """An id in a request: positive and within the database's integer column."""
    return fields.Integer(validate=validate.Range(min=1, max=MAX_ID), **kwargs)


class FacilitiesSchema(BaseSchema):
    """Each facility is ``yes``, ``no`` or ``unknown`` (nobody checked yet)."""

    accessible_stall = fields.String(validate=validate.OneOf(TRISTATE), load_default="unknown")
    third_restroom = fields.String(validate=validate.OneOf(TRISTATE), load_default="unknown")
    mother_baby_room = fields.String(validate=validate.OneOf(TRISTATE), load_default="unknown")
    changing_table = fields.String(validate=validate.OneOf(TRISTATE), load_default="unknown")
    free = fields.String(validate=validate.OneOf(TRISTATE), load_default="unknown")
    paper = fields.String(validate=validate.OneOf(TRISTATE), load_default="unknown")
    handwashing = fields.String(validate=validate.OneOf(TRISTATE), load_default="unknown")


class StallsSchema(BaseSchema):
    male = fields.Integer(allow_none=True, validate=validate.Range(min=0, max=500))
    female = fields.Integer(allow_none=True, validate=validate.Range(min=0, max=500))
    accessible = fields.Integer(allow_none=True, validate=validate.Range(min=0, max=500))


class LocationSchema(Schema):
    lat = fields.Float(required=True)
    lng = fields.Float(required=True)
    coord_type = fields.Constant("gcj02", metadata={"description": "Always GCJ-02"})


# -- resident: search ---------------------------------------------------------------------------
class NearbyQuerySchema(CoordinatesSchema):
    radius = fields.Integer(
        load_default=1000,
        validate=validate.Range(min=50, max=MAX_RADIUS_M),
        metadata={"description": f"Metres, 50–{MAX_RADIUS_M}"},
    )
    limit = fields.Integer(load_default=10, validate=validate.Range(min=1, max=MAX_LIMIT))
    open_now = fields.Boolean(load_default=False)
    accessible = fields.Boolean(load_default=False, metadata={"description": "无障碍厕位"})
    third_restroom = fields.Boolean(load_default=False, metadata={"description": "第三卫生间"})
    baby_care = fields.Boolean(
        load_default=False, metadata={"description": "母婴室 or baby changing table"}
    )
    free = fields.Boolean(load_default=False)


_NUMBER = r"-?[0-9]{1,3}(\.[0-9]+)?"
BBOX_PATTERN = rf"^{_NUMBER},{_NUMBER},{_NUMBER},{_NUMBER}$"


class ToiletListQuerySchema(PageQuerySchema):
    bbox = fields.String(
        validate=[
            validate.Length(max=100),
            validate.Regexp(BBOX_PATTERN, error="范围格式应为 最小经度,最小纬度,最大经度,最大纬度"),
        ],
        metadata={
            "description": "GCJ-02 box `min_lng,min_lat,max_lng,max_lat` "
            f"(at most {MAX_BBOX_DEGREES}° a side)"
        },
    )
    district = fields.String(validate=validate.Length(max=32))

    @post_load
    def _parse_bbox(self, data, **kwargs):
        raw = data.get("bbox")
        if raw is None:
            return data
        west, south, east, north = (float(part) for part in raw.split(","))
        if not (west < east and south < north):
            raise rule_error("query", "bbox", "bbox_inverted", "范围的最小值应小于最大值")
        if east - west > MAX_BBOX_DEGREES or north - south > MAX_BBOX_DEGREES:
            raise rule_error("query", "bbox", "bbox_too_large", "范围过大，请放大地图后重试")
        if east < _WEST or west > _EAST or north < _SOUTH or south > _NORTH:
            raise rule_error("query", "bbox", "outside_service_area", OUTSIDE_CHINA)
        data["bbox"] = (west, south, east, north)
        return data


class ToiletSchema(BaseSchema):
    """A toilet on the map or in a list, with whether it is open now."""

    id = fields.Integer(dump_only=True)
    name = fields.String()
    address = fields.String()
    district = fields.String()
    street = fields.String()
    location = fields.Method("_location", dump_only=True)
    category = fields.String()
    category_label = fields.String(dump_only=True)
    kind = fields.String()
    kind_label = fields.String(dump_only=True)
    access = fields.String()
    opening_hours = fields.String(allow_none=True)
    status = fields.String()
    status_reason = fields.String(allow_none=True)
    reopen_on = fields.Date(allow_none=True)
    is_open_now = fields.Boolean(
        allow_none=True, metadata={"description": "null when the hours are unknown"}
    )
    next_change = CSTDateTime(
        allow_none=True, metadata={"description": "When it next opens or closes"}
    )
    facilities = fields.Nested(FacilitiesSchema)
    rating_avg = fields.Float(allow_none=True)
    rating_count = fields.Integer()

    def _location(self, obj) -> dict:
        return {"lat": obj.lat, "lng": obj.lng, "coord_type": "gcj02"}


class NearbyItemSchema(ToiletSchema):
    distance_m = fields.Method("_distance", metadata={"type": "integer", "description": "Metres"})
    walk_minutes = fields.Integer()

    def _distance(self, obj) -> int:
        return round(obj.distance_m)


class NearbySchema(Schema):
    items = fields.List(fields.Nested(NearbyItemSchema), required=True)
    count = fields.Integer(required=True)
    radius_m = fields.Integer(required=True)
    limit = fields.Integer(required=True)
    fewer_than_limit = fields.Boolean(
        required=True, metadata={"description": "Fewer than `limit` toilets inside the radius"}
    )
    beyond = fields.List(
        fields.Nested(NearbyItemSchema),
        required=True,
        metadata={"description": "When fewer than `limit` are inside: the nearest outside it"},
    )
    message = fields.Method("_message")

    def _message(self, obj) -> str | None:
        return nearby_message(obj)


def nearby_message(result) -> str | None:
    if not result.fewer_than_limit:
        return None
    if result.items:
        return f"{result.radius_m}米内只有{result.count}座符合条件的公厕"
    if result.beyond:
        return f"{result.radius_m}米内没有符合条件的公厕，已为你找到更远的"
    return "附近没有符合条件的公厕"


def _nearby_item(shown) -> dict:
    toilet, state, distance = shown.toilet, shown.state, shown.distance_m
    change = state.next_change
    return {
        "id": toilet.id,
        "name": toilet.name,
        "address": toilet.address,
        "district": toilet.district,
        "street": toilet.street,
        "location": {"lat": toilet.lat, "lng": toilet.lng, "coord_type": "gcj02"},
        "category": toilet.category,
        "category_label": CATEGORY_LABELS[toilet.category],
        "kind": toilet.kind,
        "kind_label": KIND_LABELS[toilet.kind],
        "access": toilet.access,
        "opening_hours": toilet.opening_hours,
        "status": toilet.status,
        "status_reason": toilet.status_reason,
        "reopen_on": None if toilet.reopen_on is None else toilet.reopen_on.isoformat(),
        "is_open_now": state.is_open,
        "next_change": None if change is None else change.astimezone(CST).isoformat(),
        "facilities": {name: getattr(toilet, name) for name in FACILITIES},
        "rating_avg": None if toilet.rating_avg is None else float(toilet.rating_avg),
        "rating_count": toilet.rating_count,
        "distance_m": round(distance),
        "walk_minutes": geo.walk_minutes(distance),
    }


def dump_nearby(result) -> dict:
    """``NearbySchema().dump(result)``, written out for the hottest response of the app.

    marshmallow spends about 2 ms on the 10–15 nested items of a search; this builds the
    same dict directly (tests/test_toilets_search.py proves it equal to the schema's dump on
    varied data, so the published ``Nearby`` schema stays the contract).
    """
    return {
        "items": [_nearby_item(shown) for shown in result.items],
        "count": result.count,
        "radius_m": result.radius_m,
        "limit": result.limit,
        "fewer_than_limit": result.fewer_than_limit,
        "beyond": [_nearby_item(shown) for shown in result.beyond],
        "message": nearby_message(result),
    }


class WeekdayHoursSchema(Schema):
    date = fields.Date()
    weekday = fields.String()
    hours = fields.String()
    holiday = fields.Boolean()


class RatingSummarySchema(Schema):
    count = fields.Integer()
    average = fields.Float(allow_none=True)
    cleanliness = fields.Float(allow_none=True)
    smell = fields.Float(allow_none=True)
    facilities = fields.Float(allow_none=True)


class ToiletDetailSchema(ToiletSchema):
    managing_unit = fields.String()
    contact_phone = fields.String()
    stalls = fields.Method("_stalls")
    photo_ids = fields.List(fields.Integer())
    photos = fields.List(
        fields.Nested(PhotoSchema),
        dump_only=True,
        metadata={"description": "The photos of `photo_ids`, with their URLs"},
    )
    verified_at = CSTDateTime(allow_none=True)
    updated_at = CSTDateTime()
    week = fields.List(
        fields.Nested(WeekdayHoursSchema),
        metadata={"description": "Opening hours of the next seven days, one per weekday"},
    )
    rating = fields.Nested(RatingSummarySchema)
    recent_reports = fields.Integer(metadata={"description": "Problem reports, last 30 days"})

    def _stalls(self, obj) -> dict:
        return {
            "male": obj.stalls_male,
            "female": obj.stalls_female,
            "accessible": obj.stalls_accessible,
        }


# -- resident: ratings and reports --------------------------------------------------------------
class RatingSchema(BaseSchema):
    cleanliness = fields.Integer(required=True, validate=validate.Range(min=1, max=5))
    smell = fields.Integer(required=True, validate=validate.Range(min=1, max=5))
    facilities = fields.Integer(required=True, validate=validate.Range(min=1, max=5))
    comment = fields.String(allow_none=True, validate=validate.Length(max=200))


class MyRatingSchema(RatingSchema):
    id = fields.Integer(dump_only=True)
    toilet_id = fields.Integer(dump_only=True)
    comment_status = fields.String(
        dump_only=True, metadata={"description": "hidden: held for review, not shown to others"}
    )
    updated_at = CSTDateTime(dump_only=True)


class CommentSchema(Schema):
    """A public comment: no author identity is shown."""

    cleanliness = fields.Integer()
    smell = fields.Integer()
    facilities = fields.Integer()
    score = fields.Float()
    comment = fields.String()
    updated_at = CSTDateTime()


class ReportCreateSchema(BaseSchema):
    kind = fields.String(required=True, validate=validate.OneOf(REPORT_KINDS))
    note = fields.String(allow_none=True, validate=validate.Length(max=500))
    photo_ids = fields.List(
        _id(),
        load_default=list,
        validate=validate.Length(max=3, error="最多3张照片"),
    )


class ReportSchema(Schema):
    id = fields.Integer()
    toilet_id = fields.Integer()
    kind = fields.String()
    note = fields.String(allow_none=True)
    photo_ids = fields.List(fields.Integer())
    status = fields.String()
    created_at = CSTDateTime()
    resolved_at = CSTDateTime(allow_none=True)
    resolution_note = fields.String(allow_none=True)
    complaint_id = fields.Integer(
        allow_none=True,
        metadata={"description": "The 12319 case this problem was filed as (follow it there)"},
    )


# -- staff ----------------------------------------------------------------------------------------
class ToiletCreateSchema(BaseSchema):
    external_id = fields.String(allow_none=True, validate=validate.Length(min=1, max=64))
    name = fields.String(required=True, validate=validate.Length(min=1, max=64))
    address = fields.String(load_default="", validate=validate.Length(max=200))
    district = fields.String(load_default="", validate=validate.Length(max=32))
    street = fields.String(load_default="", validate=validate.Length(max=32))
    location = fields.Nested(CoordinatesSchema, required=True)
    category = fields.String(required=True, validate=validate.OneOf(CATEGORIES))
    kind = fields.String(load_default="sanitation", validate=validate.OneOf(KINDS))
    access = fields.String(load_default="public", validate=validate.OneOf(ACCESS))
    managing_unit = fields.String(load_default="", validate=validate.Length(max=64))
    contact_phone = fields.String(
        load_default="",
        validate=validate.Regexp(r"^[0-9+\- ]{0,32}$", error="电话号码格式不正确"),
    )
    opening_hours = fields.String(
        allow_none=True,
        load_default=None,
        validate=[validate.Length(max=255), _check_request_rule],
    )
    facilities = fields.Nested(FacilitiesSchema, load_default=dict)
    stalls = fields.Nested(StallsSchema, load_default=dict)
    photo_ids = fields.List(_id(), validate=validate.Length(max=9))
    allow_duplicate = fields.Boolean(
        load_default=False, load_only=True, metadata={"description": "Add even within 30 m of one"}
    )

    @pre_load
    def _strip(self, data, **kwargs):
        if isinstance(data, dict) and isinstance(data.get("opening_hours"), str):
            data = {**data, "opening_hours": data["opening_hours"].strip() or None}
        return data

    @validates_schema
    def _access_fits_kind(self, data, **kwargs):
        if data.get("kind") == "sanitation" and data.get("access") == "customers":
            raise rule_error("json", "access", "access_not_public", "环卫公厕应对公众开放")


class ToiletUpdateSchema(ToiletCreateSchema):
    """Every field optional (PATCH), facilities and stalls one by one; a new ``location`` is a
    whole point (lat and lng, ``coord_type`` defaulting to gcj02)."""

    def __init__(self, **kwargs):
        partial = (
            *ToiletCreateSchema._declared_fields,
            *(f"facilities.{name}" for name in FacilitiesSchema._declared_fields),
            *(f"stalls.{name}" for name in StallsSchema._declared_fields),
        )
        super().__init__(partial=partial, **kwargs)


class StaffToiletQuerySchema(PageQuerySchema):
    q = fields.String(validate=validate.Length(min=1, max=64), metadata={"description": "Name"})
    status = fields.String(validate=validate.OneOf(STATUSES))


class StaffToiletSchema(ToiletDetailSchema):
    external_id = fields.String(allow_none=True)
    created_at = CSTDateTime()


class StatusChangeSchema(BaseSchema):
    status = fields.String(required=True, validate=validate.OneOf(STATUSES))
    reason = fields.String(allow_none=True, validate=validate.Length(min=1, max=200))
    reopen_on = fields.Date(allow_none=True, metadata={"description": "Expected reopening date"})

    @validates_schema
    def _reason_needed(self, data, **kwargs):
        status = data.get("status")
        if status in ("temporarily_closed", "removed") and not (data.get("reason") or "").strip():
            raise rule_error("json", "reason", "reason_required", "请填写原因")
        if data.get("reopen_on") is not None:
            if status != "temporarily_closed":
                raise rule_error(
                    "json",
                    "reopen_on",
                    "reopen_on_not_closed",
                    "只有暂停开放时才需要填写预计恢复日期",
                )
            if data["reopen_on"] < local_today():
                raise rule_error("json", "reopen_on", "reopen_on_past", "预计恢复日期不能早于今天")


class AuditActorSchema(Schema):
    id = fields.Integer()
    nickname = fields.String(allow_none=True)


class AuditSchema(Schema):
    id = fields.Integer()
    action = fields.String()
    actor = fields.Nested(AuditActorSchema, allow_none=True)
    changes = fields.Dict(metadata={"description": "{field: [old, new]}"})
    reason = fields.String(allow_none=True)
    created_at = CSTDateTime()


class StaffReportQuerySchema(PageQuerySchema):
    status = fields.String(validate=validate.OneOf(("open", "resolved", "dismissed")))
    toilet_id = _id()


class StaffReportSchema(ReportSchema):
    toilet_name = fields.String(attribute="toilet.name")
    user_id = fields.Integer(allow_none=True)
    resolved_by_id = fields.Integer(allow_none=True)


class ReportResolveSchema(BaseSchema):
    outcome = fields.String(required=True, validate=validate.OneOf(("resolved", "dismissed")))
    note = fields.String(allow_none=True, validate=validate.Length(max=200))


class StaffCommentSchema(CommentSchema):
    id = fields.Integer()
    toilet_id = fields.Integer()
    comment_status = fields.String()


class ModerateSchema(BaseSchema):
    publish = fields.Boolean(required=True)


class ImportFormSchema(BaseSchema):
    coord_type = fields.String(load_default="gcj02", validate=validate.OneOf(COORD_TYPES))
    dry_run = fields.Boolean(load_default=False)
    allow_duplicates = fields.Boolean(load_default=False)


class ImportFileSchema(BaseSchema):
    file = fields.Raw(
        required=True, metadata={"type": "string", "format": "binary", "description": "CSV/GeoJSON"}
    )


class ImportResultSchema(Schema):
    format = fields.String()
    dry_run = fields.Boolean()
    total = fields.Integer()
    created = fields.Integer()
    updated = fields.Integer()
    unchanged = fields.Integer()
    errors = fields.List(
        fields.Dict(), metadata={"description": "[{row, external_id, errors: {field: [msg]}}]"}
    )
    duplicates = fields.List(
        fields.Dict(), metadata={"description": "[{row, external_id, near: [{toilet_id, ...}]}]"}
    )


class ExportQuerySchema(BaseSchema):
    format = fields.String(load_default="geojson", validate=validate.OneOf(("csv", "geojson")))
    include_removed = fields.Boolean(load_default=False)


# -- one import row (CSV line or GeoJSON feature), with OSM tag aliases -------------------------
TRISTATE_WORDS = {
    "yes": "yes", "no": "no", "unknown": "unknown", "": "unknown",
    "是": "yes", "有": "yes", "否": "no", "无": "no", "未知": "unknown",
    "true": "yes", "false": "no", "1": "yes", "0": "no", "limited": "yes",
}  # fmt: skip
CATEGORY_WORDS = {**{v: k for k, v in CATEGORY_LABELS.items()}, **{c: c for c in CATEGORIES}}
KIND_WORDS = {**{v: k for k, v in KIND_LABELS.items()}, **{k: k for k in KINDS}}
ACCESS_WORDS = {"yes": "public", "public": "public", "customers": "customers", "": "public"}
# OSM tags (and our xiuhua:* tags) accepted as column names, as the export writes them.
ALIASES = {
    "ref": "external_id",
    "addr:full": "address",
    "addr:district": "district",
    "addr:street": "street",
    "operator": "managing_unit",
    "phone": "contact_phone",
    "wheelchair": "accessible_stall",
    "toilets:paper_supplied": "paper",
    "toilets:handwashing": "handwashing",
    "xiuhua:category": "category",
    "xiuhua:kind": "kind",
    "xiuhua:third_restroom": "third_restroom",
    "xiuhua:mother_baby_room": "mother_baby_room",
    "xiuhua:stalls_male": "stalls_male",
    "xiuhua:stalls_female": "stalls_female",
    "xiuhua:stalls_accessible": "stalls_accessible",
}


def _word(mapping: dict, error: str):
    def convert(value):
        key = str(value).strip()
        if key in mapping:
            return mapping[key]
        if key.lower() in mapping:
            return mapping[key.lower()]
        raise ValidationError(error)

    return convert


def _tristate() -> fields.Field:
    return fields.Function(
        deserialize=_word(TRISTATE_WORDS, "应为 yes/no/unknown（是/否/未知）"),
        load_default="unknown",
    )


class ToiletImportRowSchema(BaseSchema):
    """One row of a bulk import: our column names or OSM tags; blank cells mean unknown."""

    external_id = fields.String(required=True, validate=validate.Length(min=1, max=64))
    name = fields.String(required=True, validate=validate.Length(min=1, max=64))
    address = fields.String(load_default="", validate=validate.Length(max=200))
    district = fields.String(load_default="", validate=validate.Length(max=32))
    street = fields.String(load_default="", validate=validate.Length(max=32))
    lat = fields.Float(required=True, validate=validate.Range(min=-90, max=90))
    lng = fields.Float(required=True, validate=validate.Range(min=-180, max=180))
    coord_type = fields.String(load_default="gcj02", validate=validate.OneOf(COORD_TYPES))
    category = fields.Function(
        deserialize=_word(CATEGORY_WORDS, "类别应为 一类/二类/三类/附属式/活动式"), required=True
    )
    kind = fields.Function(
        deserialize=_word(KIND_WORDS, "类型应为 环卫公厕/社会开放厕所"), load_default="sanitation"
    )
    access = fields.Function(
        deserialize=_word(ACCESS_WORDS, "开放对象应为 public/customers"), load_default="public"
    )
    managing_unit = fields.String(load_default="", validate=validate.Length(max=64))
    contact_phone = fields.String(
        load_default="", validate=validate.Regexp(r"^[0-9+\- ]{0,32}$", error="电话号码格式不正确")
    )
    opening_hours = fields.String(
        allow_none=True, load_default=None, validate=[validate.Length(max=255), _check_rule]
    )
    stalls_male = fields.Integer(allow_none=True, validate=validate.Range(min=0, max=500))
    stalls_female = fields.Integer(allow_none=True, validate=validate.Range(min=0, max=500))
    stalls_accessible = fields.Integer(allow_none=True, validate=validate.Range(min=0, max=500))
    accessible_stall = _tristate()
    third_restroom = _tristate()
    mother_baby_room = _tristate()
    changing_table = _tristate()
    free = _tristate()
    paper = _tristate()
    handwashing = _tristate()

    @pre_load
    def _normalise(self, data, **kwargs):
        if not isinstance(data, dict):
            return data
        row = {}
        for key, value in data.items():
            key = ALIASES.get(str(key).strip(), str(key).strip())
            if isinstance(value, str):
                value = value.strip()
            if value == "" and key in ("opening_hours", "stalls_male", "stalls_female",
                                       "stalls_accessible", "fee", *FACILITIES):  # fmt: skip
                value = None
            row[key] = value
        fee = row.pop("fee", None)
        if fee is not None and "free" not in row:  # OSM fee=yes means not free
            word = TRISTATE_WORDS.get(str(fee).lower(), str(fee))
            row["free"] = {"yes": "no", "no": "yes"}.get(word, word)
        return {k: v for k, v in row.items() if v is not None}

    @validates_schema
    def _place(self, data, **kwargs):
        lat, lng = data.get("lat"), data.get("lng")
        if lat is None or lng is None:
            return
        if (lat == 0 and lng == 0) or not geo.in_china_bbox(lat, lng):
            raise ValidationError("坐标无效或不在服务范围内", "lat")
        if data.get("kind") == "sanitation" and data.get("access") == "customers":
            raise ValidationError("环卫公厕应对公众开放", "access")

    @post_load
    def _finish(self, data, **kwargs):
        data["lat"], data["lng"] = geo.to_gcj02(data["lat"], data["lng"], data.pop("coord_type"))
        return data
