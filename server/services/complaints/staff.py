"""Staff side: the case queue, reference data upkeep (units, categories) and seeding."""

import datetime as dt

from sqlalchemy import func, select

from server.core.errors import AppError, not_found
from server.extensions import db
from server.models.complaints import (
    CalendarDay,
    Complaint,
    ComplaintCategory,
    ComplaintExtension,
    ComplaintUnit,
    WorkPeriod,
)
from server.services.complaints import reference
from server.services.complaints.cases import _page
from server.util.clock import CST, utcnow

# A date filter before the first or after the last case matches the same cases as these
# bounds; clamping keeps the arithmetic and the conversion to UTC inside ``datetime``.
_FIRST_DAY, _LAST_DAY = dt.date(1970, 1, 1), dt.date(9998, 12, 31)


def day_start(day: dt.date) -> dt.datetime:
    """Midnight in Beijing at the start of ``day``, as an aware datetime."""
    return dt.datetime.combine(min(max(day, _FIRST_DAY), _LAST_DAY), dt.time(0), CST)


def day_end(day: dt.date) -> dt.datetime:
    """Midnight in Beijing at the end of ``day`` (the start of the next day)."""
    return day_start(day) + dt.timedelta(days=1)


def queue(
    *,
    page: int,
    page_size: int,
    status: str | None = None,
    category: str | None = None,
    unit_id: int | None = None,
    overdue: bool | None = None,
    held: bool = False,
    extension_pending: bool | None = None,
    created_from: dt.date | None = None,
    created_to: dt.date | None = None,
    area: tuple[float, float, float, float] | None = None,
    order: str = "newest",
    now: dt.datetime | None = None,
) -> dict:
    """The filtered case list, plus counts by status (and overdue) under the same filters."""
    now = now or utcnow()
    conditions = [Complaint.moderation == ("held" if held else "ok")]
    if category:
        conditions.append(Complaint.category.has(ComplaintCategory.code == category))
    if unit_id:
        conditions.append(Complaint.unit_id == unit_id)
    if created_from:
        conditions.append(Complaint.created_at >= day_start(created_from))
    if created_to:
        conditions.append(Complaint.created_at < day_end(created_to))
    if area:
        south, west, north, east = area
        conditions += [Complaint.lat.between(south, north), Complaint.lng.between(west, east)]
    if extension_pending is not None:
        pending = Complaint.extensions.any(ComplaintExtension.status == "pending")
        conditions.append(pending if extension_pending else ~pending)
    overdue_condition = (Complaint.status == "dispatched") & (Complaint.deadline_at < now)

    counts = dict(
        db.session.execute(
            select(Complaint.status, func.count()).where(*conditions).group_by(Complaint.status)
        ).all()
    )
    overdue_total = db.session.scalar(
        select(func.count()).select_from(Complaint).where(*conditions, overdue_condition)
    )

    if status:
        conditions.append(Complaint.status == status)
    if overdue is not None:
        conditions.append(overdue_condition if overdue else ~overdue_condition)
    query = select(Complaint).where(*conditions)
    if order == "deadline":
        query = query.order_by(Complaint.deadline_at.is_(None), Complaint.deadline_at, Complaint.id)
    else:
        query = query.order_by(Complaint.id.desc())
    result = _page(query, page, page_size)
    result["counts"] = {"by_status": counts, "overdue": overdue_total}
    return result


def pending_extensions() -> list[ComplaintExtension]:
    return list(
        db.session.scalars(
            select(ComplaintExtension)
            .where(ComplaintExtension.status == "pending")
            .order_by(ComplaintExtension.id)
        )
    )


def get_extension(complaint_id: int, extension_id: int) -> ComplaintExtension:
    extension = db.session.get(ComplaintExtension, extension_id)
    if extension is None or extension.complaint_id != complaint_id:
        raise not_found("延期申请不存在")
    return extension


# -- units and categories -------------------------------------------------------------------------
def list_units() -> list[ComplaintUnit]:
    return list(db.session.scalars(select(ComplaintUnit).order_by(ComplaintUnit.id)))


def get_unit(unit_id: int) -> ComplaintUnit:
    unit = db.session.get(ComplaintUnit, unit_id)
    if unit is None:
        raise not_found("处置单位不存在")
    return unit


def _unique_unit_name(name: str, unit_id: int | None = None) -> None:
    other = db.session.scalar(select(ComplaintUnit).where(ComplaintUnit.name == name))
    if other is not None and other.id != unit_id:
        raise AppError(
            409, "unit_exists", "已有同名的处置单位", errors={"json": {"name": ["重名"]}}
        )


