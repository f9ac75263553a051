"""Open311 GeoReport v2: API keys issued by admins, and the cases filed through the interface."""

import datetime as dt

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.extensions import db
from server.models.complaints import Complaint
from server.models.types import UTCDateTime
from server.models.users import User
from server.util.clock import utcnow


class Open311ApiKey(db.Model):
    """A key for another system to file requests; only its SHA-256 is stored."""

    __tablename__ = "open311_api_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64))  # who holds it, e.g. "12345 市民热线平台"
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # The first characters of the key, to tell keys apart in lists and logs; not enough to use.
    prefix: Mapped[str] = mapped_column(String(16))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    created_by: Mapped[User | None] = relationship()

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    def __repr__(self) -> str:
        return f"<Open311ApiKey {self.id} {self.prefix} {'active' if self.active else 'revoked'}>"


class Open311Submission(db.Model):
    """A case filed through ``POST requests``: which key filed it, and its token."""

    __tablename__ = "open311_submissions"

    id: Mapped[int] = mapped_column(primary_key=True)
    complaint_id: Mapped[int] = mapped_column(
        ForeignKey("complaints.id", ondelete="CASCADE"), unique=True
    )
    api_key_id: Mapped[int] = mapped_column(ForeignKey("open311_api_keys.id"), index=True)
    # Answered instead of the id while the case waits for review (GET tokens/{token}).
    token: Mapped[str] = mapped_column(String(32), unique=True)
    # The submitter's media_url: shown as the request's media until we hold a photo ourselves.
    media_url: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    complaint: Mapped[Complaint] = relationship()
    api_key: Mapped[Open311ApiKey] = relationship()

    def __repr__(self) -> str:
        return f"<Open311Submission {self.id} complaint={self.complaint_id}>"
