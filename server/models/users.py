"""Accounts (one per WeChat openid) and their bearer tokens."""

import datetime as dt
from typing import TYPE_CHECKING

from sqlalchemy import CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.extensions import db
from server.models.types import EncryptedString, UTCDateTime
from server.util.clock import utcnow
from server.util.privacy import mask_phone

if TYPE_CHECKING:
    from server.models.stalls import FarmerProfile

ROLES = ("resident", "staff", "admin")
USER_STATUSES = ("active", "banned", "deleted")


class User(db.Model):
    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint(f"role IN {ROLES}", name="role_valid"),
        CheckConstraint(f"status IN {USER_STATUSES}", name="status_valid"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    openid: Mapped[str] = mapped_column(String(64), unique=True)
    unionid: Mapped[str | None] = mapped_column(String(64))
    nickname: Mapped[str | None] = mapped_column(String(32))
    avatar_url: Mapped[str | None] = mapped_column(String(512))
    phone: Mapped[str | None] = mapped_column(EncryptedString)
    phone_country_code: Mapped[str | None] = mapped_column(String(8))
    role: Mapped[str] = mapped_column(String(16), default="resident", server_default="resident")
    status: Mapped[str] = mapped_column(String(16), default="active", server_default="active")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    deleted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    tokens: Mapped[list["ApiToken"]] = relationship(
        back_populates="user", cascade="all, delete-orphan", passive_deletes=True
    )
    # Loaded only when asked for (``roles``): no extra query on an ordinary request.
    farmer_profile: Mapped["FarmerProfile | None"] = relationship(
        back_populates="user", foreign_keys="FarmerProfile.user_id", uselist=False
    )

    @property
    def phone_masked(self) -> str | None:
        return mask_phone(self.phone)

    @property
    def roles(self) -> list[str]:
        """Roles decided on the server; ``admin`` implies ``staff``; an approved farmer
        profile (stall booking) adds ``farmer``."""
        roles = ["resident"]
        if self.farmer_profile is not None and self.farmer_profile.status == "approved":
            roles.append("farmer")
        if self.is_staff:
            roles.append("staff")
        if self.is_admin:
            roles.append("admin")
        return roles

    @property
    def is_staff(self) -> bool:
        return self.role in ("staff", "admin")

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    def __repr__(self) -> str:
        return f"<User {self.id} {self.role} {self.status}>"


class ApiToken(db.Model):
    """An opaque bearer token; only its SHA-256 is stored."""

    __tablename__ = "api_tokens"
    __table_args__ = (Index("ix_api_tokens_expires_at", "expires_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship(back_populates="tokens")

    def __repr__(self) -> str:
        return f"<ApiToken {self.id} user={self.user_id}>"
