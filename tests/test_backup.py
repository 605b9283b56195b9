"""Backup and restore: a round trip keeps every table identical, on SQLite and on PostgreSQL."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from services import backup_base, backup_daily, backup_make, backup_restore, db
from tests.test_db import _columns, _v1_database


def _same_instant(value: object) -> object:
    """Timestamps as naive UTC: a `timestamptz` column reads back aware on PostgreSQL and
    naive from SQLite, for the same instant."""
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(UTC).replace(tzinfo=None)
    return value


def _all_rows(engine: sa.Engine) -> dict[str, list[tuple]]:
    """Every row of every app table, ordered by primary key."""
    out = {}
    with engine.connect() as conn:
        for table in db.metadata.sorted_tables:
            query = sa.select(table).order_by(*table.primary_key.columns)
            rows = [tuple(_same_instant(v) for v in r) for r in conn.execute(query)]
            if table.name == "schema_version":
                rows = [r[:1] for r in rows]  # applied_at is when each step ran
            out[table.name] = rows
    return out


def test_round_trip_restores_every_table_identically(demo_engine, empty_db_url, tmp_path):
    before = _all_rows(demo_engine)
    assert sum(len(rows) for rows in before.values()) > 100  # the demo fills many tables
    assert all(before[t] for t in ("practice", "provider", "partner", "referral", "activity"))
    path = backup_make.create_backup(
        demo_engine, tmp_path / backup_make.backup_filename(demo_engine)
    )
    if demo_engine.dialect.name == "sqlite":
        assert path.name.endswith(".db")
        assert path.read_bytes().startswith(b"SQLite format 3\x00")
    else:
        assert path.name.endswith(".atlas.jsonl.gz")
        with gzip.open(path, "rt") as fh:
            assert json.loads(fh.readline())["schema_version"] == db.latest_version()

    target = db.make_engine(empty_db_url())  # a new app database: schema, no rows
    result = backup_restore.restore(target, path)
    assert result.backup_version == result.schema_version == db.latest_version()
    assert result.rows["referral"] == len(before["referral"])
    assert _all_rows(target) == before
    # new rows get fresh ids, not ones the restored rows already hold
    with target.begin() as conn:
        practice_id = conn.execute(sa.select(db.practice.c.id)).scalars().first()
        new_id = conn.execute(
            db.referral.insert().values(
                practice_id=practice_id, partner_npi="1234567893", direction="received",
                referral_date=date(2026, 11, 28), status="received", version=1,
            )
        ).inserted_primary_key[0]  # fmt: skip
    assert new_id > max(r[0] for r in before["referral"])
    target.dispose()


def test_backup_bytes_names_the_file_and_holds_the_backup(demo_engine, empty_db_url, tmp_path):
    name, content = backup_make.backup_bytes(demo_engine)
    assert name.startswith("referral-atlas-")
    path = tmp_path / name
    path.write_bytes(content)
    target = db.make_engine(empty_db_url())
    backup_restore.restore(target, path)
    assert _all_rows(target)["partner"] == _all_rows(demo_engine)["partner"]
    target.dispose()


def test_restore_refuses_a_database_that_holds_data(demo_engine, tmp_path):
    path = backup_make.create_backup(demo_engine, tmp_path / "b")
    before = _all_rows(demo_engine)
    with pytest.raises(backup_base.BackupError, match="already holds data"):
        backup_restore.restore(demo_engine, path)
    assert _all_rows(demo_engine) == before


def test_restore_refuses_a_newer_schema_and_writes_nothing(demo_engine, empty_db_url, tmp_path):
    with demo_engine.begin() as conn:
        conn.execute(db.schema_version.insert().values(version=db.latest_version() + 1))
    path = backup_make.create_backup(demo_engine, tmp_path / "newer")
    target_url = empty_db_url()
    target = sa.create_engine(target_url)
    with pytest.raises(backup_base.BackupError, match="newer than this app"):
        backup_restore.restore(target, path)
    assert sa.inspect(target).get_table_names() == []
    target.dispose()


def test_an_older_backup_is_upgraded_to_the_current_schema(empty_db_url, tmp_path):
    old_url = empty_db_url()
    _v1_database(old_url)
    old = sa.create_engine(old_url)  # not upgraded: the backup is taken at version 1
    path = backup_make.create_backup(old, tmp_path / "v1")
    old.dispose()
    target = db.make_engine(empty_db_url())
    result = backup_restore.restore(target, path)
    assert (result.backup_version, result.schema_version) == (1, db.latest_version())
    fresh = db.make_engine(empty_db_url())
    assert _columns(target) == _columns(fresh)
    with target.connect() as conn:
        assert conn.execute(sa.select(db.practice.c.name)).scalar() == "Old Practice"
        assert conn.execute(sa.select(sa.func.count()).select_from(db.referral)).scalar() == 1
    target.dispose()
    fresh.dispose()


def test_a_sqlite_backup_restores_into_the_other_kind_of_database(tmp_path, empty_db_url):
    """Moving from the single-user SQLite file to a clinic server is a restore."""
    from services import demo
    from tests.conftest import TODAY

    source = db.make_engine(f"sqlite:///{tmp_path / 'single.db'}")
    demo.ensure_demo(source, TODAY)
    path = backup_make.create_backup(source, tmp_path / "single-backup.db")
    target = db.make_engine(empty_db_url())
    backup_restore.restore(target, path)
    assert _all_rows(target) == _all_rows(source)
    source.dispose()
    target.dispose()


@pytest.mark.parametrize(
    "content",
    [b"", b"hello, not a backup", b"\x1f\x8b garbage that is not gzip", b"SQLite format 3\x00xx"],
)
def test_a_file_that_is_not_a_backup_is_refused_plainly(content, empty_db_url, tmp_path):
    path = tmp_path / "upload.bin"
    path.write_bytes(content)
    target = db.make_engine(empty_db_url())
    with pytest.raises(backup_base.BackupError, match="not a"):
        backup_restore.restore(target, path)
    target.dispose()


def test_a_plain_sqlite_file_that_is_not_ours_is_refused(tmp_path, empty_db_url):
    other = tmp_path / "other.db"
    with sa.create_engine(f"sqlite:///{other}").begin() as conn:
        conn.exec_driver_sql("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")
    with pytest.raises(backup_base.BackupError, match="not a Referral Atlas backup"):
        backup_restore.restore(db.make_engine(empty_db_url()), other)


def test_daily_backup_runs_once_a_day_and_keeps_the_newest_n(tmp_path):
    engine = db.make_engine(f"sqlite:///{tmp_path / 'app.db'}")
    folder = tmp_path / "backups"
    made = [
        backup_daily.daily_backup(engine, folder, keep=3, today=date(2026, 11, d))
        for d in range(1, 6)
    ]
    assert all(p is not None for p in made)
    assert backup_daily.daily_backup(engine, folder, keep=3, today=date(2026, 11, 5)) is None
    names = sorted(p.name for p in folder.iterdir())
    assert names == ["daily-2026-11-03.db", "daily-2026-11-04.db", "daily-2026-11-05.db"]
    # each is a usable backup
    target = db.make_engine(f"sqlite:///{tmp_path / 'restored.db'}")
    assert backup_restore.restore(target, folder / names[-1]).schema_version == db.latest_version()


def test_daily_backup_is_sqlite_only_and_keep_comes_from_the_setting(engine, tmp_path, monkeypatch):
    monkeypatch.setenv(backup_daily.KEEP_SETTING, "2")
    assert backup_daily.keep_count() == 2
    monkeypatch.setenv(backup_daily.KEEP_SETTING, "lots")
    assert backup_daily.keep_count() == backup_daily.DEFAULT_KEEP
    made = backup_daily.daily_backup(engine, tmp_path / "daily")
    if engine.dialect.name == "sqlite":
        assert made is not None and made.exists()
    else:
        assert made is None and not (tmp_path / "daily").exists()


def test_a_backup_of_a_live_sqlite_database_includes_uncheckpointed_writes(tmp_path: Path):
    engine = db.make_engine(f"sqlite:///{tmp_path / 'wal.db'}")
    with engine.begin() as conn:
        conn.execute(db.practice.insert().values(name="Fresh in the WAL", default_radius_mi=5))
    path = backup_make.create_backup(engine, tmp_path / "copy.db")
    with sa.create_engine(f"sqlite:///{path}").connect() as conn:
        assert conn.execute(sa.select(db.practice.c.name)).scalar() == "Fresh in the WAL"


def test_only_an_instance_owner_may_make_or_restore_a_backup(demo_engine, empty_db_url, tmp_path):
    from services import auth

    practice_owner = auth.Actor("owner@a.example", roles={1: auth.OWNER})
    with auth.acting_as(practice_owner), pytest.raises(auth.PermissionDenied, match="instance"):
        backup_make.create_backup(demo_engine, tmp_path / "forged")
    assert not (tmp_path / "forged").exists()
    path = backup_make.create_backup(demo_engine, tmp_path / "real")
    target = db.make_engine(empty_db_url())
    with auth.acting_as(practice_owner), pytest.raises(auth.PermissionDenied):
        backup_restore.restore(target, path)
    assert backup_restore.is_empty(target)
    target.dispose()


# --- the Settings page's Backups section (AppTest) ------------------------------------------


def test_settings_lets_the_owner_make_a_backup_and_download_it(app_test, db_url):
    at = app_test().run()
    at.switch_page("pages/settings.py").run()
    assert not at.exception
    assert "Backups" in [h.value for h in at.subheader]
    assert not at.get("download_button")  # nothing to download before a backup is made
    at.button(key="backup_make").click().run()
    assert not at.exception and not at.error
    name, content = at.session_state["backup_file"]
    assert name.startswith("referral-atlas-") and len(content) > 1000
    assert len(at.get("download_button")) == 1
    if db_url.startswith("sqlite"):  # the app's first run made today's copy beside the file
        folder = Path(db_url.removeprefix("sqlite:///")).parent / "backups"
        assert len(list(folder.glob("daily-*.db"))) == 1


def test_settings_shows_no_backups_to_someone_who_does_not_own_every_practice(
    app_test, monkeypatch
):
    from services import auth

    at = app_test().run()  # the first run seeds the demo as the app
    liaison = auth.Actor("liaison@a.example", roles={1: auth.LIAISON})
    # Sign-in itself is tested elsewhere; here the section's own check meets a non-owner.
    monkeypatch.setattr(auth, "current_actor", lambda: liaison)
    at.switch_page("pages/settings.py").run()
    assert not at.exception
    assert "Settings" in [t.value for t in at.title]  # the page itself was drawn
    assert "Backups" not in [h.value for h in at.subheader]
    assert "backup_make" not in [b.key for b in at.button]
