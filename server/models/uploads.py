"""Uploaded photos: stored re-encoded and stripped of EXIF, claimable once by their owner."""

import datetime as dt

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from server.extensions import db
from server.models.types import UTCDateTime
from server.util.clock import utcnow

# Longest side of the stored photo: more than a phone screen shows, and at most half
# of a 12 MP photo's 4000 px, so the JPEG decoder can scale by 1/2 while decoding
# (draft): 3x faster and a third of the memory (bench/RESULTS.md, "Photo uploads").
STORED_SIDE = 2000
THUMB_SIDE = 480


class Upload(db.Model):
    __tablename__ = "uploads"

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    # Random file names under UPLOAD_DIR, e.g. "2026/11/3f2a….jpg"; never user-supplied.
    path: Mapped[str] = mapped_column(String(128), unique=True)
    thumb_path: Mapped[str] = mapped_column(String(128))
    content_type: Mapped[str] = mapped_column(String(32))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    size_bytes: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)
    # Set when a submission (complaint, report...) takes the photo; an upload is used once.
    used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    used_for: Mapped[str | None] = mapped_column(String(32))

    def __repr__(self) -> str:
        return f"<Upload {self.id} owner={self.owner_id} used={self.used_for}>"
