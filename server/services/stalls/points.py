"""Sales points, their sessions, per-date slots (capacity) and closures."""

import datetime as dt

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from server.core.errors import AppError, not_found
from server.extensions import db
from server.models.stalls import (
    ACTIVE_BOOKING,
    Closure,
    MarketSession,
    SalesPoint,
    StallBooking,
    StallSlot,
    WaitlistEntry,
)
from server.models.users import User
from server.services import uploads as uploads_service
from server.services.stalls import notices, rules
from server.util import geo
from server.util.clock import CST, utcnow

MAX_AVAILABILITY_DAYS = 14


# -- points -----------------------------------------------------------------------------------
def get_point(point_id: int, *, include_inactive: bool = False) -> SalesPoint:
    point = db.session.get(SalesPoint, point_id)
    if point is None or (point.status != "active" and not include_inactive):
        raise AppError(404, "point_not_found", "销售点不存在或已停用")
    return point


def list_points(
    lat: float | None = None, lng: float | None = None, *, include_inactive: bool = False
) -> list[SalesPoint]:
    """Points (``distance_m`` set from lat/lng, nearest first); a county has a few dozen."""
    query = select(SalesPoint).order_by(SalesPoint.id)
    if not include_inactive:
        query = query.where(SalesPoint.status == "active")
    found = list(db.session.scalars(query))
    for point in found:
        point.distance_m = (
            None if lat is None or lng is None else geo.haversine_m(lat, lng, point.lat, point.lng)
        )
    if lat is None or lng is None:
        return found
    return sorted(found, key=lambda point: point.distance_m)


def _claim_photo(staff: User, photo_id: int | None) -> int | None:
    if photo_id is None:
        return None
    return uploads_service.claim(staff, [photo_id], "stall_point")[0].id


def create_point(staff: User, *, photo_id: int | None = None, **fields) -> SalesPoint:
    _check_dates(fields["active_from"], fields.get("active_until"))
    point = SalesPoint(photo_id=_claim_photo(staff, photo_id), **fields)
    db.session.add(point)
    db.session.flush()
    return point


def update_point(staff: User, point: SalesPoint, **changes) -> SalesPoint:
    if "photo_id" in changes:
        new_photo = changes.pop("photo_id")
        if new_photo != point.photo_id:
            point.photo_id = _claim_photo(staff, new_photo)
    _check_dates(
        changes.get("active_from", point.active_from),
        changes.get("active_until", point.active_until),
    )
    if "stall_count" in changes:
        _check_stall_count(point, changes["stall_count"])
    for key, value in changes.items():
        setattr(point, key, value)
    return point


def _check_dates(active_from: dt.date, active_until: dt.date | None) -> None:
    if active_until is not None and active_until < active_from:
        raise AppError(
            422,
            "invalid_dates",
            "停用日期不能早于启用日期",
            errors={"json": {"active_until": ["停用日期不能早于启用日期"]}},
        )


def _check_stall_count(point: SalesPoint, stall_count: int) -> None:
    """Fewer stalls than a session's or a future slot's capacity (or a held number) is refused."""
    today = dt.datetime.now(CST).date()
    largest = max(
        [session.capacity for session in point.sessions]
        + [
            db.session.scalar(
                select(func.max(StallSlot.capacity)).where(
                    StallSlot.point_id == point.id, StallSlot.date >= today
                )
            )
            or 0,
            db.session.scalar(
                select(func.max(StallBooking.stall_number)).where(
                    StallBooking.point_id == point.id,
                    StallBooking.date >= today,
                    StallBooking.status.in_(ACTIVE_BOOKING),
                )
            )
            or 0,
        ]
    )
    if stall_count < largest:
        raise AppError(
            409,
            "stall_count_too_small",
            f"摊位数不能少于已设定的容量或已分配的摊位号（{largest}）",
        )


def is_active_on(point: SalesPoint, day: dt.date) -> bool:
    return point.active_from <= day and (point.active_until is None or day <= point.active_until)


