"""Subscribe messages of stall booking, queued in the outbox (``server.services.notifications``).

Template ``booking_status`` (configure its id in ``WECHAT_TEMPLATES``) has the fields
``thing1`` 销售点, ``time2`` 时段开始, ``phrase3`` 状态, ``character_string4`` 摊位号,
``thing5`` 备注. Template ``farmer_review`` has ``phrase1`` 审核结果, ``thing2`` 备注.
"""

import datetime as dt

from server.extensions import db
from server.models.stalls import FarmerProfile, SalesPoint, StallBooking, StallSlot, WaitlistEntry
from server.models.users import User
from server.services.notifications import character_string, notify, phrase, thing, time_value
from server.util.clock import CST

BOOKING_PAGE = "pages/stalls/booking?id={id}"


def _booking_status(
    user_id: int,
    *,
    subject_type: str,
    subject_id: int,
    event: str,
    point: SalesPoint,
    slot: StallSlot,
    status: str,
    stall: str,
    remark: str,
    page: str | None,
) -> None:
    notify(
        db.session.get(User, user_id),
        subject_type=subject_type,
        subject_id=subject_id,
        event=event,
        template="booking_status",
        data={
            "thing1": thing(point.name),
            "time2": time_value(slot.starts_at),
            "phrase3": phrase(status),
            "character_string4": character_string(stall),
            "thing5": thing(remark),
        },
        page=page,
    )


def _about_booking(
    booking: StallBooking,
    slot: StallSlot,
    point: SalesPoint,
    *,
    event: str,
    status: str,
    remark: str,
) -> None:
    _booking_status(
        booking.user_id,
        subject_type="stall_booking",
        subject_id=booking.id,
        event=event,
        point=point,
        slot=slot,
        status=status,
        stall=str(booking.stall_number),
        remark=remark,
        page=BOOKING_PAGE.format(id=booking.id),
    )


def _until(moment: dt.datetime) -> str:
    return f"{moment.astimezone(CST):%m月%d日}"


def promoted(booking: StallBooking, slot: StallSlot) -> None:
    _about_booking(
        booking,
        slot,
        slot.point,
        event="waitlist_promoted",
        status="候补成功",
        remark="候补已转为预约，请按时签到",
    )


def closure_cancelled(
    booking: StallBooking, slot: StallSlot, point: SalesPoint, reason: str
) -> None:
    _about_booking(
        booking, slot, point, event="closure_cancelled", status="已取消", remark=f"休市：{reason}"
    )


def no_show(booking: StallBooking, slot: StallSlot, suspended_until: dt.datetime | None) -> None:
    """Not checked in: a strike, and when it is one too many, bookings are suspended."""
    if suspended_until is None:
        remark = "未按时签到，记爽约一次"
    else:
        remark = f"多次爽约，暂停预约至{_until(suspended_until)}"
    _about_booking(booking, slot, slot.point, event="no_show", status="爽约", remark=remark)


def suspended_by_late_cancel(
    booking: StallBooking, slot: StallSlot, suspended_until: dt.datetime
) -> None:
    """The late cancellation was the strike too many: bookings are suspended until then."""
    _about_booking(
        booking,
        slot,
        slot.point,
        event="suspended",
        status="暂停预约",
        remark=f"临近开市取消过多，暂停预约至{_until(suspended_until)}",
    )


def waitlist_closed(entry: WaitlistEntry, slot: StallSlot, point: SalesPoint, reason: str) -> None:
    _booking_status(
        entry.user_id,
        subject_type="stall_waitlist",
        subject_id=entry.id,
        event="closure_cancelled",
        point=point,
        slot=slot,
        status="已取消",
        stall="-",
        remark=f"休市：{reason}",
        page=None,
    )


def reviewed(profile: FarmerProfile) -> None:
    approved = profile.status == "approved"
    notify(
        profile.user,
        subject_type="farmer_profile",
        subject_id=profile.id,
        event=f"profile_{profile.status}",
        template="farmer_review",
        data={
            "phrase1": phrase("已通过" if approved else "未通过"),
            "thing2": thing("可以预约摊位了" if approved else (profile.rejection_reason or "")),
        },
        page="pages/stalls/profile",
    )
