"""The geocoding cascade: cache → Census batch → Nominatim → ZIP centroid.

Why a cascade: the Census batch geocoder is free, allows bulk use and lets results be stored,
so it takes everything it can (10,000 rows per request); Nominatim's policy allows one request
per second, so it only gets the few the Census could not place; the ZIP centroid always works
(bundled data, offline) but is only approximate, so it is last and marked `zip` precision.

Every result is written to `geocode_cache` with its source and precision, a chunk at a time in
its own transaction, so a long run that is stopped (or crashes) keeps what it already placed
and a rerun only does the rest: a cached key is never geocoded twice.

Failures are reported, not swallowed: when a service cannot be reached the run says so once,
skips that service for the rest of the run and carries on with the next step of the cascade.
Every request has a total deadline (services/http_deadline.py: 30 s for a Census batch, 10 s for
a Nominatim call, retries included), and a Stop abandons a request in flight at once.

This module holds the order of the steps and which services are switched on; the pieces live
beside it: the shared values in services/geocode_types.py, the cache in
services/geocode_cache.py, the two clients in services/geocoder_census.py and
services/geocoder_nominatim.py. The names callers use (`Address`, `address_key`,
`GeocodeResult`, `GeocodingUnavailable`, the two clients) are importable from here too.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.engine import Engine

from services import config
from services.geocode_cache import cached, store
from services.geocode_types import Address, GeocodeResult, GeocodingUnavailable, address_key
from services.geocoder_census import CENSUS_MAX_ROWS, DEFAULT_CENSUS_URL, CensusGeocoder
from services.geocoder_nominatim import DEFAULT_NOMINATIM_URL, NominatimGeocoder
from services.http_deadline import Stopped
from services.zipcentroids import centroid

__all__ = [
    "CENSUS_CHUNK",
    "Address",
    "CensusGeocoder",
    "GeocodeReport",
    "GeocodeResult",
    "GeocodingUnavailable",
    "NominatimGeocoder",
    "Progress",
    "address_key",
    "default_census",
    "default_nominatim",
    "geocode_addresses",
    "geocode_one",
    "store_manual",
    "zip_centroid_result",
]

#: Rows per Census request: well under the 10,000 limit so progress moves and a stop loses
#: at most one request's worth of work.
CENSUS_CHUNK = 2_000

Progress = Callable[[int, int, str], None]  # (done, total, what is happening)


@dataclass
class GeocodeReport:
    results: dict[str, GeocodeResult] = field(default_factory=dict)  # address key -> result
    unresolved: list[str] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)  # one per failed service
    stopped: bool = False
    from_cache: int = 0
    by_source: dict[str, int] = field(default_factory=dict)


# --- configuration --------------------------------------------------------------------------


def _enabled_url(name: str, default: str) -> str | None:
    value = (config.setting(name, default) or default).strip()
    return None if value.lower() in ("off", "none", "disabled", "0", "false") else value


def default_census() -> CensusGeocoder | None:
    url = _enabled_url("CENSUS_GEOCODER_URL", DEFAULT_CENSUS_URL)
    return CensusGeocoder(url) if url else None


def default_nominatim() -> NominatimGeocoder | None:
    url = _enabled_url("NOMINATIM_URL", DEFAULT_NOMINATIM_URL)
    return NominatimGeocoder(url) if url else None


def zip_centroid_result(zip_code: str | None) -> GeocodeResult | None:
    c = centroid(zip_code)
    return GeocodeResult(c.lat, c.lon, "zip_centroid", "zip") if c else None


# --- the cascade ----------------------------------------------------------------------------

_DEFAULT = object()


def geocode_addresses(
    engine: Engine,
    addresses: Iterable[Address],
    *,
    census: CensusGeocoder | object | None = _DEFAULT,
    nominatim: NominatimGeocoder | object | None = _DEFAULT,
    zip_fallback: bool = True,
    max_nominatim: int | None = 50,
    retry_approximate: bool = False,
    progress: Progress | None = None,
    should_stop: Callable[[], bool] | None = None,
    census_chunk: int = CENSUS_CHUNK,
) -> GeocodeReport:
    """Place every address, cheapest reliable source first; see the module docstring.

    `max_nominatim` bounds the 1-per-second step (50 addresses ≈ 1 minute); the rest fall to
    the ZIP centroid. `retry_approximate` gives cached ZIP-precision entries another try at the
    online services (a "Refresh" does that), keeping the centroid if they fail again.
    """
    census_svc = default_census() if census is _DEFAULT else census
    nominatim_svc = default_nominatim() if nominatim is _DEFAULT else nominatim
    stop = should_stop or (lambda: False)
    report = GeocodeReport()
    by_key: dict[str, Address] = {}
    for a in addresses:
        by_key.setdefault(a.key, a)
    total = len(by_key)

    def tick(stage: str) -> None:
        if progress:
            progress(len(report.results), total, stage)

    hits = cached(engine, by_key)
    retry: dict[str, GeocodeResult] = {}
    for key, res in hits.items():
        if retry_approximate and res.approximate and (census_svc or nominatim_svc):
            retry[key] = res
        else:
            report.results[key] = res
    report.from_cache = len(report.results)
    todo = [k for k in by_key if k not in report.results]
    tick("cache")

    def save(found: dict[str, GeocodeResult]) -> None:
        if not found:
            return
        with engine.begin() as conn:
            store(conn, found)
        report.results.update(found)
        for r in found.values():
            report.by_source[r.source] = report.by_source.get(r.source, 0) + 1

    # 1. Census batch
    if census_svc is not None and todo:
        chunk_size = max(1, min(census_chunk, CENSUS_MAX_ROWS))
        for i in range(0, len(todo), chunk_size):
            if stop():
                report.stopped = True
                break
            chunk = todo[i : i + chunk_size]
            ids = {str(n): k for n, k in enumerate(chunk)}
            try:
                rows = census_svc.geocode_batch(
                    [(rid, by_key[k]) for rid, k in ids.items()], should_stop=stop
                )
            except Stopped:  # Stop does not wait for a slow answer: the chunk is dropped
                report.stopped = True
                break
            except GeocodingUnavailable as exc:
                report.messages.append(f"{exc} Skipped it for the rest of this run.")
                break
            found = {}
            for rid, key in ids.items():
                row = rows.get(rid)
                if row and row.status == "Match" and row.lat is not None and row.lon is not None:
                    precision = "address" if row.exact else "street"
                    found[key] = GeocodeResult(row.lat, row.lon, "census", precision)
            save(found)
            tick("census")
        todo = [k for k in todo if k not in report.results]

    # 2. Nominatim, one per second
    if nominatim_svc is not None and todo and not report.stopped:
        budget = len(todo) if max_nominatim is None else max_nominatim
        for key in todo[:budget]:
            if stop():
                report.stopped = True
                break
            try:
                res = nominatim_svc.geocode(by_key[key], should_stop=stop)
            except Stopped:
                report.stopped = True
                break
            except GeocodingUnavailable as exc:
                report.messages.append(f"{exc} Skipped it for the rest of this run.")
                break
            if res is not None:
                save({key: res})
            tick("nominatim")
        todo = [k for k in todo if k not in report.results]

    # 3. ZIP centroid (offline, instant), or the approximate result we already had
    if todo and not report.stopped:
        kept = {k: retry[k] for k in todo if k in retry}
        report.results.update(kept)
        if zip_fallback:
            found = {}
            for key in todo:
                if key in kept:
                    continue
                res = zip_centroid_result(by_key[key].zip)
                if res is not None:
                    found[key] = res
            save(found)
        tick("zip")
    report.unresolved = [k for k in by_key if k not in report.results]
    return report


def geocode_one(
    engine: Engine,
    address: Address,
    **kwargs: Any,
) -> tuple[GeocodeResult | None, list[str]]:
    """One address through the cascade (a practice): the result, and what failed on the way."""
    report = geocode_addresses(engine, [address], **kwargs)
    return report.results.get(address.key), report.messages


def store_manual(engine: Engine, address: Address, lat: float, lon: float) -> GeocodeResult:
    """A location the user placed by hand: cached so the address is never sent out again."""
    result = GeocodeResult(float(lat), float(lon), "manual", "address")
    with engine.begin() as conn:
        store(conn, {address.key: result})
    return result
