"""Demo sales points (【演示】) and the demo farmer ``dev:farmer`` with an approved profile.

``dev:farmer2`` has no profile: it can apply, be approved by ``dev:staff``, and join the
waitlist, which walks through the whole flow of issue 5 in fake-login mode.
"""

import datetime as dt

from sqlalchemy import select

from server.extensions import db
from server.models.stalls import FarmerProfile, MarketSession, SalesPoint
from server.models.users import User
from server.util.clock import local_today, utcnow

POINTS = (
    # name, address, lat, lng (GCJ-02), stalls, sessions (name, start, end, capacity)
    (
        "【演示】东门临时销售点",
        "【演示】平安路东段与东大街交叉口",
        34.5314,
        113.3965,
        12,
        (("早市", dt.time(5, 30), dt.time(9, 0), 12), ("晚市", dt.time(17, 0), dt.time(20, 0), 8)),
    ),
    (
        "【演示】西街临时销售点",
        "【演示】溱水路西段停车场",
        34.5232,
        113.3640,
        6,
        (("早市", dt.time(6, 0), dt.time(9, 30), 2), ("晚市", dt.time(16, 30), dt.time(19, 30), 6)),
    ),
)
RULES = "【演示】仅限本人自产自销农产品；请按摊位号摆放，收市后带走垃圾。"


def load() -> None:
    for name, address, lat, lng, stalls, sessions in POINTS:
        if db.session.scalar(select(SalesPoint).where(SalesPoint.name == name)):
            continue
        point = SalesPoint(
            name=name,
            address=address,
            lat=lat,
            lng=lng,
            stall_count=stalls,
            rules=RULES,
            active_from=local_today() - dt.timedelta(days=30),
        )
        db.session.add(point)
        db.session.flush()
        for session_name, start, end, capacity in sessions:
            db.session.add(
                MarketSession(
                    point_id=point.id,
                    name=session_name,
                    start_time=start,
                    end_time=end,
                    capacity=capacity,
                )
            )
    farmer = db.session.scalar(select(User).where(User.openid == "dev_farmer"))
    if farmer is not None and farmer.farmer_profile is None:
        farmer.phone = farmer.phone or "13800000000"
        db.session.add(
            FarmerProfile(
                user_id=farmer.id,
                real_name="【演示】王老伯",
                phone=farmer.phone,
                township="【演示】城南镇",
                village="【演示】桃源村",
                produce_types=["蔬菜", "鸡蛋"],
                self_produce_declared_at=utcnow(),
                status="approved",
                reviewed_at=utcnow(),
            )
        )
    db.session.flush()
