"""Storing registry records as providers and placing them on the map.

Shared by the area search and the NPPES file import, which both turn `ProviderRecord`s into
provider rows: new NPIs are inserted, known ones refreshed (never demo rows), and a changed
address clears the coordinates so the provider is geocoded again. Kept apart from the search
because the import uses it without any registry query.
"""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from services import db, geocoding
from services.npi_records import ProviderRecord


def upsert_providers(
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


def geocode_providers(
    engine: Engine, npis: list[str], refresh: bool, **geo_kwargs
) -> geocoding.GeocodeReport:
    """Geocode the providers that need it and write their coordinates; with `refresh`, those
    placed only at their ZIP's centroid are tried again."""
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
