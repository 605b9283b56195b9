"""Backups an owner can download and restore, and SQLite's automatic daily copy.

Two backup formats, one per kind of database:

- SQLite: one `.db` file made with SQLite's online backup API (`sqlite3.Connection.backup`). It
  copies a consistent snapshot page by page while the app keeps running (writers wait briefly),
  including what still sits in the write-ahead log, which copying the file would miss.
- PostgreSQL (or any other server database): a logical dump of the app's own tables, written by
  SQLAlchemy as gzip-compressed JSON lines (`.atlas.jsonl.gz`). `pg_dump` was not used: it must
  be installed on the app server in a version at least the server's, it dumps whatever else the
  database holds, and its output restores only through psql/pg_restore into PostgreSQL, outside
  the schema-version check below. The portable dump holds exactly the app's tables and the
  schema version, restores through this module into PostgreSQL or SQLite alike, and is readable.

Restore goes into an EMPTY database only (a restore never merges with or overwrites live data).
It reads the backup's schema version first and refuses one newer than this app; an older one is
rebuilt at its own version (the tables and columns it has) and then upgraded by the normal
migration steps (`db.upgrade`), exactly as an old database file would be on start-up.
"""

from __future__ import annotations

import gzip
import json
import logging
import sqlite3
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from services import auth, config, db

log = logging.getLogger(__name__)

DUMP_FORMAT = "referral-atlas-dump"
DUMP_FORMAT_VERSION = 1
SQLITE_SUFFIX = ".db"
DUMP_SUFFIX = ".atlas.jsonl.gz"
#: Setting (env var or secrets.toml) for how many daily SQLite backups to keep.
KEEP_SETTING = "REFERRAL_ATLAS_BACKUP_KEEP"
DEFAULT_KEEP = 7
_SQLITE_MAGIC = b"SQLite format 3\x00"
_BATCH = 1000


class BackupError(RuntimeError):
    """A backup or restore could not be done; the message is meant for the user."""


def require_backup_owner() -> None:
    """A backup holds every practice in the database, so only an owner of all of them (the
    single local user, or an instance owner under sign-in) may make or restore one."""
    if not auth.current_actor().is_instance_owner:
        raise auth.PermissionDenied(
            "Backups hold every practice's records: only an instance owner can make or "
            "restore them."
        )


@dataclass(frozen=True)
class RestoreResult:
    backup_version: int  # the schema version the backup was made at
    schema_version: int  # the version of the restored database (after any upgrade)
    rows: dict[str, int]  # table -> rows restored


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def backup_filename(engine: Engine, when: datetime | None = None) -> str:
    """A name saying what and when, e.g. referral-atlas-2026-11-28-2130.db."""
    stamp = (when or db.localnow()).strftime("%Y-%m-%d-%H%M")
    return f"referral-atlas-{stamp}{SQLITE_SUFFIX if is_sqlite(engine) else DUMP_SUFFIX}"


# --- making a backup ------------------------------------------------------------------------


def create_backup(engine: Engine, dest: Path) -> Path:
    """Write a backup of the app database to the file `dest` and return it.

    SQLite goes through the online backup API; every other database through the portable dump.
    """
    require_backup_owner()
    dest.parent.mkdir(parents=True, exist_ok=True)
    if is_sqlite(engine):
        _sqlite_backup(engine, dest)
    else:
        _write_dump(engine, dest)
    return dest


def backup_bytes(engine: Engine) -> tuple[str, bytes]:
    """(file name, content) of a fresh backup, for a download button."""
    name = backup_filename(engine)
    with tempfile.TemporaryDirectory() as tmp:
        path = create_backup(engine, Path(tmp) / name)
        return name, path.read_bytes()


