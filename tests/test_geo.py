"""Geo math: distances against geopy's geodesic, and the radius filter's edges."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
from geopy.distance import geodesic

from services.geo import (
    MILES_PER_DEG_LAT,
    bounding_box,
    clamp_radius,
    haversine_mi,
    haversine_mi_array,
    radius_error,
    within_radius,
)


def test_haversine_agrees_with_geodesic_within_half_a_percent():
    rng = random.Random(7)
    for _ in range(300):
        lat, lon = rng.uniform(25, 49), rng.uniform(-124, -67)
        lat2, lon2 = lat + rng.uniform(-0.5, 0.5), lon + rng.uniform(-0.5, 0.5)
        expected = geodesic((lat, lon), (lat2, lon2)).miles
        got = haversine_mi(lat, lon, lat2, lon2)
        assert got == pytest.approx(expected, rel=0.005)
        vec = haversine_mi_array(lat, lon, np.array([lat2]), np.array([lon2]))[0]
        assert vec == pytest.approx(got, rel=1e-12)


def test_point_on_the_radius_is_inside_and_just_beyond_is_outside():
    lat, lon = 39.7331, -104.9524
    radius = 5.0
    north_edge = lat + radius / MILES_PER_DEG_LAT  # exactly 5 miles north on the sphere
    beyond = lat + 5.01 / MILES_PER_DEG_LAT
    lats = np.array([lat, north_edge, beyond, np.nan])
    lons = np.array([lon, lon, lon, lon])
    idx, dist = within_radius(lat, lon, lats, lons, radius)
    assert idx.tolist() == [0, 1]
    assert dist[1] == pytest.approx(5.0, abs=1e-9)


def test_bounding_box_never_cuts_off_points_inside_the_circle():
    rng = np.random.default_rng(3)
    for lat0 in (0.0, 39.7, 64.8, -45.0):
        radius = 25.0
        bearings = rng.uniform(0, 2 * math.pi, 2000)
        reach = radius * 0.999
        lats = lat0 + reach / MILES_PER_DEG_LAT * np.cos(bearings)
        lons = -100 + reach / (MILES_PER_DEG_LAT * np.cos(np.radians(lats))) * np.sin(bearings)
        d = haversine_mi_array(lat0, -100.0, lats, lons)
        inside = np.flatnonzero(d <= radius)
        idx, _ = within_radius(lat0, -100.0, lats, lons, radius)
        assert set(inside.tolist()) == set(idx.tolist())
        min_lat, max_lat, min_lon, max_lon = bounding_box(lat0, -100.0, radius)
        assert min_lat < lat0 < max_lat and min_lon < -100 < max_lon


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("7", 7.0), ("7.3", 7.5), ("0", 1.0), ("-3", 1.0), ("1e9", 25.0), ("abc", 5.0),
     (None, 5.0), ("nan", 5.0), ("inf", 5.0), ([], 5.0), (12, 12.0)],
)  # fmt: skip
def test_clamp_radius_turns_anything_into_a_usable_radius(raw, expected):
    assert clamp_radius(raw, 5.0) == expected


def test_radius_error_names_the_problem():
    assert radius_error("5") is None
    assert "not a number" in radius_error("five")
    assert "between 1 and 25" in radius_error("40")