# -- sessions ---------------------------------------------------------------------------------
def get_session(point: SalesPoint, session_id: int) -> MarketSession:
    session = db.session.get(MarketSession, session_id)
    if session is None or session.point_id != point.id or not session.active:
        raise AppError(
            422,
            "unknown_session",
            "该销售点没有这个时段",
            errors={"json": {"session_id": ["该销售点没有这个时段"]}},
        )
    return session


def get_session_by_id(session_id: int) -> MarketSession:
    session = db.session.get(MarketSession, session_id)
    if session is None:
        raise AppError(404, "session_not_found", "时段不存在")
    return session


def _check_session(point: SalesPoint, session: MarketSession | None, values: dict) -> None:
    start, end = values["start_time"], values["end_time"]
    if end <= start:
        raise AppError(
            422,
            "invalid_times",
            "结束时间必须晚于开始时间",
            errors={"json": {"end_time": ["结束时间必须晚于开始时间"]}},
        )
    if values["capacity"] > point.stall_count:
        raise AppError(
            422,
            "capacity_exceeds_stalls",
            f"容量不能超过摊位数（{point.stall_count}）",
            errors={"json": {"capacity": [f"不能超过{point.stall_count}"]}},
        )
    for other in point.sessions:
        if other is session or not other.active:
            continue
        if other.name == values["name"]:
            raise AppError(409, "session_exists", "该销售点已有同名时段")
        if start < other.end_time and other.start_time < end:
            raise AppError(409, "sessions_overlap", f"与时段“{other.name}”时间重叠")


def create_session(point: SalesPoint, **values) -> MarketSession:
    _check_session(point, None, values)
    session = MarketSession(point=point, **values)
    db.session.add(session)
    try:
        with db.session.begin_nested():
            db.session.flush()
    except IntegrityError:
        raise AppError(409, "session_exists", "该销售点已有同名时段") from None
    return session


def update_session(
    session: MarketSession, now: dt.datetime | None = None, **changes
) -> MarketSession:
    now = now or utcnow()
    values = {
        key: changes.get(key, getattr(session, key))
        for key in ("name", "start_time", "end_time", "capacity")
    }
    _check_session(session.point, session, values)
    for key, value in changes.items():
        setattr(session, key, value)
    if "start_time" in changes or "end_time" in changes:
        # Slots not yet started follow the new times (bookings read times from their slot).
        for slot in db.session.scalars(
            select(StallSlot).where(StallSlot.session_id == session.id, StallSlot.starts_at > now)
        ):
            slot.starts_at, slot.ends_at = rules.session_bounds(
                slot.date, session.start_time, session.end_time
            )
    return session


# -- slots ------------------------------------------------------------------------------------
def find_slot(session: MarketSession, day: dt.date) -> StallSlot | None:
    return db.session.scalar(
        select(StallSlot).where(StallSlot.session_id == session.id, StallSlot.date == day)
    )


def get_or_create_slot(session: MarketSession, day: dt.date) -> StallSlot:
    slot = find_slot(session, day)
    if slot is not None:
        return slot
    starts_at, ends_at = rules.session_bounds(day, session.start_time, session.end_time)
    slot = StallSlot(
        point_id=session.point_id,
        session_id=session.id,
        date=day,
        starts_at=starts_at,
        ends_at=ends_at,
        capacity=session.capacity,
        booked=0,
        closed=closure_for(session.point_id, day, session.id) is not None,
    )
    try:
        # A simultaneous first booking may create it first: then use theirs.
        with db.session.begin_nested():
            db.session.add(slot)
    except IntegrityError:
        slot = find_slot(session, day)
        if slot is None:
            raise
    return slot


