"""The nearest search equals a brute-force scan and reads the index, on both databases."""

import datetime as dt
import math
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, insert, select, text

from schemas.toilets import NearbySchema, dump_nearby
from server.extensions import db
from server.models.toilets import FACILITIES, MAX_RADIUS_M, Toilet, lat_cell
from server.services.toilets import search
from server.util import geo
from server.util import opening_hours as hours
from server.util.clock import CST

NOW = dt.datetime(2026, 11, 26, 20, 30, tzinfo=CST)
RULES = ("24/7", "Mo-Fr 08:00-18:00", "Mo-Su 06:00-20:00", None, "off")


def destination(lat: float, lng: float, distance_m: float, bearing_deg: float):
    """The point ``distance_m`` away along a great circle (for points on the search circle)."""
    d = distance_m / geo.EARTH_RADIUS_M
    b = math.radians(bearing_deg)
    p1, l1 = math.radians(lat), math.radians(lng)
    p2 = math.asin(math.sin(p1) * math.cos(d) + math.cos(p1) * math.sin(d) * math.cos(b))
    l2 = l1 + math.atan2(
        math.sin(b) * math.sin(d) * math.cos(p1), math.cos(d) - math.sin(p1) * math.sin(p2)
    )
    return math.degrees(p2), math.degrees(l2)


def brute_force(lat, lng, radius_m, limit, open_now, facilities):
    """Every toilet read and measured: the answer the index search must give."""
    matches = []
    for t in db.session.scalars(select(Toilet)):
        if t.status == "removed":
            continue
        if open_now and hours.state(t.opening_hours, t.status, NOW).is_open is not True:
            continue
        if any(
            all(getattr(t, column) != "yes" for column in search.SEARCH_FILTERS[name])
            for name in facilities
        ):
            continue
        matches.append((geo.haversine_m(lat, lng, t.lat, t.lng), t.id))
    matches.sort()
    inside = [m for m in matches if m[0] <= radius_m][:limit]
    want = min(limit - len(inside), search.BEYOND_MAX_ITEMS)
    beyond = [m for m in matches if radius_m < m[0] <= search.BEYOND_MAX_M][:want]
    return inside, beyond


@st.composite
def scenarios(draw):
    # A centre close to a band border (every 0.01° of latitude), so boxes straddle bands.
    band = draw(st.integers(min_value=3440, max_value=3470))
    lat = band / 100 + draw(st.floats(min_value=-0.004, max_value=0.004))
    lng = draw(st.floats(min_value=113.30, max_value=113.50))
    radius = draw(st.integers(min_value=50, max_value=MAX_RADIUS_M))
    limit = draw(st.integers(min_value=1, max_value=12))
    rng = random.Random(draw(st.integers(min_value=0, max_value=2**32)))
    points = []
    for _ in range(draw(st.integers(min_value=0, max_value=40))):
        shape = rng.choice(("scatter", "scatter", "circle", "box_edge", "band_edge", "far"))
        if shape == "scatter":
            p = (lat + rng.uniform(-0.05, 0.05), lng + rng.uniform(-0.05, 0.05))
        elif shape == "circle":  # exactly on the search circle (or a ring of it)
            ring = rng.choice((radius, search.FIRST_RING_M, min(radius, 1000), radius * 2))
            p = destination(lat, lng, ring, rng.uniform(0, 360))
        elif shape == "box_edge":  # on the edge or corner of the search box
            south, west, north, east = search.circle_box(lat, lng, radius)
            p = (rng.choice((south, north, lat)), rng.choice((west, east, lng)))
        elif shape == "band_edge":  # exactly on a band border
            p = (round(lat + rng.uniform(-0.03, 0.03), 2), lng + rng.uniform(-0.02, 0.02))
        else:
            p = destination(lat, lng, rng.uniform(5_000, 60_000), rng.uniform(0, 360))
        points.append(
            {
                "lat": p[0],
                "lng": p[1],
                "status": rng.choice(("open", "open", "open", "temporarily_closed", "removed")),
                "opening_hours": rng.choice(RULES),
                **{f: rng.choice(("yes", "no", "unknown")) for f in FACILITIES},
            }
        )
    if points and draw(st.booleans()):
        points.append(dict(points[0]))  # same place twice: ties ordered by id
    open_now = draw(st.booleans())
    facilities = tuple(name for name in search.SEARCH_FILTERS if draw(st.integers(0, 3)) == 0)
    return (lat, lng, radius, limit, open_now, facilities), points


def _insert(points):
    db.session.execute(delete(Toilet))
    for n, p in enumerate(points):
        p = {**p, "name": f"t{n}", "category": "class_2", "photo_ids": []}
        db.session.execute(insert(Toilet).values(lat_cell=lat_cell(p["lat"]), **p))
    db.session.commit()


@settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(scenario=scenarios())
def test_nearby_equals_brute_force(app, scenario):
    (lat, lng, radius, limit, open_now, facilities), points = scenario
    _insert(points)
    result = search.nearby(
        lat,
        lng,
        radius_m=radius,
        limit=limit,
        open_now=open_now,
        facilities=facilities,
        now=NOW,
    )
    inside, beyond = brute_force(lat, lng, radius, limit, open_now, facilities)
    assert [(h.distance_m, h.toilet.id) for h in result.items] == inside
    assert [(h.distance_m, h.toilet.id) for h in result.beyond] == beyond
    assert dump_nearby(result) == NearbySchema().dump(result)


