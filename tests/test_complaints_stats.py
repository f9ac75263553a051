"""Statistics for November 2026 on a hand-built data set, every figure checked by hand.

Cases (all times 10:00 Beijing time; U1 = 市政设施管理所, U2 = 环境卫生管理所):

====  ========  ===========  ====  ======  ========  ========  ========================
case  category  filed        unit  opened  deadline  resolved  end
====  ========  ===========  ====  ======  ========  ========  ========================
A     B0102     20 Oct       U1    20 Oct  3 Nov     2 Nov     closed fixed 4 Nov
B     B0102     25 Oct       U1    25 Oct  5 Nov     10 Nov    closed fixed 11 Nov (late)
C     B0102     28 Oct       U1    28 Oct  6 Nov     —         still dispatched
D     S0102     2 Nov        U2    2 Nov   4 Nov     3 Nov     closed fixed 5 Nov; rework 3 Nov
E     B0102     10 Nov       —     —       —         —         rejected 10 Nov
F     B0102     20 Nov       U1    20 Nov  2 Dec     25 Nov    closed fixed 26 Nov
G     B0102     25 Nov       —     —       —         —         submitted
H     B0102     1 Sep        U1    1 Sep   15 Oct    —         closed not fixed 15 Nov
I     B0102     5 Nov        U1    5 Nov   20 Nov    —         merged 6 Nov
J     S0102     1 Nov        U2    1 Nov   12 Nov    —         closed not fixed 8 Nov
K     B0102     28 Nov       U1    28 Nov  5 Dec     —         reopened 29 Nov (rework)
L     B0102     1 Dec        U1    1 Dec   3 Dec     —         outside the period
====  ========  ===========  ====  ======  ========  ========  ========================

November totals:
- collected (filed in Nov): D E F G I J K = 7; opened: D F I J K = 5; rejected: E = 1
- closed (in Nov): A B D F H J = 6 (fixed A B D F = 4, not fixed H J = 2)
- due (deadline in Nov, not merged): A B C D J = 5 — A, B, C carried over from October
- closed_due: A B D J = 4 → closure rate 4/5 = 0.8
- on time: A (2 ≤ 3 Nov), D (3 ≤ 4 Nov), J (closed 8 ≤ 12 Nov) = 3; B was late → 3/5 = 0.6
- rework events in Nov: D (返工 3 Nov), K (reopen 29 Nov) = 2; reworked closed: D → 1/6
- handling hours of closed cases: A 360, B 408, D 72, F 144, H 1800, J 168 → median 264
"""

import datetime as dt

import pytest

from server.extensions import db
from server.models.complaints import Complaint, ComplaintEvent
from server.services.complaints import cases, staff, stats
from server.util.clock import CST
from tests.conftest import auth_headers, make_user
from tests.test_complaints import LAT, LNG, reference_data  # noqa: F401


def at(month: int, day: int, year: int = 2026) -> dt.datetime:
    return dt.datetime(year, month, day, 10, 0, tzinfo=CST)


