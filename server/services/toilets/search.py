"""Nearest toilets and map-layer lists, always through the ``(lat_cell, lng, lat, ...)`` index.

The nearest search reads ever larger boxes around the point (first ring 1 km, the default
radius, doubling up to the radius): each box becomes
``lat_cell IN (bands) AND lng BETWEEN .. AND lat BETWEEN ..`` (one short index range per
0.01° band, never a full scan), candidates are ranked by exact haversine distance in
Python, ties by id. A box always contains the whole circle of its
ring, so once ``limit`` matches lie inside the ring, they are exactly the nearest ones, as a
brute-force scan would find them (tests/test_toilets_search.py checks this property).

It is the hot path of the mini-program (bench/toilets, bench/perf): statements are built once
per filter combination and executed on the session's connection (Core, no ORM objects) in two
phases: ``(id, lat, lng)`` of the candidates, from the index ``(lat_cell, lng, lat, status)``
alone when no facility filter is set, then the displayed columns of the few shown, by id.
Reading every column of every candidate in the box (about 130 rows for a 1 km search in a
dense city) cost ten times more than the index scan (bench/RESULTS.md).
"""

import datetime as dt
import math
from collections import namedtuple
from dataclasses import dataclass, field
from functools import lru_cache

from sqlalchemy import and_, bindparam, func, or_, select

from server.extensions import db
from server.models.toilets import (
    CATEGORY_LABELS,
    FACILITIES,
    KIND_LABELS,
    MAX_LIMIT,
    MAX_RADIUS_M,
    Toilet,
    lat_cell,
)
from server.services import data_versions as versions
from server.util import geo
from server.util import opening_hours as hours
from server.util.clock import utcnow

FIRST_RING_M = 1000  # the default radius: one query
BEYOND_MAX_M = 50_000  # how far "the nearest beyond the radius" is looked for
BEYOND_MAX_ITEMS = 5
# The data version of everything a toilet list shows: any write to a toilet moves it.
LIST_VERSION = "toilets"
versions.track(Toilet, LIST_VERSION)
# Boxes are widened by this much (about 1 cm) so float rounding never drops an edge point.
_MARGIN_DEG = 1e-7

SEARCH_FILTERS = {
    "accessible": ("accessible_stall",),
    "third_restroom": ("third_restroom",),
    "baby_care": ("mother_baby_room", "changing_table"),  # either one will do
    "free": ("free",),
}


@dataclass(frozen=True)
class Shown:
    """A toilet as shown to a resident: with its open state now and, in searches, distance."""

    toilet: Toilet
    state: hours.OpenState
    distance_m: float | None = None
    extra: dict = field(default_factory=dict)  # detail-only values (week, rating...)

    def __getattr__(self, name):
        if name in ("toilet", "extra"):  # not set yet (copy, pickle): never recurse
            raise AttributeError(name)
        if name in self.extra:
            return self.extra[name]
        return getattr(self.toilet, name)

    @property
    def is_open_now(self) -> bool | None:
        return self.state.is_open

    @property
    def next_change(self) -> dt.datetime | None:
        return self.state.next_change

    @property
    def walk_minutes(self) -> int | None:
        return None if self.distance_m is None else geo.walk_minutes(self.distance_m)


def shown(toilet: Toilet, now: dt.datetime | None = None) -> Shown:
    return Shown(toilet, hours.state(toilet.opening_hours, toilet.status, now or utcnow()))


@dataclass(frozen=True)
class Nearby:
    items: list[Shown]
    beyond: list[Shown]  # the nearest outside the radius, when fewer than limit are inside
    radius_m: int
    limit: int

    @property
    def fewer_than_limit(self) -> bool:
        return len(self.items) < self.limit

    @property
    def count(self) -> int:
        return len(self.items)


def circle_box(lat: float, lng: float, radius_m: float) -> tuple[float, float, float, float]:
    """(south, west, north, east) of the smallest box holding the spherical cap of ``radius_m``.

    The longitude half-width of a cap of angular radius d at latitude p is asin(sin d / cos p),
    a little wider than d / cos p (what a flat approximation gives).
    """
    d = radius_m / geo.EARTH_RADIUS_M
    d_lat = math.degrees(d)
    ratio = math.sin(d) / max(math.cos(math.radians(lat)), 1e-12)
    d_lng = 180.0 if ratio >= 1 else math.degrees(math.asin(ratio))
    m = _MARGIN_DEG
    return lat - d_lat - m, lng - d_lng - m, lat + d_lat + m, lng + d_lng + m


