"""Demo toilets: 136 labelled 【演示】, spread along main streets of Xinmi's city centre.

Positions are placed at even spacing along approximate GCJ-02 lines of the named streets
(青屏大街, 平安路, 溱水路, 府西街, 行政路 ...), not surveyed sites. Attributes come from a
fixed seed, so every load gives the same data; loading twice adds nothing.
"""

import datetime as dt
import random

from sqlalchemy import select

from server.extensions import db
from server.models.toilets import Toilet
from server.util.clock import local_today, utcnow

# (street, district, (lat, lng) start, (lat, lng) end, number of toilets)
STREETS = (
    ("青屏大街", "青屏街街道", (34.5660, 113.3832), (34.5040, 113.3862), 20),
    ("平安路", "新华路街道", (34.5305, 113.3500), (34.5320, 113.4200), 16),
    ("溱水路", "西大街街道", (34.5228, 113.3550), (34.5240, 113.4100), 14),
    ("府西街", "青屏街街道", (34.5480, 113.3718), (34.5200, 113.3728), 8),
    ("行政路", "青屏街街道", (34.5455, 113.3550), (34.5462, 113.4050), 13),
    ("开阳路", "新华路街道", (34.5385, 113.3500), (34.5392, 113.4150), 15),
    ("嵩山大道", "西大街街道", (34.5700, 113.3605), (34.5000, 113.3620), 16),
    ("西大街", "西大街街道", (34.5342, 113.3600), (34.5344, 113.3835), 6),
    ("东大街", "新华路街道", (34.5344, 113.3840), (34.5347, 113.4000), 5),
    ("长乐路", "青屏街街道", (34.5535, 113.3550), (34.5545, 113.4100), 13),
    ("新华路", "新华路街道", (34.5600, 113.3950), (34.5100, 113.3972), 10),
)
HOURS = (
    "24/7",
    "24/7",
    "05:30-23:00",
    "Mo-Su 06:00-22:00",
    "Mo-Su 05:00-24:00",
    "Mo-Su 06:00-12:00,13:30-22:00",
)
BUSINESS = (
    ("银行网点", "Mo-Fr 08:30-17:30; PH off", "customers"),
    ("加油站", "24/7", "public"),
    ("商场", "Mo-Su 09:00-21:30", "public"),
    ("酒店", "24/7", "customers"),
    ("政务服务中心", "Mo-Fr 08:30-12:00,14:30-18:00; PH off", "public"),
)


def _tri(rng: random.Random, yes: float, unknown: float = 0.15) -> str:
    roll = rng.random()
    if roll < unknown:
        return "unknown"
    return "yes" if roll < unknown + yes * (1 - unknown) else "no"


def _points():
    for street, district, (lat1, lng1), (lat2, lng2), count in STREETS:
        for i in range(count):
            f = (i + 0.5) / count
            yield street, district, lat1 + (lat2 - lat1) * f, lng1 + (lng2 - lng1) * f, i + 1


def build() -> list[dict]:
    rng = random.Random(20261126)
    rows = []
    for number, (street, district, lat, lng, nth) in enumerate(_points(), start=1):
        lat += rng.uniform(-0.00012, 0.00012)  # the side of the street
        lng += rng.uniform(-0.00012, 0.00012)
        row = {
            "external_id": f"demo-{number:03d}",
            "address": f"新密市{street}（演示位置）",
            "district": district,
            "street": street,
            "lat": round(lat, 6),
            "lng": round(lng, 6),
            "managing_unit": "新密市城市管理局环卫中心（演示）",
            "contact_phone": "0371-69821234",
            "accessible_stall": _tri(rng, 0.7),
            "third_restroom": _tri(rng, 0.35),
            "mother_baby_room": _tri(rng, 0.3),
            "changing_table": _tri(rng, 0.4),
            "free": "yes",
            "paper": _tri(rng, 0.6),
            "handwashing": _tri(rng, 0.9, 0.05),
        }
        if number % 9 == 0:
            place, rule, access = BUSINESS[(number // 9) % len(BUSINESS)]
            row.update(
                name=f"【演示】{street}{place}社会开放厕所",
                category="attached",
                kind="business",
                access=access,
                opening_hours=rule,
                managing_unit=f"{street}{place}（演示）",
            )
        else:
            category = (
                "mobile"
                if number % 17 == 0
                else rng.choice(("class_1", "class_2", "class_2", "class_3"))
            )
            row.update(
                name=f"【演示】{street}第{nth}公厕",
                category=category,
                kind="sanitation",
                access="public",
                opening_hours="07:00-19:00" if category == "mobile" else rng.choice(HOURS),
                stalls_male=rng.randint(2, 8),
                stalls_female=rng.randint(3, 10),
                stalls_accessible=1 if row["accessible_stall"] == "yes" else 0,
            )
        rows.append(row)
    return rows


def load() -> None:
    known = set(
        db.session.scalars(select(Toilet.external_id).where(Toilet.external_id.like("demo-%")))
    )
    now = utcnow()
    for row in build():
        if row["external_id"] in known:
            continue
        toilet = Toilet(
            photo_ids=[],
            verified_at=now - dt.timedelta(days=random.Random(row["external_id"]).randint(0, 200)),
            **row,
        )
        if row["external_id"] in ("demo-012", "demo-047"):
            toilet.status = "temporarily_closed"
            toilet.status_reason = "【演示】管道维修"
            toilet.reopen_on = local_today() + dt.timedelta(days=5)
        db.session.add(toilet)
    db.session.flush()
