"""Area search: the registry's providers around a practice, stored, geocoded and dated.

The registry has no radius parameter, so a search is many small ones: every ZIP
whose centroid lies within the radius plus a margin (a ZIP's area reaches past its centroid),
times every taxonomy text the chosen specialty groups need, each with
`address_purpose=LOCATION` so a mailing address elsewhere does not bring a provider in. The
registry's text matching is loose, so results are kept only when their taxonomy *code* falls in
a chosen group; distance is exact once geocoded.

Writes happen in an order that keeps the database consistent if the run is interrupted:
providers are upserted in one transaction after all queries returned; geocoding commits per
chunk to the cache and then to the providers; the `npi_pull` row (with the providers it found)
is written last. An interrupted run therefore records no pull, and a rerun redoes the queries
and finds the geocoding already cached.

Every registry query has a total deadline (30 s, retries included: services/http_deadline.py).
When the registry stops answering, the search ends with how many queries were done, and the
providers that did arrive are stored and placed (but no pull is recorded: it is incomplete).
A Stop abandons the queries in flight at once instead of waiting for their answers.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from services import db, geocoding
from services.geo import haversine_mi
from services.http_deadline import Stopped
from services.npi_registry import (
    ProviderRecord,
    RegistryClient,
    RegistryError,
    RegistryQueryError,
    RegistryUnavailable,
    SearchResult,
)
from services.practices import Practice
from services.specialties import GROUPS_BY_KEY, NUCC_TEXT, group_for_codes
from services.zipcentroids import zips_within

MAX_IN_FLIGHT = 4  # requests to the registry at once: polite to a public service
#: ZIP kinds where a provider can practise (a PO-box-only ZIP has no practice locations).
_LOCATION_ZIP_KINDS = {"STANDARD", "UNIQUE"}

Progress = Callable[[int, int, str], None]


def margin_mi(radius_mi: float) -> float:
    """How far past the radius a ZIP centroid may lie and still be searched: a ZIP is a few
    miles across in a city, so its centroid can be outside while part of it is inside."""
    return max(1.0, 0.2 * radius_mi)


def search_zips(lat: float, lon: float, radius_mi: float) -> list[str]:
    """ZIP codes to query, nearest first."""
    return [
        z.zip_code
        for z, _ in zips_within(lat, lon, radius_mi + margin_mi(radius_mi))
        if z.kind in _LOCATION_ZIP_KINDS
    ]


def taxonomy_descriptions(group_keys: Iterable[str]) -> list[str]:
    """The registry texts that find every code of the groups, as few as possible.

    A group holding a classification's bare code (207X00000X "Orthopaedic Surgery") queries
    (or its self-named general code, 208VP0000X "Pain Medicine") queries the classification,
    which matches all its specializations; otherwise each code's
    specialization is queried ("Sports Medicine" for 207QS0010X). Texts with a comma are
    skipped: the registry matches nothing with them.
    """
    texts: list[str] = []
    for key in group_keys:
        group = GROUPS_BY_KEY.get(key)
        if group is None:
            continue
        # A classification's general code: bare ("Chiropractor", "") or self-named ("Pain
        # Medicine", "Pain Medicine").
        bare = {
            NUCC_TEXT[c][0]
            for c in group.codes
            if c in NUCC_TEXT and NUCC_TEXT[c][1] in ("", NUCC_TEXT[c][0])
        }
        for code in group.codes:
            classification, specialization = NUCC_TEXT.get(code, ("", ""))
            text = (
                classification if classification in bare or not specialization else specialization
            )
            if text and "," not in text and text not in texts:
                texts.append(text)
    return texts


@dataclass(frozen=True)
class Pull:
    id: int
    pulled_at: datetime
    params: dict
    found: int
    new: int

    def covers(self, lat: float, lon: float, radius_mi: float, groups: Iterable[str]) -> bool:
        p = self.params
        try:
            same_place = haversine_mi(lat, lon, float(p["lat"]), float(p["lon"])) < 0.01
            return (
                same_place
                and float(p["radius_mi"]) >= radius_mi - 1e-9
                and set(groups) <= set(p.get("groups", []))
            )
        except (KeyError, TypeError, ValueError):
            return False


def pulls(engine: Engine, practice_id: int, limit: int = 2) -> list[Pull]:
    """The practice's completed searches, newest first."""
    t = db.npi_pull
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(t).where(t.c.practice_id == practice_id).order_by(t.c.id.desc()).limit(limit)
        ).all()
    out = []
    for r in rows:
        try:
            params = json.loads(r.params)
        except ValueError:
            params = {}
        out.append(Pull(r.id, r.pulled_at, params, r.found, r.new))
    return out


