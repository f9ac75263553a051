"""The 12319 case workflow: allowed transitions, each recorded, and who is told.

``TRANSITIONS`` is the whole state machine; an action from any other status is a 409 whose
``errors.allowed`` lists what can be done next. Every change writes a ``ComplaintEvent``
(actor, time, public note, internal note). The reporter and followers get a subscribe
message, through the outbox, when a case is accepted, rejected, dispatched, resolved or
closed; a failed send never touches the case.
"""

import datetime as dt

from sqlalchemy import select

from server.core.errors import AppError
from server.extensions import db
from server.models.complaints import (
    STATUS_LABELS,
    TRANSITIONS,
    Complaint,
    ComplaintEvent,
    ComplaintFollower,
    ComplaintPhoto,
    ComplaintUnit,
    allowed_actions,
)
from server.models.users import User
from server.services import notifications, uploads
from server.services.complaints import calendar
from server.util.clock import utcnow

# Status words for the subscribe message's ``phrase`` field (≤ 5 characters).
NOTIFY_EVENTS = {
    "accept": ("accepted", "已立案"),
    "reject": ("rejected", "不予立案"),
    "dispatch": ("dispatched", "已派遣"),
    "resolve": ("resolved", "处置完成"),
    "close": ("closed", "已解决"),
    "close_unfixed": ("closed", "未解决结案"),
}
TEMPLATE = "complaint_status"


def illegal(complaint: Complaint, allowed: list[str] | None = None) -> AppError:
    allowed = allowed_actions(complaint) if allowed is None else allowed
    return AppError(
        409,
        "illegal_transition",
        f"案件当前状态为「{STATUS_LABELS[complaint.status]}」，不能进行此操作",
        errors={"allowed": allowed},
    )


_UNCHANGED = "="


def record(
    complaint: Complaint,
    action: str,
    actor: User | None,
    *,
    actor_role: str = "staff",
    from_status: str | None = _UNCHANGED,
    note: str | None = None,
    internal_note: str | None = None,
    data: dict | None = None,
    now: dt.datetime | None = None,
) -> ComplaintEvent:
    event = ComplaintEvent(
        complaint=complaint,
        action=action,
        from_status=complaint.status if from_status == _UNCHANGED else from_status,
        to_status=complaint.status,
        actor_id=actor.id if actor else None,
        actor_role=actor_role,
        note=note or None,
        internal_note=internal_note or None,
        data=data,
        created_at=now or utcnow(),
    )
    db.session.add(event)
    return event


def transition(
    complaint: Complaint,
    action: str,
    actor: User | None,
    *,
    now: dt.datetime,
    actor_role: str = "staff",
    note: str | None = None,
    internal_note: str | None = None,
    data: dict | None = None,
) -> ComplaintEvent:
    """Move the case along ``action`` or raise the 409 with the allowed next steps."""
    if actor_role == "staff" and complaint.moderation == "held" and action != "reject":
        raise illegal(complaint)
    target = TRANSITIONS[action].get(complaint.status)
    if target is None:
        raise illegal(complaint, None if actor_role == "staff" else [])
    before = complaint.status
    complaint.status = target
    complaint.updated_at = now
    event = record(
        complaint,
        action,
        actor,
        actor_role=actor_role,
        from_status=before,
        note=note,
        internal_note=internal_note,
        data=data,
        now=now,
    )
    if action in NOTIFY_EVENTS:
        _notify(complaint, action, note, now)
    return event


def recipients(complaint: Complaint) -> list[User]:
    people: dict[int, User] = {}
    if complaint.reporter is not None:
        people[complaint.reporter.id] = complaint.reporter
    for user in db.session.scalars(
        select(User)
        .join(ComplaintFollower, ComplaintFollower.user_id == User.id)
        .where(ComplaintFollower.complaint_id == complaint.id)
        .order_by(ComplaintFollower.id)
    ):
        people.setdefault(user.id, user)
    return list(people.values())


