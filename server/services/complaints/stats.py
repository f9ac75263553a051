"""Case statistics for a period, with every figure defined so it can be reproduced by hand.

The period is ``[from 00:00, to + 1 day 00:00)`` in Beijing time. Filters (category, unit)
apply to every figure; "unit" is the unit a case is currently assigned to. Definitions (also
in the README, "Complaint statistics"):

- ``collected``: cases filed in the period (every source, including later rejected ones).
- ``opened`` (立案): cases first accepted in the period.
- ``rejected`` (不予立案): cases rejected in the period.
- ``closed`` (结案): cases whose current closure falls in the period (a reopened case counts
  again only when it is closed again); split into ``closed_fixed`` and ``closed_not_fixed``.
- ``due`` (应结案): cases, except merged ones, whose current deadline falls in the period,
  whenever they were filed — carried-over cases from earlier periods included.
- ``closed_due``: due cases that are closed before the period ends.
- ``closed_on_time``: closed due cases finished by their deadline; "finished" is the
  verified fix (``resolved_at``) for fixed cases and the closure for not-fixed ones.
- ``closure_rate`` = closed_due ÷ due; ``on_time_rate`` = closed_on_time ÷ due.
- ``rework_count``: rework events in the period (failed verification 返工 and reopening by
  the reporter); ``reworked_closed``: cases closed in the period that were ever reworked;
  ``rework_rate`` = reworked_closed ÷ closed.
- ``median_handling_hours``: median of (closure − filing), in hours, over cases closed in
  the period.

Rates are ``null`` when their denominator is 0, else rounded to 4 decimals.
"""

import datetime as dt
import statistics
from dataclasses import dataclass

from sqlalchemy import or_, select

from server.extensions import db
from server.models.complaints import Complaint, ComplaintCategory, ComplaintEvent, ComplaintUnit
from server.services.complaints.staff import day_end, day_start

REWORK_ACTIONS = ("rework", "reopen")


@dataclass(frozen=True)
class _Case:
    id: int
    category_code: str
    category_name: str
    unit_id: int | None
    unit_name: str | None
    status: str
    resolution: str | None
    created_at: dt.datetime
    accepted_at: dt.datetime | None
    rejected_at: dt.datetime | None
    resolved_at: dt.datetime | None
    closed_at: dt.datetime | None
    deadline_at: dt.datetime | None
    rework_count: int


def _rate(numerator: int, denominator: int) -> float | None:
    return round(numerator / denominator, 4) if denominator else None


def _figures(cases: list[_Case], rework_events: int, start, end) -> dict:
    def inside(moment):
        return moment is not None and start <= moment < end

    closed = [c for c in cases if c.status == "closed" and inside(c.closed_at)]
    due = [c for c in cases if c.status != "merged" and inside(c.deadline_at)]
    closed_due = [c for c in due if c.status == "closed" and c.closed_at < end]

    def on_time(case: _Case) -> bool:
        finished = case.resolved_at if case.resolution == "fixed" else case.closed_at
        return finished is not None and finished <= case.deadline_at

    closed_on_time = [c for c in closed_due if on_time(c)]
    reworked_closed = [c for c in closed if c.rework_count > 0]
    hours = [(c.closed_at - c.created_at).total_seconds() / 3600 for c in closed]
    return {
        "collected": sum(inside(c.created_at) for c in cases),
        "opened": sum(inside(c.accepted_at) for c in cases),
        "rejected": sum(c.status == "rejected" and inside(c.rejected_at) for c in cases),
        "closed": len(closed),
        "closed_fixed": sum(c.resolution == "fixed" for c in closed),
        "closed_not_fixed": sum(c.resolution == "not_fixed" for c in closed),
        "due": len(due),
        "closed_due": len(closed_due),
        "closed_on_time": len(closed_on_time),
        "closure_rate": _rate(len(closed_due), len(due)),
        "on_time_rate": _rate(len(closed_on_time), len(due)),
        "rework_count": rework_events,
        "reworked_closed": len(reworked_closed),
        "rework_rate": _rate(len(reworked_closed), len(closed)),
        "median_handling_hours": round(statistics.median(hours), 1) if hours else None,
    }


def complaint_stats(
    date_from: dt.date,
    date_to: dt.date,
    category: str | None = None,
    unit_id: int | None = None,
) -> dict:
    start, end = day_start(date_from), day_end(date_to)
    filters = []
    if category:
        filters.append(ComplaintCategory.code == category)
    if unit_id:
        filters.append(Complaint.unit_id == unit_id)

    def between(column):
        return (column >= start) & (column < end)

    rows = db.session.execute(
        select(
            Complaint.id,
            ComplaintCategory.code,
            ComplaintCategory.name,
            Complaint.unit_id,
            ComplaintUnit.name,
            Complaint.status,
            Complaint.resolution,
            Complaint.created_at,
            Complaint.accepted_at,
            Complaint.rejected_at,
            Complaint.resolved_at,
            Complaint.closed_at,
            Complaint.deadline_at,
            Complaint.rework_count,
        )
        .join(ComplaintCategory, Complaint.category_id == ComplaintCategory.id)
        .outerjoin(ComplaintUnit, Complaint.unit_id == ComplaintUnit.id)
        .where(
            or_(
                between(Complaint.created_at),
                between(Complaint.accepted_at),
                between(Complaint.rejected_at),
                between(Complaint.closed_at),
                between(Complaint.deadline_at),
            ),
            *filters,
        )
    ).all()
    cases = [_Case(*row) for row in rows]
    rework_rows = db.session.execute(
        select(ComplaintEvent.complaint_id, ComplaintCategory.code, Complaint.unit_id)
        .join(Complaint, ComplaintEvent.complaint_id == Complaint.id)
        .join(ComplaintCategory, Complaint.category_id == ComplaintCategory.id)
        .where(
            ComplaintEvent.action.in_(REWORK_ACTIONS), between(ComplaintEvent.created_at), *filters
        )
    ).all()

    by_category, by_unit = [], []
    for code in sorted({c.category_code for c in cases} | {r[1] for r in rework_rows}):
        group = [c for c in cases if c.category_code == code]
        name = group[0].category_name if group else _category_name(code)
        reworks = sum(1 for r in rework_rows if r[1] == code)
        by_category.append({"code": code, "name": name, **_figures(group, reworks, start, end)})
    unit_ids = {c.unit_id for c in cases} | {r[2] for r in rework_rows}
    for unit in sorted(unit_ids, key=lambda u: (u is None, u or 0)):
        group = [c for c in cases if c.unit_id == unit]
        name = group[0].unit_name if group else _unit_name(unit)
        reworks = sum(1 for r in rework_rows if r[2] == unit)
        by_unit.append(
            {"unit_id": unit, "name": name or "未派遣", **_figures(group, reworks, start, end)}
        )
    return {
        "date_from": date_from,
        "date_to": date_to,
        "category": category,
        "unit_id": unit_id,
        "total": _figures(cases, len(rework_rows), start, end),
        "by_category": by_category,
        "by_unit": by_unit,
    }


def _category_name(code: str) -> str:
    return db.session.scalar(select(ComplaintCategory.name).where(ComplaintCategory.code == code))


def _unit_name(unit_id: int | None) -> str | None:
    if unit_id is None:
        return None
    return db.session.scalar(select(ComplaintUnit.name).where(ComplaintUnit.id == unit_id))