@pytest.fixture
def data_set(app):
    units = {unit.name: unit for unit in staff.list_units()}
    u1, u2 = units["市政设施管理所"], units["环境卫生管理所"]
    manhole, garbage = cases.category_by_code("B0102"), cases.category_by_code("S0102")
    reporter = make_user()

    def case(name, category, filed, unit=None, status="submitted", rework=(), **times):
        complaint = Complaint(
            category=category,
            description=f"案件{name}",
            lat=LAT,
            lng=LNG,
            address="人民路",
            reporter_id=reporter.id,
            status=status,
            unit=unit,
            created_at=filed,
            updated_at=filed,
            rework_count=len(rework),
            **times,
        )
        db.session.add(complaint)
        db.session.flush()
        for action, moment in rework:
            db.session.add(
                ComplaintEvent(
                    complaint_id=complaint.id,
                    action=action,
                    from_status="resolved" if action == "rework" else "closed",
                    to_status="dispatched",
                    actor_role="staff",
                    created_at=moment,
                )
            )
        return complaint

    def closed(fixed: bool, when):
        return {
            "status": "closed",
            "resolution": "fixed" if fixed else "not_fixed",
            "closed_at": when,
        }

    case(
        "A",
        manhole,
        at(10, 20),
        u1,
        accepted_at=at(10, 20),
        deadline_at=at(11, 3),
        resolved_at=at(11, 2),
        **closed(True, at(11, 4)),
    )
    case(
        "B",
        manhole,
        at(10, 25),
        u1,
        accepted_at=at(10, 25),
        deadline_at=at(11, 5),
        resolved_at=at(11, 10),
        **closed(True, at(11, 11)),
    )
    case(
        "C",
        manhole,
        at(10, 28),
        u1,
        status="dispatched",
        accepted_at=at(10, 28),
        deadline_at=at(11, 6),
    )
    case(
        "D",
        garbage,
        at(11, 2),
        u2,
        accepted_at=at(11, 2),
        deadline_at=at(11, 4),
        resolved_at=at(11, 3),
        rework=[("rework", at(11, 3))],
        **closed(True, at(11, 5)),
    )
    case("E", manhole, at(11, 10), status="rejected", rejected_at=at(11, 10))
    case(
        "F",
        manhole,
        at(11, 20),
        u1,
        accepted_at=at(11, 20),
        deadline_at=at(12, 2),
        resolved_at=at(11, 25),
        **closed(True, at(11, 26)),
    )
    case("G", manhole, at(11, 25))
    case(
        "H",
        manhole,
        at(9, 1),
        u1,
        accepted_at=at(9, 1),
        deadline_at=at(10, 15),
        **closed(False, at(11, 15)),
    )
    case(
        "I", manhole, at(11, 5), u1, status="merged", accepted_at=at(11, 5), deadline_at=at(11, 20)
    )
    case(
        "J",
        garbage,
        at(11, 1),
        u2,
        accepted_at=at(11, 1),
        deadline_at=at(11, 12),
        **closed(False, at(11, 8)),
    )
    case(
        "K",
        manhole,
        at(11, 28),
        u1,
        status="dispatched",
        accepted_at=at(11, 28),
        deadline_at=at(12, 5),
        rework=[("reopen", at(11, 29))],
    )
    case(
        "L",
        manhole,
        at(12, 1),
        u1,
        status="dispatched",
        accepted_at=at(12, 1),
        deadline_at=at(12, 3),
    )
    db.session.commit()
    return {"u1": u1.id, "u2": u2.id}


NOVEMBER_TOTAL = {
    "collected": 7,
    "opened": 5,
    "rejected": 1,
    "closed": 6,
    "closed_fixed": 4,
    "closed_not_fixed": 2,
    "due": 5,
    "closed_due": 4,
    "closed_on_time": 3,
    "closure_rate": 0.8,
    "on_time_rate": 0.6,
    "rework_count": 2,
    "reworked_closed": 1,
    "rework_rate": 0.1667,
    "median_handling_hours": 264.0,
}
GARBAGE = {  # D and J
    "collected": 2,
    "opened": 2,
    "rejected": 0,
    "closed": 2,
    "closed_fixed": 1,
    "closed_not_fixed": 1,
    "due": 2,
    "closed_due": 2,
    "closed_on_time": 2,
    "closure_rate": 1.0,
    "on_time_rate": 1.0,
    "rework_count": 1,
    "reworked_closed": 1,
    "rework_rate": 0.5,
    "median_handling_hours": 120.0,
}
MANHOLE = {  # A B C E F G H I K
    "collected": 5,  # E F G I K
    "opened": 3,  # F I K
    "rejected": 1,
    "closed": 4,  # A B F H
    "closed_fixed": 3,
    "closed_not_fixed": 1,
    "due": 3,  # A B C
    "closed_due": 2,
    "closed_on_time": 1,
    "closure_rate": 0.6667,
    "on_time_rate": 0.3333,
    "rework_count": 1,  # K
    "reworked_closed": 0,
    "rework_rate": 0.0,
    "median_handling_hours": 384.0,  # 144 360 408 1800
}