def box_clause(south: float, west: float, north: float, east: float):
    """The indexed WHERE clause for toilets inside a box (map lists, duplicate checks)."""
    cells = list(range(lat_cell(south), lat_cell(north) + 1))
    return and_(
        Toilet.lat_cell.in_(cells),
        Toilet.lng.between(west, east),
        Toilet.lat.between(south, north),
    )


# -- the nearest search: one cached Core statement, plain rows, no ORM objects ------------------
_COLUMNS = Toilet.__table__.c
# What a search result shows (ToiletSchema's fields), read in the search query itself.
ROW_FIELDS = (
    "id", "lat", "lng", "status", "opening_hours", "name", "address", "district", "street",
    "category", "kind", "access", "status_reason", "reopen_on", *FACILITIES,
    "rating_avg", "rating_count",
)  # fmt: skip


class ToiletRow(namedtuple("ToiletRow", ROW_FIELDS)):
    """A toilet's displayed columns, as the nearest search reads them (a tuple, not an ORM
    object: no identity map, no attribute instrumentation on the hot path)."""

    __slots__ = ()

    @property
    def facilities(self) -> dict[str, str]:
        return {name: getattr(self, name) for name in FACILITIES}

    @property
    def category_label(self) -> str:
        return CATEGORY_LABELS[self.category]

    @property
    def kind_label(self) -> str:
        return KIND_LABELS[self.kind]


def _filter_clauses(open_now: bool, facilities: tuple[str, ...]) -> list:
    clauses = [_COLUMNS.status != "removed"]
    if open_now:
        clauses.append(_COLUMNS.status == "open")
    for name in facilities:
        columns = [_COLUMNS[column] == "yes" for column in SEARCH_FILTERS[name]]
        clauses.append(columns[0] if len(columns) == 1 else or_(*columns))
    return clauses


@lru_cache(maxsize=64)
def _statement(open_now: bool, facilities: tuple[str, ...]):
    """Phase one of a search, for one combination of filters, built once per process:
    ``(id, lat, lng)`` of every match in the box (plus status and hours with ``open_now``).

    The box is bound at execution: ``lat_cell IN (bands)`` (an expanding parameter) and the
    ``lng``/``lat`` ranges, so SQLAlchemy's compiled cache serves every later request.
    Without facility filters or ``open_now`` the index ``(lat_cell, lng, lat, status)``
    answers it alone (covering: no table row is read).
    """
    columns = [_COLUMNS.id, _COLUMNS.lat, _COLUMNS.lng]
    if open_now:
        columns += [_COLUMNS.status, _COLUMNS.opening_hours]
    return select(*columns).where(
        _COLUMNS.lat_cell.in_(bindparam("cells", expanding=True)),
        _COLUMNS.lng.between(bindparam("west"), bindparam("east")),
        _COLUMNS.lat.between(bindparam("south"), bindparam("north")),
        *_filter_clauses(open_now, facilities),
    )


# Phase two: the displayed columns of the few toilets a search shows.
_ROWS = select(*(_COLUMNS[name] for name in ROW_FIELDS)).where(
    _COLUMNS.id.in_(bindparam("ids", expanding=True))
)


def _box_params(lat: float, lng: float, radius_m: float) -> dict:
    south, west, north, east = circle_box(lat, lng, radius_m)
    cells = list(range(lat_cell(south), lat_cell(north) + 1))
    return {"cells": cells, "west": west, "east": east, "south": south, "north": north}


def candidates_query(
    lat: float, lng: float, radius_m: float, open_now: bool = False, facilities=()
):
    """The one query of a search ring with its values bound (for EXPLAIN)."""
    statement = _statement(open_now, tuple(facilities))
    return statement.params(**_box_params(lat, lng, radius_m))


