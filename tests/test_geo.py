"""WGS-84 → GCJ-02 against published reference pairs, and coordinate validation."""

import pytest

from server.util import geo

# (wgs lat, wgs lng, gcj lat, gcj lng): the reference pairs of the eviltransform project's tests.
REFERENCE_PAIRS = [
    (31.1774276, 121.5272106, 31.17530398364597, 121.531541859215),  # Shanghai
    (22.543847, 113.912316, 22.540796131694766, 113.9171764808363),  # Shenzhen
    (39.911954, 116.377817, 39.91334545536069, 116.38404722455657),  # Beijing
]


@pytest.mark.parametrize("wgs_lat, wgs_lng, gcj_lat, gcj_lng", REFERENCE_PAIRS)
def test_wgs84_to_gcj02_within_a_metre(wgs_lat, wgs_lng, gcj_lat, gcj_lng):
    lat, lng = geo.wgs84_to_gcj02(wgs_lat, wgs_lng)
    assert geo.haversine_m(lat, lng, gcj_lat, gcj_lng) < 1.0
    # and the shift itself is the expected several hundred metres
    assert 100 < geo.haversine_m(wgs_lat, wgs_lng, gcj_lat, gcj_lng) < 1000


@pytest.mark.parametrize("lat, lng", [(48.8584, 2.2945), (40.6892, -74.0445), (-33.8568, 151.2153)])
def test_points_outside_china_pass_through(lat, lng):
    assert geo.wgs84_to_gcj02(lat, lng) == (lat, lng)
    assert geo.to_gcj02(lat, lng, "wgs84") == (lat, lng)


def test_gcj02_input_is_kept():
    assert geo.to_gcj02(34.53, 113.38, "gcj02") == (34.53, 113.38)
    with pytest.raises(ValueError):
        geo.to_gcj02(34.53, 113.38, "bd09")


def test_haversine_and_bbox():
    # one degree of latitude is about 111.2 km
    assert geo.haversine_m(34.0, 113.0, 35.0, 113.0) == pytest.approx(111_195, rel=1e-3)
    south, west, north, east = geo.bbox_around(34.53, 113.38, 1000)
    for lat, lng in [(south, 113.38), (north, 113.38), (34.53, west), (34.53, east)]:
        assert geo.haversine_m(34.53, 113.38, lat, lng) == pytest.approx(1000, rel=1e-3)


def test_walk_minutes():
    assert geo.walk_minutes(0) == 1
    assert geo.walk_minutes(80) == 1
    assert geo.walk_minutes(81) == 2
    assert geo.walk_minutes(800) == 10


def test_coordinates_schema_validates_and_converts():
    from marshmallow import ValidationError

    from schemas.common import CoordinatesSchema

    schema = CoordinatesSchema()
    wgs_lat, wgs_lng, gcj_lat, gcj_lng = REFERENCE_PAIRS[2]
    loaded = schema.load({"lat": wgs_lat, "lng": wgs_lng, "coord_type": "wgs84"})
    assert loaded["coord_type"] == "gcj02"
    assert geo.haversine_m(loaded["lat"], loaded["lng"], gcj_lat, gcj_lng) < 1.0
    assert schema.load({"lat": 34.53, "lng": 113.38}) == {
        "lat": 34.53,
        "lng": 113.38,
        "coord_type": "gcj02",
    }
    for bad in (
        {"lat": 0, "lng": 0},
        {"lat": 91, "lng": 113},
        {"lat": 34, "lng": 181},
        {"lat": 48.85, "lng": 2.29},  # Paris: outside the service area
        {"lat": "abc", "lng": 113},
        {"lat": 34.5, "lng": 113.3, "coord_type": "bd09"},
        {"lat": 34.5},
    ):
        with pytest.raises(ValidationError):
            schema.load(bad)
