"""Making a backup an owner can download: the file's name, and which kind of backup the
database gets (SQLite's own copy for a SQLite file, the portable dump for any server database).

Kept apart from the two formats so the choice between them, and the owner check in front of
both, sit in one place that the Settings section and the daily copy share.
"""

from __future__ import annotations

import tempfile
from datetime import datetime
from pathlib import Path

from sqlalchemy.engine import Engine

from services import db
from services.backup_base import DUMP_SUFFIX, SQLITE_SUFFIX, is_sqlite, require_backup_owner
from services.backup_dump import write_dump
from services.backup_sqlite import copy_sqlite


def backup_filename(engine: Engine, when: datetime | None = None) -> str:
    """A name saying what and when, e.g. referral-atlas-2026-11-28-2130.db."""
    stamp = (when or db.localnow()).strftime("%Y-%m-%d-%H%M")
    return f"referral-atlas-{stamp}{SQLITE_SUFFIX if is_sqlite(engine) else DUMP_SUFFIX}"


def create_backup(engine: Engine, dest: Path) -> Path:
    """Write a backup of the app database to the file `dest` and return it.

    SQLite goes through the online backup API; every other database through the portable dump.
    """
    require_backup_owner()
    dest.parent.mkdir(parents=True, exist_ok=True)
    if is_sqlite(engine):
        copy_sqlite(engine, dest)
    else:
        write_dump(engine, dest)
    return dest


def backup_bytes(engine: Engine) -> tuple[str, bytes]:
    """(file name, content) of a fresh backup, for a download button."""
    name = backup_filename(engine)
    with tempfile.TemporaryDirectory() as tmp:
        path = create_backup(engine, Path(tmp) / name)
        return name, path.read_bytes()
