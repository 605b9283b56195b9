"""What every backup module shares: the user-facing error, the owner-only rule, the two kinds
of backup file, and the interface a restore reads a backup through.

Kept apart so the SQLite copy, the portable dump, the restore and the daily copy can each
import these without importing one another.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from services import auth

SQLITE_SUFFIX = ".db"
DUMP_SUFFIX = ".atlas.jsonl.gz"


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


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def existing_columns(conn: Connection, table: sa.Table) -> list[str]:
    """The table's columns as they are in the database (an old one may lack newer columns)."""
    present = {c["name"] for c in sa.inspect(conn).get_columns(table.name)}
    return [c.name for c in table.columns if c.name in present]


@dataclass
class BackupFile(ABC):
    """An opened backup, whichever its kind: its schema version and its tables' rows."""

    version: int
    columns: dict[str, list[str]]  # table -> columns, in dependency order

    @abstractmethod
    def rows(self, table: str) -> Iterator[list[Any]]:
        """The table's rows, values in the order of `columns[table]`."""