def set_slot_capacity(
    session: MarketSession, day: dt.date, capacity: int, now: dt.datetime | None = None
) -> StallSlot:
    """Change one date's capacity; never below the places already booked."""
    from server.services.stalls import bookings

    now = now or utcnow()
    if capacity > session.point.stall_count:
        raise AppError(
            422,
            "capacity_exceeds_stalls",
            f"容量不能超过摊位数（{session.point.stall_count}）",
            errors={"json": {"capacity": [f"不能超过{session.point.stall_count}"]}},
        )
    if day < now.astimezone(CST).date():
        raise AppError(422, "date_past", "不能修改过去日期的容量")
    slot = get_or_create_slot(session, day)
    # Conditional on the booked count in the database, not on what we read.
    result = db.session.execute(
        update(StallSlot)
        .where(StallSlot.id == slot.id, StallSlot.booked <= capacity)
        .values(capacity=capacity)
        .execution_options(synchronize_session=False)
    )
    db.session.refresh(slot)
    if result.rowcount != 1:
        raise AppError(409, "capacity_below_booked", f"已有{slot.booked}个摊位被预约，容量不能更少")
    bookings.promote_waitlist(slot, now)  # more places: waiting farmers move up
    return slot


# -- closures ---------------------------------------------------------------------------------
def closure_for(point_id: int, day: dt.date, session_id: int) -> Closure | None:
    return db.session.scalar(
        select(Closure)
        .where(
            Closure.point_id == point_id,
            Closure.date == day,
            (Closure.session_id.is_(None)) | (Closure.session_id == session_id),
        )
        .order_by(Closure.id)
        .limit(1)
    )


def closures_between(point_id: int, start: dt.date, end: dt.date) -> list[Closure]:
    return list(
        db.session.scalars(
            select(Closure).where(
                Closure.point_id == point_id, Closure.date >= start, Closure.date <= end
            )
        )
    )


def list_closures(point_id: int | None, start: dt.date | None, end: dt.date | None):
    query = select(Closure).order_by(Closure.date, Closure.id)
    if point_id is not None:
        query = query.where(Closure.point_id == point_id)
    if start is not None:
        query = query.where(Closure.date >= start)
    if end is not None:
        query = query.where(Closure.date <= end)
    return query


def create_closure(
    staff: User,
    point: SalesPoint,
    day: dt.date,
    reason_type: str,
    reason: str,
    session_id: int | None = None,
    now: dt.datetime | None = None,
) -> tuple[Closure, int, int]:
    """Close a point or one session for a day: every booking and waiting entry is cancelled and
    its farmer notified; nothing counts against them. Returns (closure, bookings, waiting)."""
    now = now or utcnow()
    if day < now.astimezone(CST).date():
        raise AppError(422, "date_past", "不能关闭过去的日期")
    sessions = (
        [get_session(point, session_id)]
        if session_id is not None
        else [s for s in point.sessions if s.active]
    )
    if session_id is not None:
        existing = closure_for(point.id, day, session_id)
    else:
        existing = db.session.scalar(
            select(Closure).where(
                Closure.point_id == point.id, Closure.date == day, Closure.session_id.is_(None)
            )
        )
    if existing is not None:
        raise AppError(409, "already_closed", "该日期已关闭")
    closure = Closure(
        point_id=point.id,
        session_id=session_id,
        date=day,
        reason_type=reason_type,
        reason=reason,
        created_by_id=staff.id,
    )
    db.session.add(closure)
    db.session.flush()
    cancelled = waiting = 0
    # Lock slots in id order (the no-show job does the same): no deadlock between the two.
    slots = sorted((get_or_create_slot(s, day) for s in sessions), key=lambda s: s.id)
    for slot in slots:
        db.session.execute(
            update(StallSlot)
            .where(StallSlot.id == slot.id)
            .values(closed=True)
            .execution_options(synchronize_session=False)
        )
        for booking in db.session.scalars(
            select(StallBooking).where(
                StallBooking.slot_id == slot.id, StallBooking.status.in_(ACTIVE_BOOKING)
            )
        ):
            if _set_status(StallBooking, booking.id, ACTIVE_BOOKING, "cancelled_closure", now):
                _release_place(slot.id)
                notices.closure_cancelled(booking, slot, point, reason)
                cancelled += 1
        for entry in db.session.scalars(
            select(WaitlistEntry).where(
                WaitlistEntry.slot_id == slot.id, WaitlistEntry.status == "waiting"
            )
        ):
            if _set_status(WaitlistEntry, entry.id, ("waiting",), "closed", now):
                notices.waitlist_closed(entry, slot, point, reason)
                waiting += 1
        db.session.refresh(slot)
    return closure, cancelled, waiting


