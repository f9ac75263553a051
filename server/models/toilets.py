"""Public toilets, their ratings, residents' reports and the staff audit history.

Coordinates are GCJ-02 (canonical). ``lat_cell`` is ``floor(lat * 100)``, a 0.01° latitude band
(about 1.1 km): the nearest search reads the index ``(lat_cell, lng, lat, status)`` with
``lat_cell IN (...) AND lng BETWEEN ...``, one narrow index range per band, on SQLite and
PostgreSQL alike (see ``server.services.toilets.search``).

Facilities are three-valued (``yes``/``no``/``unknown``): an attribute nobody checked is
``unknown``, never ``no``.
"""

import datetime as dt
import math

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from server.extensions import db
from server.models.types import UTCDateTime
from server.util.clock import utcnow

CELL_SCALE = 100  # lat_cell = floor(lat * CELL_SCALE): 0.01° bands

CATEGORIES = ("class_1", "class_2", "class_3", "attached", "mobile")
CATEGORY_LABELS = {
    "class_1": "一类",
    "class_2": "二类",
    "class_3": "三类",
    "attached": "附属式",
    "mobile": "活动式",
}
KINDS = ("sanitation", "business")  # 环卫公厕 / 社会开放厕所
KIND_LABELS = {"sanitation": "环卫公厕", "business": "社会开放厕所"}
ACCESS = ("public", "customers")
STATUSES = ("open", "temporarily_closed", "removed")
TRISTATE = ("yes", "no", "unknown")
FACILITIES = (
    "accessible_stall",  # 无障碍厕位 (OSM wheelchair)
    "third_restroom",  # 第三卫生间 (family / assisted room)
    "mother_baby_room",  # 母婴室
    "changing_table",  # baby changing table
    "free",  # free of charge (OSM fee=no)
    "paper",  # toilets:paper_supplied
    "handwashing",  # toilets:handwashing
)
REPORT_KINDS = ("closed", "info_wrong", "dirty", "broken", "still_accurate")
REPORT_STATUSES = ("open", "resolved", "dismissed", "noted")
COMMENT_STATUSES = ("visible", "hidden")
AUDIT_ACTIONS = ("create", "update", "status", "import", "verify")

# Bounds of a nearest-toilet search and of a map-area list (the schemas publish them).
MAX_RADIUS_M = 5000
MAX_LIMIT = 50
MAX_BBOX_DEGREES = 2.0


def lat_cell(lat: float) -> int:
    """The latitude band of ``lat``; monotonic in ``lat``, so a box maps to a band range."""
    return math.floor(lat * CELL_SCALE)


def _in(values: tuple[str, ...]) -> str:
    return "(" + ", ".join(f"'{v}'" for v in values) + ")"


class Toilet(db.Model):
    __tablename__ = "toilets"
    __table_args__ = (
        CheckConstraint(f"category IN {_in(CATEGORIES)}", name="category_valid"),
        CheckConstraint(f"kind IN {_in(KINDS)}", name="kind_valid"),
        CheckConstraint(f"access IN {_in(ACCESS)}", name="access_valid"),
        CheckConstraint(f"status IN {_in(STATUSES)}", name="status_valid"),
        *(CheckConstraint(f"{f} IN {_in(TRISTATE)}", name=f"{f}_valid") for f in FACILITIES),
        CheckConstraint("lat BETWEEN -90 AND 90 AND lng BETWEEN -180 AND 180", name="coords"),
        # The nearest search: one index range per latitude band, longitude bounded inside it.
        # Covers the first phase of a nearest search (ids and positions of the toilets in a
        # box that are not removed): SQLite keeps the rowid (``id``) in every index;
        # PostgreSQL carries it as an included column for index-only scans.
        Index(
            "ix_toilets_cell_lng_lat_status",
            "lat_cell",
            "lng",
            "lat",
            "status",
            postgresql_include=["id"],
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # Id in the source system of a bulk import; re-importing the same id updates the toilet.
    external_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(64))
    address: Mapped[str] = mapped_column(String(200), default="", server_default="")
    district: Mapped[str] = mapped_column(String(32), default="", server_default="")
    street: Mapped[str] = mapped_column(String(32), default="", server_default="")
    lat: Mapped[float] = mapped_column(Float)
    lng: Mapped[float] = mapped_column(Float)
    lat_cell: Mapped[int] = mapped_column(Integer)
    category: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(16), default="sanitation", server_default="sanitation")
    access: Mapped[str] = mapped_column(String(16), default="public", server_default="public")
    managing_unit: Mapped[str] = mapped_column(String(64), default="", server_default="")
    # The managing unit's duty phone (an organisation's, shown to residents).
    contact_phone: Mapped[str] = mapped_column(String(32), default="", server_default="")
    # OSM opening_hours syntax; NULL when nobody knows the hours.
    opening_hours: Mapped[str | None] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(24), default="open", server_default="open")
    status_reason: Mapped[str | None] = mapped_column(String(200))
    reopen_on: Mapped[dt.date | None] = mapped_column(Date)
    accessible_stall: Mapped[str] = mapped_column(
        String(8), default="unknown", server_default="unknown"
    )
    third_restroom: Mapped[str] = mapped_column(
        String(8), default="unknown", server_default="unknown"
    )
    mother_baby_room: Mapped[str] = mapped_column(
        String(8), default="unknown", server_default="unknown"
    )
    changing_table: Mapped[str] = mapped_column(
        String(8), default="unknown", server_default="unknown"
    )
    free: Mapped[str] = mapped_column(String(8), default="unknown", server_default="unknown")
    paper: Mapped[str] = mapped_column(String(8), default="unknown", server_default="unknown")
    handwashing: Mapped[str] = mapped_column(String(8), default="unknown", server_default="unknown")
    stalls_male: Mapped[int | None] = mapped_column(SmallInteger)
    stalls_female: Mapped[int | None] = mapped_column(SmallInteger)
    stalls_accessible: Mapped[int | None] = mapped_column(SmallInteger)
    # Claimed upload ids (server.services.uploads.claim), in display order.
    photo_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    rating_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    rating_avg: Mapped[float | None] = mapped_column(Float)
    verified_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    @validates("lat")
    def _keep_cell(self, key, value):
        self.lat_cell = lat_cell(value)
        return value

    @property
    def facilities(self) -> dict[str, str]:
        return {name: getattr(self, name) for name in FACILITIES}

    @property
    def category_label(self) -> str:
        return CATEGORY_LABELS[self.category]

    @property
    def kind_label(self) -> str:
        return KIND_LABELS[self.kind]

    def __repr__(self) -> str:
        return f"<Toilet {self.id} {self.name!r} {self.status}>"


