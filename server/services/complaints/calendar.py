"""The working-time calendar and deadlines counted in working hours or working days.

Rules (all in Beijing time):
- Monday–Friday are working days and Saturday–Sunday are not, unless ``calendar_days`` says
  otherwise: a ``holiday`` row makes a weekday a day off, a ``workday`` row makes a weekend
  day a working day (调休).
- Working hours are the ``work_periods`` of every working day (seeded 08:30–12:00 and
  14:00–17:30, i.e. 7 hours a day).
- *N working hours* from a moment: the clock only runs inside working periods; a case
  dispatched at night starts counting at the next period's start.
- *N working days* from a moment: day 1 is the first working day after the day of that
  moment (the day of dispatch is never counted, as in "3个工作日内"); the deadline is the end
  of the last working period of day N.
"""

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import delete, extract, select

from server.core.errors import AppError
from server.extensions import db
from server.models.complaints import CalendarDay, WorkPeriod
from server.util.clock import CST

SEARCH_DAYS = 3 * 366  # a deadline further than this means the calendar is broken


def _not_configured() -> AppError:
    return AppError(409, "calendar_not_configured", "工作日历未配置，请联系管理员")


@dataclass(frozen=True)
class Calendar:
    exceptions: dict[dt.date, str]
    periods: tuple[tuple[dt.time, dt.time], ...]

    def is_workday(self, day: dt.date) -> bool:
        kind = self.exceptions.get(day)
        if kind == "holiday":
            return False
        if kind == "workday":
            return True
        return day.weekday() < 5

    def _period_bounds(self, day: dt.date):
        for start, end in self.periods:
            yield dt.datetime.combine(day, start, CST), dt.datetime.combine(day, end, CST)

    def add_working_minutes(self, moment: dt.datetime, minutes: int) -> dt.datetime:
        if not self.periods:
            raise _not_configured()
        cursor = moment.astimezone(CST)
        remaining = dt.timedelta(minutes=minutes)
        day = cursor.date()
        for _ in range(SEARCH_DAYS):
            if self.is_workday(day):
                for start, end in self._period_bounds(day):
                    if cursor >= end:
                        continue
                    begin = max(cursor, start)
                    available = end - begin
                    if remaining <= available:
                        return (begin + remaining).astimezone(dt.UTC)
                    remaining -= available
                    cursor = end
            day += dt.timedelta(days=1)
            cursor = dt.datetime.combine(day, dt.time(0), CST)
        raise _not_configured()

    def add_working_days(self, moment: dt.datetime, days: int) -> dt.datetime:
        if not self.periods:
            raise _not_configured()
        day = moment.astimezone(CST).date()
        counted = 0
        for _ in range(SEARCH_DAYS):
            day += dt.timedelta(days=1)
            if self.is_workday(day):
                counted += 1
                if counted == days:
                    end = max(end for _, end in self.periods)
                    return dt.datetime.combine(day, end, CST).astimezone(dt.UTC)
        raise _not_configured()

    def add(self, moment: dt.datetime, amount: int, unit: str) -> dt.datetime:
        if unit == "working_hours":
            return self.add_working_minutes(moment, amount * 60)
        if unit == "working_days":
            return self.add_working_days(moment, amount)
        raise ValueError(f"unknown limit unit {unit!r}")


def load() -> Calendar:
    """The calendar as stored now (a few hundred rows at most)."""
    exceptions = {row.day: row.kind for row in db.session.scalars(select(CalendarDay))}
    periods = tuple(
        (row.start_time, row.end_time)
        for row in db.session.scalars(select(WorkPeriod).order_by(WorkPeriod.start_time))
    )
    return Calendar(exceptions=exceptions, periods=periods)


def deadline(moment: dt.datetime, amount: int, unit: str) -> dt.datetime:
    return load().add(moment, amount, unit)


# -- admin edits ------------------------------------------------------------------------------
def list_days(year: int) -> list[CalendarDay]:
    return list(
        db.session.scalars(
            select(CalendarDay)
            .where(extract("year", CalendarDay.day) == year)
            .order_by(CalendarDay.day)
        )
    )


def set_day(day: dt.date, kind: str, name: str) -> CalendarDay:
    row = db.session.get(CalendarDay, day)
    if row is None:
        row = CalendarDay(day=day)
        db.session.add(row)
    row.kind = kind
    row.name = name
    db.session.flush()
    return row


def delete_day(day: dt.date) -> None:
    row = db.session.get(CalendarDay, day)
    if row is None:
        raise AppError(404, "calendar_day_not_found", "该日期没有特殊安排")
    db.session.delete(row)


def list_periods() -> list[WorkPeriod]:
    return list(db.session.scalars(select(WorkPeriod).order_by(WorkPeriod.start_time)))


def set_periods(periods: list[tuple[dt.time, dt.time]]) -> list[WorkPeriod]:
    """Replace the office hours; periods must not overlap (checked by the schema)."""
    db.session.execute(delete(WorkPeriod))
    rows = [WorkPeriod(start_time=start, end_time=end) for start, end in sorted(periods)]
    db.session.add_all(rows)
    db.session.flush()
    return rows
