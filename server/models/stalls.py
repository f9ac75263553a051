"""Farmer stall booking at temporary sales points (临时销售点), DOMAIN.md §5.

Capacity is enforced by the database, never by counting in Python:
- ``StallSlot`` holds ``capacity`` and ``booked`` with CHECK ``0 <= booked <= capacity``;
  a booking first runs ``UPDATE stall_slots SET booked = booked + 1 WHERE id = :id AND
  booked < capacity AND NOT closed`` (no row → full or closed);
- ``StallBooking`` has partial unique indexes over its *active* rows: one stall number
  per slot, and one booking per farmer per date.
"""

import datetime as dt

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    Time,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.extensions import db
from server.models.types import EncryptedString, UTCDateTime
from server.models.uploads import Upload
from server.models.users import User
from server.util.clock import utcnow

POINT_STATUSES = ("active", "inactive")
PROFILE_STATUSES = ("pending", "approved", "rejected")
CLOSURE_REASONS = ("weather", "event", "works", "other")
# confirmed/checked_in hold a stall; the others are history.
BOOKING_STATUSES = (
    "confirmed",
    "checked_in",
    "cancelled",
    "cancelled_late",
    "cancelled_closure",
    "no_show",
)
ACTIVE_BOOKING = ("confirmed", "checked_in")
WAITLIST_STATUSES = ("waiting", "promoted", "cancelled", "closed", "expired")

_ACTIVE_SQL = text("status IN ('confirmed', 'checked_in')")
_WAITING_SQL = text("status = 'waiting'")


