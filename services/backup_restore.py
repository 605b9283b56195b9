"""Restoring a backup file into an EMPTY database, with its schema version checked first.

A restore never merges with or overwrites live data. It reads the backup's schema version
first and refuses one newer than this app; an older one is rebuilt at its own version (the
tables and columns it has) and then upgraded by the normal migration steps (`db.upgrade`),
exactly as an old database file would be on start-up. Separate from making backups because it
reads either kind of file and writes into a database, where making one only reads.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from services import db
from services.backup_base import BackupError, BackupFile, require_backup_owner
from services.backup_dump import DumpBackup
from services.backup_sqlite import SQLITE_MAGIC, SqliteBackup

log = logging.getLogger(__name__)

_BATCH = 1000


@dataclass(frozen=True)
class RestoreResult:
    backup_version: int  # the schema version the backup was made at
    schema_version: int  # the version of the restored database (after any upgrade)
    rows: dict[str, int]  # table -> rows restored


def open_backup(path: Path) -> BackupFile:
    """Read a backup file's kind, schema version and tables; BackupError if it is neither."""
    try:
        head = path.read_bytes()[:16] if path.stat().st_size < 64 else _head(path)
    except OSError as exc:
        raise BackupError(f"Cannot read the backup file: {exc.strerror or exc}.") from exc
    if head.startswith(SQLITE_MAGIC):
        return SqliteBackup(path)
    if head.startswith(b"\x1f\x8b"):
        return DumpBackup(path)
    raise BackupError("The file is not a Referral Atlas backup (neither .db nor .atlas.jsonl.gz).")


def _head(path: Path) -> bytes:
    with path.open("rb") as fh:
        return fh.read(16)


def is_empty(engine: Engine) -> bool:
    """True when the database holds no table or only tables without a single row: a restore
    target. A fresh app database (schema created, nothing saved) counts as empty."""
    with engine.connect() as conn:
        names = set(sa.inspect(conn).get_table_names()) - {"schema_version"}
        for name in names:
            if conn.execute(sa.text(f'SELECT 1 FROM "{name}" LIMIT 1')).first() is not None:
                return False
    return True


def _convert(table: sa.Table, columns: list[str], row: list[Any]) -> dict[str, Any]:
    """JSON gives dates and times as text and booleans maybe as 0/1: back to Python values."""
    out: dict[str, Any] = {}
    for name, value in zip(columns, row, strict=True):
        col_type = table.c[name].type
        if isinstance(col_type, sa.TypeDecorator):  # e.g. a UTC timestamp type over DateTime
            col_type = col_type.impl_instance
        if value is not None:
            if isinstance(col_type, sa.DateTime) and isinstance(value, str):
                value = datetime.fromisoformat(value)
            elif isinstance(col_type, sa.Date) and isinstance(value, str):
                value = date.fromisoformat(value[:10])
            elif isinstance(col_type, sa.Boolean):
                value = bool(value)
        out[name] = value
    return out


def restore(engine: Engine, path: Path) -> RestoreResult:
    """Restore the backup file at `path` into the empty database behind `engine`.

    Raises BackupError (nothing written) when the file is not a backup, its schema is newer
    than this app, or the database already holds data.
    """
    require_backup_owner()
    backup = open_backup(path)
    try:
        if backup.version > db.latest_version():
            raise BackupError(
                f"The backup is at schema version {backup.version}, newer than this app "
                f"(version {db.latest_version()}). Update Referral Atlas before restoring it."
            )
        if not is_empty(engine):
            raise BackupError(
                "This database already holds data. Restore only into an empty database "
                "(a new file or a new PostgreSQL database), so nothing is overwritten."
            )
        rows = _load(engine, backup)
    finally:
        if isinstance(backup, SqliteBackup):
            backup.engine.dispose()
    version = db.upgrade(engine)
    log.info("restored a backup at schema version %s (now %s): %s", backup.version, version, rows)
    return RestoreResult(backup.version, version, rows)


def _load(engine: Engine, backup: BackupFile) -> dict[str, int]:
    """One transaction: drop the empty tables, build the backup's own schema, load its rows."""
    counts: dict[str, int] = {}
    # The rows, the audit trail among them, arrive as they were: a restore is not a run of new
    # record edits, so the per-statement audit hook stands aside (the owner check was above).
    with engine.connect().execution_options(audit_internal=True) as conn, conn.begin():
        # An empty app database may already hold the latest schema; rebuild it at the
        # backup's version so the migration steps after the load see what they expect.
        db.metadata.drop_all(conn, checkfirst=True)
        shapes = sa.MetaData()
        for table in db.metadata.sorted_tables:
            if table.name not in backup.columns:
                continue
            keep = set(backup.columns[table.name])
            shape = sa.Table(table.name, shapes)
            for col in table.columns:
                if col.name in keep:
                    shape.append_column(col._copy())
            for fk in table.foreign_key_constraints:
                if set(fk.column_keys) <= keep:
                    shape.append_constraint(fk._copy())
            for uc in table.constraints:
                if isinstance(uc, sa.UniqueConstraint) and {c.name for c in uc.columns} <= keep:
                    shape.append_constraint(sa.UniqueConstraint(*uc.columns.keys(), name=uc.name))
            for index in table.indexes:
                if {c.name for c in index.columns} <= keep:
                    sa.Index(index.name, *(shape.c[c.name] for c in index.columns))
            shape.create(conn)
        for table in db.metadata.sorted_tables:
            if table.name not in backup.columns:
                continue
            columns = backup.columns[table.name]
            batch: list[dict[str, Any]] = []
            counts[table.name] = 0
            for row in backup.rows(table.name):
                batch.append(_convert(table, columns, row))
                if len(batch) >= _BATCH:
                    conn.execute(table.insert(), batch)
                    counts[table.name] += len(batch)
                    batch = []
            if batch:
                conn.execute(table.insert(), batch)
                counts[table.name] += len(batch)
        if conn.dialect.name == "postgresql":
            _reset_sequences(conn, backup)
    return counts


def _reset_sequences(conn: Connection, backup: BackupFile) -> None:
    """Rows came in with their ids; move each id sequence past them so new rows do not clash."""
    for table in db.metadata.sorted_tables:
        pk = list(table.primary_key.columns)
        if table.name not in backup.columns or len(pk) != 1 or not pk[0].autoincrement:
            continue
        if not isinstance(pk[0].type, sa.Integer):
            continue
        conn.execute(
            sa.text(
                f"SELECT setval(pg_get_serial_sequence('{table.name}', '{pk[0].name}'), "
                f'COALESCE((SELECT MAX("{pk[0].name}") FROM "{table.name}"), 0) + 1, false)'
            )
        )
