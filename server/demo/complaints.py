"""Demo complaints in several workflow states (reference data comes from the migration)."""

import datetime as dt

from sqlalchemy import select

from server.extensions import db
from server.models.complaints import Complaint
from server.models.users import User
from server.services.complaints import cases, staff, workflow
from server.util.clock import utcnow

# (category, description, address, lat, lng, how far along)
DEMO_CASES = (
    (
        "B0102",
        "【演示】青屏大街与平安路口污水井盖缺失，夜间有安全隐患",
        "【演示】青屏大街与平安路交叉口",
        34.5311,
        113.3845,
        "submitted",
    ),
    (
        "S0102",
        "【演示】菜市场东门垃圾堆放两天无人清运",
        "【演示】溱水路菜市场东门",
        34.5235,
        113.3790,
        "dispatched",
    ),
    ("S0201", "【演示】公交站台贴满小广告", "【演示】行政路公交站", 34.5458, 113.3760, "closed"),
)


def load() -> None:
    staff.seed_reference_data()
    if db.session.scalar(select(Complaint.id).where(Complaint.description.startswith("【演示】"))):
        return
    reporter = db.session.scalar(select(User).where(User.openid == "dev_alice"))
    officer = db.session.scalar(select(User).where(User.openid == "dev_staff"))
    start = utcnow() - dt.timedelta(days=2)
    for code, description, address, lat, lng, stage in DEMO_CASES:
        complaint = cases.create_complaint(
            reporter, code, description, lat, lng, address, [], source="miniprogram", now=start
        )
        if stage in ("dispatched", "closed"):
            workflow.accept(complaint, officer, note="【演示】已立案", now=start)
            workflow.dispatch(complaint, officer, note="【演示】已派遣", now=start)
        if stage == "closed":
            # Resolution photos need real uploads; this demo case is closed as not fixed.
            workflow.close_unfixed(
                complaint,
                officer,
                reason="【演示】经核实为私人产权广告栏，已告知产权单位自行清理",
                now=start,
            )
    db.session.flush()
