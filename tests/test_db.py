"""Storage: engine set-up, the schema version and the in-place upgrade path."""

from __future__ import annotations

import re
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


def test_sqlite_runs_in_wal_mode_with_a_busy_timeout(tmp_path):
    # SQLite's own settings: checked on a SQLite file in both runs of the suite.
    engine = db.make_engine(f"sqlite:///{tmp_path / 'wal.db'}")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 1000
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_url_comes_from_the_environment(monkeypatch, tmp_path):
    url = f"sqlite:///{tmp_path / 'x.db'}"
    monkeypatch.setenv("REFERRAL_ATLAS_DB_URL", url)
    from services import config

    assert config.database_url() == url


def _v1_script(dialect: str) -> list[str]:
    """The frozen version-1 schema as statements for `dialect`. The file is SQLite's DDL; on
    PostgreSQL the same schema, as SQLAlchemy created it there, differs only in the spelling of
    timestamps and of auto-numbered keys."""
    script = (FIXTURES / "schema_v1.sql").read_text()
    script = "\n".join(line for line in script.splitlines() if not line.startswith("--"))
    if dialect == "postgresql":
        script = script.replace(" DATETIME", " TIMESTAMP WITHOUT TIME ZONE")
        script = re.sub(r"^\tid INTEGER NOT NULL", "\tid SERIAL NOT NULL", script, flags=re.M)
    return [s.strip() for s in script.split(";") if s.strip()]


def _v1_database(url: str) -> None:
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    pending = _v1_script(engine.dialect.name)
    with engine.connect() as conn:
        # PostgreSQL checks a foreign key's table exists when it is declared; the file lists
        # tables alphabetically, so create what can be created until everything is there.
        while pending:
            left = []
            for statement in pending:
                try:
                    with conn.begin():
                        conn.exec_driver_sql(statement)
                except sa.exc.ProgrammingError:
                    left.append(statement)
            assert len(left) < len(pending), f"cannot build the v1 schema: {left[0]}"
            pending = left
        with conn.begin():
            conn.exec_driver_sql(
                "INSERT INTO practice (id, name, default_radius_mi, is_demo, created_at, "
                "updated_at) VALUES (7, 'Old Practice', 4.0, FALSE, '2026-01-01 00:00:00', "
                "'2026-01-01 00:00:00')"
            )
            conn.exec_driver_sql(
                "INSERT INTO provider (npi, entity_type, name, data_source) "
                "VALUES ('1234567893', 'individual', 'Dr Kept', 'manual')"
            )
            conn.exec_driver_sql(
                "INSERT INTO referral (practice_id, partner_npi, direction, referral_date, "
                "status, version, created_at, updated_at) VALUES (7, '1234567893', 'received', "
                "'2026-02-01', 'received', 1, '2026-02-01 00:00:00', '2026-02-01 00:00:00')"
            )
    engine.dispose()


def test_version_1_database_upgrades_in_place_to_the_current_schema(empty_db_url):
    old = empty_db_url()
    _v1_database(old)
    engine = db.make_engine(old)
    fresh = db.make_engine(empty_db_url())
    # the upgraded database has exactly the tables and columns of a new one...
    assert _columns(engine) == _columns(fresh)
    with engine.connect() as conn:
        assert db.current_version(conn) == db.latest_version()
        # ...and kept its data
        assert conn.execute(sa.select(db.practice.c.name)).scalar() == "Old Practice"
        assert conn.execute(sa.select(db.provider.c.name)).scalar() == "Dr Kept"
        assert conn.execute(sa.select(sa.func.count()).select_from(db.referral)).scalar() == 1
    # ...and new rows still get their keys numbered by the database
    with engine.begin() as conn:
        new_id = conn.execute(
            db.referral.insert().values(
                practice_id=7, partner_npi="1234567893", direction="received",
                referral_date=sa.func.current_date(), status="received", version=1,
            )
        ).inserted_primary_key[0]  # fmt: skip
    assert new_id is not None
    engine.dispose()
    fresh.dispose()


def test_upgrade_runs_missing_steps_in_order_and_a_failed_step_leaves_the_last_good_version(
    empty_db_url, monkeypatch
):
    url = empty_db_url()
    _v1_database(url)
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
    engine = sa.create_engine(url)
    with pytest.raises(RuntimeError, match="disk full"):
        db.upgrade(engine)
    assert ran == [latest + 1, latest + 2]
    with engine.connect() as conn:
        assert db.current_version(conn) == latest + 1
        # the failed step rolled back: its update is not there
        assert conn.execute(sa.text("SELECT motto FROM practice")).scalar() is None
    engine.dispose()


def test_database_newer_than_the_app_is_refused_clearly(empty_db_url):
    url = empty_db_url()
    engine = db.make_engine(url)
    with engine.begin() as conn:
        conn.execute(db.schema_version.insert().values(version=db.latest_version() + 5))
    engine.dispose()
    with pytest.raises(db.StorageError, match="newer than this app"):
        db.make_engine(url)


def test_corrupt_database_file_gives_a_readable_error(tmp_path):
    bad = tmp_path / "bad.db"
    bad.write_bytes(b"this is not a database" * 100)
    with pytest.raises(db.StorageError, match="Cannot open the database"):
        db.make_engine(f"sqlite:///{bad}")
