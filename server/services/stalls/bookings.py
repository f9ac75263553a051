"""Booking, cancelling, the waitlist and no-shows: capacity is enforced by the database.

Every change of a slot's places goes through one conditional UPDATE of its row
(``_take_place`` / ``points._release_place``); the booking INSERT that follows is
guarded by the partial unique indexes on ``stall_bookings``. On PostgreSQL the
UPDATE also locks the slot row until commit, which serialises everything that
happens to one slot; SQLite serialises writers with ``BEGIN IMMEDIATE``.

Lock order (PostgreSQL), so that concurrent requests never deadlock: the acting farmer's
own profile (book, cancel) → slot rows in id order → their booking rows → waitlist rows.
Waitlist promotion does not lock the promoted farmer's profile (their rolling limit is
checked without it); jobs touch only slots whose check-in window has ended.
"""

import datetime as dt

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from server.core.errors import AppError, not_found
from server.extensions import db
from server.models.stalls import (
    ACTIVE_BOOKING,
    FarmerProfile,
    SalesPoint,
    StallBooking,
    StallSlot,
    WaitlistEntry,
)
from server.models.users import User
from server.services.stalls import farmers, notices, points, rules
from server.services.stalls.points import _lock_slot, _release_place, _set_status
from server.util.clock import CST, utcnow

STALL_RETRIES = 5
USED = ("confirmed", "checked_in", "no_show")  # bookings that count against the weekly limit


class _Full(Exception):
    """No place left (rolls back the savepoint of one waitlist promotion)."""


# -- the checks every booking and waitlist entry passes ------------------------------------
def _bookable_slot(
    user: User, point_id: int, day: dt.date, session_id: int, now: dt.datetime
) -> tuple[FarmerProfile, SalesPoint, StallSlot]:
    profile = farmers.require_bookable(user, now)
    point = points.get_point(point_id)
    session = points.get_session(point, session_id)
    if day < now.astimezone(CST).date():
        raise AppError(
            422, "date_past", "不能预约过去的日期", errors={"json": {"date": ["日期已过"]}}
        )
    if not points.is_active_on(point, day):
        raise AppError(
            422,
            "point_not_open_on_date",
            "该销售点在这一天不开放",
            errors={"json": {"date": ["该销售点在这一天不开放"]}},
        )
    starts_at, _ = rules.session_bounds(day, session.start_time, session.end_time)
    state = rules.booking_state(day, starts_at, now)
    if state == "not_yet_open":
        opens = rules.booking_opens_at(day).astimezone(CST)
        raise AppError(
            409,
            "booking_not_open",
            f"该日期将于{opens:%m月%d日 %H:%M}开放预约",
            errors={"booking_opens_at": opens.isoformat()},
        )
    if state == "closed":
        raise AppError(409, "booking_closed", "该时段已停止预约（开市前1小时截止）")
    closure = points.closure_for(point.id, day, session.id)
    if closure is not None:
        raise _closed(closure.reason)
    if _active_booking_on(user.id, day) is not None:
        raise _already_booked()
    return profile, point, points.get_or_create_slot(session, day)


def _closed(reason: str) -> AppError:
    return AppError(409, "session_closed", f"该时段休市：{reason}", errors={"reason": reason})


def _already_booked() -> AppError:
    return AppError(409, "already_booked", "您当天已有一个摊位预约，每天限约一个")


def _active_booking_on(user_id: int, day: dt.date) -> StallBooking | None:
    return db.session.scalar(
        select(StallBooking).where(
            StallBooking.user_id == user_id,
            StallBooking.date == day,
            StallBooking.status.in_(ACTIVE_BOOKING),
        )
    )