def create_unit(name: str, phone: str | None = None, active: bool = True) -> ComplaintUnit:
    _unique_unit_name(name)
    unit = ComplaintUnit(name=name, phone=phone, active=active)
    db.session.add(unit)
    db.session.flush()
    return unit


def update_unit(unit: ComplaintUnit, **changes) -> ComplaintUnit:
    if "name" in changes:
        _unique_unit_name(changes["name"], unit.id)
    for field in ("name", "phone", "active"):
        if field in changes:
            setattr(unit, field, changes[field])
    return unit


def list_categories(include_inactive: bool = False) -> list[ComplaintCategory]:
    query = select(ComplaintCategory).order_by(
        ComplaintCategory.kind, ComplaintCategory.class_code, ComplaintCategory.code
    )
    if not include_inactive:
        query = query.where(ComplaintCategory.active.is_(True))
    return list(db.session.scalars(query))


def categories_grouped() -> list[dict]:
    """Active categories grouped by class (部件 first, then 事件), for the citizen picker."""
    groups: dict[tuple[str, str], dict] = {}
    for category in list_categories():
        key = (category.kind, category.class_code)
        group = groups.setdefault(
            key,
            {
                "kind": category.kind,
                "kind_name": category.kind_name,
                "class_code": category.class_code,
                "class_name": category.class_name,
                "categories": [],
            },
        )
        group["categories"].append(category)
    return list(groups.values())


def get_category(category_id: int) -> ComplaintCategory:
    category = db.session.get(ComplaintCategory, category_id)
    if category is None:
        raise not_found("问题类别不存在")
    return category


def _unit_or_none(unit_id: int | None) -> ComplaintUnit | None:
    if unit_id is None:
        return None
    unit = db.session.get(ComplaintUnit, unit_id)
    if unit is None:
        raise AppError(
            422, "invalid_unit", "处置单位不存在", errors={"json": {"unit_id": ["处置单位不存在"]}}
        )
    return unit


CATEGORY_FIELDS = (
    "class_name",
    "name",
    "icon",
    "unit_id",
    "limit_value",
    "limit_unit",
    "active",
    "sort_order",
)


def create_category(**values) -> ComplaintCategory:
    code = values["code"]
    if db.session.scalar(select(ComplaintCategory.id).where(ComplaintCategory.code == code)):
        raise AppError(
            409, "category_exists", "该类别编码已存在", errors={"json": {"code": ["重复"]}}
        )
    unit = _unit_or_none(values.get("unit_id"))
    category = ComplaintCategory(
        code=code,
        kind="component" if code[0] == "B" else "event",
        class_code=code[1:3],
        **{field: values[field] for field in CATEGORY_FIELDS if field in values},
    )
    category.unit = unit
    db.session.add(category)
    db.session.flush()
    return category


def update_category(category: ComplaintCategory, **changes) -> ComplaintCategory:
    """Edit a category; a new time limit applies to cases dispatched from now on."""
    for field in CATEGORY_FIELDS:
        if field in changes and field != "unit_id":
            setattr(category, field, changes[field])
    if "unit_id" in changes:
        category.unit = _unit_or_none(changes["unit_id"])
    return category


# -- seeding ---------------------------------------------------------------------------------------
def seed_reference_data() -> dict[str, int]:
    """Add the reference units, categories, office hours and holidays that are missing.

    Idempotent; never overwrites what an admin changed. Returns how many rows were added.
    """
    added = {"units": 0, "categories": 0, "work_periods": 0, "calendar_days": 0}
    units = {unit.name: unit for unit in db.session.scalars(select(ComplaintUnit))}
    for row in reference.unit_rows():
        if row["name"] not in units:
            units[row["name"]] = ComplaintUnit(**row)
            db.session.add(units[row["name"]])
            added["units"] += 1
    db.session.flush()
    codes = set(db.session.scalars(select(ComplaintCategory.code)))
    for row in reference.category_rows({name: unit.id for name, unit in units.items()}):
        if row["code"] not in codes:
            db.session.add(ComplaintCategory(**row))
            added["categories"] += 1
    if not db.session.scalar(select(func.count()).select_from(WorkPeriod)):
        for row in reference.period_rows():
            db.session.add(WorkPeriod(**row))
            added["work_periods"] += 1
    days = set(db.session.scalars(select(CalendarDay.day)))
    for row in reference.calendar_rows():
        if row["day"] not in days:
            db.session.add(CalendarDay(**row))
            added["calendar_days"] += 1
    db.session.flush()
    return added