def _sqlite_backup(engine: Engine, dest: Path) -> None:
    raw = engine.raw_connection()
    try:
        source = raw.driver_connection
        assert isinstance(source, sqlite3.Connection)
        target = sqlite3.connect(dest)
        try:
            source.backup(target)
        finally:
            target.close()
    finally:
        raw.close()


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def _write_dump(engine: Engine, dest: Path) -> None:
    # One repeatable-read transaction: every table is read from the same snapshot, so a
    # referral saved mid-dump cannot appear without its partner (PostgreSQL's MVCC).
    snapshot = engine.connect().execution_options(isolation_level="REPEATABLE READ")
    with snapshot as conn, conn.begin():
        version = db.current_version(conn)
        names = set(sa.inspect(conn).get_table_names())
        with gzip.open(dest, "wt", encoding="utf-8") as out:
            header = {
                "format": DUMP_FORMAT,
                "format_version": DUMP_FORMAT_VERSION,
                "schema_version": version,
                "created_at": db.utcnow().isoformat(),
                "source": engine.dialect.name,
            }
            out.write(json.dumps(header) + "\n")
            for table in db.metadata.sorted_tables:
                if table.name not in names:
                    continue
                columns = _existing_columns(conn, table)
                out.write(json.dumps({"table": table.name, "columns": columns}) + "\n")
                query = sa.select(*(table.c[c] for c in columns)).order_by(
                    *table.primary_key.columns
                )
                for row in conn.execute(query):
                    out.write(json.dumps([_json_value(v) for v in row]) + "\n")


def _existing_columns(conn: Connection, table: sa.Table) -> list[str]:
    """The table's columns as they are in the database (an old one may lack newer columns)."""
    present = {c["name"] for c in sa.inspect(conn).get_columns(table.name)}
    return [c.name for c in table.columns if c.name in present]


# --- reading a backup -----------------------------------------------------------------------


@dataclass
class _Backup(ABC):
    version: int
    columns: dict[str, list[str]]  # table -> columns, in dependency order

    @abstractmethod
    def rows(self, table: str) -> Iterator[list[Any]]:
        """The table's rows, values in the order of `columns[table]`."""


class _DumpBackup(_Backup):
    def __init__(self, path: Path) -> None:
        self.path = path
        columns: dict[str, list[str]] = {}
        header = None
        try:
            with gzip.open(path, "rt", encoding="utf-8") as fh:
                header = json.loads(fh.readline())
                for line in fh:
                    if line.startswith("{"):
                        item = json.loads(line)
                        columns[item["table"]] = item["columns"]
        except (OSError, EOFError, ValueError, KeyError, TypeError) as exc:
            raise BackupError(f"The file is not a readable Referral Atlas backup ({exc}).") from exc
        if not isinstance(header, dict) or header.get("format") != DUMP_FORMAT:
            raise BackupError("The file is not a Referral Atlas backup.")
        if header.get("format_version", 0) > DUMP_FORMAT_VERSION:
            raise BackupError("The backup was written by a newer Referral Atlas; update first.")
        super().__init__(int(header["schema_version"]), columns)

    def rows(self, table: str) -> Iterator[list[Any]]:
        with gzip.open(self.path, "rt", encoding="utf-8") as fh:
            fh.readline()
            current = None
            for line in fh:
                if line.startswith("{"):
                    if current == table:
                        return
                    current = json.loads(line)["table"]
                elif current == table:
                    yield json.loads(line)


class _SqliteBackup(_Backup):
    def __init__(self, path: Path) -> None:
        self.engine = sa.create_engine(
            f"sqlite:///file:{path}?mode=ro&uri=true", poolclass=sa.NullPool
        )
        try:
            with self.engine.connect() as conn:
                version = db.current_version(conn)
                names = set(sa.inspect(conn).get_table_names())
                columns = {
                    t.name: _existing_columns(conn, t)
                    for t in db.metadata.sorted_tables
                    if t.name in names
                }
        except sa.exc.DBAPIError as exc:
            self.engine.dispose()
            raise BackupError(f"The file is not a readable SQLite database ({exc.orig}).") from exc
        if version == 0 or "practice" not in columns:
            self.engine.dispose()
            raise BackupError("The file is a SQLite database but not a Referral Atlas backup.")
        super().__init__(version, columns)

    def rows(self, table: str) -> Iterator[list[Any]]:
        t = db.metadata.tables[table]
        cols = [sa.column(c) for c in self.columns[table]]
        query = (
            sa.select(*cols)
            .select_from(sa.table(table))
            .order_by(*(sa.column(c.name) for c in t.primary_key.columns))
        )
        with self.engine.connect() as conn:
            for row in conn.execute(query):
                yield list(row)


