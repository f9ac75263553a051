"""Staff reports: the day roster (JSON and CSV) and statistics."""

import csv
import datetime as dt
import io
from collections import defaultdict

from sqlalchemy import select

from server.core.errors import AppError
from server.extensions import db
from server.models.stalls import (
    Closure,
    FarmerProfile,
    MarketSession,
    SalesPoint,
    StallBooking,
    StallSlot,
)
from server.services.stalls import points
from server.util.clock import CST

ROSTER_STATUSES = ("confirmed", "checked_in", "no_show")
STATE_LABELS = {"confirmed": "未签到", "checked_in": "已签到", "no_show": "爽约"}
MAX_STATS_DAYS = 366
ERASED = "（已注销）"


def roster(point: SalesPoint, day: dt.date) -> list[dict]:
    """Every held stall of the day, by session and stall number, with the farmer."""
    rows = db.session.execute(
        select(StallBooking, MarketSession, FarmerProfile)
        .join(MarketSession, MarketSession.id == StallBooking.session_id)
        .outerjoin(FarmerProfile, FarmerProfile.user_id == StallBooking.user_id)
        .where(
            StallBooking.point_id == point.id,
            StallBooking.date == day,
            StallBooking.status.in_(ROSTER_STATUSES),
        )
        .order_by(MarketSession.start_time, StallBooking.stall_number, StallBooking.id)
    )
    result = []
    for booking, session, profile in rows:
        erased = profile is None or profile.erased_at is not None
        result.append(
            {
                "booking_id": booking.id,
                "session_id": session.id,
                "session_name": session.name,
                "stall_number": booking.stall_number,
                "farmer_name": ERASED if erased else profile.real_name,
                "phone": None if erased else profile.phone,
                "township": None if erased else profile.township,
                "village": None if erased else profile.village,
                "produce_types": [] if erased else list(profile.produce_types or []),
                "status": booking.status,
                "checked_in_at": booking.checked_in_at,
                "checkin_method": booking.checkin_method,
            }
        )
    return result


def roster_csv(point: SalesPoint, day: dt.date, rows: list[dict] | None = None) -> str:
    """The roster (``rows`` of ``roster``) for printing or Excel (UTF-8 with BOM so that Excel
    shows Chinese)."""
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out)
    writer.writerow([f"{point.name} 摊位表", day.isoformat()])
    writer.writerow(
        ["时段", "摊位号", "农户", "手机号", "乡镇/村", "销售品种", "签到状态", "签到时间"]
    )
    from server.util.privacy import mask_phone

    for row in roster(point, day) if rows is None else rows:
        checked = row["checked_in_at"]
        writer.writerow(
            [
                row["session_name"],
                row["stall_number"],
                _csv_safe(row["farmer_name"]),
                mask_phone(row["phone"]) or "",
                _csv_safe("".join(filter(None, [row["township"], row["village"]]))),
                _csv_safe("、".join(row["produce_types"])),
                STATE_LABELS[row["status"]],
                checked.astimezone(CST).strftime("%H:%M") if checked else "",
            ]
        )
    return out.getvalue()


def _csv_safe(value: str | None) -> str:
    """No spreadsheet formula injection from farmer-entered text."""
    value = value or ""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def statistics(start: dt.date, end: dt.date, point_id: int | None = None) -> dict:
    """Utilisation per point and session, no-show rate, farmers served per ISO week.

    - ``capacity``: places offered on open days (a date's slot capacity, else the session's);
    - ``booked``: bookings that held a place (confirmed, checked in or no-show);
    - ``checked_in``, ``no_shows``; ``utilisation`` = checked_in ÷ capacity;
      ``booking_rate`` = booked ÷ capacity; ``no_show_rate`` = no_shows ÷ (checked_in + no_shows).
    - ``farmers_per_week``: distinct farmers checked in per ISO week (Monday start).
    """
    if end < start:
        raise AppError(422, "invalid_range", "结束日期不能早于开始日期")
    if (end - start).days >= MAX_STATS_DAYS:
        raise AppError(422, "range_too_long", f"一次最多统计{MAX_STATS_DAYS}天")
    point_list = (
        [points.get_point(point_id, include_inactive=True)]
        if point_id is not None
        else points.list_points(include_inactive=True)
    )
    ids = [p.id for p in point_list]
    slots = {
        (s.session_id, s.date): s
        for s in db.session.scalars(
            select(StallSlot).where(
                StallSlot.point_id.in_(ids), StallSlot.date >= start, StallSlot.date <= end
            )
        )
    }
    closures = list(
        db.session.scalars(
            select(Closure).where(
                Closure.point_id.in_(ids), Closure.date >= start, Closure.date <= end
            )
        )
    )
    counts: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    weeks: dict[str, set[int]] = defaultdict(set)
    for session_id, day, status, user_id in db.session.execute(
        select(
            StallBooking.session_id, StallBooking.date, StallBooking.status, StallBooking.user_id
        ).where(
            StallBooking.point_id.in_(ids),
            StallBooking.date >= start,
            StallBooking.date <= end,
            StallBooking.status.in_(ROSTER_STATUSES),
        )
    ):
        counts[session_id]["booked"] += 1
        if status == "checked_in":
            counts[session_id]["checked_in"] += 1
            year, week, _ = day.isocalendar()
            weeks[f"{year}-W{week:02d}"].add(user_id)
        elif status == "no_show":
            counts[session_id]["no_shows"] += 1

    point_rows, total = [], defaultdict(int)
    for point in point_list:
        session_rows, point_total = [], defaultdict(int)
        for session in point.sessions:
            capacity = 0
            day = start
            while day <= end:
                closed = any(
                    c.point_id == point.id and c.date == day and c.session_id in (None, session.id)
                    for c in closures
                )
                slot = slots.get((session.id, day))
                if points.is_active_on(point, day) and not closed and (slot or session.active):
                    capacity += slot.capacity if slot else session.capacity
                day += dt.timedelta(days=1)
            figures = {"capacity": capacity, **{k: counts[session.id][k] for k in _KEYS}}
            session_rows.append({"session_id": session.id, "name": session.name, **_rates(figures)})
            for key, value in figures.items():
                point_total[key] += value
        point_rows.append(
            {
                "point_id": point.id,
                "name": point.name,
                "sessions": session_rows,
                **_rates(point_total),
            }
        )
        for key, value in point_total.items():
            total[key] += value
    return {
        "from_date": start,
        "to_date": end,
        "points": point_rows,
        "total": _rates(total),
        "farmers_per_week": [
            {"week": week, "farmers": len(users)} for week, users in sorted(weeks.items())
        ],
    }


_KEYS = ("booked", "checked_in", "no_shows")


def _rates(figures: dict) -> dict:
    capacity = figures.get("capacity", 0)
    booked, checked, no_shows = (figures.get(k, 0) for k in _KEYS)
    return {
        "capacity": capacity,
        "booked": booked,
        "checked_in": checked,
        "no_shows": no_shows,
        "utilisation": round(checked / capacity, 4) if capacity else None,
        "booking_rate": round(booked / capacity, 4) if capacity else None,
        "no_show_rate": round(no_shows / (checked + no_shows), 4) if checked + no_shows else None,
    }