def _pull_npis(conn: sa.Connection, pull_id: int) -> set[str]:
    t = db.npi_pull_provider
    return {r[0] for r in conn.execute(sa.select(t.c.npi).where(t.c.pull_id == pull_id))}


def new_since_previous(engine: Engine, practice_id: int) -> tuple[set[str], datetime | None]:
    """NPIs the latest search found that the one before it did not, and when that one ran.
    Empty (and None) until a practice has searched twice: on a first search all are new."""
    last_two = pulls(engine, practice_id, 2)
    if len(last_two) < 2:
        return set(), None
    latest, previous = last_two
    with engine.connect() as conn:
        return _pull_npis(conn, latest.id) - _pull_npis(conn, previous.id), previous.pulled_at


@dataclass
class AreaSearchResult:
    pull: Pull | None = None
    from_cache: bool = False
    found: int = 0  # providers within the radius, geocoded
    new: int = 0
    queries: int = 0
    offline: str | None = None  # the registry stopped answering: the message to show
    kept: int = 0  # providers kept from an incomplete (offline) search
    stopped: bool = False
    messages: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return self.pull is not None


def _wanted(record: ProviderRecord, groups: set[str]) -> str | None:
    group = group_for_codes(record.primary_taxonomy, record.taxonomy_codes)
    return group if group in groups else None


def _query_all(
    client: RegistryClient,
    pairs: list[tuple[str, str]],
    result: AreaSearchResult,
    progress: Progress | None,
    should_stop: Callable[[], bool],
    max_workers: int,
) -> list[ProviderRecord] | None:
    """Run the (ZIP, text) queries with at most `max_workers` in flight; None if stopped.

    When the registry stops answering, `result.offline` says how far it got and the records
    that arrived are returned, so they are kept.

    Futures are collected in the calling thread, so the progress callback (a Streamlit widget)
    is never called from a worker thread. If the caller is interrupted (a Streamlit rerun
    raises inside `progress`), the `finally` cancels what has not started.
    """
    records: list[ProviderRecord] = []
    bad_texts: dict[str, str] = {}
    capped: list[str] = []
    cancel = threading.Event()

    def one(zip_code: str, text: str) -> SearchResult | None:
        # A text the registry does not know (error 14) fails for every ZIP: ask once.
        if cancel.is_set() or text in bad_texts:
            return None
        return client.search_all(
            should_stop=cancel.is_set,
            postal_code=zip_code,
            taxonomy_description=text,
            address_purpose="LOCATION",
        )

    pool = ThreadPoolExecutor(max_workers=max(1, min(max_workers, MAX_IN_FLIGHT)))
    try:
        futures: dict[Future, tuple[str, str]] = {pool.submit(one, z, t): (z, t) for z, t in pairs}
        pending = set(futures)
        done_count = 0
        answered = 0  # queries the registry answered (an unknown text counts: it was asked)
        while pending:
            done, pending = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
            for fut in done:
                zip_code, text = futures[fut]
                done_count += 1
                try:
                    out = fut.result()
                except Stopped:
                    continue
                except RegistryQueryError as exc:
                    answered += 1
                    bad_texts.setdefault(text, str(exc))
                    continue
                except RegistryUnavailable as exc:
                    # The registry is down or hung (each query already had its own deadline
                    # and retries): end here, and keep what arrived.
                    result.offline = (
                        f"The NPI Registry is not answering: {answered:,} of {len(pairs):,} "
                        f"queries are done ({exc.reason}). Try again later."
                    )
                    cancel.set()
                    result.queries = answered
                    return records
                except RegistryError as exc:
                    result.messages.append(str(exc))
                    continue
                if out is None:
                    continue
                answered += 1
                records.extend(out.records)
                if out.capped:
                    capped.append(f"{text} in {zip_code}")
            if progress:
                progress(done_count, len(pairs), "registry")
            if should_stop():
                result.stopped = True
                cancel.set()
                return None
    finally:
        cancel.set()
        pool.shutdown(wait=False, cancel_futures=True)
    result.queries = len(pairs)
    for text, message in bad_texts.items():
        result.messages.append(f"Skipped the specialty text “{text}”: {message}")
    if capped:
        result.messages.append(
            "The registry returns at most 1,200 providers per query; these were cut short: "
            + "; ".join(capped[:5])
            + (" …" if len(capped) > 5 else "")
        )
    return records


