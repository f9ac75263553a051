"""Complaints (12319 cases): categories, units, the working-time calendar, cases and their history.

Case statuses and the public Open311 GeoReport v2 mapping (``open311_status``):

=============  =========  ====================================  ==============
status         中文        meaning                               Open311 status
=============  =========  ====================================  ==============
``submitted``  受理        filed by a citizen, not yet assessed  open
``accepted``   立案        a case is opened                      open
``dispatched`` 派遣        sent to a unit; the deadline runs     open
``resolved``   处置完成    the unit reports it fixed             open
``verified``   核查通过    a supervisor checked the fix          open
``closed``     结案        ``resolution`` says fixed or not      closed
``rejected``   不予立案    not a case (reason given)             closed
``merged``     合并        a duplicate of ``merged_into_id``     closed
=============  =========  ====================================  ==============

``status_notes`` for Open311 should come from the latest public event note. Cases held for
content review (``moderation == "held"``) and their personal data (reporter, contact phone,
internal notes) must never be published.
"""

import datetime as dt

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    Time,
    UniqueConstraint,
    false,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.extensions import db
from server.models.types import EncryptedString, UTCDateTime
from server.models.uploads import Upload
from server.models.users import User
from server.util.clock import CST, utcnow

CATEGORY_KINDS = ("component", "event")  # 部件, 事件
LIMIT_UNITS = ("working_hours", "working_days")
CALENDAR_KINDS = ("holiday", "workday")  # a day off on a weekday; a make-up working day (调休)

STATUSES = ("submitted", "accepted", "rejected", "dispatched", "resolved", "verified", "closed")
FINAL_STATUSES = ("closed", "rejected", "merged")
ALL_STATUSES = (*STATUSES, "merged")
OPEN_STATUSES = ("submitted", "accepted", "dispatched", "resolved", "verified")
RESOLUTIONS = ("fixed", "not_fixed")
MODERATIONS = ("ok", "held")
PHOTO_STAGES = ("report", "resolution")
EXTENSION_STATUSES = ("pending", "approved", "denied")

STATUS_LABELS = {
    "submitted": "已受理",
    "accepted": "已立案",
    "rejected": "不予立案",
    "dispatched": "处置中",
    "resolved": "处置完成",
    "verified": "核查通过",
    "closed": "已结案",
    "merged": "已合并",
}

# The case workflow as data: action → {from status: to status}. The services enforce it
# (``server.services.complaints.workflow``); schemas and Open311 read the labels.
TRANSITIONS: dict[str, dict[str, str]] = {
    "accept": {"submitted": "accepted"},
    "reject": {"submitted": "rejected"},
    "dispatch": {"accepted": "dispatched"},
    "return": {"dispatched": "accepted"},
    "resolve": {"dispatched": "resolved"},
    "verify": {"resolved": "verified"},
    "rework": {"resolved": "dispatched"},
    "close": {"verified": "closed"},
    "close_unfixed": {"accepted": "closed", "dispatched": "closed", "resolved": "closed"},
    "merge": {"submitted": "merged", "accepted": "merged", "dispatched": "merged"},
    "reopen": {"closed": "dispatched"},
}
STAFF_ACTIONS = (
    "accept",
    "reject",
    "dispatch",
    "return",
    "resolve",
    "verify",
    "rework",
    "close",
    "close_unfixed",
    "merge",
    "request_extension",
)

ACTION_LABELS = {
    "submit": "提交反映",
    "accept": "立案",
    "reject": "不予立案",
    "dispatch": "派遣",
    "return": "回退",
    "resolve": "处置完成",
    "verify": "核查通过",
    "rework": "核查未通过，返工",
    "close": "结案",
    "close_unfixed": "结案（未解决）",
    "merge": "合并为重复案件",
    "merged_in": "合并重复案件",
    "reopen": "重新处理",
    "rate": "评价",
    "release": "内容审核通过",
    "request_extension": "申请延期",
    "approve_extension": "批准延期",
    "deny_extension": "驳回延期",
}

# Steps shown on the public and reporter timeline; the rest are internal to the bureau.
PUBLIC_ACTIONS = frozenset(ACTION_LABELS) - {"request_extension", "deny_extension", "release"}


def allowed_actions(complaint: "Complaint") -> list[str]:
    """What staff can do next with this case."""
    if complaint.moderation == "held":
        return ["release", "reject"]
    allowed = [
        action for action in STAFF_ACTIONS if complaint.status in TRANSITIONS.get(action, {})
    ]
    if complaint.status == "dispatched":
        allowed.append("request_extension")
    return allowed


def open311_status(status: str) -> str:
    """Open311 GeoReport v2 knows only ``open`` and ``closed``."""
    return "closed" if status in FINAL_STATUSES else "open"


