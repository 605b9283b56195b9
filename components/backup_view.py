"""Settings → Backups: an instance owner downloads a backup and restores one into an empty
database; plus the automatic daily copy of a SQLite database, run from app.py.

A backup holds every practice in the database, so the section is drawn only for an owner of
all of them (the single local user, or an instance owner under sign-in); services/backup.py
refuses anyone else too, so hiding it here is a courtesy, not the guard.

The app's own database always holds at least the demo practice, so a restore never goes into
it: it goes into a new, empty database (a new SQLite file, or a PostgreSQL database the owner
created), which the app is then pointed at with `REFERRAL_ATLAS_DB_URL`. Nothing live is ever
overwritten.

Session-state keys: "backup_file" ((name, bytes) of the backup just made), the "backup" flash
slot, and the widget keys starting with "backup_".
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

import sqlalchemy as sa
import streamlit as st
from sqlalchemy.engine import Engine

from components import feedback
from services import auth, backup, config, db
from services.logs import redact

FLASH = "backup"
logger = logging.getLogger(__name__)


@st.cache_resource(show_spinner=False, max_entries=4)
def _daily_done(url: str, day: str) -> str:
    """Once per process, database and day (cached): a crash-safe copy in data/backups/."""
    from components.session import get_engine

    made = backup.daily_backup(get_engine())
    return str(made or "")


def run_daily_backup(engine: Engine) -> None:
    """app.py calls this on every run; the work happens at most once a day per process."""
    if backup.is_sqlite(engine):
        _daily_done(config.database_url(), db.localnow().date().isoformat())


def _make_backup(engine: Engine) -> None:
    try:
        st.session_state["backup_file"] = backup.backup_bytes(engine)
    except auth.PermissionDenied as exc:
        feedback.flash(FLASH, "error", str(exc))
    except Exception as exc:  # an unexpected failure: logged with a reference, shown plainly
        feedback.flash_exception(FLASH, logger, "The backup could not be made.", exc)
    else:
        feedback.clear_flash(FLASH)


def _default_target() -> str:
    stamp = db.localnow().strftime("%Y%m%d-%H%M%S")
    return f"sqlite:///{config.DATA_DIR / f'restored-{stamp}.db'}"


def _restore(upload: object, target_url: str) -> None:
    target_url = (target_url or "").strip()
    if upload is None:
        feedback.flash(FLASH, "warning", "Choose a backup file first.")
        return
    if not target_url:
        feedback.flash(FLASH, "warning", "Give the database to restore into.")
        return
    if target_url == config.database_url():
        feedback.flash(
            FLASH, "error", "That is the database the app is using; restore into a new one."
        )
        return
    try:
        target = db.make_engine(target_url)
    except (db.StorageError, sa.exc.ArgumentError) as exc:
        feedback.flash(FLASH, "error", f"Cannot open that database: {exc}")
        return
    try:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "upload"
            path.write_bytes(upload.getvalue())  # type: ignore[attr-defined]
            result = backup.restore(target, path)
    except (backup.BackupError, auth.PermissionDenied) as exc:
        feedback.flash(FLASH, "error", str(exc))
        return
    except Exception as exc:  # an unexpected failure: logged with a reference, shown plainly
        feedback.flash_exception(FLASH, logger, "The restore failed; nothing was kept.", exc)
        return
    finally:
        target.dispose()
    rows = sum(result.rows.values())
    upgraded = (
        f", upgraded from schema version {result.backup_version}"
        if result.backup_version != result.schema_version
        else ""
    )
    feedback.flash(
        FLASH,
        "success",
        f"Restored {rows:,} rows into {redact(target_url)}{upgraded}. To use it, set "
        f"REFERRAL_ATLAS_DB_URL to that database and restart the app.",
    )


def _code(text: str) -> str:
    """Text for a Markdown code span: nothing is interpreted there except a backtick."""
    return text.replace("`", "'")


def backup_section(engine: Engine) -> None:
    """The owner's Backups section of Settings (nothing at all for anyone else)."""
    if not auth.current_actor().is_instance_owner:
        return
    st.divider()
    st.subheader("Backups")
    if backup.is_sqlite(engine):
        st.caption(
            "A backup is one database file holding every practice, copied safely while the "
            f"app runs. A copy is also made automatically each day in "
            f"`{_code(str(backup.backup_dir(engine)))}`, "
            f"keeping the newest {backup.keep_count()} (setting `{backup.KEEP_SETTING}`)."
        )
    else:
        st.caption(
            "A backup is one compressed file with every row of the app's tables and the "
            "schema version, read from one consistent snapshot of the database."
        )
    with st.container():  # always drawn, so a message appearing does not reset the expander
        feedback.show_flash(FLASH)
    st.button("Make a backup", key="backup_make", on_click=_make_backup, args=(engine,), icon="💾")
    made = st.session_state.get("backup_file")
    if made:
        name, content = made
        st.download_button(
            f"Download {name} ({len(content) / 1024:,.0f} KB)",
            data=content,
            file_name=name,
            mime="application/octet-stream",
            key="backup_download",
            on_click="ignore",
        )
    with st.expander("Restore a backup into an empty database"):
        st.caption(
            "The restore never touches the database in use: it fills a new, empty one (a new "
            "SQLite file, or a PostgreSQL database you created). A backup from a newer "
            "version of Referral Atlas is refused; an older one is upgraded."
        )
        upload = st.file_uploader("Backup file", key="backup_upload", type=None)
        if "backup_target" not in st.session_state:
            st.session_state["backup_target"] = _default_target()
        target = st.text_input(
            "Database to restore into (SQLAlchemy URL)",
            key="backup_target",
            help="For example sqlite:///data/restored.db or postgresql+psycopg://user@host/newdb",
        )
        st.button(
            "Restore",
            key="backup_restore",
            on_click=_restore,
            args=(upload, target),
            disabled=upload is None,
        )
    st.markdown(
        f"Database in use: `{_code(redact(config.database_url()))}`",
    )