def open_backup(path: Path) -> _Backup:
    """Read a backup file's kind, schema version and tables; BackupError if it is neither."""
    try:
        head = path.read_bytes()[:16] if path.stat().st_size < 64 else _head(path)
    except OSError as exc:
        raise BackupError(f"Cannot read the backup file: {exc.strerror or exc}.") from exc
    if head.startswith(_SQLITE_MAGIC):
        return _SqliteBackup(path)
    if head.startswith(b"\x1f\x8b"):
        return _DumpBackup(path)
    raise BackupError("The file is not a Referral Atlas backup (neither .db nor .atlas.jsonl.gz).")


def _head(path: Path) -> bytes:
    with path.open("rb") as fh:
        return fh.read(16)


# --- restoring ------------------------------------------------------------------------------


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
        if isinstance(backup, _SqliteBackup):
            backup.engine.dispose()
    version = db.upgrade(engine)
    log.info("restored a backup at schema version %s (now %s): %s", backup.version, version, rows)
    return RestoreResult(backup.version, version, rows)


def _load(engine: Engine, backup: _Backup) -> dict[str, int]:
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


def _reset_sequences(conn: Connection, backup: _Backup) -> None:
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


# --- SQLite's automatic daily backup --------------------------------------------------------


def backup_dir(engine: Engine) -> Path:
    """Where a SQLite database's daily backups go: `backups/` in the database's folder."""
    return Path(engine.url.database or ".").resolve().parent / "backups"


def keep_count() -> int:
    raw = config.setting(KEEP_SETTING)
    try:
        return max(1, int(raw)) if raw else DEFAULT_KEEP
    except ValueError:
        log.warning("%s=%r is not a whole number; keeping %s backups", KEEP_SETTING, raw,
                    DEFAULT_KEEP)  # fmt: skip
        return DEFAULT_KEEP


def daily_backup(
    engine: Engine,
    folder: Path | None = None,
    keep: int | None = None,
    today: date | None = None,
) -> Path | None:
    """Once per calendar day, copy a SQLite app database to `folder` and keep the newest `keep`.

    Returns the new file, or None when today's copy exists or the database is not a SQLite file
    (a server database is the server's to back up). Never raises: a failed automatic backup is
    logged and the app goes on.
    """
    if not is_sqlite(engine) or engine.url.database in (None, "", ":memory:"):
        return None
    # Beside the database (data/backups/ for the default data/referral_atlas.db), so each
    # database file keeps its own series and a scratch database never displaces the real one's.
    folder = folder or backup_dir(engine)
    keep = keep or keep_count()
    day = (today or db.localnow().date()).isoformat()
    target = folder / f"daily-{day}{SQLITE_SUFFIX}"
    if target.exists():
        return None
    try:
        partial = folder / f".daily-{day}.partial"
        with auth.acting_as(auth.SYSTEM):  # the app's own job, whoever's click ran it
            create_backup(engine, partial)
        partial.replace(target)  # a crash mid-copy never leaves a half file named as a backup
    except (OSError, sqlite3.Error, sa.exc.DBAPIError) as exc:
        log.error("automatic daily backup to %s failed: %s", folder, exc)
        return None
    old = sorted(folder.glob(f"daily-*{SQLITE_SUFFIX}"))[:-keep]
    for path in old:
        try:
            path.unlink()
        except OSError as exc:
            log.warning("could not remove old backup %s: %s", path, exc)
    return target
