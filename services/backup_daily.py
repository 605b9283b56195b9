"""SQLite's automatic daily backup: one copy per calendar day beside the database file, the
oldest ones removed so only the newest few are kept.

Separate from making a backup on request: this runs as the app itself (not as whoever's click
triggered the run), never raises, and owns its folder, file names and the keep setting.
"""

from __future__ import annotations

import logging
import sqlite3
from datetime import date
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from services import auth, config, db
from services.backup_base import SQLITE_SUFFIX, is_sqlite
from services.backup_make import create_backup

log = logging.getLogger(__name__)

#: Setting (env var or secrets.toml) for how many daily SQLite backups to keep.
KEEP_SETTING = "REFERRAL_ATLAS_BACKUP_KEEP"
DEFAULT_KEEP = 7


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