def delete_closure(closure: Closure) -> None:
    """Lift a closure (cancelled bookings stay cancelled; booking reopens)."""
    point_id, day = closure.point_id, closure.date
    db.session.delete(closure)
    db.session.flush()
    for slot in db.session.scalars(
        select(StallSlot).where(StallSlot.point_id == point_id, StallSlot.date == day)
    ):
        slot.closed = closure_for(point_id, day, slot.session_id) is not None


def get_closure(closure_id: int) -> Closure:
    closure = db.session.get(Closure, closure_id)
    if closure is None:
        raise not_found("关闭记录不存在")
    return closure


# -- helpers shared with bookings ---------------------------------------------------------
def _set_status(model, row_id: int, from_statuses, to_status: str, now: dt.datetime) -> bool:
    """Move one row between statuses; False when someone else moved it first."""
    values = {"status": to_status}
    if model is StallBooking and to_status.startswith("cancelled"):
        values["cancelled_at"] = now
    result = db.session.execute(
        update(model)
        .where(model.id == row_id, model.status.in_(from_statuses))
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount == 1:
        row = db.session.get(model, row_id)
        db.session.refresh(row)
        return True
    return False


def _lock_slot(slot_id: int) -> None:
    """Row lock on the slot before touching its bookings (PostgreSQL; SQLite is serialised)."""
    db.session.execute(select(StallSlot.id).where(StallSlot.id == slot_id).with_for_update())


def _release_place(slot_id: int) -> None:
    db.session.execute(
        update(StallSlot)
        .where(StallSlot.id == slot_id, StallSlot.booked > 0)
        .values(booked=StallSlot.booked - 1)
        .execution_options(synchronize_session=False)
    )


# -- availability -----------------------------------------------------------------------------
def availability(
    point: SalesPoint, start: dt.date, end: dt.date, now: dt.datetime | None = None
) -> list[dict]:
    now = now or utcnow()
    if end < start:
        raise AppError(422, "invalid_range", "结束日期不能早于开始日期")
    if (end - start).days >= MAX_AVAILABILITY_DAYS:
        raise AppError(422, "range_too_long", f"一次最多查询{MAX_AVAILABILITY_DAYS}天")
    sessions = [s for s in point.sessions if s.active]
    slots = {
        (slot.session_id, slot.date): slot
        for slot in db.session.scalars(
            select(StallSlot).where(
                StallSlot.point_id == point.id, StallSlot.date >= start, StallSlot.date <= end
            )
        )
    }
    closures = closures_between(point.id, start, end)
    days = []
    day = start
    while day <= end:
        items = []
        for session in sessions:
            slot = slots.get((session.id, day))
            closure = next(
                (c for c in closures if c.date == day and c.session_id in (None, session.id)),
                None,
            )
            starts_at, ends_at = rules.session_bounds(day, session.start_time, session.end_time)
            capacity = slot.capacity if slot else session.capacity
            booked = slot.booked if slot else 0
            active = is_active_on(point, day)
            items.append(
                {
                    "session_id": session.id,
                    "name": session.name,
                    "starts_at": starts_at,
                    "ends_at": ends_at,
                    "capacity": capacity,
                    "booked": booked,
                    "remaining": max(0, capacity - booked),
                    "closed": closure is not None or not active,
                    "closure_reason": closure.reason if closure else (None if active else "不开放"),
                    "booking": rules.booking_state(day, starts_at, now),
                    "booking_opens_at": rules.booking_opens_at(day),
                    "booking_closes_at": rules.booking_closes_at(starts_at),
                }
            )
        days.append({"date": day, "sessions": items})
        day += dt.timedelta(days=1)
    return days
