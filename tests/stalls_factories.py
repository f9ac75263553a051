"""Factories shared by the stall booking tests (not fixtures: plain helpers)."""

import datetime as dt
import itertools

from server.extensions import db
from server.models.stalls import FarmerProfile, MarketSession, SalesPoint, StallSlot
from server.util.clock import CST, local_today, utcnow
from tests.conftest import auth_headers, make_user

_phones = itertools.count(13800000001)

# 人民广场, GCJ-02
LAT, LNG = 30.2741, 120.1551


def tomorrow() -> dt.date:
    return local_today() + dt.timedelta(days=1)


def make_point(
    stall_count: int = 10,
    capacity: int = 10,
    sessions=(("早市", dt.time(5, 30), dt.time(9, 0)), ("晚市", dt.time(17, 0), dt.time(20, 0))),
    **overrides,
) -> SalesPoint:
    values = {
        "name": "东门临时销售点",
        "address": "城东路1号",
        "lat": LAT,
        "lng": LNG,
        "stall_count": stall_count,
        "active_from": local_today() - dt.timedelta(days=30),
        "rules": "自产自销，摊位整洁",
    }
    values.update(overrides)
    point = SalesPoint(**values)
    db.session.add(point)
    db.session.flush()
    for name, start, end in sessions:
        db.session.add(
            MarketSession(
                point_id=point.id, name=name, start_time=start, end_time=end, capacity=capacity
            )
        )
    db.session.commit()
    return point


def morning(point: SalesPoint) -> MarketSession:
    return point.sessions[0]


def make_farmer(status: str = "approved", name: str = "王大伯", **user_overrides):
    phone = user_overrides.pop("phone", str(next(_phones)))
    user = make_user(phone=phone, **user_overrides)
    profile = FarmerProfile(
        user_id=user.id,
        real_name=name,
        phone=phone,
        township="城南镇",
        village="桃源村",
        produce_types=["蔬菜", "鸡蛋"],
        self_produce_declared_at=utcnow(),
        status=status,
    )
    db.session.add(profile)
    db.session.commit()
    return user


def farmer_with_headers(**kwargs):
    user = make_farmer(**kwargs)
    return user, auth_headers(user)


def move_slot(slot_id: int, starts_in: dt.timedelta) -> StallSlot:
    """Pretend the slot starts ``starts_in`` from now (check-in, late cancel, no-shows)."""
    slot = db.session.get(StallSlot, slot_id)
    slot.starts_at = utcnow() + starts_in
    slot.ends_at = slot.starts_at + dt.timedelta(hours=3)
    db.session.commit()
    return slot


def local(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=CST)
