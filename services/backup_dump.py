"""The portable dump: the app's own tables as gzip-compressed JSON lines (`.atlas.jsonl.gz`),
written by SQLAlchemy from PostgreSQL (or any server database) and read back for a restore.

`pg_dump` was not used: it must be installed on the app server in a version at least the
server's, it dumps whatever else the database holds, and its output restores only through
psql/pg_restore into PostgreSQL, outside the app's schema-version check. The dump holds
exactly the app's tables and the schema version, restores into PostgreSQL or SQLite alike, and
is readable. Writing and reading live together so the format is defined in one place.

Layout: a header line (format, format version, schema version, when, source dialect), then per
table a `{"table": ..., "columns": [...]}` line followed by one JSON array per row.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from services import db
from services.backup_base import BackupError, BackupFile, existing_columns

DUMP_FORMAT = "referral-atlas-dump"
DUMP_FORMAT_VERSION = 1


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def write_dump(engine: Engine, dest: Path) -> None:
    """Write the app's tables, as they are in the database behind `engine`, to `dest`."""
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
                columns = existing_columns(conn, table)
                out.write(json.dumps({"table": table.name, "columns": columns}) + "\n")
                query = sa.select(*(table.c[c] for c in columns)).order_by(
                    *table.primary_key.columns
                )
                for row in conn.execute(query):
                    out.write(json.dumps([_json_value(v) for v in row]) + "\n")


class DumpBackup(BackupFile):
    """A dump file opened for a restore: its header and table list read up front (so a file
    that is not a dump is refused before anything is written), rows streamed per table."""

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
