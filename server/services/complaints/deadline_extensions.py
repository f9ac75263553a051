"""Extensions (延期): a unit asks for more time with a reason; another staff member decides."""

from server.core.errors import AppError
from server.extensions import db
from server.models.complaints import Complaint, ComplaintExtension
from server.models.users import User
from server.services.complaints import calendar
from server.services.complaints.workflow import illegal, record
from server.util.clock import utcnow


def request_extension(
    complaint: Complaint, actor: User, *, amount: int, limit_unit: str, reason: str, now=None
) -> ComplaintExtension:
    now = now or utcnow()
    if complaint.status != "dispatched":
        raise illegal(complaint)
    if any(e.status == "pending" for e in complaint.extensions):
        raise AppError(409, "extension_pending", "已有待审批的延期申请")
    extension = ComplaintExtension(
        complaint=complaint,
        amount=amount,
        limit_unit=limit_unit,
        reason=reason,
        requested_by_id=actor.id,
        requested_at=now,
        old_deadline_at=complaint.deadline_at,
    )
    db.session.add(extension)
    db.session.flush()
    record(
        complaint,
        "request_extension",
        actor,
        internal_note=reason,
        data={"extension_id": extension.id, "amount": amount, "unit": limit_unit},
        now=now,
    )
    return extension


def decide_extension(
    extension: ComplaintExtension, actor: User, *, approve: bool, note=None, now=None
) -> ComplaintExtension:
    """Approve (the deadline moves by the requested working time) or deny a request."""
    now = now or utcnow()
    complaint = extension.complaint
    if extension.status != "pending":
        raise AppError(409, "extension_decided", "该延期申请已处理")
    if extension.requested_by_id == actor.id:
        raise AppError(403, "extension_self_approval", "不能审批自己提交的延期申请")
    if approve and complaint.status != "dispatched":
        raise illegal(complaint)
    extension.status = "approved" if approve else "denied"
    extension.decided_by_id = actor.id
    extension.decided_at = now
    extension.decision_note = note
    data = {"extension_id": extension.id}
    if approve:
        base = complaint.deadline_at or now
        extension.old_deadline_at = complaint.deadline_at
        extension.new_deadline_at = calendar.deadline(base, extension.amount, extension.limit_unit)
        complaint.deadline_at = extension.new_deadline_at
        data["deadline_at"] = extension.new_deadline_at.isoformat()
    record(
        complaint,
        "approve_extension" if approve else "deny_extension",
        actor,
        internal_note=note,
        data=data,
        now=now,
    )
    return extension
