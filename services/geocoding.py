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
"""

from __future__ import annotations

import csv
import io
import logging
import re
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

import requests
import sqlalchemy as sa
from geopy.exc import (
    GeocoderParseError,
    GeocoderRateLimited,
    GeocoderTimedOut,
    GeocoderUnavailable,
    GeopyError,
)
from sqlalchemy.engine import Connection, Engine

from services import config, db
from services.http_deadline import (
    Deadline,
    ServiceFailure,
    StopCheck,
    Stopped,
    call_within,
    deadline_seconds,
    pause,
    send,
)
from services.npi_registry import make_session, user_agent
from services.zipcentroids import centroid, zip5

DEFAULT_CENSUS_URL = "https://geocoding.geo.census.gov/geocoder"
DEFAULT_NOMINATIM_URL = "https://nominatim.openstreetmap.org"
CENSUS_BENCHMARK = "Public_AR_Current"
CENSUS_MAX_ROWS = 10_000
#: Rows per Census request: well under the 10,000 limit so progress moves and a stop loses
#: at most one request's worth of work.
CENSUS_CHUNK = 2_000
_CACHE_READ_CHUNK = 500

Progress = Callable[[int, int, str], None]  # (done, total, what is happening)

logger = logging.getLogger(__name__)


class GeocodingUnavailable(RuntimeError):
    """A geocoding service could not be used; the message is meant for the user."""


@dataclass(frozen=True)
class Address:
    street: str | None
    city: str | None
    state: str | None
    zip: str | None

    @property
    def key(self) -> str:
        return address_key(self.street, self.city, self.state, self.zip)

    @property
    def one_line(self) -> str:
        tail = " ".join(p for p in (self.state, self.zip) if p)
        return ", ".join(p for p in (self.street, self.city, tail) if p)


@dataclass(frozen=True)
class GeocodeResult:
    lat: float
    lon: float
    source: str  # census / nominatim / zip_centroid / manual
    precision: str  # address / street / zip

    @property
    def approximate(self) -> bool:
        return self.precision == "zip"


@dataclass
class GeocodeReport:
    results: dict[str, GeocodeResult] = field(default_factory=dict)  # address key -> result
    unresolved: list[str] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)  # one per failed service
    stopped: bool = False
    from_cache: int = 0
    by_source: dict[str, int] = field(default_factory=dict)


_PUNCT = re.compile(r"[^\w\s#-]")


def _norm(value: str | None) -> str:
    return " ".join(_PUNCT.sub(" ", value.upper()).split()) if value else ""


def address_key(
    street: str | None, city: str | None, state: str | None, zip_code: str | None
) -> str:
    """The cache key: upper-cased, punctuation and spacing folded, ZIP cut to five digits, so
    "1601 E. 19th Ave" and "1601 E 19TH AVE" share one entry."""
    return "|".join((_norm(street), _norm(city), _norm(state)[:2], zip5(zip_code) or ""))


# --- cache ----------------------------------------------------------------------------------


def cached(engine: Engine, keys: Iterable[str]) -> dict[str, GeocodeResult]:
    wanted = list(dict.fromkeys(keys))
    found: dict[str, GeocodeResult] = {}
    t = db.geocode_cache
    with engine.connect() as conn:
        for i in range(0, len(wanted), _CACHE_READ_CHUNK):
            chunk = wanted[i : i + _CACHE_READ_CHUNK]
            rows = conn.execute(
                sa.select(t.c.address_key, t.c.lat, t.c.lon, t.c.source, t.c.precision).where(
                    t.c.address_key.in_(chunk)
                )
            )
            for key, lat, lon, source, precision in rows:
                if lat is not None and lon is not None:
                    found[key] = GeocodeResult(float(lat), float(lon), source, precision)
    return found


def store(conn: Connection, results: dict[str, GeocodeResult]) -> None:
    """Insert or replace cache rows (an upgrade from ZIP to address precision replaces)."""
    if not results:
        return
    t = db.geocode_cache
    now = db.utcnow()
    rows = [
        {"address_key": k, "lat": r.lat, "lon": r.lon, "source": r.source,
         "precision": r.precision, "geocoded_at": now}
        for k, r in results.items()
    ]  # fmt: skip
    if conn.dialect.name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert

        stmt = insert(t)
        stmt = stmt.on_conflict_do_update(
            index_elements=[t.c.address_key],
            set_={
                c: stmt.excluded[c] for c in ("lat", "lon", "source", "precision", "geocoded_at")
            },
        )
        conn.execute(stmt, rows)
        return
    conn.execute(t.delete().where(t.c.address_key.in_(list(results))))
    conn.execute(t.insert(), rows)


# --- Census batch ---------------------------------------------------------------------------


@dataclass(frozen=True)
class CensusRow:
    id: str
    status: str  # Match / No_Match / Tie
    exact: bool = False
    matched_address: str | None = None
    lat: float | None = None
    lon: float | None = None


def parse_census_csv(text: str) -> dict[str, CensusRow]:
    """Rows of the batch answer by id. A Match carries "lon,lat" (longitude first) and
    Exact/Non_Exact; No_Match and Tie rows carry only the input back."""
    out: dict[str, CensusRow] = {}
    for row in csv.reader(io.StringIO(text)):
        if len(row) < 3 or not row[0].strip():
            continue
        rid, status = row[0].strip(), row[2].strip()
        if status == "Match" and len(row) >= 6:
            try:
                lon_s, lat_s = row[5].split(",")
                lat, lon = float(lat_s), float(lon_s)
            except ValueError:
                out[rid] = CensusRow(rid, "No_Match")
                continue
            out[rid] = CensusRow(rid, "Match", row[3].strip() == "Exact", row[4].strip(), lat, lon)
        elif status in ("No_Match", "Tie"):
            out[rid] = CensusRow(rid, status)
    return out


def census_csv(rows: Sequence[tuple[str, Address]]) -> bytes:
    """The header-less upload CSV: id, street, city, state, zip."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    for rid, a in rows:
        writer.writerow([rid, a.street or "", a.city or "", a.state or "", zip5(a.zip) or ""])
    return buf.getvalue().encode("utf-8")


