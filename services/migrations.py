"""Schema versions and in-place upgrades: the numbered steps, and `upgrade` that runs them.

The `schema_version` table holds one row per applied step. `MIGRATIONS` maps each version to
the function that brings a database from the previous version to it; `upgrade` runs the missing
steps in order, each in its own transaction, so a failed step leaves the database at the last
good version instead of half-migrated. Kept apart from the tables (services/schema.py) so the
data model reads on its own, and from opening a database (services/db_engine.py), which calls
`upgrade` on every engine it makes.
"""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from services.schema import (
    StorageError,
    app_user,
    audit_log,
    data_file_import,
    letter_template,
    medicare_volume,
    metadata,
    named_referrer,
    npi_pull_provider,
    procedure_volume,
    schema_version,
    shared_patient_pair,
    tracker_import,
    utcnow,
)


def _migrate_to_1(conn: Connection) -> None:
    """Version 1: the initial schema (a pre-versioned database gets what it lacks)."""
    for table in V1_TABLES:
        metadata.tables[table].create(conn, checkfirst=True)


def _migrate_to_2(conn: Connection) -> None:
    """Version 2: practices can save their own letter templates."""
    letter_template.create(conn, checkfirst=True)


def _migrate_to_4(conn: Connection) -> None:
    """Version 4: the providers found by each area search, for "new since"."""
    npi_pull_provider.create(conn, checkfirst=True)


def _migrate_to_5(conn: Connection) -> None:
    """Version 5: referrers known only by name, for the referral log."""
    named_referrer.create(conn, checkfirst=True)


def _migrate_to_6(conn: Connection) -> None:
    """Version 6: the record of each tracker file imported into the referral log."""
    tracker_import.create(conn, checkfirst=True)


def _migrate_to_7(conn: Connection) -> None:
    """Version 7: imported public data files (Medicare volumes, PT-generating procedures,
    shared-patient pairs) and the record of each import."""
    for table in (medicare_volume, procedure_volume, shared_patient_pair, data_file_import):
        table.create(conn, checkfirst=True)


def _migrate_to_8(conn: Connection) -> None:
    """Version 8: users with per-practice roles, and the audit trail."""
    app_user.create(conn, checkfirst=True)
    audit_log.create(conn, checkfirst=True)


def _migrate_to_9(conn: Connection) -> None:
    """Version 9: on SQLite, the tables that imports fill in bulk (PT-generating procedures and
    shared-patient pairs) keep their rows in primary-key order (WITHOUT ROWID): one B-tree to
    write instead of a row table plus its key index. Their rows are copied over."""
    if conn.dialect.name != "sqlite":
        return
    for table in (procedure_volume, shared_patient_pair):
        sql = conn.exec_driver_sql(
            "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table.name,)
        ).scalar()
        if sql is None or "WITHOUT ROWID" in sql.upper():
            table.create(conn, checkfirst=True)
            continue
        old = f"{table.name}_before_v9"
        conn.exec_driver_sql(f"ALTER TABLE {table.name} RENAME TO {old}")
        for index in table.indexes:  # they moved with the renamed table; their names are needed
            conn.exec_driver_sql(f"DROP INDEX IF EXISTS {index.name}")
        table.create(conn)
        cols = ", ".join(c.name for c in table.columns)
        conn.exec_driver_sql(f"INSERT INTO {table.name} ({cols}) SELECT {cols} FROM {old}")
        conn.exec_driver_sql(f"DROP TABLE {old}")


V1_TABLES = (
    "practice", "provider", "geocode_cache", "partner", "partner_stage_history", "activity",
    "referral", "npi_pull",
)  # fmt: skip

#: version -> step bringing a database from the version before to this one. Append a step for
#: every schema change made in services/schema.py (new table: `create(checkfirst=True)`; new
#: column: ALTER TABLE), never edit an old one; tests/test_db.py upgrades a frozen version-1
#: database and compares the result with a fresh one, so a change without its step fails there.
MIGRATIONS: dict[int, Callable[[Connection], None]] = {
    1: _migrate_to_1,
    2: _migrate_to_2,
    4: _migrate_to_4,
    5: _migrate_to_5,
    6: _migrate_to_6,
    7: _migrate_to_7,
    8: _migrate_to_8,
    9: _migrate_to_9,
}


def latest_version() -> int:
    return max(MIGRATIONS)


def current_version(conn: Connection) -> int:
    if not sa.inspect(conn).has_table("schema_version"):
        return 0
    return conn.execute(sa.select(sa.func.max(schema_version.c.version))).scalar() or 0


def upgrade(engine: Engine) -> int:
    """Bring the database to the latest schema version in place; return that version.

    A new, empty database is created at the latest version directly. An existing one runs the
    missing steps in order; each step commits with its version row, so an interrupted upgrade
    resumes from the last completed step and never leaves data half-migrated.
    """
    with engine.begin() as conn:
        existing = set(sa.inspect(conn).get_table_names())
        if not existing - {"schema_version"}:
            metadata.create_all(conn)
            conn.execute(
                schema_version.insert().values(version=latest_version(), applied_at=utcnow())
            )
            return latest_version()
        schema_version.create(conn, checkfirst=True)
        version = current_version(conn)
    if version > latest_version():
        raise StorageError(
            f"The database is at schema version {version}, newer than this app "
            f"(version {latest_version()}). Update Referral Atlas before opening it."
        )
    for target in sorted(v for v in MIGRATIONS if v > version):
        with engine.begin() as conn:
            MIGRATIONS[target](conn)
            conn.execute(schema_version.insert().values(version=target, applied_at=utcnow()))
        version = target
    return version
