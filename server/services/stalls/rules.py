"""The configurable booking rules (README "Stall booking rules") as plain functions of time."""

import datetime as dt

from flask import current_app

from server.util.clock import CST


def rule(name: str) -> int:
    return current_app.config[f"STALL_{name}"]


def local_moment(day: dt.date, at: dt.time) -> dt.datetime:
    """``day`` at ``at`` Beijing time, as an aware UTC datetime."""
    return dt.datetime.combine(day, at, tzinfo=CST).astimezone(dt.UTC)


def session_bounds(day: dt.date, start: dt.time, end: dt.time) -> tuple[dt.datetime, dt.datetime]:
    return local_moment(day, start), local_moment(day, end)


def booking_opens_at(day: dt.date) -> dt.datetime:
    """Booking for ``day`` opens at 12:00 seven days before (by default)."""
    hour, minute = (int(part) for part in current_app.config["STALL_BOOKING_OPENS_AT"].split(":"))
    opens_day = day - dt.timedelta(days=rule("BOOKING_OPENS_DAYS_BEFORE"))
    return local_moment(opens_day, dt.time(hour, minute))


def booking_closes_at(starts_at: dt.datetime) -> dt.datetime:
    return starts_at - dt.timedelta(minutes=rule("BOOKING_CLOSES_MINUTES_BEFORE"))


def free_cancel_until(starts_at: dt.datetime) -> dt.datetime:
    return starts_at - dt.timedelta(minutes=rule("FREE_CANCEL_MINUTES_BEFORE"))


def checkin_opens_at(starts_at: dt.datetime) -> dt.datetime:
    return starts_at - dt.timedelta(minutes=rule("CHECKIN_OPENS_MINUTES_BEFORE"))


def checkin_closes_at(starts_at: dt.datetime) -> dt.datetime:
    return starts_at + dt.timedelta(minutes=rule("CHECKIN_CLOSES_MINUTES_AFTER"))


def booking_state(day: dt.date, starts_at: dt.datetime, now: dt.datetime) -> str:
    """``not_yet_open``, ``open`` or ``closed`` for a session starting at ``starts_at``."""
    if now < booking_opens_at(day):
        return "not_yet_open"
    if now >= booking_closes_at(starts_at):
        return "closed"
    return "open"