class CensusGeocoder:
    """The US Census batch geocoder (multipart upload of a CSV, CSV back).

    `timeout` is (connect, read) per try; `deadline` bounds one batch request, retries
    included (at most 30 s, see services/http_deadline.py)."""

    def __init__(
        self,
        url: str | None = None,
        *,
        timeout: tuple[float, float] = (5.0, 30.0),
        retries: int = 2,
        backoff: float = 1.0,
        deadline: float | None = None,
        session: requests.Session | None = None,
    ) -> None:
        self.url = (url or DEFAULT_CENSUS_URL).rstrip("/") + "/locations/addressbatch"
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.deadline = deadline_seconds("census") if deadline is None else deadline
        self.session = session or make_session(pool_size=2)

    def geocode_batch(
        self, rows: Sequence[tuple[str, Address]], should_stop: StopCheck | None = None
    ) -> dict[str, CensusRow]:
        if len(rows) > CENSUS_MAX_ROWS:
            raise ValueError(f"the Census batch takes at most {CENSUS_MAX_ROWS} rows")
        if not rows:
            return {}
        try:
            resp = send(
                self.session, "POST", self.url, service="Census geocoder",
                files={"addressFile": ("addresses.csv", census_csv(rows), "text/csv")},
                data={"benchmark": CENSUS_BENCHMARK}, deadline=self.deadline,
                timeout=self.timeout, retries=self.retries, backoff=self.backoff,
                should_stop=should_stop,
            )  # fmt: skip
        except ServiceFailure as exc:
            logger.warning("Census batch of %d rows failed: %s", len(rows), exc.detail)
            raise GeocodingUnavailable(_CENSUS_FAILURES[exc.kind]) from exc
        if resp.status_code >= 400:
            raise GeocodingUnavailable(f"The Census geocoder answered HTTP {resp.status_code}.")
        body = resp.text
        if "html" in resp.headers.get("Content-Type", "").lower() or body.lstrip()[:1] == "<":
            raise GeocodingUnavailable("The Census geocoder answered with a web page, not data.")
        if not body.endswith("\n"):
            # Every line of a whole answer ends in a newline; without it the last line may hold
            # a half-written coordinate, so none of it is trusted.
            logger.warning("Census answer cut short (%d bytes), ends %.80r", len(body), body[-80:])
            raise GeocodingUnavailable("The Census geocoder's answer was cut short.")
        parsed = parse_census_csv(body)
        if len(parsed) < len(rows):  # the missing ones go on down the cascade
            logger.warning("Census answered %d of %d rows.", len(parsed), len(rows))
        return parsed


_CENSUS_FAILURES = {
    "timeout": "The Census geocoder did not answer in time.",
    "unreachable": "The Census geocoder could not be reached.",
    "busy": "The Census geocoder asked us to slow down.",
    "truncated": "The Census geocoder's answer was cut short.",
}


# --- Nominatim (geopy) ----------------------------------------------------------------------

_limiters: dict[str, Any] = {}
_limiters_lock = threading.Lock()


