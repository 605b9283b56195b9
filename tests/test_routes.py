"""Visit planner: nearest neighbour + 2-opt against brute force, and the Google Maps link."""

from __future__ import annotations

import itertools
import random
from urllib.parse import parse_qs, urlparse

import pytest

from services.routes import (
    MAX_WAYPOINTS,
    RouteError,
    Stop,
    _matrix,
    google_maps_url,
    plan_route,
    tour_length,
)

HOME = Stop("home", "Practice", 39.7392, -104.9903)


def _random_stops(rng: random.Random, n: int) -> list[Stop]:
    return [
        Stop(str(i), f"Stop {i}", HOME.lat + rng.uniform(-0.1, 0.1),
             HOME.lon + rng.uniform(-0.13, 0.13))
        for i in range(n)
    ]  # fmt: skip


def _brute_force(stops: list[Stop], round_trip: bool) -> float:
    d = _matrix([HOME, *stops])
    return min(
        tour_length(d, list(p), round_trip) for p in itertools.permutations(range(1, len(d)))
    )


@pytest.mark.parametrize("round_trip", [True, False])
def test_route_is_close_to_the_brute_force_optimum_on_small_sets(round_trip):
    rng = random.Random(4)
    worst = 1.0
    optimal = 0
    for trial in range(60):
        stops = _random_stops(rng, 3 + trial % 5)  # 3..7 stops
        route = plan_route(HOME, stops, round_trip=round_trip)
        best = _brute_force(stops, round_trip)
        assert sorted(s.key for s in route.stops) == sorted(s.key for s in stops)
        assert route.total_mi >= best - 1e-9
        worst = max(worst, route.total_mi / best)
        optimal += route.total_mi <= best + 1e-9
    assert worst < 1.10  # never more than 10% longer than the best order
    assert optimal >= 50  # and the best order itself in most cases


def test_two_opt_untangles_a_crossing_that_nearest_neighbour_makes():
    # Points on a line east of home, visited out and back: the best round trip goes out along
    # one side and back along the other; the total equals twice the farthest distance.
    stops = [Stop(str(i), f"S{i}", HOME.lat + (0.01 if i % 2 else -0.01), HOME.lon + 0.02 * i)
             for i in range(1, 7)]  # fmt: skip
    route = plan_route(HOME, stops)
    assert route.total_mi == pytest.approx(_brute_force(stops, True))
    assert len(route.legs_mi) == len(stops) + 1  # the leg back to the practice is counted
    open_route = plan_route(HOME, stops, round_trip=False)
    assert len(open_route.legs_mi) == len(stops)
    assert open_route.total_mi == pytest.approx(_brute_force(stops, False))


def test_single_stop_and_duplicates():
    one = plan_route(HOME, [Stop("a", "A", 39.75, -104.99)])
    assert one.total_mi == pytest.approx(2 * one.legs_mi[0])
    dup = plan_route(HOME, [Stop("a", "A", 39.75, -104.99), Stop("a", "A", 39.75, -104.99)])
    assert len(dup.stops) == 1


def test_a_stop_without_a_location_is_refused_by_name():
    with pytest.raises(RouteError, match="Nowhere Clinic: no location"):
        plan_route(HOME, [Stop("x", "Nowhere Clinic", float("nan"), -104.9)])


def test_google_maps_link_carries_the_stops_in_order():
    stops = _random_stops(random.Random(1), 5)
    route = plan_route(HOME, stops)
    url = google_maps_url(route)
    parsed = urlparse(url)
    assert (parsed.scheme, parsed.netloc, parsed.path) == ("https", "www.google.com", "/maps/dir/")
    q = {k: v[0] for k, v in parse_qs(parsed.query).items()}
    assert q["api"] == "1" and q["travelmode"] == "driving"
    home = f"{HOME.lat:.6f},{HOME.lon:.6f}"
    assert q["origin"] == home and q["destination"] == home
    assert q["waypoints"].split("|") == [f"{s.lat:.6f},{s.lon:.6f}" for s in route.stops]
    # one way: the last stop is the destination, not a waypoint
    one_way = plan_route(HOME, stops, round_trip=False)
    q = {k: v[0] for k, v in parse_qs(urlparse(google_maps_url(one_way)).query).items()}
    last = one_way.stops[-1]
    assert q["destination"] == f"{last.lat:.6f},{last.lon:.6f}"
    assert len(q["waypoints"].split("|")) == len(stops) - 1


def test_google_maps_link_refuses_more_stops_than_it_takes():
    route = plan_route(HOME, _random_stops(random.Random(2), MAX_WAYPOINTS + 1))
    with pytest.raises(RouteError, match=f"at most {MAX_WAYPOINTS}"):
        google_maps_url(route)
    assert google_maps_url(plan_route(HOME, _random_stops(random.Random(2), MAX_WAYPOINTS)))
