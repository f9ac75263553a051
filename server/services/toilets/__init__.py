"""Toilet finder: nearest open toilets, details, ratings, reports, staff data management.

Parts: ``search`` (index-backed nearest search and map lists; opening hours are evaluated
by ``server.util.opening_hours``),
``manage`` (staff editing and the audit history), ``feedback`` (ratings, reports and the
staff queue), ``transfer`` (bulk import and open-data export).
"""

import datetime as dt

from server.core.signals import account_deleting
from server.models.toilets import Toilet
from server.models.users import User
from server.services import uploads
from server.services.toilets import feedback, manage, search, transfer
from server.util import opening_hours as hours
from server.util.clock import utcnow

__all__ = ["detail", "feedback", "manage", "search", "transfer"]


def detail(toilet_id: int, now: dt.datetime | None = None) -> search.Shown:
    """A toilet with its open state, the week's hours, ratings, recent problem reports and
    its photos."""
    now = now or utcnow()
    toilet: Toilet = manage.get(toilet_id)
    shown = search.shown(toilet, now)
    extra = {
        "week": hours.week_table(toilet.opening_hours, now),
        "rating": feedback.rating_summary(toilet),
        "recent_reports": feedback.recent_problem_count(toilet, now),
        "photos": uploads.in_order(toilet.photo_ids or []),
    }
    return search.Shown(shown.toilet, shown.state, None, extra)


@account_deleting.connect
def _erase_personal_data(user: User, **kwargs) -> None:
    feedback.erase_user(user)
