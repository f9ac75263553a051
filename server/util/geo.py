"""Coordinates: WGS-84 ⇄ GCJ-02, distances, and the China bounding box.

GCJ-02 is canonical in Xiuhua: it is what WeChat maps and ``wx.openLocation`` use.
The transform is the well-known public-domain approximation of the GCJ-02
obfuscation (accurate to about a metre against published reference pairs).
"""

import math

EARTH_RADIUS_M = 6_371_008.8  # mean radius, for haversine distances
_A = 6378245.0  # Krasovsky 1940 semi-major axis used by GCJ-02
_EE = 0.00669342162296594323  # its first eccentricity squared

# Mainland China with some margin; outside it GCJ-02 == WGS-84.
CHINA_BBOX = (3.86, 73.5, 53.56, 135.1)  # south, west, north, east


def in_china_bbox(lat: float, lng: float) -> bool:
    south, west, north, east = CHINA_BBOX
    return south <= lat <= north and west <= lng <= east


def _transform_lat(x: float, y: float) -> float:
    ret = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * math.sqrt(abs(x))
    ret += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    ret += (20.0 * math.sin(y * math.pi) + 40.0 * math.sin(y / 3.0 * math.pi)) * 2.0 / 3.0
    ret += (160.0 * math.sin(y / 12.0 * math.pi) + 320 * math.sin(y * math.pi / 30.0)) * 2.0 / 3.0
    return ret


def _transform_lng(x: float, y: float) -> float:
    ret = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * math.sqrt(abs(x))
    ret += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    ret += (20.0 * math.sin(x * math.pi) + 40.0 * math.sin(x / 3.0 * math.pi)) * 2.0 / 3.0
    ret += (150.0 * math.sin(x / 12.0 * math.pi) + 300.0 * math.sin(x / 30.0 * math.pi)) * 2.0 / 3.0
    return ret


def wgs84_to_gcj02(lat: float, lng: float) -> tuple[float, float]:
    """Convert a WGS-84 point to GCJ-02; points outside China pass through unchanged."""
    if not in_china_bbox(lat, lng):
        return lat, lng
    d_lat = _transform_lat(lng - 105.0, lat - 35.0)
    d_lng = _transform_lng(lng - 105.0, lat - 35.0)
    rad_lat = lat / 180.0 * math.pi
    magic = 1 - _EE * math.sin(rad_lat) ** 2
    sqrt_magic = math.sqrt(magic)
    d_lat = (d_lat * 180.0) / ((_A * (1 - _EE)) / (magic * sqrt_magic) * math.pi)
    d_lng = (d_lng * 180.0) / (_A / sqrt_magic * math.cos(rad_lat) * math.pi)
    return lat + d_lat, lng + d_lng


def gcj02_to_wgs84(lat: float, lng: float) -> tuple[float, float]:
    """Invert ``wgs84_to_gcj02`` by fixed-point iteration (to ~1e-9 degrees, a millimetre).

    The offset varies slowly with position, so each step ``w -= f(w) - g`` removes almost all
    of the remaining error; a handful of steps reach float precision.
    """
    if not in_china_bbox(lat, lng):
        return lat, lng
    w_lat, w_lng = lat, lng
    for _ in range(30):
        g_lat, g_lng = wgs84_to_gcj02(w_lat, w_lng)
        d_lat, d_lng = g_lat - lat, g_lng - lng
        w_lat, w_lng = w_lat - d_lat, w_lng - d_lng
        if abs(d_lat) < 1e-10 and abs(d_lng) < 1e-10:
            break
    return w_lat, w_lng


def to_gcj02(lat: float, lng: float, coord_type: str) -> tuple[float, float]:
    if coord_type == "wgs84":
        return wgs84_to_gcj02(lat, lng)
    if coord_type == "gcj02":
        return lat, lng
    raise ValueError(f"unknown coord_type {coord_type!r}")


def haversine_m(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    """Great-circle distance in metres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lng2 - lng1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


def haversine_from(lat1: float, lng1: float):
    """``haversine_m`` with the first point fixed, for ranking many points around it: the
    same operations in the same order (the same floats), with the centre's terms computed once.
    """
    radians, sin, cos, asin, sqrt = math.radians, math.sin, math.cos, math.asin, math.sqrt
    p1 = radians(lat1)
    cos_p1 = cos(p1)
    diameter = 2 * EARTH_RADIUS_M

    def distance(lat2: float, lng2: float) -> float:
        p2 = radians(lat2)
        h = sin((p2 - p1) / 2) ** 2 + cos_p1 * cos(p2) * sin(radians(lng2 - lng1) / 2) ** 2
        return diameter * asin(min(1.0, sqrt(h)))

    return distance


def bbox_around(lat: float, lng: float, radius_m: float) -> tuple[float, float, float, float]:
    """(south, west, north, east) of a box that contains every point within ``radius_m``."""
    d_lat = math.degrees(radius_m / EARTH_RADIUS_M)
    cos_lat = max(math.cos(math.radians(lat)), 1e-6)
    d_lng = math.degrees(radius_m / (EARTH_RADIUS_M * cos_lat))
    return lat - d_lat, lng - d_lng, lat + d_lat, lng + d_lng


def walk_minutes(distance_m: float) -> int:
    """Walking time at 4.8 km/h (80 m a minute), at least one minute."""
    return max(1, math.ceil(distance_m / 80.0))