def _upsert(
    engine: Engine, records: dict[str, tuple[ProviderRecord, str]], today: date
) -> set[str]:
    """Insert new providers, refresh known ones; return the NPIs inserted. A changed address
    clears the coordinates so the provider is geocoded again."""
    t = db.provider
    npis = list(records)
    inserted: set[str] = set()
    with engine.begin() as conn:
        existing: dict[str, tuple[str, str | None]] = {}
        for i in range(0, len(npis), 500):
            for row in conn.execute(
                sa.select(t.c.npi, t.c.data_source, t.c.address, t.c.city, t.c.state, t.c.zip)
                .where(t.c.npi.in_(npis[i : i + 500]))
            ):  # fmt: skip
                key = geocoding.address_key(row.address, row.city, row.state, row.zip)
                existing[row.npi] = (row.data_source, key)
        new_rows = []
        for npi, (rec, group) in records.items():
            values = {
                "entity_type": rec.entity_type, "name": rec.name, "credential": rec.credential,
                "primary_taxonomy": rec.primary_taxonomy,
                "taxonomy_codes": " ".join(rec.taxonomy_codes), "specialty_group": group,
                "address": rec.address, "city": rec.city, "state": rec.state, "zip": rec.zip,
                "phone": rec.phone, "last_seen": today, "nppes_last_updated": rec.last_updated,
            }  # fmt: skip
            if npi not in existing:
                new_rows.append(
                    {**values, "npi": npi, "data_source": "npi_api", "first_seen": today}
                )
                continue
            source, old_key = existing[npi]
            if source == "demo":
                continue  # never overwrite synthetic data (demo NPIs are in an unissued block)
            key = geocoding.address_key(rec.address, rec.city, rec.state, rec.zip)
            if key != old_key:
                values.update(lat=None, lon=None, geocode_source=None, geocode_precision=None)
            conn.execute(t.update().where(t.c.npi == npi).values(**values))
        if new_rows:
            conn.execute(t.insert(), new_rows)
            inserted = {r["npi"] for r in new_rows}
    return inserted


def _apply_geocodes(engine: Engine, npis: list[str], refresh: bool, **geo_kwargs) -> tuple:
    """Geocode the providers that need it and write their coordinates."""
    t = db.provider
    with engine.connect() as conn:
        rows = []
        for i in range(0, len(npis), 500):
            rows.extend(
                conn.execute(
                    sa.select(t.c.npi, t.c.address, t.c.city, t.c.state, t.c.zip, t.c.lat,
                              t.c.geocode_precision).where(t.c.npi.in_(npis[i : i + 500]))
                ).all()
            )  # fmt: skip
    need = [r for r in rows if r.lat is None or (refresh and r.geocode_precision == "zip")]
    addresses = {r.npi: geocoding.Address(r.address, r.city, r.state, r.zip) for r in need}
    report = geocoding.geocode_addresses(
        engine, addresses.values(), retry_approximate=refresh, **geo_kwargs
    )
    updates = []
    for npi, addr in addresses.items():
        res = report.results.get(addr.key)
        if res is not None:
            updates.append({"k": npi, "lat": res.lat, "lon": res.lon, "src": res.source,
                            "prec": res.precision})  # fmt: skip
    if updates:
        with engine.begin() as conn:
            conn.execute(
                t.update()
                .where(t.c.npi == sa.bindparam("k"))
                .values(lat=sa.bindparam("lat"), lon=sa.bindparam("lon"),
                        geocode_source=sa.bindparam("src"),
                        geocode_precision=sa.bindparam("prec")),
                updates,
            )  # fmt: skip
    return report


def _keep_partial(
    engine: Engine,
    records: list[ProviderRecord],
    groups: set[str],
    today: date,
    refresh: bool,
    stop: Callable[[], bool],
    geocode_options: dict | None,
    result: AreaSearchResult,
) -> None:
    kept: dict[str, tuple[ProviderRecord, str]] = {}
    for rec in records:
        group = _wanted(rec, groups)
        if group and rec.npi not in kept:
            kept[rec.npi] = (rec, group)
    result.kept = len(kept)
    if not kept:
        return
    _upsert(engine, kept, today)
    report = _apply_geocodes(
        engine, list(kept), refresh, should_stop=stop, **(geocode_options or {})
    )
    result.messages.extend(report.messages)
    result.stopped = report.stopped