def _ranked(lat, lng, radius_m, open_now, facilities, now) -> list[tuple[float, int]]:
    """(distance, id) of every match within ``radius_m``, nearest first, ties by id."""
    rows = (
        db.session.connection()
        .execute(_statement(open_now, facilities), _box_params(lat, lng, radius_m))
        .all()
    )
    distance_to = geo.haversine_from(lat, lng)
    ranked = []
    for row in rows:
        distance = distance_to(row[1], row[2])
        if distance > radius_m:
            continue
        if open_now and hours.state(row[4], row[3], now).is_open is not True:
            continue
        ranked.append((distance, row[0]))
    ranked.sort()
    return ranked


def _shown(ranked: list[tuple[float, int]], now: dt.datetime) -> list[Shown]:
    """The toilets of ``ranked``, in its order, read in one query."""
    if not ranked:
        return []
    result = db.session.connection().execute(_ROWS, {"ids": [id_ for _, id_ in ranked]})
    rows = {row[0]: row for row in result}
    shown_rows = []
    for distance, id_ in ranked:
        row = rows[id_]
        shown_rows.append(Shown(ToiletRow(*row), hours.state(row[4], row[3], now), distance))
    return shown_rows


def nearby(
    lat: float,
    lng: float,
    *,
    radius_m: int = 1000,
    limit: int = 10,
    open_now: bool = False,
    facilities: tuple[str, ...] = (),
    now: dt.datetime | None = None,
) -> Nearby:
    """The ``limit`` nearest toilets within ``radius_m`` of a GCJ-02 point, nearest first.

    Removed toilets never show; temporarily closed ones show as closed unless ``open_now``.
    When fewer than ``limit`` lie inside the radius, ``beyond`` offers the nearest outside it
    (up to 50 km away). A radius up to ``FIRST_RING_M`` (the default 1 km) is one query.
    """
    now = now or utcnow()
    radius_m = min(radius_m, MAX_RADIUS_M)
    limit = min(limit, MAX_LIMIT)
    facilities = tuple(facilities)
    ring = min(FIRST_RING_M, radius_m)
    while True:
        ranked = _ranked(lat, lng, ring, open_now, facilities, now)
        if len(ranked) >= limit or ring >= radius_m:
            break
        ring = min(ring * 2, radius_m)
    inside = ranked[:limit]
    outside: list[tuple[float, int]] = []
    want = min(limit - len(inside), BEYOND_MAX_ITEMS)
    while want and ring < BEYOND_MAX_M:
        ring = min(ring * 2, BEYOND_MAX_M)
        ranked = _ranked(lat, lng, ring, open_now, facilities, now)
        outside = [hit for hit in ranked if hit[0] > radius_m]
        if len(outside) >= want:
            break
    return Nearby(_shown(inside, now), _shown(outside[:want], now), radius_m, limit)


def in_bbox(
    bbox: tuple[float, float, float, float] | None,
    *,
    district: str | None = None,
    page: int = 1,
    page_size: int = 20,
    now: dt.datetime | None = None,
) -> tuple[list[Shown], int]:
    """Toilets (not removed) in a ``(west, south, east, north)`` box, or all of them, by id."""
    clauses = [Toilet.status != "removed"]
    if bbox is not None:
        west, south, east, north = bbox
        clauses.append(box_clause(south, west, north, east))
    if district:
        clauses.append(Toilet.district == district)
    total = db.session.scalar(select(func.count()).select_from(Toilet).where(*clauses))
    items = db.session.scalars(
        select(Toilet)
        .where(*clauses)
        .order_by(Toilet.id)
        .limit(page_size)
        .offset((page - 1) * page_size)
    ).all()
    now = now or utcnow()
    return [shown(t, now) for t in items], total


def nearest_within(lat: float, lng: float, radius_m: float) -> list[tuple[float, Toilet]]:
    """Toilets (not removed) within ``radius_m``, nearest first: for duplicate checks."""
    query = select(Toilet).where(
        box_clause(*circle_box(lat, lng, radius_m)), Toilet.status != "removed"
    )
    found = [(geo.haversine_m(lat, lng, t.lat, t.lng), t) for t in db.session.scalars(query)]
    return sorted((pair for pair in found if pair[0] <= radius_m), key=lambda p: (p[0], p[1].id))