class ToiletRating(db.Model):
    """One rating per user per toilet, updatable."""

    __tablename__ = "toilet_ratings"
    __table_args__ = (
        UniqueConstraint("toilet_id", "user_id"),
        CheckConstraint("cleanliness BETWEEN 1 AND 5", name="cleanliness_range"),
        CheckConstraint("smell BETWEEN 1 AND 5", name="smell_range"),
        CheckConstraint("facilities BETWEEN 1 AND 5", name="facilities_range"),
        CheckConstraint(f"comment_status IN {_in(COMMENT_STATUSES)}", name="comment_status_valid"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    toilet_id: Mapped[int] = mapped_column(ForeignKey("toilets.id", ondelete="CASCADE"))
    # NULL once the author deleted their account (the scores stay in the average).
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    cleanliness: Mapped[int] = mapped_column(SmallInteger)
    smell: Mapped[int] = mapped_column(SmallInteger)
    facilities: Mapped[int] = mapped_column(SmallInteger)
    comment: Mapped[str | None] = mapped_column(String(200))
    # ``hidden``: WeChat's content check said "review"; staff may publish it.
    comment_status: Mapped[str] = mapped_column(
        String(16), default="visible", server_default="visible"
    )
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    @property
    def score(self) -> float:
        return round((self.cleanliness + self.smell + self.facilities) / 3, 2)

    def __repr__(self) -> str:
        return f"<ToiletRating {self.id} toilet={self.toilet_id} user={self.user_id}>"


class ToiletReport(db.Model):
    """A resident's report; problem kinds are queued for staff (``open``)."""

    __tablename__ = "toilet_reports"
    __table_args__ = (
        CheckConstraint(f"kind IN {_in(REPORT_KINDS)}", name="kind_valid"),
        CheckConstraint(f"status IN {_in(REPORT_STATUSES)}", name="status_valid"),
        Index("ix_toilet_reports_toilet_id_created_at", "toilet_id", "created_at"),
        Index("ix_toilet_reports_status_created_at", "status", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    toilet_id: Mapped[int] = mapped_column(ForeignKey("toilets.id", ondelete="CASCADE"))
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    kind: Mapped[str] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(String(500))
    photo_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(16), default="open")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    resolved_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    resolved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    resolution_note: Mapped[str | None] = mapped_column(String(200))
    # The 12319 case a problem report was filed as (category 公共厕所), if any.
    complaint_id: Mapped[int | None] = mapped_column(
        ForeignKey("complaints.id", ondelete="SET NULL"), index=True
    )

    toilet: Mapped[Toilet] = relationship()

    def __repr__(self) -> str:
        return f"<ToiletReport {self.id} toilet={self.toilet_id} {self.kind} {self.status}>"


class ToiletAudit(db.Model):
    """Who changed what on a toilet, and when: ``changes`` is ``{field: [old, new]}``."""

    __tablename__ = "toilet_audits"
    __table_args__ = (
        CheckConstraint(f"action IN {_in(AUDIT_ACTIONS)}", name="action_valid"),
        Index("ix_toilet_audits_toilet_id_id", "toilet_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    toilet_id: Mapped[int] = mapped_column(ForeignKey("toilets.id", ondelete="CASCADE"))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    action: Mapped[str] = mapped_column(String(16))
    changes: Mapped[dict] = mapped_column(JSON, default=dict)
    reason: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    actor = relationship("User")

    def __repr__(self) -> str:
        return f"<ToiletAudit {self.id} toilet={self.toilet_id} {self.action}>"
