"""Demo data for ``flask demo-data``: every record is labelled 【演示】 or ``dev_``.

Each feature adds a loader module here and a line to ``LOADERS``.
"""

from sqlalchemy import func, select

from server.demo import complaints, open311, stalls, toilets, users
from server.extensions import db
from server.models.users import User

DEMO_PREFIX = "【演示】"
LOADERS = (users.load, toilets.load, complaints.load, stalls.load, open311.load)


def has_real_users() -> bool:
    """True when any account did not come from fake login or demo data."""
    count = db.session.scalar(
        select(func.count()).select_from(User).where(~User.openid.startswith("dev_"))
    )
    return bool(count)


def is_empty() -> bool:
    return not db.session.scalar(select(func.count()).select_from(User))


def load_all() -> None:
    for loader in LOADERS:
        loader()
