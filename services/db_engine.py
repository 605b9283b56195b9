"""Opening a database: the SQLAlchemy engine for a URL, SQLite's settings, and the checks every
new engine passes (schema upgraded, audit hook installed).

Separate from the schema (services/schema.py) and its upgrades (services/migrations.py): this
module decides how to connect, those decide what the database holds. `make_engine` is reached
as `services.db.make_engine` by the rest of the app.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from services import config
from services.migrations import upgrade
from services.schema import StorageError

#: How long a SQLite writer waits for another's lock before "database is locked". SQLite's
#: lock is not a queue: waiters poll, so under many concurrent writers on a busy machine one can
#: be passed over for seconds (5 s was exceeded in the 20-session load benchmark); a save that
#: waits is better than one that fails.
SQLITE_BUSY_TIMEOUT_S = 30


def _sqlite_pragmas(dbapi_conn: sqlite3.Connection, _record: object) -> None:
    """WAL lets readers work while a writer commits; the busy timeout makes a second writer
    wait instead of failing at once with "database is locked"."""
    cur = dbapi_conn.cursor()
    cur.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_S * 1000}")
    cur.execute("PRAGMA journal_mode = WAL")
    cur.execute("PRAGMA foreign_keys = ON")
    cur.close()


def make_engine(url: str | None = None) -> Engine:
    """Create the engine for `url` (default: the configured URL), schema upgraded and checked.

    Raises StorageError with a readable message when the file is unreadable or not a database.
    """
    url = url or config.database_url()
    sa_url = sa.engine.make_url(url)
    is_sqlite = sa_url.get_backend_name() == "sqlite"
    if is_sqlite and sa_url.database and sa_url.database != ":memory:":
        path = Path(sa_url.database)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageError(f"Cannot create the data folder {path.parent}: {exc}") from exc
    engine = sa.create_engine(
        url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S} if is_sqlite else {}
    )
    if is_sqlite:
        sa.event.listen(engine, "connect", _sqlite_pragmas)
    try:
        upgrade(engine)
    except StorageError:
        engine.dispose()
        raise
    except (sa.exc.DBAPIError, OSError) as exc:
        engine.dispose()
        where = sa_url.render_as_string(hide_password=True)
        detail = str(getattr(exc, "orig", exc)) or type(exc).__name__
        raise StorageError(
            f"Cannot open the database at {where}: {detail}. If it is a file, check that it is "
            "readable and is a Referral Atlas database; move it aside to start afresh."
        ) from exc
    # Imported here: audit imports services.db, which re-exports this module.
    from services import audit

    audit.install(engine)  # roles checked and every change to a practice's records audited
    return engine
