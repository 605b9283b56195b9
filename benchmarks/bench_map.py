"""The map's server-side figures: map build for 2,000 and 10,000 providers, the radius filter
over 1,000,000 providers, and the map page's warm rerun on the demo data.

Bounds:
- map build for 2,000 providers in radius, including st_folium's Python-side work: <= 0.3 s,
  and >= 5x faster than one folium.Marker per provider, measured in the same run;
- radius filter over 1,000,000 providers: <= 20 ms;
- map-page rerun with the demo data (AppTest, warm): <= 0.3 s;
- server-side build for 10,000 providers in the radius (radius filter and scores, the map's
  provider layer, st_folium's Python side, the table's rows): <= 0.5 s.

Run: .venv/bin/python benchmarks/bench_map.py   (exit status 1 if a bound is missed)
"""

from __future__ import annotations

import logging
import os
import statistics
import sys
import tempfile
import time
import warnings
from datetime import date
from pathlib import Path

import folium
import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from components.provider_map import RETURNED_OBJECTS, build_map, localize_assets  # noqa: E402
from services.geo import within_radius  # noqa: E402
from services.practices import Practice  # noqa: E402
from services.providers import providers_near  # noqa: E402
from services.specialties import GROUPS  # noqa: E402

logging.getLogger("streamlit").setLevel(logging.ERROR)
warnings.filterwarnings("ignore")
PRACTICE = Practice(1, "Bench PT", "1 Main St", "Denver", "CO", "80206", 39.7331, -104.9524,
                    date(2026, 8, 1), 5.0, 100.0, False)  # fmt: skip


def best_of(fn, repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def synthetic_providers(n: int, radius_mi: float, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    r = radius_mi * np.sqrt(rng.uniform(0, 0.98, n)) / 69.05
    theta = rng.uniform(0, 2 * np.pi, n)
    groups = [g.key for g in GROUPS]
    df = pd.DataFrame(
        {
            "npi": [f"1{i:09d}" for i in range(n)],
            "name": [f"Provider {i}" for i in range(n)],
            "credential": "MD",
            "entity_type": "individual",
            "primary_taxonomy": "207X00000X",
            "specialty_group": [groups[i % len(groups)] for i in range(n)],
            "address": "1 Main St",
            "city": "Denver",
            "state": "CO",
            "zip": "80206",
            "phone": "303-555-0100",
            "lat": PRACTICE.lat + r * np.cos(theta),
            "lon": PRACTICE.lon + r * np.sin(theta) / np.cos(np.radians(PRACTICE.lat)),
            "geocode_precision": "address",
            "data_source": "npi_api",
            "first_seen": None,
        }
    )
    df["group_label"] = df["specialty_group"]
    df["specialty"] = "Orthopaedic Surgery"
    df["display_name"] = df["name"]
    return df


def st_folium_python_side(m: folium.Map, layers: folium.FeatureGroup | None) -> None:
    """Everything `st_folium` does in Python (render, script generation, hashing)."""
    from streamlit_folium import st_folium

    st_folium(m, feature_group_to_add=layers, returned_objects=RETURNED_OBJECTS, key="bench")


def bench_map_build() -> tuple[float, float]:
    providers = synthetic_providers(2000, 5.0)
    empty = pd.DataFrame(columns=["npi", "partner_id", "stage", "active"])
    near = providers_near(providers, empty, PRACTICE.lat, PRACTICE.lon, 5.0)
    assert len(near) == 2000

    def geojson_layer() -> None:
        pm = build_map(PRACTICE, near, 5.0)
        st_folium_python_side(pm.base, pm.layers)

    def marker_per_provider() -> None:
        m = folium.Map(location=(PRACTICE.lat, PRACTICE.lon), zoom_start=11)
        for row in near.itertuples():
            folium.Marker(
                (row.lat, row.lon), tooltip=row.display_name, popup=f"{row.display_name}"
            ).add_to(m)
        localize_assets(m)
        st_folium_python_side(m, None)

    geojson_layer()  # warm imports and templates
    fast = best_of(geojson_layer)
    slow = best_of(marker_per_provider, repeat=2)
    return fast, slow


def bench_dense_build() -> tuple[float, int]:
    """Everything the server does per rerun for 10,000 providers in a 25-mile radius."""
    from services.map_table import table_frame

    providers = synthetic_providers(10_000, 25.0)
    empty = pd.DataFrame(columns=["npi", "partner_id", "stage", "active"])
    size = 0

    def build() -> None:
        nonlocal size
        near = providers_near(providers, empty, PRACTICE.lat, PRACTICE.lon, 25.0)
        pm = build_map(PRACTICE, near, 25.0)
        st_folium_python_side(pm.base, pm.layers)
        table_frame(near)
        size = len(near)

    build()
    return best_of(build, repeat=3), size


def bench_radius_filter() -> float:
    rng = np.random.default_rng(0)
    n = 1_000_000
    lats = rng.uniform(24.5, 49.0, n)
    lons = rng.uniform(-124.7, -67.0, n)
    within_radius(39.7331, -104.9524, lats, lons, 5.0)
    return best_of(lambda: within_radius(39.7331, -104.9524, lats, lons, 5.0), repeat=20)


def bench_page_rerun() -> float:
    from streamlit.testing.v1 import AppTest

    sys.path.insert(0, str(ROOT / "tests"))
    from conftest import _use_navigation_pages_manager

    with tempfile.TemporaryDirectory() as tmp:
        os.environ["REFERRAL_ATLAS_DB_URL"] = f"sqlite:///{Path(tmp) / 'bench.db'}"
        _use_navigation_pages_manager()
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
        at.run()
        at.run()  # warm
        times = []
        for _ in range(10):
            t0 = time.perf_counter()
            at.run()
            times.append(time.perf_counter() - t0)
        assert not at.exception and at.get("component_instance")
        return statistics.median(times)


def main() -> int:
    ok = True
    fast, slow = bench_map_build()
    speedup = slow / fast
    print(f"map build, 2,000 providers (one GeoJSON layer, with st_folium): {fast * 1000:.0f} ms")
    print(f"map build, 2,000 providers (one folium.Marker each, same run):{slow * 1000:.0f} ms")
    print(f"  speed-up: {speedup:.1f}x (bounds: <= 300 ms, >= 5x)")
    ok &= fast <= 0.3 and speedup >= 5
    dense, size = bench_dense_build()
    print(f"server build, {size:,} providers in the radius (filter, layer, st_folium, table): "
          f"{dense * 1000:.0f} ms (bound: <= 500 ms)")  # fmt: skip
    ok &= dense <= 0.5 and size == 10_000
    filt = bench_radius_filter()
    print(f"radius filter over 1,000,000 providers: {filt * 1000:.1f} ms (bound: <= 20 ms)")
    ok &= filt <= 0.020
    rerun = bench_page_rerun()
    print(f"map page rerun, demo data, AppTest warm (median of 10): {rerun * 1000:.0f} ms "
          "(bound: <= 300 ms)")  # fmt: skip
    ok &= rerun <= 0.3
    print("OK" if ok else "BOUND MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
