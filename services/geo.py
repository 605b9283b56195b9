"""Geo math: great-circle distance and the radius filter.

Distances are haversine on a sphere of the mean Earth radius: within 0.5% of the geodesic
(WGS-84) at the distances a practice cares about, and about 100x cheaper than geopy's geodesic
in bulk. The radius filter first drops everything outside a lat/lon bounding box (two cheap
comparisons per row), then computes exact distances only for the survivors.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

EARTH_RADIUS_MI = 3958.7613
MILES_PER_DEG_LAT = math.pi * EARTH_RADIUS_MI / 180.0

FloatArray = npt.NDArray[np.float64]


def haversine_mi(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in miles between two points given in degrees."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_MI * math.asin(min(1.0, math.sqrt(a)))


def haversine_mi_array(lat: float, lon: float, lats: FloatArray, lons: FloatArray) -> FloatArray:
    """Distances in miles from one point to many (vectorized)."""
    p1 = math.radians(lat)
    p2 = np.radians(lats)
    dp = p2 - p1
    dl = np.radians(lons - lon)
    a = np.sin(dp / 2) ** 2 + math.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_MI * np.arcsin(np.minimum(1.0, np.sqrt(a)))


def bounding_box(lat: float, lon: float, radius_mi: float) -> tuple[float, float, float, float]:
    """(min_lat, max_lat, min_lon, max_lon) that contains every point within radius_mi.

    The longitude span is widened by the cosine of the box's pole-most latitude, so no point
    inside the circle is ever cut off by the prefilter.
    """
    dlat = radius_mi / MILES_PER_DEG_LAT
    min_lat, max_lat = lat - dlat, lat + dlat
    extreme = min(89.9, max(abs(min_lat), abs(max_lat)))
    dlon = radius_mi / (MILES_PER_DEG_LAT * math.cos(math.radians(extreme)))
    return min_lat, max_lat, lon - dlon, lon + dlon


def within_radius(
    lat: float, lon: float, lats: FloatArray, lons: FloatArray, radius_mi: float
) -> tuple[npt.NDArray[np.intp], FloatArray]:
    """Indices of the points within radius_mi of (lat, lon) and their distances in miles.

    Points with NaN coordinates are never inside. A point exactly on the radius is inside.
    """
    min_lat, max_lat, min_lon, max_lon = bounding_box(lat, lon, radius_mi)
    in_box = (lats >= min_lat) & (lats <= max_lat) & (lons >= min_lon) & (lons <= max_lon)
    idx = np.flatnonzero(in_box)
    dist = haversine_mi_array(lat, lon, lats[idx], lons[idx])
    keep = dist <= radius_mi * (1 + 1e-12)
    return idx[keep], dist[keep]


RADIUS_MIN_MI = 1.0
RADIUS_MAX_MI = 25.0


def clamp_radius(value: object, default: float = 5.0) -> float:
    """A usable search radius from anything (query string, stale state): numbers are clamped
    to 1–25 miles and rounded to the slider's half-mile step; anything else gives `default`."""
    try:
        number = float(str(value).strip())
    except (TypeError, ValueError):
        number = float("nan")
    if not math.isfinite(number):
        number = float(default)
    number = min(RADIUS_MAX_MI, max(RADIUS_MIN_MI, number))
    return round(number * 2) / 2


def radius_error(value: object) -> str | None:
    """Why `value` is not a radius in 1–25 miles, or None when it is one."""
    try:
        number = float(str(value).strip())
    except (TypeError, ValueError):
        return f"'{value}' is not a number of miles"
    if not math.isfinite(number) or not RADIUS_MIN_MI <= number <= RADIUS_MAX_MI:
        return f"the radius must be between {RADIUS_MIN_MI:g} and {RADIUS_MAX_MI:g} miles"
    return None
