"""Reference data for complaints: units, categories, office hours and the holiday calendar.

This is real data, not demo data. It is loaded by the ``0004_complaints`` migration and by
``flask complaints seed`` (idempotent: it only adds what is missing and never overwrites an
admin's edits). Afterwards admins maintain it through ``/api/v1/staff/complaints/...``.

Categories follow the structure of the national digital urban-management classification
(GB/T 30428.2, formerly CJ/T 214): 部件 (components) and 事件 (events), a 2-digit class and a
2-digit subclass. Our ``code`` prefixes ``B`` (部件) or ``S`` (事件) because both lists
number their classes from 01. Only the kinds this bureau handles are seeded; check the
subclass numbers and handling limits against the city's own code table when going live.

HOLIDAYS is data to maintain: the State Council publishes each year's schedule (放假安排)
around November. 2026 is the published schedule (国办发明电〔2025〕7号); add 2027 when it is
published (``PUT /api/v1/staff/complaints/calendar/days/{date}``).
"""

import datetime as dt

# short key used below → unit name
UNITS = {
    "市政": "市政设施管理所",
    "环卫": "环境卫生管理所",
    "执法": "城市管理综合执法大队",
    "园林": "园林绿化管理所",
}

# (code, class name, name, icon key, unit, handling limit, h = working hours | d = working days)
CATEGORIES = (
    ("B0101", "公用设施", "上水井盖", "manhole", "市政", 4, "h"),
    ("B0102", "公用设施", "污水井盖", "manhole", "市政", 4, "h"),
    ("B0103", "公用设施", "雨水井盖", "manhole", "市政", 4, "h"),
    ("B0104", "公用设施", "雨水箅子", "drain", "市政", 1, "d"),
    ("B0118", "公用设施", "架空线缆", "cable", "市政", 3, "d"),
    ("B0214", "道路交通", "人行道板", "pavement", "市政", 3, "d"),
    ("B0301", "市容环境", "公共厕所", "toilet", "环卫", 1, "d"),
    ("B0303", "市容环境", "垃圾箱", "bin", "环卫", 1, "d"),
    ("B0405", "园林绿化", "行道树", "tree", "园林", 2, "d"),
    ("S0102", "市容环境", "暴露垃圾", "garbage", "环卫", 4, "h"),
    ("S0103", "市容环境", "积存垃圾渣土", "garbage", "环卫", 1, "d"),
    ("S0104", "市容环境", "道路不洁", "street_dirty", "环卫", 4, "h"),
    ("S0113", "市容环境", "餐饮油烟", "fumes", "执法", 3, "d"),
    ("S0201", "宣传广告", "非法小广告", "flyer", "执法", 1, "d"),
    ("S0202", "宣传广告", "违规户外广告", "billboard", "执法", 5, "d"),
    ("S0302", "施工管理", "施工扬尘", "dust", "执法", 1, "d"),
    ("S0303", "施工管理", "渣土车抛撒", "muck_truck", "执法", 4, "h"),
    ("S0401", "突发事件", "路面塌陷", "road_collapse", "市政", 2, "h"),
    ("S0404", "突发事件", "下水道堵塞或破损", "sewer", "市政", 1, "d"),
    ("S0406", "突发事件", "道路积水", "flooding", "市政", 4, "h"),
    ("S0501", "街面秩序", "无照经营游商", "vendor", "执法", 4, "h"),
    ("S0504", "街面秩序", "占道经营", "occupy_road", "执法", 1, "d"),
)


WORK_PERIODS = ((dt.time(8, 30), dt.time(12, 0)), (dt.time(14, 0), dt.time(17, 30)))


def _days(first: dt.date, last: dt.date) -> list[dt.date]:
    return [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]


def _holiday(name: str, first: str, last: str, workdays: tuple[str, ...] = ()):
    d = dt.date.fromisoformat
    rows = [(day, "holiday", name) for day in _days(d(first), d(last))]
    rows += [(d(day), "workday", f"{name}调休上班") for day in workdays]
    return rows


# (day, kind, name): the 2026 schedule published by the General Office of the State Council.
HOLIDAYS = (
    *_holiday("元旦", "2026-01-01", "2026-01-03", ("2026-01-04",)),
    *_holiday("春节", "2026-02-15", "2026-02-23", ("2026-02-14", "2026-02-28")),
    *_holiday("清明节", "2026-04-04", "2026-04-06"),
    *_holiday("劳动节", "2026-05-01", "2026-05-05", ("2026-05-09",)),
    *_holiday("端午节", "2026-06-19", "2026-06-21"),
    *_holiday("中秋节", "2026-09-25", "2026-09-27"),
    *_holiday("国庆节", "2026-10-01", "2026-10-07", ("2026-09-20", "2026-10-10")),
)


def unit_rows() -> list[dict]:
    return [{"name": name, "active": True} for name in UNITS.values()]


def category_rows(unit_ids: dict[str, int]) -> list[dict]:
    """Category rows; ``unit_ids`` maps unit names to their ids."""
    return [
        {
            "code": code,
            "kind": "component" if code[0] == "B" else "event",
            "class_code": code[1:3],
            "class_name": class_name,
            "name": name,
            "icon": icon,
            "unit_id": unit_ids[UNITS[unit]],
            "limit_value": limit,
            "limit_unit": "working_hours" if unit_of_limit == "h" else "working_days",
            "active": True,
            "sort_order": position,
        }
        for position, (code, class_name, name, icon, unit, limit, unit_of_limit) in enumerate(
            CATEGORIES
        )
    ]


def period_rows() -> list[dict]:
    return [{"start_time": start, "end_time": end} for start, end in WORK_PERIODS]


def calendar_rows() -> list[dict]:
    return [{"day": day, "kind": kind, "name": name} for day, kind, name in HOLIDAYS]
