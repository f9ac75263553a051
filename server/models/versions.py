"""Data versions: one counter per data set, moved by every transaction that changes it."""

from sqlalchemy import BigInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from server.extensions import db


class DataVersion(db.Model):
    __tablename__ = "data_versions"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")

    def __repr__(self) -> str:
        return f"<DataVersion {self.name}={self.version}>"
