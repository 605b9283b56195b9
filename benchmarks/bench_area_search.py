"""Area-search figures, against the local fake registry with 300 ms per request.

Bounds, for a dense 5-mile area of about 20 ZIPs × 12 taxonomy descriptions:
- cold search (queries, upsert, geocoding, pull): <= 25 s, and >= 3x faster than the same
  search run sequentially (one request in flight), measured in the same run;
- warm repeat of the search (from the database): <= 0.5 s.

The area is downtown Buffalo, NY (ZIP 14202): 21 searchable ZIPs within 5 mi + the 1 mi margin.
Every query returns 2 providers per taxonomy code; the fake Census answers each batch after
300 ms as well.

Run: .venv/bin/python benchmarks/bench_area_search.py   (exit status 1 if a bound is missed)
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from services import area_plan, area_queries, area_search, db, geocoding  # noqa: E402
from services.npi_registry import RegistryClient  # noqa: E402
from services.practices import PracticeInput, create_practice  # noqa: E402
from services.zipcentroids import centroid  # noqa: E402
from tests.fake_services import FakeCensus, FakeNpiRegistry, FakeServices, synthetic_area  # noqa: E402

LATENCY = 0.3
RADIUS = 5.0
GROUPS = ["ortho", "sports", "pmr", "pain", "neuro", "podiatry", "chiro", "rheum"]
#: one code per taxonomy text those groups query, so every query has answers
CODES = [
    "207X00000X", "207QS0010X", "208100000X", "208VP0000X", "261QP3300X", "2084N0400X",
    "2084N0402X", "2084V0102X", "207T00000X", "213E00000X", "111N00000X", "207RR0500X",
]  # fmt: skip
BOUND_COLD_S, BOUND_SPEEDUP, BOUND_WARM_S = 25.0, 3.0, 0.5


def one_run(fake: FakeServices, workers: int, tmp: Path) -> tuple[float, float, int, int]:
    engine = db.make_engine(f"sqlite:///{tmp / f'bench_{workers}.db'}")
    home = centroid("14202")
    practice = create_practice(
        engine, PracticeInput(name="Bench PT", zip="14202", lat=home.lat, lon=home.lon)
    )
    opts = {"census": geocoding.CensusGeocoder(fake.census_url), "nominatim": None}
    before = len(fake.npi.requests)
    t0 = time.perf_counter()
    result = area_search.run_area_search(
        engine, practice, RADIUS, GROUPS, client=RegistryClient(fake.npi_url),
        max_workers=workers, geocode_options=opts,
    )  # fmt: skip
    cold = time.perf_counter() - t0
    assert result.complete, result.messages
    t0 = time.perf_counter()
    again = area_search.run_area_search(
        engine, practice, RADIUS, GROUPS, client=RegistryClient(fake.npi_url), geocode_options=opts
    )
    warm = time.perf_counter() - t0
    assert again.from_cache
    engine.dispose()
    return cold, warm, len(fake.npi.requests) - before, result.found


def main() -> int:
    home = centroid("14202")
    zips = area_plan.search_zips(home.lat, home.lon, RADIUS)
    texts = area_plan.taxonomy_descriptions(GROUPS)
    print(f"area: {len(zips)} ZIPs x {len(texts)} taxonomy descriptions = "
          f"{len(zips) * len(texts)} queries, {LATENCY * 1000:.0f} ms each")  # fmt: skip
    npi = FakeNpiRegistry(synthetic_area(zips, CODES, per_pair=2), latency=LATENCY)
    with FakeServices(npi, FakeCensus(latency=LATENCY)) as fake, tempfile.TemporaryDirectory() as d:
        cold, warm, sent, found = one_run(fake, area_queries.MAX_IN_FLIGHT, Path(d))
        in_flight = fake.npi.max_in_flight
        print(f"cold search, 4 in flight: {cold:.2f} s ({sent} requests, max {in_flight} in "
              f"flight, {found} providers within {RADIUS:g} mi)")  # fmt: skip
        print(f"warm repeat (from the database): {warm * 1000:.1f} ms")
        seq, _, _, _ = one_run(fake, 1, Path(d))
        print(f"sequential cold search: {seq:.2f} s -> speed-up {seq / cold:.2f}x")
    ok = True
    for label, good in (
        (f"cold <= {BOUND_COLD_S:g} s", cold <= BOUND_COLD_S),
        (f"speed-up >= {BOUND_SPEEDUP:g}x", seq / cold >= BOUND_SPEEDUP),
        (f"warm <= {BOUND_WARM_S:g} s", warm <= BOUND_WARM_S),
        ("at most 4 requests in flight", in_flight <= 4),
    ):
        print(f"  {'ok  ' if good else 'MISS'} {label}")
        ok &= good
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