def _take_place(slot_id: int) -> bool:
    """The one atomic conditional update (DOMAIN.md §5): False when full or closed."""
    result = db.session.execute(
        update(StallSlot)
        .where(
            StallSlot.id == slot_id,
            StallSlot.booked < StallSlot.capacity,
            StallSlot.closed.is_(False),
        )
        .values(booked=StallSlot.booked + 1)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def _check_window_limit(user_id: int, day: dt.date) -> None:
    """At most N bookings in any rolling window of D days (3 in 7 by default)."""
    limit, days = rules.rule("MAX_BOOKINGS_PER_WINDOW"), rules.rule("BOOKING_WINDOW_DAYS")
    span = dt.timedelta(days=days - 1)
    dates = list(
        db.session.scalars(
            select(StallBooking.date).where(
                StallBooking.user_id == user_id,
                StallBooking.status.in_(USED),
                StallBooking.date >= day - span,
                StallBooking.date <= day + span,
            )
        )
    )
    for offset in range(days):
        start = day - dt.timedelta(days=offset)
        if sum(start <= d <= start + span for d in dates) + 1 > limit:
            raise AppError(
                409, "booking_limit_reached", f"任意连续{days}天内最多预约{limit}次，请另选日期"
            )


def _lock_farmer(user_id: int) -> None:
    """Serialises one farmer's own simultaneous requests (PostgreSQL; SQLite is serialised)."""
    db.session.execute(
        select(FarmerProfile.id).where(FarmerProfile.user_id == user_id).with_for_update()
    )


def _insert_booking(slot: StallSlot, user_id: int, source: str) -> StallBooking:
    """Check the farmer's rolling limit and give them the lowest free stall number."""
    _check_window_limit(user_id, slot.date)
    stall_count = db.session.scalar(
        select(SalesPoint.stall_count).where(SalesPoint.id == slot.point_id)
    )
    for _ in range(STALL_RETRIES):
        taken = set(
            db.session.scalars(
                select(StallBooking.stall_number).where(
                    StallBooking.slot_id == slot.id, StallBooking.status.in_(ACTIVE_BOOKING)
                )
            )
        )
        number = next((n for n in range(1, stall_count + 1) if n not in taken), None)
        if number is None:  # cannot happen while booked <= capacity <= stall_count
            raise AppError(409, "full", "该时段摊位已约满")
        booking = StallBooking(
            slot_id=slot.id,
            point_id=slot.point_id,
            session_id=slot.session_id,
            date=slot.date,
            user_id=user_id,
            stall_number=number,
            status="confirmed",
            source=source,
        )
        try:
            with db.session.begin_nested():
                db.session.add(booking)
        except IntegrityError:
            if _active_booking_on(user_id, slot.date) is not None:
                raise _already_booked() from None
            continue  # someone took that number at the same moment: pick again
        _drop_waiting_on(user_id, slot.date)
        return booking
    raise AppError(409, "conflict", "预约人数较多，请稍后重试")


def _drop_waiting_on(user_id: int, day: dt.date) -> None:
    """Booked for a date: waiting for another place that day makes no sense any more."""
    slot_ids = select(StallSlot.id).where(StallSlot.date == day)
    db.session.execute(
        update(WaitlistEntry)
        .where(
            WaitlistEntry.user_id == user_id,
            WaitlistEntry.status == "waiting",
            WaitlistEntry.slot_id.in_(slot_ids),
        )
        .values(status="cancelled")
        .execution_options(synchronize_session=False)
    )


# -- booking --------------------------------------------------------------------------------
def book(
    user: User, point_id: int, day: dt.date, session_id: int, now: dt.datetime | None = None
) -> StallBooking:
    now = now or utcnow()
    _lock_farmer(user.id)
    _profile, _point, slot = _bookable_slot(user, point_id, day, session_id, now)
    if not _take_place(slot.id):
        db.session.refresh(slot)
        if slot.closed:
            closure = points.closure_for(slot.point_id, day, slot.session_id)
            raise _closed(closure.reason if closure else "临时休市")
        raise AppError(
            409,
            "full",
            "该时段摊位已约满，可以加入候补，有空位时自动为您预约",
            errors={"waitlist_available": True},
        )
    booking = _insert_booking(slot, user.id, "direct")
    db.session.refresh(slot)
    return booking


def get_booking(user: User, booking_id: int) -> StallBooking:
    booking = db.session.get(StallBooking, booking_id)
    if booking is None or booking.user_id != user.id:
        raise not_found("预约不存在")
    return booking


def get_booking_by_id(booking_id: int) -> StallBooking:
    booking = db.session.get(StallBooking, booking_id)
    if booking is None:
        raise not_found("预约不存在")
    return booking


def my_bookings(user: User, when: str | None, now: dt.datetime | None = None):
    now = now or utcnow()
    query = (
        select(StallBooking)
        .join(StallSlot, StallSlot.id == StallBooking.slot_id)
        .where(StallBooking.user_id == user.id)
    )
    if when == "upcoming":
        query = query.where(StallSlot.ends_at > now, StallBooking.status.in_(ACTIVE_BOOKING))
        return query.order_by(StallSlot.starts_at, StallBooking.id)
    if when == "past":
        query = query.where((StallSlot.ends_at <= now) | StallBooking.status.not_in(ACTIVE_BOOKING))
    return query.order_by(StallSlot.starts_at.desc(), StallBooking.id.desc())


def cancel(user: User, booking_id: int, now: dt.datetime | None = None) -> StallBooking:
    """Cancel my booking; within 2 hours of the start it is a late cancel (a strike)."""
    now = now or utcnow()
    booking = get_booking(user, booking_id)
    slot = booking.slot
    if booking.status == "checked_in":
        raise AppError(409, "already_checked_in", "已签到的预约不能取消")
    if booking.status != "confirmed":
        raise AppError(409, "booking_not_active", "该预约已取消或已结束")
    if now >= slot.starts_at:
        raise AppError(409, "cancel_after_start", "开市后不能取消预约")
    late = now >= rules.free_cancel_until(slot.starts_at)
    _lock_farmer(user.id)
    _lock_slot(slot.id)
    if not _set_status(StallBooking, booking.id, ("confirmed",), _cancel_status(late), now):
        raise AppError(409, "booking_not_active", "该预约已取消或已结束")
    _release_place(slot.id)
    if late:
        profile = farmers.record_strike(user.id, now)
        if profile is not None and profile.strikes_since == now:  # this strike suspended them
            notices.suspended_by_late_cancel(booking, slot, profile.suspended_until)
    promote_waitlist(slot, now)
    db.session.refresh(slot)
    return booking


def _cancel_status(late: bool) -> str:
    return "cancelled_late" if late else "cancelled"


def release_for_deletion(user: User, now: dt.datetime) -> None:
    """Account deletion: future bookings are cancelled (their stalls freed), waiting dropped."""
    future = db.session.scalars(
        select(StallBooking)
        .join(StallSlot, StallSlot.id == StallBooking.slot_id)
        .where(
            StallBooking.user_id == user.id,
            StallBooking.status == "confirmed",
            StallSlot.starts_at > now,
        )
        .order_by(StallBooking.slot_id)
    )
    for booking in list(future):
        _lock_slot(booking.slot_id)
        if _set_status(StallBooking, booking.id, ("confirmed",), "cancelled", now):
            _release_place(booking.slot_id)
            promote_waitlist(booking.slot, now)
    db.session.execute(
        update(WaitlistEntry)
        .where(WaitlistEntry.user_id == user.id, WaitlistEntry.status == "waiting")
        .values(status="cancelled")
        .execution_options(synchronize_session=False)
    )


# -- waitlist -------------------------------------------------------------------------------
def join_waitlist(
    user: User, point_id: int, day: dt.date, session_id: int, now: dt.datetime | None = None
) -> WaitlistEntry:
    now = now or utcnow()
    _profile, _point, slot = _bookable_slot(user, point_id, day, session_id, now)
    if slot.booked < slot.capacity:
        raise AppError(409, "places_available", "该时段还有空余摊位，请直接预约")
    entry = WaitlistEntry(slot_id=slot.id, user_id=user.id, status="waiting")
    try:
        with db.session.begin_nested():
            db.session.add(entry)
    except IntegrityError:
        raise AppError(409, "already_waiting", "您已在该时段的候补名单中") from None
    return entry


def waitlist_position(entry: WaitlistEntry) -> int | None:
    if entry.status != "waiting":
        return None
    return db.session.scalar(
        select(db.func.count()).where(
            WaitlistEntry.slot_id == entry.slot_id,
            WaitlistEntry.status == "waiting",
            WaitlistEntry.id <= entry.id,
        )
    )


def with_position(entry: WaitlistEntry) -> WaitlistEntry:
    entry.position = waitlist_position(entry)
    return entry


def get_entry(user: User, entry_id: int) -> WaitlistEntry:
    entry = db.session.get(WaitlistEntry, entry_id)
    if entry is None or entry.user_id != user.id:
        raise not_found("候补记录不存在")
    return entry


def leave_waitlist(user: User, entry_id: int, now: dt.datetime | None = None) -> None:
    entry = get_entry(user, entry_id)
    if not _set_status(WaitlistEntry, entry.id, ("waiting",), "cancelled", now or utcnow()):
        raise AppError(409, "not_waiting", "该候补已结束（已转为预约或已取消）")


def my_waitlist(user: User):
    return (
        select(WaitlistEntry)
        .where(WaitlistEntry.user_id == user.id)
        .order_by(WaitlistEntry.created_at.desc(), WaitlistEntry.id.desc())
    )


def promote_waitlist(slot: StallSlot, now: dt.datetime) -> list[StallBooking]:
    """Give free places of ``slot`` to waiting farmers, first come first served (same
    transaction as the change that freed them). Farmers who can no longer book are skipped."""
    db.session.refresh(slot)
    if slot.closed or now >= rules.booking_closes_at(slot.starts_at):
        return []
    promoted = []
    while True:
        entry = db.session.scalar(
            select(WaitlistEntry)
            .where(WaitlistEntry.slot_id == slot.id, WaitlistEntry.status == "waiting")
            .order_by(WaitlistEntry.id)
            .limit(1)
        )
        if entry is None:
            break
        # Claim the entry: two transactions can never promote the same one.
        if not _set_status(WaitlistEntry, entry.id, ("waiting",), "promoted", now):
            continue
        if not _can_still_book(entry.user_id, slot, now):
            entry.status = "expired"
            continue
        try:
            with db.session.begin_nested():
                if not _take_place(slot.id):
                    raise _Full
                booking = _insert_booking(slot, entry.user_id, "waitlist")
        except _Full:
            entry.status = "waiting"
            break
        except AppError:  # limit reached or already booked in the meantime
            entry.status = "expired"
            continue
        entry.booking_id = booking.id
        notices.promoted(booking, slot)
        promoted.append(booking)
    db.session.refresh(slot)
    return promoted


def _can_still_book(user_id: int, slot: StallSlot, now: dt.datetime) -> bool:
    user = db.session.get(User, user_id)
    if user is None or user.status != "active":
        return False
    try:
        farmers.require_bookable(user, now)
    except AppError:
        return False
    return _active_booking_on(user_id, slot.date) is None


# -- the periodic job -------------------------------------------------------------------------
def mark_no_shows(now: dt.datetime | None = None) -> int:
    """Bookings not checked in by the end of the check-in window become no-shows (a strike),
    their stalls are freed for walk-ins; waiting entries of slots past booking close expire."""
    now = now or utcnow()
    window_end = now - dt.timedelta(minutes=rules.rule("CHECKIN_CLOSES_MINUTES_AFTER"))
    overdue = list(
        db.session.execute(
            select(StallBooking.id, StallBooking.slot_id, StallBooking.user_id)
            .join(StallSlot, StallSlot.id == StallBooking.slot_id)
            .where(StallBooking.status == "confirmed", StallSlot.starts_at <= window_end)
            .order_by(StallBooking.slot_id, StallBooking.id)
        )
    )
    marked = 0
    for booking_id, slot_id, user_id in overdue:
        _lock_slot(slot_id)
        if _set_status(StallBooking, booking_id, ("confirmed",), "no_show", now):
            _release_place(slot_id)
            profile = farmers.record_strike(user_id, now)
            until = profile.suspended_until if profile is not None else None
            booking = db.session.get(StallBooking, booking_id)
            notices.no_show(booking, booking.slot, until if until and until > now else None)
            marked += 1
    close_before = now + dt.timedelta(minutes=rules.rule("BOOKING_CLOSES_MINUTES_BEFORE"))
    db.session.execute(
        update(WaitlistEntry)
        .where(
            WaitlistEntry.status == "waiting",
            WaitlistEntry.slot_id.in_(
                select(StallSlot.id).where(StallSlot.starts_at <= close_before)
            ),
        )
        .values(status="expired")
        .execution_options(synchronize_session=False)
    )
    return marked