class SalesPoint(db.Model):
    __tablename__ = "stall_points"
    __table_args__ = (
        CheckConstraint(f"status IN {POINT_STATUSES}", name="status_valid"),
        CheckConstraint("stall_count >= 1", name="stall_count_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    address: Mapped[str] = mapped_column(String(200))
    lat: Mapped[float]  # GCJ-02
    lng: Mapped[float]
    photo_id: Mapped[int | None] = mapped_column(ForeignKey("uploads.id", ondelete="SET NULL"))
    photo: Mapped[Upload | None] = relationship()
    rules: Mapped[str] = mapped_column(Text, default="", server_default="")
    stall_count: Mapped[int] = mapped_column(Integer)
    active_from: Mapped[dt.date] = mapped_column(Date)
    active_until: Mapped[dt.date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16), default="active", server_default="active")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    sessions: Mapped[list["MarketSession"]] = relationship(
        back_populates="point", order_by="MarketSession.start_time"
    )

    def __repr__(self) -> str:
        return f"<SalesPoint {self.id} {self.name!r} stalls={self.stall_count}>"


class MarketSession(db.Model):
    """A recurring session of a point, e.g. 早市 05:30–09:00 (Beijing time)."""

    __tablename__ = "stall_sessions"
    __table_args__ = (
        UniqueConstraint("point_id", "name"),
        CheckConstraint("capacity >= 0", name="capacity_valid"),
        CheckConstraint("end_time > start_time", name="times_valid"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    point_id: Mapped[int] = mapped_column(ForeignKey("stall_points.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(16))
    start_time: Mapped[dt.time] = mapped_column(Time)
    end_time: Mapped[dt.time] = mapped_column(Time)
    # Default capacity of each (date, session); a date can be changed on its slot.
    capacity: Mapped[int] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=text("true"))

    point: Mapped[SalesPoint] = relationship(back_populates="sessions")

    def __repr__(self) -> str:
        return f"<MarketSession {self.id} point={self.point_id} {self.name!r}>"


class StallSlot(db.Model):
    """One (point, date, session): the unit of capacity."""

    __tablename__ = "stall_slots"
    __table_args__ = (
        UniqueConstraint("session_id", "date"),
        CheckConstraint("booked >= 0 AND booked <= capacity", name="booked_within_capacity"),
        Index("ix_stall_slots_point_id_date", "point_id", "date"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    point_id: Mapped[int] = mapped_column(ForeignKey("stall_points.id", ondelete="CASCADE"))
    session_id: Mapped[int] = mapped_column(ForeignKey("stall_sessions.id", ondelete="CASCADE"))
    date: Mapped[dt.date] = mapped_column(Date)
    # Session start/end on this date (UTC), so that jobs can query them.
    starts_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    capacity: Mapped[int] = mapped_column(Integer)
    booked: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    closed: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))

    point: Mapped[SalesPoint] = relationship()
    session: Mapped[MarketSession] = relationship()

    def __repr__(self) -> str:
        places = f"{self.booked}/{self.capacity}"
        return f"<StallSlot {self.id} {self.date} session={self.session_id} {places}>"


class Closure(db.Model):
    """A point (``session_id`` NULL) or one session closed for a date."""

    __tablename__ = "stall_closures"
    __table_args__ = (
        CheckConstraint(f"reason_type IN {CLOSURE_REASONS}", name="reason_type_valid"),
        Index("ix_stall_closures_point_id_date", "point_id", "date"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    point_id: Mapped[int] = mapped_column(ForeignKey("stall_points.id", ondelete="CASCADE"))
    session_id: Mapped[int | None] = mapped_column(
        ForeignKey("stall_sessions.id", ondelete="CASCADE")
    )
    date: Mapped[dt.date] = mapped_column(Date)
    reason_type: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(String(200))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    point: Mapped[SalesPoint] = relationship()
    session: Mapped[MarketSession | None] = relationship()

    def __repr__(self) -> str:
        return f"<Closure {self.id} point={self.point_id} {self.date} {self.reason_type}>"


class FarmerProfile(db.Model):
    __tablename__ = "farmer_profiles"
    __table_args__ = (CheckConstraint(f"status IN {PROFILE_STATUSES}", name="status_valid"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), unique=True)
    real_name: Mapped[str | None] = mapped_column(EncryptedString)
    phone: Mapped[str | None] = mapped_column(EncryptedString)
    township: Mapped[str | None] = mapped_column(String(32))
    village: Mapped[str | None] = mapped_column(String(32))
    produce_types: Mapped[list] = mapped_column(JSON, default=list)
    self_produce_declared_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16), default="pending", server_default="pending")
    rejection_reason: Mapped[str | None] = mapped_column(String(200))
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    reviewed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    suspended_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # Strikes before this moment no longer count (set when a suspension starts).
    strikes_since: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    erased_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship(
        foreign_keys=[user_id], back_populates="farmer_profile", lazy="joined"
    )

    def __repr__(self) -> str:
        return f"<FarmerProfile {self.id} user={self.user_id} {self.status}>"


class StallBooking(db.Model):
    __tablename__ = "stall_bookings"
    __table_args__ = (
        CheckConstraint(f"status IN {BOOKING_STATUSES}", name="status_valid"),
        CheckConstraint("stall_number >= 1", name="stall_number_positive"),
        # The two rules that must hold under any concurrency (DOMAIN.md §5).
        Index(
            "uq_stall_bookings_slot_stall_active",
            "slot_id",
            "stall_number",
            unique=True,
            sqlite_where=_ACTIVE_SQL,
            postgresql_where=_ACTIVE_SQL,
        ),
        Index(
            "uq_stall_bookings_user_date_active",
            "user_id",
            "date",
            unique=True,
            sqlite_where=_ACTIVE_SQL,
            postgresql_where=_ACTIVE_SQL,
        ),
        Index("ix_stall_bookings_slot_id_status", "slot_id", "status"),
        Index("ix_stall_bookings_user_id_date", "user_id", "date"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    slot_id: Mapped[int] = mapped_column(ForeignKey("stall_slots.id", ondelete="CASCADE"))
    point_id: Mapped[int] = mapped_column(ForeignKey("stall_points.id", ondelete="CASCADE"))
    session_id: Mapped[int] = mapped_column(ForeignKey("stall_sessions.id", ondelete="CASCADE"))
    date: Mapped[dt.date] = mapped_column(Date)
    # Kept when the account is deleted (the history stays, the person does not).
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    stall_number: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20), default="confirmed")
    source: Mapped[str] = mapped_column(String(16), default="direct")  # direct | waitlist
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    cancelled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    checked_in_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    checkin_method: Mapped[str | None] = mapped_column(String(16))  # code | point_qr | manual
    checked_in_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )

    slot: Mapped[StallSlot] = relationship()
    point: Mapped[SalesPoint] = relationship()
    session: Mapped[MarketSession] = relationship()

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_BOOKING

    def __repr__(self) -> str:
        return f"<StallBooking {self.id} slot={self.slot_id} #{self.stall_number} {self.status}>"


class WaitlistEntry(db.Model):
    __tablename__ = "stall_waitlist"
    __table_args__ = (
        CheckConstraint(f"status IN {WAITLIST_STATUSES}", name="status_valid"),
        Index(
            "uq_stall_waitlist_slot_user_waiting",
            "slot_id",
            "user_id",
            unique=True,
            sqlite_where=_WAITING_SQL,
            postgresql_where=_WAITING_SQL,
        ),
        Index("ix_stall_waitlist_slot_id_status", "slot_id", "status"),
        Index("ix_stall_waitlist_user_id", "user_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    slot_id: Mapped[int] = mapped_column(ForeignKey("stall_slots.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(16), default="waiting")
    booking_id: Mapped[int | None] = mapped_column(
        ForeignKey("stall_bookings.id", ondelete="SET NULL")
    )
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    slot: Mapped[StallSlot] = relationship()

    def __repr__(self) -> str:
        return f"<WaitlistEntry {self.id} slot={self.slot_id} user={self.user_id} {self.status}>"
