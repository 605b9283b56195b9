"""Area search: the registry's providers around a practice, stored, geocoded and dated.

A search is many small registry queries (services/area_plan.py says which: every ZIP near the
practice times every taxonomy text the chosen groups need, each with
`address_purpose=LOCATION` so a mailing address elsewhere does not bring a provider in), run a
few at a time (services/area_queries.py). The registry's text matching is loose, so results
are kept only when their taxonomy *code* falls in a chosen group; distance is exact once
geocoded. This module runs a search from start to end and keeps its record (the pulls).

Writes happen in an order that keeps the database consistent if the run is interrupted:
providers are upserted in one transaction after all queries returned; geocoding commits per
chunk to the cache and then to the providers (services/provider_store.py); the `npi_pull` row
(with the providers it found) is written last. An interrupted run therefore records no pull,
and a rerun redoes the queries and finds the geocoding already cached.

Every registry query has a total deadline (30 s, retries included: services/http_deadline.py).
When the registry stops answering, the search ends with how many queries were done, and the
providers that did arrive are stored and placed (but no pull is recorded: it is incomplete).
A Stop abandons the queries in flight at once instead of waiting for their answers.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from services import area_plan, db
from services.area_queries import MAX_IN_FLIGHT, Progress, run_queries
from services.geo import haversine_mi
from services.npi_records import ProviderRecord
from services.npi_registry import RegistryClient
from services.practices import Practice
from services.provider_store import geocode_providers, upsert_providers
from services.specialties import GROUPS_BY_KEY, group_for_codes


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
    upsert_providers(engine, kept, today)
    report = geocode_providers(
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
    zips = area_plan.search_zips(lat, lon, radius_mi)
    texts = area_plan.taxonomy_descriptions(sorted(group_set))
    pairs = [(z, t) for z in zips for t in texts]
    client = client or RegistryClient()
    outcome = run_queries(client, pairs, progress, stop, max_workers)
    result.queries, result.offline = outcome.queries, outcome.offline
    result.stopped = outcome.stopped
    result.messages.extend(outcome.messages)
    records = outcome.records
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
    inserted = upsert_providers(engine, kept, today)

    def geo_progress(done: int, total: int, stage: str) -> None:
        if progress:
            progress(done, total, f"geocode:{stage}")

    report = geocode_providers(
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
        "lat": lat, "lon": lon, "radius_mi": radius_mi,
        "margin_mi": area_plan.margin_mi(radius_mi),
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
