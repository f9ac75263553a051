"""Check-in: the farmer's signed booking code scanned by staff, or the point's QR code
scanned by the farmer on site (with location), or a manual check-in by staff."""

import datetime as dt

from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer

from server.core.errors import AppError
from server.extensions import db
from server.models.stalls import SalesPoint, StallBooking
from server.models.users import User
from server.services.stalls import rules
from server.services.stalls.bookings import get_booking, get_booking_by_id
from server.services.stalls.points import _set_status
from server.util import geo
from server.util.clock import CST, utcnow

BOOKING_PREFIX = "XHB1."
POINT_PREFIX = "XHP1."


def _serializer(salt: str) -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=salt)


# -- codes ----------------------------------------------------------------------------------
def code_expires_at(booking: StallBooking) -> dt.datetime:
    return rules.checkin_closes_at(booking.slot.starts_at)


def booking_code(booking: StallBooking) -> str:
    """The QR payload of a booking: signed booking id and expiry (end of check-in window)."""
    expires = int(code_expires_at(booking).timestamp())
    return BOOKING_PREFIX + _serializer("stall-checkin").dumps({"b": booking.id, "x": expires})


def point_code(point: SalesPoint) -> str:
    """The QR payload printed on a point's sign."""
    return POINT_PREFIX + _serializer("stall-point").dumps({"p": point.id})


def _invalid_code(field: str = "code") -> AppError:
    return AppError(
        422,
        "checkin_code_invalid",
        "签到码无效，请出示小程序中的签到码",
        errors={"json": {field: ["签到码无效"]}},
    )


def read_booking_code(code: str, now: dt.datetime) -> int:
    if not code.startswith(BOOKING_PREFIX):
        raise _invalid_code()
    try:
        payload = _serializer("stall-checkin").loads(code.removeprefix(BOOKING_PREFIX))
        booking_id, expires = int(payload["b"]), int(payload["x"])
    except (BadSignature, KeyError, TypeError, ValueError):
        raise _invalid_code() from None
    if now.timestamp() > expires:
        raise AppError(422, "checkin_code_expired", "签到码已过期")
    return booking_id


def read_point_code(code: str) -> int:
    if not code.startswith(POINT_PREFIX):
        raise _invalid_code("point_code")
    try:
        return int(_serializer("stall-point").loads(code.removeprefix(POINT_PREFIX))["p"])
    except (BadSignature, KeyError, TypeError, ValueError):
        raise _invalid_code("point_code") from None


# -- checking in ----------------------------------------------------------------------------
def _check_in(booking: StallBooking, method: str, now: dt.datetime, staff: User | None = None):
    if booking.status == "checked_in":
        raise AppError(409, "already_checked_in", f"已签到（{booking.stall_number}号摊位）")
    if booking.status != "confirmed":
        raise AppError(409, "booking_not_active", "该预约已取消或已失效")
    starts_at = booking.slot.starts_at
    opens = rules.checkin_opens_at(starts_at)
    if now < opens:
        raise AppError(
            409,
            "checkin_not_open",
            f"签到时间为开市前{rules.rule('CHECKIN_OPENS_MINUTES_BEFORE')}分钟起"
            f"（{opens.astimezone(CST):%H:%M}）",
            errors={"checkin_opens_at": opens.astimezone(CST).isoformat()},
        )
    if now > rules.checkin_closes_at(starts_at):
        raise AppError(409, "checkin_closed", "签到时间已过")
    if not _set_status(StallBooking, booking.id, ("confirmed",), "checked_in", now):
        raise AppError(409, "booking_not_active", "该预约已取消或已失效")
    booking.checked_in_at = now
    booking.checkin_method = method
    booking.checked_in_by_id = staff.id if staff else None
    return booking


def staff_scan(
    staff: User, code: str, point_id: int | None = None, now: dt.datetime | None = None
) -> StallBooking:
    """Staff scan a farmer's code; with ``point_id`` a code for another point is refused."""
    now = now or utcnow()
    booking = db.session.get(StallBooking, read_booking_code(code, now))
    if booking is None:
        raise _invalid_code()
    if point_id is not None and booking.point_id != point_id:
        raise AppError(409, "wrong_point", f"这是{booking.point.name}的预约，不是本销售点的")
    return _check_in(booking, "code", now, staff)


def manual(staff: User, booking_id: int, now: dt.datetime | None = None) -> StallBooking:
    return _check_in(get_booking_by_id(booking_id), "manual", now or utcnow(), staff)


def farmer_scan(
    user: User,
    booking_id: int,
    point_code_value: str,
    lat: float,
    lng: float,
    now: dt.datetime | None = None,
) -> StallBooking:
    """The farmer scans the point's QR code on site; their location must be near the point."""
    now = now or utcnow()
    booking = get_booking(user, booking_id)
    if read_point_code(point_code_value) != booking.point_id:
        raise AppError(422, "wrong_point", f"请扫描{booking.point.name}的签到码")
    radius = rules.rule("CHECKIN_RADIUS_M")
    distance = geo.haversine_m(lat, lng, booking.point.lat, booking.point.lng)
    if distance > radius:
        raise AppError(
            422,
            "too_far",
            f"您距离销售点约{round(distance)}米，请到达后（{radius}米内）再签到",
            errors={"distance_m": round(distance)},
        )
    return _check_in(booking, "point_qr", now)


def present(booking: StallBooking) -> dict:
    """A booking as its farmer sees it: times of the rules, and the code while it is active."""
    starts_at = booking.slot.starts_at
    active = booking.status == "confirmed"
    return {
        "id": booking.id,
        "point": booking.point,
        "session": booking.session,
        "date": booking.date,
        "stall_number": booking.stall_number,
        "status": booking.status,
        "source": booking.source,
        "slot": booking.slot,
        "free_cancel_until": rules.free_cancel_until(starts_at),
        "checkin_opens_at": rules.checkin_opens_at(starts_at),
        "checkin_closes_at": rules.checkin_closes_at(starts_at),
        "checkin_code": booking_code(booking) if active else None,
        "created_at": booking.created_at,
        "cancelled_at": booking.cancelled_at,
        "checked_in_at": booking.checked_in_at,
    }