class ComplaintUnit(db.Model):
    """A responsible unit (处置单位) that cases are dispatched to."""

    __tablename__ = "complaint_units"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    phone: Mapped[str | None] = mapped_column(String(32))  # the unit's duty line, not personal
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())

    def __repr__(self) -> str:
        return f"<ComplaintUnit {self.id} {self.name}>"


class ComplaintCategory(db.Model):
    """A subclass of the national digital urban-management classification (GB/T 30428.2)."""

    __tablename__ = "complaint_categories"
    __table_args__ = (
        CheckConstraint(f"kind IN {CATEGORY_KINDS}", name="kind_valid"),
        CheckConstraint(f"limit_unit IN {LIMIT_UNITS}", name="limit_unit_valid"),
        CheckConstraint("limit_value > 0", name="limit_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # "B0101" (部件 class 01 subclass 01) or "S0302" (事件 class 03 subclass 02).
    code: Mapped[str] = mapped_column(String(8), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    class_code: Mapped[str] = mapped_column(String(2))
    class_name: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(32))
    icon: Mapped[str] = mapped_column(String(32))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("complaint_units.id"), index=True)
    limit_value: Mapped[int] = mapped_column(Integer)
    limit_unit: Mapped[str] = mapped_column(String(16))
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    sort_order: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    unit: Mapped[ComplaintUnit | None] = relationship(lazy="joined")

    @property
    def kind_name(self) -> str:
        return "部件" if self.kind == "component" else "事件"

    def __repr__(self) -> str:
        return f"<ComplaintCategory {self.code} {self.name}>"


class CalendarDay(db.Model):
    """An exception to the weekly rule (Mon–Fri work): a public holiday or a 调休 workday."""

    __tablename__ = "calendar_days"
    __table_args__ = (CheckConstraint(f"kind IN {CALENDAR_KINDS}", name="kind_valid"),)

    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(32))

    def __repr__(self) -> str:
        return f"<CalendarDay {self.day} {self.kind}>"


