"""Backups an owner can download and restore, and SQLite's automatic daily copy, as the rest of
the app reaches them: `from services import backup`, then `backup.backup_bytes(engine)`,
`backup.restore(engine, path)`, `backup.daily_backup(engine)`, `backup.BackupError`.

Two backup formats, one per kind of database: a SQLite `.db` copy made with SQLite's online
backup API, and for PostgreSQL (or any server database) a portable gzip-compressed JSON-lines
dump of the app's own tables (`.atlas.jsonl.gz`). A restore goes into an EMPTY database only
and checks the backup's schema version first. Each job has its own module; this one gathers
their public names so callers need not know which holds what:

- services/backup_base.py: `BackupError`, the owner-only rule, the file suffixes;
- services/backup_sqlite.py: SQLite's online backup, and reading a `.db` backup back;
- services/backup_dump.py: the portable dump, written and read;
- services/backup_make.py: making a backup (`create_backup`, `backup_bytes`, `backup_filename`);
- services/backup_restore.py: restoring into an empty database (`restore`, `is_empty`);
- services/backup_daily.py: the automatic daily SQLite copy and its rotation.
"""

from __future__ import annotations

from services.backup_base import (
    DUMP_SUFFIX,
    SQLITE_SUFFIX,
    BackupError,
    is_sqlite,
    require_backup_owner,
)
from services.backup_daily import (
    DEFAULT_KEEP,
    KEEP_SETTING,
    backup_dir,
    daily_backup,
    keep_count,
)
from services.backup_dump import DUMP_FORMAT, DUMP_FORMAT_VERSION
from services.backup_make import backup_bytes, backup_filename, create_backup
from services.backup_restore import RestoreResult, is_empty, open_backup, restore

__all__ = [
    "DEFAULT_KEEP",
    "DUMP_FORMAT",
    "DUMP_FORMAT_VERSION",
    "DUMP_SUFFIX",
    "KEEP_SETTING",
    "SQLITE_SUFFIX",
    "BackupError",
    "RestoreResult",
    "backup_bytes",
    "backup_dir",
    "backup_filename",
    "create_backup",
    "daily_backup",
    "is_empty",
    "is_sqlite",
    "keep_count",
    "open_backup",
    "require_backup_owner",
    "restore",
]
