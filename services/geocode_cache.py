"""The geocode cache (`geocode_cache` table): read results by address key, write them back.

Why separate: it is the only part of geocoding that does SQL. The cascade reads it first so a
cached key is never geocoded twice, and writes each chunk it places in its own transaction.
"""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from services import db
from services.geocode_types import GeocodeResult

_CACHE_READ_CHUNK = 500


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