def _notify(complaint: Complaint, action: str, note: str | None, now: dt.datetime) -> None:
    event, status_word = NOTIFY_EVENTS[action]
    data = {
        "character_string1": notifications.character_string(complaint.case_no),
        "thing2": notifications.thing(complaint.category.name),
        "phrase3": notifications.phrase(status_word),
        "time4": notifications.time_value(now),
        "thing5": notifications.thing(note or "点击查看处理详情"),
    }
    for user in recipients(complaint):
        notifications.notify(
            user,
            subject_type="complaint",
            subject_id=complaint.id,
            event=event,
            template=TEMPLATE,
            data=data,
            page=f"pages/complaints/detail?id={complaint.id}",
        )


# -- staff actions ------------------------------------------------------------------------------
def accept(complaint: Complaint, actor: User, *, note=None, internal_note=None, now=None):
    now = now or utcnow()
    transition(complaint, "accept", actor, now=now, note=note, internal_note=internal_note)
    if complaint.accepted_at is None:
        complaint.accepted_at = now
    return complaint


def reject(complaint: Complaint, actor: User, *, reason: str, internal_note=None, now=None):
    now = now or utcnow()
    if complaint.moderation == "held":
        complaint.moderation = "ok"  # judged by a person now; the reason says why
    transition(complaint, "reject", actor, now=now, note=reason, internal_note=internal_note)
    complaint.rejected_at = now
    return complaint


def release(complaint: Complaint, actor: User, *, internal_note=None, now=None):
    """Let a case held by the content check through to the normal queue."""
    now = now or utcnow()
    if complaint.moderation != "held":
        raise illegal(complaint)
    complaint.moderation = "ok"
    record(complaint, "release", actor, internal_note=internal_note, now=now)
    return complaint


def dispatch(
    complaint: Complaint, actor: User, *, unit_id=None, note=None, internal_note=None, now=None
):
    """Send the case to a unit; the deadline is computed now from the category's limit."""
    now = now or utcnow()
    if complaint.status not in TRANSITIONS["dispatch"] or complaint.moderation == "held":
        raise illegal(complaint)
    unit = db.session.get(ComplaintUnit, unit_id) if unit_id else complaint.category.unit
    if unit is None or not unit.active:
        raise AppError(
            422,
            "invalid_unit",
            "请选择有效的处置单位",
            errors={"json": {"unit_id": ["处置单位不存在或已停用"]}},
        )
    category = complaint.category
    deadline = calendar.deadline(now, category.limit_value, category.limit_unit)
    complaint.unit = unit
    complaint.dispatched_at = now
    complaint.deadline_at = deadline
    transition(
        complaint,
        "dispatch",
        actor,
        now=now,
        note=note,
        internal_note=internal_note,
        data={"unit_id": unit.id, "unit": unit.name, "deadline_at": deadline.isoformat()},
    )
    return complaint


def return_case(complaint: Complaint, actor: User, *, reason: str, internal_note=None, now=None):
    """回退: the unit hands the case back (not theirs, wrong place...) to be re-dispatched."""
    now = now or utcnow()
    unit = complaint.unit
    transition(
        complaint,
        "return",
        actor,
        now=now,
        note=reason,
        internal_note=internal_note,
        data={"unit_id": unit.id if unit else None},
    )
    complaint.unit = None
    complaint.deadline_at = None
    _close_pending_extensions(complaint, actor, "案件已回退", now)
    return complaint