class WorkPeriod(db.Model):
    """Office hours of every working day, e.g. 08:30–12:00 and 14:00–17:30 (Beijing time)."""

    __tablename__ = "work_periods"
    __table_args__ = (CheckConstraint("start_time < end_time", name="start_before_end"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    start_time: Mapped[dt.time] = mapped_column(Time)
    end_time: Mapped[dt.time] = mapped_column(Time)

    def __repr__(self) -> str:
        return f"<WorkPeriod {self.start_time}-{self.end_time}>"


class Complaint(db.Model):
    __tablename__ = "complaints"
    __table_args__ = (
        CheckConstraint(f"status IN {ALL_STATUSES}", name="status_valid"),
        CheckConstraint(
            f"resolution IS NULL OR resolution IN {RESOLUTIONS}", name="resolution_valid"
        ),
        CheckConstraint(f"moderation IN {MODERATIONS}", name="moderation_valid"),
        CheckConstraint("rating IS NULL OR (rating >= 1 AND rating <= 5)", name="rating_range"),
        Index("ix_complaints_lat_lng", "lat", "lng"),
        Index("ix_complaints_status_deadline_at", "status", "deadline_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    category_id: Mapped[int] = mapped_column(ForeignKey("complaint_categories.id"), index=True)
    description: Mapped[str] = mapped_column(Text)
    lat: Mapped[float] = mapped_column(Float)  # GCJ-02
    lng: Mapped[float] = mapped_column(Float)
    address: Mapped[str] = mapped_column(String(200))
    reporter_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    anonymous: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    contact_phone: Mapped[str | None] = mapped_column(EncryptedString)
    # Where it came from: miniprogram, toilets (a toilet problem report), open311, staff.
    source: Mapped[str] = mapped_column(String(16), default="miniprogram")
    status: Mapped[str] = mapped_column(String(16), default="submitted", index=True)
    resolution: Mapped[str | None] = mapped_column(String(16))
    # "held": msgSecCheck said review (or could not run); only staff and the reporter see it.
    moderation: Mapped[str] = mapped_column(String(8), default="ok", server_default="ok")
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("complaint_units.id"), index=True)
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("complaints.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    accepted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, index=True)
    rejected_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    dispatched_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    deadline_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, index=True)
    resolved_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    verified_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, index=True)
    rework_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    follower_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    rating: Mapped[int | None] = mapped_column(SmallInteger)
    rating_comment: Mapped[str | None] = mapped_column(String(500))
    rated_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    category: Mapped[ComplaintCategory] = relationship(lazy="joined")
    unit: Mapped[ComplaintUnit | None] = relationship(lazy="joined")
    reporter: Mapped[User | None] = relationship()
    photos: Mapped[list["ComplaintPhoto"]] = relationship(
        back_populates="complaint",
        order_by="(ComplaintPhoto.stage, ComplaintPhoto.position)",
        cascade="all, delete-orphan",
    )
    events: Mapped[list["ComplaintEvent"]] = relationship(
        back_populates="complaint",
        order_by="ComplaintEvent.id",
        cascade="all, delete-orphan",
    )

    def uploads_at(self, stage: str) -> list[Upload]:
        """The photos of one stage (``report`` or ``resolution``), in order."""
        return [photo.upload for photo in self.photos if photo.stage == stage]

    @property
    def report_uploads(self) -> list[Upload]:
        return self.uploads_at("report")

    @property
    def resolution_uploads(self) -> list[Upload]:
        return self.uploads_at("resolution")

    extensions: Mapped[list["ComplaintExtension"]] = relationship(
        back_populates="complaint",
        order_by="ComplaintExtension.id",
        cascade="all, delete-orphan",
    )

    @property
    def case_no(self) -> str:
        """The number told to citizens, e.g. ``20261126-000042``."""
        return f"{self.created_at.astimezone(CST):%Y%m%d}-{self.id:06d}"

    @property
    def status_label(self) -> str:
        if self.status == "closed" and self.resolution == "not_fixed":
            return "已结案（未解决）"
        return STATUS_LABELS[self.status]

    @property
    def open311_status(self) -> str:
        return open311_status(self.status)

    def is_overdue(self, now: dt.datetime) -> bool:
        """Still with the unit (dispatched) after its deadline."""
        return (
            self.status == "dispatched" and self.deadline_at is not None and now > self.deadline_at
        )

    def __repr__(self) -> str:
        return f"<Complaint {self.id} {self.status}>"


class ComplaintPhoto(db.Model):
    __tablename__ = "complaint_photos"
    __table_args__ = (CheckConstraint(f"stage IN {PHOTO_STAGES}", name="stage_valid"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    complaint_id: Mapped[int] = mapped_column(
        ForeignKey("complaints.id", ondelete="CASCADE"), index=True
    )
    upload_id: Mapped[int] = mapped_column(ForeignKey("uploads.id"), unique=True)
    stage: Mapped[str] = mapped_column(String(16))
    position: Mapped[int] = mapped_column(Integer)

    complaint: Mapped[Complaint] = relationship(back_populates="photos")
    upload: Mapped[Upload] = relationship(lazy="joined")

    def __repr__(self) -> str:
        return f"<ComplaintPhoto {self.complaint_id} {self.stage} {self.position}>"


class ComplaintEvent(db.Model):
    """One step of a case's history: a status change or a recorded action, never edited."""

    __tablename__ = "complaint_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    complaint_id: Mapped[int] = mapped_column(
        ForeignKey("complaints.id", ondelete="CASCADE"), index=True
    )
    action: Mapped[str] = mapped_column(String(24))
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    actor_role: Mapped[str] = mapped_column(String(16))  # reporter, citizen, staff, system
    note: Mapped[str | None] = mapped_column(String(500))  # public: the reporter and everyone
    internal_note: Mapped[str | None] = mapped_column(String(500))  # staff only
    data: Mapped[dict | None] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)

    complaint: Mapped[Complaint] = relationship(back_populates="events")

    def __repr__(self) -> str:
        return f"<ComplaintEvent {self.complaint_id} {self.action}>"


class ComplaintFollower(db.Model):
    """A citizen who "+1"-ed a case: counted and notified like the reporter."""

    __tablename__ = "complaint_followers"
    __table_args__ = (UniqueConstraint("complaint_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    complaint_id: Mapped[int] = mapped_column(
        ForeignKey("complaints.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    user: Mapped[User] = relationship()

    def __repr__(self) -> str:
        return f"<ComplaintFollower {self.complaint_id} user={self.user_id}>"


class ComplaintExtension(db.Model):
    """A request (延期) to move a dispatched case's deadline; staff approve or deny it."""

    __tablename__ = "complaint_extensions"
    __table_args__ = (
        CheckConstraint(f"status IN {EXTENSION_STATUSES}", name="status_valid"),
        CheckConstraint(f"limit_unit IN {LIMIT_UNITS}", name="limit_unit_valid"),
        CheckConstraint("amount > 0", name="amount_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    complaint_id: Mapped[int] = mapped_column(
        ForeignKey("complaints.id", ondelete="CASCADE"), index=True
    )
    amount: Mapped[int] = mapped_column(Integer)
    limit_unit: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(String(500))
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    requested_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    decision_note: Mapped[str | None] = mapped_column(String(500))
    old_deadline_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    new_deadline_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    complaint: Mapped[Complaint] = relationship(back_populates="extensions")

    def __repr__(self) -> str:
        return f"<ComplaintExtension {self.id} {self.status}>"