@pytest.mark.parametrize("limit", [1, 4, 10])
def test_hand_written_nearby_dump_equals_the_schema(app, limit):
    """The hot path's hand-written serialiser gives exactly ``NearbySchema``'s dump: every
    field, None values, dates, the closed/unknown states, beyond items and the message."""
    centre = (34.5318, 113.3850)
    rows = [
        {"opening_hours": "Mo-Fr 08:00-18:00", "rating_avg": 4.25, "rating_count": 3},
        {"opening_hours": None, "district": "新密市", "street": "青屏大街"},
        {
            "status": "temporarily_closed",
            "status_reason": "维修",
            "reopen_on": dt.date(2026, 12, 1),
        },
        {"opening_hours": "22:00-06:00", "kind": "business", "access": "customers"},
        {"opening_hours": "24/7", "category": "mobile", "third_restroom": "yes", "free": "no"},
        {"opening_hours": "off", "address": "【演示】文化路 1 号"},
        {"lat_offset": 0.03},  # beyond a 1 km radius
    ]
    for n, extra in enumerate(rows):
        offset = extra.pop("lat_offset", 0.0005 * n)
        lat, lng = centre[0] + offset, centre[1] + 0.0003 * n
        values = {"name": f"厕所{n}", "category": "class_2", "photo_ids": [], **extra}
        db.session.execute(
            insert(Toilet).values(lat=lat, lng=lng, lat_cell=lat_cell(lat), **values)
        )
    db.session.commit()
    result = search.nearby(*centre, radius_m=1000, limit=limit, now=NOW)
    assert result.items
    if limit == 10:
        assert result.beyond and result.fewer_than_limit
    expected = NearbySchema().dump(result)
    assert dump_nearby(result) == expected
    assert {item["is_open_now"] for item in expected["items"]} >= (
        {True, False} if limit == 10 else set()
    )


@settings(max_examples=300, deadline=None)
@given(
    lat=st.floats(min_value=18, max_value=53.5),
    lng=st.floats(min_value=73.5, max_value=135),
    radius=st.floats(min_value=1, max_value=search.BEYOND_MAX_M),
    bearing=st.floats(min_value=0, max_value=360),
)
def test_search_box_holds_the_whole_circle(lat, lng, radius, bearing):
    south, west, north, east = search.circle_box(lat, lng, radius)
    p_lat, p_lng = destination(lat, lng, radius, bearing)
    if geo.haversine_m(lat, lng, p_lat, p_lng) <= radius:
        assert south <= p_lat <= north and west <= p_lng <= east
    assert lat_cell(south) <= lat_cell(p_lat) <= lat_cell(north)


def _plan(query) -> str:
    dialect = db.engine.dialect
    sql = str(query.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))
    prefix = "EXPLAIN QUERY PLAN " if dialect.name == "sqlite" else "EXPLAIN "
    rows = db.session.execute(text(prefix + sql)).all()
    return "\n".join(" ".join(str(c) for c in row) for row in rows)


def test_search_query_reads_the_index_not_the_table(app):
    rng = random.Random(7)
    rows = []
    for n in range(5000):  # a province-sized spread, so the planner has a real choice
        lat, lng = rng.uniform(31.4, 36.4), rng.uniform(110.3, 116.6)
        rows.append(
            {"name": f"t{n}", "lat": lat, "lng": lng, "lat_cell": lat_cell(lat),
             "category": "class_2", "photo_ids": []}
        )  # fmt: skip
    db.session.execute(insert(Toilet), rows)
    db.session.commit()
    db.session.execute(text("ANALYZE"))
    for radius in (500, 5000):
        query = search.candidates_query(34.53, 113.38, radius, facilities=("third_restroom",))
        plan = _plan(query)
        assert "ix_toilets_cell_lng_lat_status" in plan, plan
        assert "Seq Scan" not in plan, plan
        if db.engine.dialect.name == "sqlite":
            assert "SEARCH toilets USING INDEX ix_toilets_cell_lng_lat_status" in plan, plan
            assert "SCAN toilets" not in plan, plan
    # Without facility filters the index alone answers the first phase (no table rows read).
    plan = _plan(search.candidates_query(34.53, 113.38, 1000))
    assert "ix_toilets_cell_lng_lat_status" in plan, plan
    if db.engine.dialect.name == "sqlite":
        assert "USING COVERING INDEX ix_toilets_cell_lng_lat_status" in plan, plan
    db.session.commit()


# -- WGS-84 → GCJ-02 ------------------------------------------------------------------------
# Published reference pairs (eviltransform test vectors: Shanghai, Shenzhen, Beijing).
REFERENCE = (
    ((31.1774276, 121.5272106), (31.17530398364597, 121.531541859215)),
    ((22.543847, 113.912316), (22.540796131694766, 113.9171764808363)),
    ((39.911954, 116.377817), (39.91334545536069, 116.38404722455657)),
)


def test_wgs84_to_gcj02_reference_pairs_within_a_metre():
    for wgs, gcj in REFERENCE:
        assert geo.haversine_m(*geo.wgs84_to_gcj02(*wgs), *gcj) < 1


def test_points_outside_china_pass_through():
    for point in ((48.8566, 2.3522), (39.7392, -104.9903), (-27.4698, 153.0251), (1.29, 103.85)):
        assert geo.wgs84_to_gcj02(*point) == point