def test_november_figures(data_set):
    result = stats.complaint_stats(dt.date(2026, 11, 1), dt.date(2026, 11, 30))
    assert result["total"] == NOVEMBER_TOTAL
    by_category = {row.pop("code"): row for row in result["by_category"]}
    assert by_category["S0102"] == {"name": "暴露垃圾", **GARBAGE}
    assert by_category["B0102"] == {"name": "污水井盖", **MANHOLE}
    by_unit = {row["unit_id"]: row for row in result["by_unit"]}
    assert by_unit[data_set["u2"]] == {
        "unit_id": data_set["u2"],
        "name": "环境卫生管理所",
        **GARBAGE,
    }
    u1 = by_unit[data_set["u1"]]
    assert (u1["collected"], u1["opened"], u1["closed"], u1["due"], u1["closed_on_time"]) == (
        3,  # F I K
        3,
        4,
        3,
        1,
    )
    assert by_unit[None]["name"] == "未派遣" and by_unit[None]["collected"] == 2  # E G
    assert by_unit[None]["rejected"] == 1


def test_filters_by_category_and_unit(data_set):
    by_category = stats.complaint_stats(dt.date(2026, 11, 1), dt.date(2026, 11, 30), "S0102")
    assert by_category["total"] == GARBAGE
    by_unit = stats.complaint_stats(
        dt.date(2026, 11, 1), dt.date(2026, 11, 30), unit_id=data_set["u2"]
    )
    assert by_unit["total"] == GARBAGE


def test_one_day_period_and_empty_rates(data_set):
    # 4 Nov: A closed (fixed, on time), D due (closed later, on 5 Nov: not within the period).
    result = stats.complaint_stats(dt.date(2026, 11, 4), dt.date(2026, 11, 4))["total"]
    assert (result["closed"], result["due"], result["closed_due"]) == (1, 1, 0)
    assert result["closure_rate"] == 0.0
    empty = stats.complaint_stats(dt.date(2025, 1, 1), dt.date(2025, 1, 31))["total"]
    assert empty["due"] == 0 and empty["closure_rate"] is None
    assert empty["median_handling_hours"] is None


def test_stats_endpoint(client, staff, data_set):
    resp = client.get(
        "/api/v1/staff/stats/complaints?from=2026-11-01&to=2026-11-30", headers=auth_headers(staff)
    )
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["from"] == "2026-11-01" and body["to"] == "2026-11-30"
    assert body["total"] == NOVEMBER_TOTAL
    resp = client.get(
        f"/api/v1/staff/stats/complaints?from=2026-11-01&to=2026-11-30&category=S0102&unit={data_set['u2']}",
        headers=auth_headers(staff),
    )
    assert resp.get_json()["total"] == GARBAGE


@pytest.mark.parametrize(
    "query, error",
    [
        ("", "validation_error"),
        ("from=2026-11-01", "validation_error"),
        ("from=2026-11-30&to=2026-11-01", "invalid_date_range"),
        ("from=2020-01-01&to=2026-01-01", "period_too_long"),
        ("from=yesterday&to=2026-11-01", "validation_error"),
        ("from=2026-11-01&to=2026-11-30&category=井盖", "validation_error"),
    ],
)
def test_stats_bad_queries(client, staff, query, error):
    resp = client.get(f"/api/v1/staff/stats/complaints?{query}", headers=auth_headers(staff))
    assert resp.status_code == 422
    assert resp.get_json()["error"] == error


@pytest.mark.parametrize(
    "period", ["from=0001-01-01&to=0001-12-31", "from=9999-01-01&to=9999-12-31"]
)
def test_stats_at_the_ends_of_the_calendar_are_empty(client, staff, period):
    resp = client.get(f"/api/v1/staff/stats/complaints?{period}", headers=auth_headers(staff))
    assert resp.status_code == 200
    assert resp.get_json()["total"]["collected"] == 0