def resolve(
    complaint: Complaint,
    actor: User,
    *,
    photo_ids: list[int],
    note=None,
    internal_note=None,
    now=None,
):
    """处置完成 with at least one after-photo (uploaded by the staff member reporting it)."""
    now = now or utcnow()
    if complaint.status not in TRANSITIONS["resolve"] or complaint.moderation == "held":
        raise illegal(complaint)
    if not photo_ids:
        raise AppError(
            422,
            "photo_required",
            "请上传处置后的照片",
            errors={"json": {"photo_ids": ["至少上传一张处置后照片"]}},
        )
    taken = uploads.claim(actor, photo_ids, "complaint", now=now)
    start = 1 + max((p.position for p in complaint.photos if p.stage == "resolution"), default=0)
    for offset, upload in enumerate(taken):
        complaint.photos.append(
            ComplaintPhoto(upload=upload, stage="resolution", position=start + offset)
        )
    complaint.resolved_at = now
    transition(
        complaint,
        "resolve",
        actor,
        now=now,
        note=note,
        internal_note=internal_note,
        data={"photo_ids": photo_ids},
    )
    _close_pending_extensions(complaint, actor, "案件已处置完成", now)
    return complaint


def verify(
    complaint: Complaint, actor: User, *, passed: bool, note=None, internal_note=None, now=None
):
    """核查: pass → verified; fail → back to the unit (返工), counted as rework."""
    now = now or utcnow()
    if passed:
        transition(complaint, "verify", actor, now=now, note=note, internal_note=internal_note)
        complaint.verified_at = now
    else:
        transition(complaint, "rework", actor, now=now, note=note, internal_note=internal_note)
        complaint.rework_count += 1
        complaint.resolved_at = None  # the unit's fix did not count; the deadline stays
    return complaint


def close(complaint: Complaint, actor: User, *, note=None, internal_note=None, now=None):
    now = now or utcnow()
    transition(complaint, "close", actor, now=now, note=note, internal_note=internal_note)
    complaint.resolution = "fixed"
    complaint.closed_at = now
    return complaint


def close_unfixed(complaint: Complaint, actor: User, *, reason: str, internal_note=None, now=None):
    """结案 without a fix (not the bureau's to fix, cannot be fixed): kept apart from fixed."""
    now = now or utcnow()
    transition(complaint, "close_unfixed", actor, now=now, note=reason, internal_note=internal_note)
    complaint.resolution = "not_fixed"
    complaint.closed_at = now
    _close_pending_extensions(complaint, actor, "案件已结案", now)
    return complaint


def merge(
    complaint: Complaint, target: Complaint, actor: User, *, note=None, internal_note=None, now=None
):
    """Merge a duplicate into ``target``: its reporter and followers follow the target."""
    now = now or utcnow()
    if target.id == complaint.id:
        raise AppError(422, "merge_into_self", "不能合并到案件自身")
    if target.status in ("closed", "rejected", "merged") or target.moderation == "held":
        raise AppError(409, "merge_target_closed", "目标案件已结束或待审核，不能合并")
    transition(
        complaint,
        "merge",
        actor,
        now=now,
        note=note or f"与案件 {target.case_no} 重复，已合并处理",
        internal_note=internal_note,
        data={"into": target.id},
    )
    complaint.merged_into_id = target.id
    _close_pending_extensions(complaint, actor, "案件已合并", now)
    people = [f.user_id for f in _followers(complaint)]
    if complaint.reporter_id is not None:
        people.insert(0, complaint.reporter_id)
    existing = {f.user_id for f in _followers(target)}
    for user_id in people:
        if user_id != target.reporter_id and user_id not in existing:
            db.session.add(ComplaintFollower(complaint_id=target.id, user_id=user_id))
            existing.add(user_id)
    db.session.flush()
    target.follower_count = len(existing)
    record(
        target,
        "merged_in",
        actor,
        note=f"合并了重复反映 {complaint.case_no}",
        data={"from": complaint.id},
        now=now,
    )
    return complaint


def _followers(complaint: Complaint) -> list[ComplaintFollower]:
    return list(
        db.session.scalars(
            select(ComplaintFollower).where(ComplaintFollower.complaint_id == complaint.id)
        )
    )


def _close_pending_extensions(complaint, actor, note, now) -> None:
    """Requests still pending when the case leaves the unit are moot: denied with ``note``."""
    for extension in complaint.extensions:
        if extension.status == "pending":
            extension.status = "denied"
            extension.decided_by_id = actor.id if actor else None
            extension.decided_at = now
            extension.decision_note = note
