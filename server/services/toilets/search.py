"""Nearest toilets and map-layer lists, always through the ``(lat_cell, lng, lat)`` index.

The nearest search reads ever larger boxes around the point (first ring 500 m, doubling up
to the radius): each box becomes ``lat_cell IN (bands) AND lng BETWEEN .. AND lat BETWEEN ..``
(one short index range per 0.01° band, never a full scan), candidates are ranked by exact
haversine distance in Python, ties by id. A box always contains the whole circle of its
ring, so once ``limit`` matches lie inside the ring, they are exactly the nearest ones, as a
brute-force scan would find them (tests/test_toilets_search.py checks this property).
"""

import datetime as dt
import math
from dataclasses import dataclass, field

from sqlalchemy import and_, func, select

from server import geo
from server.extensions import db
from server.models.toilets import Toilet, lat_cell
from server.services.toilets import hours
from server.timeutil import utcnow

MAX_RADIUS_M = 5000
MAX_LIMIT = 50
FIRST_RING_M = 500
BEYOND_MAX_M = 50_000  # how far "the nearest beyond the radius" is looked for
BEYOND_MAX_ITEMS = 5
MAX_BBOX_DEGREES = 2.0
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
    """The indexed WHERE clause for toilets inside a box."""
    cells = list(range(lat_cell(south), lat_cell(north) + 1))
    return and_(
        Toilet.lat_cell.in_(cells),
        Toilet.lng.between(west, east),
        Toilet.lat.between(south, north),
    )


def _filter_clauses(open_now: bool, facilities: tuple[str, ...]):
    clauses = [Toilet.status != "removed"]
    if open_now:
        clauses.append(Toilet.status == "open")
    for name in facilities:
        columns = [getattr(Toilet, column) == "yes" for column in SEARCH_FILTERS[name]]
        clauses.append(columns[0] if len(columns) == 1 else db.or_(*columns))
    return clauses


def candidates_query(lat: float, lng: float, radius_m: float, clauses=()):
    """The one query of a search ring: the box around the circle, through the index."""
    return select(Toilet.id, Toilet.lat, Toilet.lng, Toilet.status, Toilet.opening_hours).where(
        box_clause(*circle_box(lat, lng, radius_m)), *clauses
    )


def _ranked(lat, lng, radius_m, clauses, open_now, now) -> list[tuple[float, int]]:
    """(distance, id) of every match within ``radius_m``, nearest first."""
    ranked = []
    query = candidates_query(lat, lng, radius_m, clauses)
    for toilet_id, t_lat, t_lng, status, rule in db.session.execute(query):
        distance = geo.haversine_m(lat, lng, t_lat, t_lng)
        if distance > radius_m:
            continue
        if open_now and hours.state(rule, status, now).is_open is not True:
            continue
        ranked.append((distance, toilet_id))
    ranked.sort()
    return ranked


def _hits(ranked: list[tuple[float, int]], now: dt.datetime) -> list[Shown]:
    if not ranked:
        return []
    toilets = {
        t.id: t
        for t in db.session.scalars(select(Toilet).where(Toilet.id.in_([i for _, i in ranked])))
    }
    return [
        Shown(toilets[i], hours.state(toilets[i].opening_hours, toilets[i].status, now), d)
        for d, i in ranked
    ]


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
    (up to 50 km away).
    """
    now = now or utcnow()
    radius_m = min(radius_m, MAX_RADIUS_M)
    limit = min(limit, MAX_LIMIT)
    clauses = _filter_clauses(open_now, facilities)
    ring = min(FIRST_RING_M, radius_m)
    while True:
        ranked = _ranked(lat, lng, ring, clauses, open_now, now)
        if len(ranked) >= limit or ring >= radius_m:
            break
        ring = min(ring * 2, radius_m)
    inside = ranked[:limit]
    outside: list[tuple[float, int]] = []
    want = min(limit - len(inside), BEYOND_MAX_ITEMS)
    while want and ring < BEYOND_MAX_M:
        ring = min(ring * 2, BEYOND_MAX_M)
        ranked = _ranked(lat, lng, ring, clauses, open_now, now)
        outside = [pair for pair in ranked if pair[0] > radius_m]
        if len(outside) >= want:
            break
    hits = _hits(inside + outside[:want], now)
    return Nearby(hits[: len(inside)], hits[len(inside) :], radius_m, limit)


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
