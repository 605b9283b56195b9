"""ZIP-code centroids from the `zipcodes` package: bundled data, so it works offline.

The package stores lat/long as strings and uses 0/0 for "unknown" (military and some PO-box
ZIPs); those come back as missing rather than as a point off the coast of Africa.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import zipcodes

from services.geo import within_radius


@dataclass(frozen=True)
class ZipCentroid:
    zip_code: str
    city: str
    state: str
    lat: float
    lon: float
    kind: str = "STANDARD"  # STANDARD, PO BOX, UNIQUE or MILITARY


def _to_float(value: object) -> float | None:
    try:
        number = float(str(value))
    except (TypeError, ValueError):
        return None
    return number if np.isfinite(number) else None


@lru_cache(maxsize=1)
def _all() -> dict[str, ZipCentroid]:
    table: dict[str, ZipCentroid] = {}
    for rec in zipcodes.list_all():
        lat, lon = _to_float(rec.get("lat")), _to_float(rec.get("long"))
        if lat is None or lon is None or (lat == 0 and lon == 0):
            continue
        z = str(rec["zip_code"])
        table[z] = ZipCentroid(
            z,
            str(rec.get("city") or ""),
            str(rec.get("state") or ""),
            lat,
            lon,
            str(rec.get("zip_code_type") or "STANDARD"),
        )
    return table


def zip5(postal_code: str | int | None) -> str | None:
    """The 5-digit ZIP of '80206', '802061234', '80206-1234' or 80206; None if not a ZIP."""
    digits = "".join(ch for ch in str(postal_code or "") if ch.isdigit())
    if len(digits) in (5, 9):
        return digits[:5]
    if 0 < len(digits) < 5:  # ZIPs stored as numbers lose their leading zeros
        return digits.zfill(5)
    return None


def centroid(postal_code: str | int | None) -> ZipCentroid | None:
    """The centroid of a ZIP (5 or 9 digits), or None when unknown or has no coordinates."""
    z = zip5(postal_code)
    return _all().get(z) if z else None


@lru_cache(maxsize=1)
def _arrays() -> tuple[list[str], np.ndarray, np.ndarray]:
    items = list(_all().values())
    return (
        [c.zip_code for c in items],
        np.array([c.lat for c in items], dtype=float),
        np.array([c.lon for c in items], dtype=float),
    )


def zips_within(lat: float, lon: float, radius_mi: float) -> list[tuple[ZipCentroid, float]]:
    """ZIP centroids within radius_mi of a point, nearest first, with their distances."""
    codes, lats, lons = _arrays()
    idx, dist = within_radius(lat, lon, lats, lons, radius_mi)
    order = np.argsort(dist, kind="stable")
    table = _all()
    return [(table[codes[idx[i]]], float(dist[i])) for i in order]
