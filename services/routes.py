"""Visit planner: order a day's visits into a short route from the practice.

A day of visits is a handful of stops, so the classic heuristic is plenty: nearest neighbour
from the practice, then 2-opt (reverse any stretch of the tour that makes it shorter) and
or-opt (move a run of one to three stops elsewhere) until neither helps. On 200 random one-way
days of 3–7 stops, 2-opt alone missed the best order 22% of the time (worst: 23% longer); with
or-opt, 5% (worst: 5% longer). tests/test_routes.py compares with brute force.
Distances are straight-line (great-circle) miles: there is no road network offline, and the
order rarely changes with road distance at this scale. Google Maps then does the driving.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlencode

from services.geo import haversine_mi

#: Google Maps URLs accept up to 9 waypoints between origin and destination.
MAX_WAYPOINTS = 9


class RouteError(ValueError):
    """A route cannot be planned as asked; the message is for the user."""


@dataclass(frozen=True)
class Stop:
    key: str  # what the caller uses to find the stop again (a partner id, an NPI)
    name: str
    lat: float
    lon: float


@dataclass(frozen=True)
class Route:
    start: Stop
    stops: tuple[Stop, ...]  # in visiting order
    legs_mi: tuple[float, ...]  # start→1st, 1st→2nd, …, (last→start when round trip)
    round_trip: bool

    @property
    def total_mi(self) -> float:
        return float(sum(self.legs_mi))


def _check(stops: Sequence[Stop]) -> None:
    for s in stops:
        if s.lat is None or s.lon is None or not (math.isfinite(s.lat) and math.isfinite(s.lon)):
            raise RouteError(f"{s.name}: no location on file, so it cannot be routed")


def _matrix(points: Sequence[Stop]) -> list[list[float]]:
    return [[haversine_mi(a.lat, a.lon, b.lat, b.lon) for b in points] for a in points]


def tour_length(d: list[list[float]], order: Sequence[int], round_trip: bool) -> float:
    """Length of visiting `order` (indices into d, 0 = the start, not listed) from the start."""
    path = [0, *order, 0] if round_trip else [0, *order]
    return sum(d[a][b] for a, b in itertools.pairwise(path))


def nearest_neighbour(d: list[list[float]]) -> list[int]:
    left = set(range(1, len(d)))
    order, here = [], 0
    while left:
        here = min(left, key=lambda j: (d[here][j], j))
        order.append(here)
        left.remove(here)
    return order


def two_opt(d: list[list[float]], order: list[int], round_trip: bool) -> list[int]:
    """Reverse segments while any reversal shortens the tour (first improvement)."""
    best = list(order)
    best_len = tour_length(d, best, round_trip)
    improved = True
    while improved:
        improved = False
        for i in range(len(best) - 1):
            for k in range(i + 1, len(best)):
                cand = best[:i] + best[i : k + 1][::-1] + best[k + 1 :]
                cand_len = tour_length(d, cand, round_trip)
                if cand_len < best_len - 1e-9:
                    best, best_len, improved = cand, cand_len, True
    return best


def or_opt(d: list[list[float]], order: list[int], round_trip: bool) -> list[int]:
    """Move a run of 1–3 stops elsewhere (either way round) while that shortens the tour.

    2-opt alone gets stuck when one stop sits on the wrong side of the route; this is the
    usual companion move and costs next to nothing for a day's handful of stops.
    """
    best = list(order)
    best_len = tour_length(d, best, round_trip)
    improved = True
    while improved:
        improved = False
        for size in (1, 2, 3):
            for i in range(len(best) - size + 1):
                seg, rest = best[i : i + size], best[:i] + best[i + size :]
                for j in range(len(rest) + 1):
                    for piece in (seg, seg[::-1]):
                        cand = rest[:j] + piece + rest[j:]
                        cand_len = tour_length(d, cand, round_trip)
                        if cand_len < best_len - 1e-9:
                            best, best_len, improved = cand, cand_len, True
    return best


def improve(d: list[list[float]], order: list[int], round_trip: bool) -> list[int]:
    """2-opt and or-opt in turn until neither finds a shorter tour."""
    length = tour_length(d, order, round_trip)
    while True:
        order = or_opt(d, two_opt(d, order, round_trip), round_trip)
        new_length = tour_length(d, order, round_trip)
        if new_length >= length - 1e-9:
            return order
        length = new_length


def plan_route(start: Stop, stops: Sequence[Stop], round_trip: bool = True) -> Route:
    """The stops in a short visiting order from `start` (back to it if `round_trip`)."""
    _check([start, *stops])
    unique = list({s.key: s for s in stops}.values())
    points = [start, *unique]
    d = _matrix(points)
    order = improve(d, nearest_neighbour(d), round_trip)
    path = [0, *order, 0] if round_trip else [0, *order]
    legs = tuple(d[a][b] for a, b in itertools.pairwise(path))
    return Route(start, tuple(points[i] for i in order), legs, round_trip)


def google_maps_url(route: Route) -> str:
    """A Google Maps directions link with the stops in order (Maps URLs API, api=1)."""
    if not route.stops:
        raise RouteError("Choose at least one stop.")
    via = list(route.stops) if route.round_trip else list(route.stops[:-1])
    if len(via) > MAX_WAYPOINTS:
        raise RouteError(
            f"Google Maps takes at most {MAX_WAYPOINTS} stops in between; split the day in two."
        )
    destination = route.start if route.round_trip else route.stops[-1]

    def ll(s: Stop) -> str:
        return f"{s.lat:.6f},{s.lon:.6f}"

    params = {"api": "1", "origin": ll(route.start), "destination": ll(destination)}
    if via:
        params["waypoints"] = "|".join(ll(s) for s in via)
    params["travelmode"] = "driving"
    return "https://www.google.com/maps/dir/?" + urlencode(params, safe=",|")
