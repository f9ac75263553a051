"""Demo accounts, reachable with fake login (``dev:<name>``)."""

from sqlalchemy import select

from server.extensions import db
from server.models.users import User

DEMO_USERS = (
    ("dev_alice", "【演示】居民小李", "resident"),
    ("dev_farmer", "【演示】农户老王", "resident"),
    ("dev_staff", "【演示】城管队员", "staff"),
    ("dev_admin", "【演示】管理员", "admin"),
)


def load() -> None:
    for openid, nickname, role in DEMO_USERS:
        user = db.session.scalar(select(User).where(User.openid == openid))
        if user is None:
            db.session.add(User(openid=openid, nickname=nickname, role=role))
    db.session.flush()
