"""SQLite backups: copying a live database with SQLite's online backup API, and reading such a
copy back for a restore.

The online backup API (`sqlite3.Connection.backup`) copies a consistent snapshot page by page
while the app keeps running (writers wait briefly), including what still sits in the
write-ahead log, which copying the file would miss. Separate from the portable dump because
it is SQLite-only and works on pages, not on the app's tables.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from services import db
from services.backup_base import BackupError, BackupFile, existing_columns

#: The first bytes of every SQLite database file.
SQLITE_MAGIC = b"SQLite format 3\x00"


def copy_sqlite(engine: Engine, dest: Path) -> None:
    """Copy the SQLite database behind `engine` to the file `dest` through the backup API."""
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


class SqliteBackup(BackupFile):
    """A `.db` backup opened read-only; `engine` must be disposed of when done."""

    def __init__(self, path: Path) -> None:
        self.engine = sa.create_engine(
            f"sqlite:///file:{path}?mode=ro&uri=true", poolclass=sa.NullPool
        )
        try:
            with self.engine.connect() as conn:
                version = db.current_version(conn)
                names = set(sa.inspect(conn).get_table_names())
                columns = {
                    t.name: existing_columns(conn, t)
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
