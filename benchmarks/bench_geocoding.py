"""Geocoding figures: 5,000 cached addresses, and the ZIP-centroid fallback for 5,000.

Bounds:
- geocoding 5,000 addresses that are all in the cache: <= 0.5 s;
- the ZIP-centroid fallback for 5,000 uncached addresses (online services off), including
  writing the 5,000 results to the cache: <= 0.5 s.
The one-off load of the bundled ZIP table is printed separately (it happens once per process).

Run: .venv/bin/python benchmarks/bench_geocoding.py   (exit status 1 if a bound is missed)
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from services import db, geocoding  # noqa: E402
from services.zipcentroids import centroid, zips_within  # noqa: E402

N = 5_000
BOUND_S = 0.5


def main() -> int:
    t0 = time.perf_counter()
    home = centroid("80206")
    zips = [z.zip_code for z, _ in zips_within(home.lat, home.lon, 25)]
    print(f"one-off ZIP table load: {(time.perf_counter() - t0) * 1000:.0f} ms")
    addresses = [
        geocoding.Address(f"{100 + i} Colfax Ave Ste {i % 97}", "Denver", "CO", zips[i % len(zips)])
        for i in range(N)
    ]
    with tempfile.TemporaryDirectory() as d:
        engine = db.make_engine(f"sqlite:///{Path(d) / 'geo.db'}")
        t0 = time.perf_counter()
        fallback = geocoding.geocode_addresses(engine, addresses, census=None, nominatim=None)
        t_zip = time.perf_counter() - t0
        assert len(fallback.results) == N and fallback.by_source == {"zip_centroid": N}
        t0 = time.perf_counter()
        hits = geocoding.geocode_addresses(engine, addresses, census=None, nominatim=None)
        t_cache = time.perf_counter() - t0
        assert hits.from_cache == N
        engine.dispose()
    print(f"ZIP-centroid fallback, {N} addresses (with cache writes): {t_zip * 1000:.0f} ms")
    print(f"cached, {N} addresses: {t_cache * 1000:.0f} ms")
    ok = True
    for label, good in ((f"fallback <= {BOUND_S} s", t_zip <= BOUND_S),
                        (f"cached <= {BOUND_S} s", t_cache <= BOUND_S)):  # fmt: skip
        print(f"  {'ok  ' if good else 'MISS'} {label}")
        ok &= good
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
