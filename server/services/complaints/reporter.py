"""The reporter's actions after closure: rating, and reopening within 7 days."""

import datetime as dt

from server.core.errors import AppError, not_found
from server.models.complaints import Complaint
from server.models.users import User
from server.services.complaints import calendar
from server.services.complaints.workflow import illegal, record, transition
from server.util.clock import utcnow

REOPEN_WINDOW = dt.timedelta(days=7)


def _require_reporter(complaint: Complaint, user: User) -> None:
    # 404 like an unknown case, not 403: whose case it is must not be probed by id.
    if complaint.reporter_id != user.id:
        raise not_found("案件不存在")


def rate(complaint: Complaint, user: User, *, rating: int, comment=None, now=None) -> Complaint:
    now = now or utcnow()
    _require_reporter(complaint, user)
    if complaint.status != "closed":
        raise AppError(
            409,
            "not_closed",
            "案件结案后才能评价",
            errors={"allowed": _citizen_allowed(complaint, now)},
        )
    if complaint.rating is not None:
        raise AppError(409, "already_rated", "您已评价过此案件")
    complaint.rating = rating
    complaint.rating_comment = comment or None
    complaint.rated_at = now
    record(complaint, "rate", user, actor_role="reporter", data={"rating": rating}, now=now)
    return complaint


def reopen(complaint: Complaint, user: User, *, reason: str, now=None) -> Complaint:
    """Within 7 days of closure the reporter can say it is not fixed: back to the unit."""
    now = now or utcnow()
    _require_reporter(complaint, user)
    if complaint.status != "closed":
        raise illegal(complaint, _citizen_allowed(complaint, now))
    if now - complaint.closed_at > REOPEN_WINDOW:
        raise AppError(
            409,
            "reopen_expired",
            "结案已超过7天，不能重新打开，请重新提交反映",
            errors={"allowed": _citizen_allowed(complaint, now)},
        )
    category = complaint.category
    event = transition(complaint, "reopen", user, now=now, actor_role="reporter", note=reason)
    complaint.rework_count += 1
    complaint.closed_at = None
    complaint.resolution = None
    complaint.verified_at = None
    complaint.resolved_at = None
    complaint.rating = None
    complaint.rating_comment = None
    complaint.rated_at = None
    if complaint.unit is None or not complaint.unit.active:
        complaint.unit = category.unit
    if complaint.unit is None or not complaint.unit.active:
        # No unit to send it back to: staff dispatch it again from the accepted queue.
        complaint.status = event.to_status = "accepted"
        complaint.deadline_at = None
        return complaint
    complaint.dispatched_at = now
    complaint.deadline_at = calendar.deadline(now, category.limit_value, category.limit_unit)
    return complaint


def _citizen_allowed(complaint: Complaint, now: dt.datetime) -> list[str]:
    if complaint.status != "closed":
        return []
    allowed = [] if complaint.rating is not None else ["rate"]
    if complaint.closed_at and now - complaint.closed_at <= REOPEN_WINDOW:
        allowed.append("reopen")
    return allowed


def citizen_actions(complaint: Complaint, user: User | None, now: dt.datetime) -> list[str]:
    if user is None or complaint.reporter_id != user.id:
        return []
    return _citizen_allowed(complaint, now)
