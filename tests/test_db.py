"""Storage: engine set-up, the schema version and the in-place upgrade path."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
import sqlalchemy as sa

from services import db

FIXTURES = Path(__file__).parent / "fixtures"


def _columns(engine: sa.Engine) -> dict[str, set[str]]:
    insp = sa.inspect(engine)
    return {t: {c["name"] for c in insp.get_columns(t)} for t in insp.get_table_names()}


def test_fresh_database_has_every_table_at_latest_version(engine):
    names = set(sa.inspect(engine).get_table_names())
    assert names >= {
        "practice", "provider", "geocode_cache", "partner", "partner_stage_history", "activity",
        "referral", "npi_pull", "schema_version",
    }  # fmt: skip
    with engine.connect() as conn:
        assert db.current_version(conn) == db.latest_version()


def test_sqlite_runs_in_wal_mode_with_a_busy_timeout(engine):
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 1000
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_url_comes_from_the_environment(monkeypatch, tmp_path):
    url = f"sqlite:///{tmp_path / 'x.db'}"
    monkeypatch.setenv("REFERRAL_ATLAS_DB_URL", url)
    from services import config

    assert config.database_url() == url


def _v1_database(path: Path) -> None:
    con = sqlite3.connect(path)
    con.executescript((FIXTURES / "schema_v1.sql").read_text())
    con.execute(
        "INSERT INTO practice (id, name, default_radius_mi, is_demo, created_at, updated_at) "
        "VALUES (7, 'Old Practice', 4.0, 0, '2026-01-01 00:00:00', '2026-01-01 00:00:00')"
    )
    con.execute(
        "INSERT INTO provider (npi, entity_type, name, data_source) "
        "VALUES ('1234567893', 'individual', 'Dr Kept', 'manual')"
    )
    con.execute(
        "INSERT INTO referral (practice_id, partner_npi, direction, referral_date, status, "
        "version, created_at, updated_at) VALUES (7, '1234567893', 'received', '2026-02-01', "
        "'received', 1, '2026-02-01 00:00:00', '2026-02-01 00:00:00')"
    )
    con.commit()
    con.close()


def test_version_1_database_upgrades_in_place_to_the_current_schema(tmp_path):
    old = tmp_path / "old.db"
    _v1_database(old)
    engine = db.make_engine(f"sqlite:///{old}")
    fresh = db.make_engine(f"sqlite:///{tmp_path / 'fresh.db'}")
    # the upgraded database has exactly the tables and columns of a new one...
    assert _columns(engine) == _columns(fresh)
    with engine.connect() as conn:
        assert db.current_version(conn) == db.latest_version()
        # ...and kept its data
        assert conn.execute(sa.select(db.practice.c.name)).scalar() == "Old Practice"
        assert conn.execute(sa.select(db.provider.c.name)).scalar() == "Dr Kept"
        assert conn.execute(sa.select(sa.func.count()).select_from(db.referral)).scalar() == 1


def test_upgrade_runs_missing_steps_in_order_and_a_failed_step_leaves_the_last_good_version(
    tmp_path, monkeypatch
):
    path = tmp_path / "old.db"
    _v1_database(path)
    ran: list[int] = []
    latest = db.latest_version()

    def add_column(conn):
        ran.append(latest + 1)
        conn.exec_driver_sql("ALTER TABLE practice ADD COLUMN motto VARCHAR(50)")

    def broken(conn):
        ran.append(latest + 2)
        conn.exec_driver_sql("UPDATE practice SET motto = 'half-done'")
        raise RuntimeError("disk full")

    monkeypatch.setitem(db.MIGRATIONS, latest + 1, add_column)
    monkeypatch.setitem(db.MIGRATIONS, latest + 2, broken)
    engine = sa.create_engine(f"sqlite:///{path}")
    with pytest.raises(RuntimeError, match="disk full"):
        db.upgrade(engine)
    assert ran == [latest + 1, latest + 2]
    with engine.connect() as conn:
        assert db.current_version(conn) == latest + 1
        # the failed step rolled back: its update is not there
        assert conn.execute(sa.text("SELECT motto FROM practice")).scalar() is None


def test_database_newer_than_the_app_is_refused_clearly(tmp_path):
    engine = db.make_engine(f"sqlite:///{tmp_path / 'a.db'}")
    with engine.begin() as conn:
        conn.execute(db.schema_version.insert().values(version=db.latest_version() + 5))
    engine.dispose()
    with pytest.raises(db.StorageError, match="newer than this app"):
        db.make_engine(f"sqlite:///{tmp_path / 'a.db'}")


def test_corrupt_database_file_gives_a_readable_error(tmp_path):
    bad = tmp_path / "bad.db"
    bad.write_bytes(b"this is not a database" * 100)
    with pytest.raises(db.StorageError, match="Cannot open the database"):
        db.make_engine(f"sqlite:///{bad}")