def run_area_search(
    engine: Engine,
    practice: Practice,
    radius_mi: float,
    groups: Iterable[str],
    *,
    refresh: bool = False,
    client: RegistryClient | None = None,
    progress: Progress | None = None,
    should_stop: Callable[[], bool] | None = None,
    max_workers: int = MAX_IN_FLIGHT,
    today: date | None = None,
    geocode_options: dict | None = None,
) -> AreaSearchResult:
    """Find, store and geocode the providers around a practice; see the module docstring.

    Without `refresh`, a completed earlier search that covers this radius and these groups is
    reused at once. `geocode_options` go to `geocoding.geocode_addresses` (tests pass stub
    geocoders).
    """
    if practice.lat is None or practice.lon is None:
        raise ValueError("the practice has no location yet")
    lat, lon = practice.lat, practice.lon
    group_set = {g for g in groups if g in GROUPS_BY_KEY}
    result = AreaSearchResult()
    if not group_set:
        result.messages.append("Choose at least one specialty group to search for.")
        return result
    if not refresh:
        last = pulls(engine, practice.id, 1)
        if last and last[0].covers(lat, lon, radius_mi, group_set):
            result.pull, result.from_cache = last[0], True
            result.found, result.new = last[0].found, last[0].new
            return result

    stop = should_stop or (lambda: False)
    today = today or date.today()
    zips = search_zips(lat, lon, radius_mi)
    texts = taxonomy_descriptions(sorted(group_set))
    pairs = [(z, t) for z in zips for t in texts]
    client = client or RegistryClient()
    records = _query_all(client, pairs, result, progress, stop, max_workers)
    if records is None:
        return result
    if result.offline:
        # Keep the providers that arrived (stored and placed), but record no pull: the search
        # is incomplete, so the next one queries everything again.
        _keep_partial(engine, records, group_set, today, refresh, stop, geocode_options, result)
        return result

    kept: dict[str, tuple[ProviderRecord, str]] = {}
    for rec in records:
        group = _wanted(rec, group_set)
        if group and rec.npi not in kept:
            kept[rec.npi] = (rec, group)
    inserted = _upsert(engine, kept, today)

    def geo_progress(done: int, total: int, stage: str) -> None:
        if progress:
            progress(done, total, f"geocode:{stage}")

    report = _apply_geocodes(
        engine, list(kept), refresh, progress=geo_progress, should_stop=stop,
        **(geocode_options or {}),
    )  # fmt: skip
    result.messages.extend(report.messages)
    if report.stopped:
        result.stopped = True
        return result

    t = db.provider
    npis = list(kept)
    # "Found within the radius" and "new" count the same set: the geocoded providers inside
    # the circle (the search also reaches a margin beyond it).
    within: set[str] = set()
    with engine.connect() as conn:
        for i in range(0, len(npis), 500):
            for r in conn.execute(
                sa.select(t.c.npi, t.c.lat, t.c.lon).where(
                    t.c.npi.in_(npis[i : i + 500]), t.c.lat.is_not(None)
                )
            ):
                if haversine_mi(lat, lon, r.lat, r.lon) <= radius_mi:
                    within.add(r.npi)
    found = len(within)

    previous = pulls(engine, practice.id, 1)
    params = {
        "lat": lat, "lon": lon, "radius_mi": radius_mi, "margin_mi": margin_mi(radius_mi),
        "groups": sorted(group_set), "zips": len(zips), "descriptions": texts,
        "queries": len(pairs),
    }  # fmt: skip
    with engine.begin() as conn:
        new = len(within - _pull_npis(conn, previous[0].id)) if previous else len(within & inserted)
        now = db.utcnow()
        pull_id = conn.execute(
            db.npi_pull.insert().values(
                practice_id=practice.id,
                pulled_at=now,
                params=json.dumps(params),
                found=found,
                new=new,
            )
        ).inserted_primary_key[0]
        if npis:
            conn.execute(
                db.npi_pull_provider.insert(), [{"pull_id": pull_id, "npi": n} for n in npis]
            )
    result.pull = Pull(pull_id, now, params, found, new)
    result.found, result.new = found, new
    if report.unresolved:
        result.messages.append(
            f"{len(report.unresolved)} provider(s) could not be placed on the map (no usable "
            "address or ZIP)."
        )
    return result
