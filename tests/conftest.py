"""Shared fixtures: temporary databases, the demo dataset, and AppTest with the real app.py."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from services import db, demo  # noqa: E402

#: A fixed "today" so dates in the demo data are the same on every run.
TODAY = date(2026, 11, 27)


#: `REFERRAL_ATLAS_TEST_DB=postgresql` runs the suite on a throwaway PostgreSQL cluster
#: (tests/pg_cluster.py) instead of SQLite files; `make test` runs it both ways.
TEST_DB = os.environ.get("REFERRAL_ATLAS_TEST_DB", "sqlite").lower()
ON_POSTGRES = TEST_DB in ("postgresql", "postgres", "pg")
if TEST_DB not in ("sqlite", "postgresql", "postgres", "pg"):
    raise pytest.UsageError(f"REFERRAL_ATLAS_TEST_DB must be sqlite or postgresql, not {TEST_DB}")


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[object]:
    """One PostgreSQL cluster for the whole run, with a template at the current schema."""
    from tests.pg_cluster import Cluster

    cluster = Cluster().start()
    try:
        cluster.template = cluster.make_template()  # type: ignore[attr-defined]
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty-of-data database for one test: a SQLite file, or a PostgreSQL database
    copied from the cluster's template when the run is on PostgreSQL."""
    if not ON_POSTGRES:
        yield f"sqlite:///{tmp_path / 'atlas.db'}"
        return
    cluster = request.getfixturevalue("pg_cluster")
    url = cluster.create_database(template=cluster.template)
    yield url
    cluster.drop_database(sa.engine.make_url(url).database)


@pytest.fixture
def empty_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[], str]]:
    """A factory of new databases with no tables at all (a first start, an old schema built by
    hand, a restore target), on the run's database kind; dropped after the test."""
    made: list[str] = []

    def make() -> str:
        if ON_POSTGRES:
            url = request.getfixturevalue("pg_cluster").create_database()
        else:
            url = f"sqlite:///{tmp_path / f'empty{len(made)}.db'}"
        made.append(url)
        return url

    yield make
    if ON_POSTGRES:
        cluster = request.getfixturevalue("pg_cluster")
        for url in made:
            cluster.drop_database(sa.engine.make_url(url).database)


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    eng = db.make_engine(db_url)
    yield eng
    eng.dispose()


def refuse_inserts(engine: Engine, table: str, when: str | None = None) -> None:
    """Make the database itself refuse INSERTs into `table` (those matching the SQL condition
    `when`, written with NEW.<column>): a failure mid-transaction, on either database."""
    with engine.begin() as conn:
        if conn.dialect.name == "sqlite":
            cond = f" WHEN {when}" if when else ""
            conn.exec_driver_sql(
                f"CREATE TRIGGER refuse_{table} BEFORE INSERT ON {table}{cond} "
                "BEGIN SELECT RAISE(ABORT, 'refused'); END"
            )
        else:
            cond = f" WHEN ({when})" if when else ""
            conn.exec_driver_sql(
                f"CREATE FUNCTION refuse_{table}() RETURNS trigger LANGUAGE plpgsql AS "
                "$$ BEGIN RAISE EXCEPTION 'refused'; END $$"
            )
            conn.exec_driver_sql(
                f"CREATE TRIGGER refuse_{table} BEFORE INSERT ON {table} FOR EACH ROW{cond} "
                f"EXECUTE FUNCTION refuse_{table}()"
            )


@pytest.fixture
def demo_engine(engine: Engine) -> Engine:
    demo.ensure_demo(engine, TODAY)
    return engine


def _use_navigation_pages_manager() -> None:
    """AppTest runs a page file alone when a `pages/` folder exists (legacy mode), skipping
    app.py; the server does not. Make the pages manager behave as under st.navigation
    Fails loudly if Streamlit drops the attribute."""
    from streamlit.runtime.pages_manager import PagesManager

    assert hasattr(PagesManager, "uses_pages_directory"), "Streamlit internals changed"
    if getattr(PagesManager, "_atlas_patched", False):
        return
    original = PagesManager.__init__

    def init(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        original(self, *args, **kwargs)
        PagesManager.uses_pages_directory = False

    PagesManager.__init__ = init  # type: ignore[method-assign]
    PagesManager._atlas_patched = True  # type: ignore[attr-defined]


@pytest.fixture
def app_test(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Callable[..., object]:
    """A factory for AppTest of the whole app (app.py around the page) on a temporary DB."""
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("REFERRAL_ATLAS_DB_URL", db_url)
    _use_navigation_pages_manager()

    def make(timeout: float = 60) -> AppTest:
        return AppTest.from_file(str(ROOT / "app.py"), default_timeout=timeout)

    return make