def _shared_rate_limited(geocoder: Any, domain: str) -> Callable[..., Any]:
    """One RateLimiter per domain for the whole process: Nominatim's policy is 1 request/s
    per application, not per session or per thread."""
    from geopy.extra.rate_limiter import RateLimiter

    with _limiters_lock:
        if domain not in _limiters:
            _limiters[domain] = RateLimiter(
                geocoder.geocode,
                min_delay_seconds=1.0,
                max_retries=0,  # retries happen in NominatimGeocoder, inside its deadline
                error_wait_seconds=1.0,
                swallow_exceptions=False,  # report failures instead of returning None
            )
        return _limiters[domain]


class NominatimGeocoder:
    """Nominatim through geopy, rate-limited, each call within `deadline` seconds (at most 10,
    a 429's Retry-After included); `geocode_fn` lets tests pass a stub geocoder."""

    def __init__(
        self,
        url: str | None = None,
        geocode_fn: Callable[..., Any] | None = None,
        *,
        deadline: float | None = None,
    ):
        self.deadline = deadline_seconds("nominatim") if deadline is None else deadline
        self._pass_timeout = geocode_fn is None  # geopy takes a per-call timeout; stubs need not
        if geocode_fn is not None:
            self._geocode = geocode_fn
            return
        from geopy.adapters import RequestsAdapter
        from geopy.geocoders import Nominatim

        def adapter(**kwargs: Any) -> RequestsAdapter:
            # geopy's default retries would sleep out a 429's Retry-After (minutes, maybe)
            # inside one call; retries happen in `_call` instead, within the deadline.
            return RequestsAdapter(max_retries=0, **kwargs)

        parsed = urlparse(url or DEFAULT_NOMINATIM_URL)
        domain = parsed.netloc + parsed.path.rstrip("/")
        geocoder = Nominatim(
            user_agent=user_agent(), domain=domain, scheme=parsed.scheme or "https",
            timeout=self.deadline, adapter_factory=adapter,
        )  # fmt: skip
        self._geocode = _shared_rate_limited(geocoder, domain)

    def _call(self, query: dict[str, str], clock: Deadline, should_stop: StopCheck | None) -> Any:
        """One geopy call within the deadline; a 429 is retried only if its wait fits."""
        while True:
            kwargs: dict[str, Any] = {"exactly_one": True}
            if self._pass_timeout:
                kwargs["timeout"] = max(0.1, clock.remaining())
            try:
                return call_within(lambda kw=kwargs: self._geocode(query, **kw), clock, should_stop)
            except GeocoderRateLimited as exc:
                wait = exc.retry_after if exc.retry_after is not None else 1.0
                if wait >= clock.remaining():
                    raise
                logger.warning("Nominatim asked to wait %.1f s (HTTP 429); waiting.", wait)
                pause(wait, should_stop)

    def geocode(self, a: Address, should_stop: StopCheck | None = None) -> GeocodeResult | None:
        query = {"street": a.street or "", "city": a.city or "", "state": a.state or "",
                 "postalcode": zip5(a.zip) or "", "country": "US"}  # fmt: skip
        clock = Deadline(self.deadline)
        try:
            loc = self._call({k: v for k, v in query.items() if v}, clock, should_stop)
        except ServiceFailure as exc:  # our own deadline passed
            logger.warning("Nominatim: %s", exc.detail)
            raise GeocodingUnavailable("Nominatim did not answer in time.") from exc
        except GeopyError as exc:
            logger.warning("Nominatim failed: %s: %s", type(exc).__name__, exc)
            raise GeocodingUnavailable(_nominatim_message(exc)) from exc
        if loc is None:
            return None
        raw = getattr(loc, "raw", {}) or {}
        try:
            rank = int(raw.get("place_rank", 30))
        except (TypeError, ValueError):
            rank = 30
        if rank < 26:  # a town or a postcode area: no better than the ZIP centroid
            return None
        precision = "address" if rank >= 30 else "street"
        return GeocodeResult(float(loc.latitude), float(loc.longitude), "nominatim", precision)


def _nominatim_message(exc: GeopyError) -> str:
    """geopy's error in the app's words (its own text, with URLs and socket detail, is logged)."""
    if isinstance(exc, GeocoderRateLimited):
        return "Nominatim asked us to slow down."
    if isinstance(exc, GeocoderTimedOut):
        return "Nominatim did not answer in time."
    if isinstance(exc, GeocoderUnavailable):
        return "Nominatim could not be reached."
    if isinstance(exc, GeocoderParseError):
        return "Nominatim's answer could not be read."
    return "Nominatim could not geocode this address."


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
