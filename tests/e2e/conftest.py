"""End-to-end fixtures: the real app on a free 127.0.0.1 port, driven by Debian's chromium.

A browser cannot be downloaded here, so Playwright launches the `chromium` found on PATH; when
it is missing the tests fail (never skip): `make test` installs it where it can.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.conftest import ON_POSTGRES

ROOT = Path(__file__).resolve().parents[2]
CHROME_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
#: The only hosts a page may reach besides the app itself: OpenStreetMap's tile servers.
TILE_HOSTS = ("tile.openstreetmap.org",)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/e2e/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict) -> dict:
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.fail("chromium is not on PATH; run `make test`, which installs it (apt-get)")
    return {**browser_type_launch_args, "executable_path": chromium, "args": CHROME_ARGS}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


#: On a PostgreSQL run, the cluster and the database standing in for each SQLite path.
_PG: dict[str, object] = {}


@pytest.fixture(scope="session", autouse=True)
def _postgres_for_apps(request: pytest.FixtureRequest) -> None:
    """On a PostgreSQL run the app servers get PostgreSQL databases from the run's cluster."""
    if ON_POSTGRES:
        _PG["cluster"] = request.getfixturevalue("pg_cluster")


def database_url(db: Path | str) -> str:
    """The URL an app started with `db` uses: a URL as given; for a path, that SQLite file, or
    on a PostgreSQL run a fresh database of the cluster (the same one each time for a path)."""
    if isinstance(db, str):
        return db
    if not ON_POSTGRES:
        return f"sqlite:///{db}"
    key = str(db)
    if key not in _PG:
        cluster = _PG["cluster"]
        _PG[key] = cluster.create_database(template=cluster.template)  # type: ignore[attr-defined]
    return str(_PG[key])


def start_app(
    db: Path | str, extra_env: dict[str, str] | None = None
) -> tuple[str, subprocess.Popen]:
    """Start `streamlit run app.py` on a free port on the database `db` (a SQLite path, or a
    URL; see `database_url`), and wait until it is healthy."""
    port = _free_port()
    env = {**os.environ, "REFERRAL_ATLAS_DB_URL": database_url(db), **(extra_env or {})}
    # The server's stderr goes to a file, never to a pipe nobody reads while it runs: the app
    # logs to stderr, and a full pipe (64 KB) would block the server mid-test.
    log = tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed by stop_app
        prefix="atlas-e2e-", suffix=".log", delete=False
    )
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            "app.py",
            "--server.headless",
            "true",
            "--server.address",
            "127.0.0.1",
            "--server.port",
            str(port),
            "--browser.gatherUsageStats",
            "false",
            "--server.fileWatcherType",
            "none",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log,
    )
    proc.log_path = log.name  # type: ignore[attr-defined]
    log.close()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"streamlit exited: {Path(log.name).read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as resp:
                if resp.read() == b"ok":
                    return url, proc
        except OSError:
            time.sleep(0.3)
    proc.kill()
    raise RuntimeError("streamlit did not become healthy in 60 s")


def stop_app(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
    log_path = getattr(proc, "log_path", None)
    if log_path:
        Path(log_path).unlink(missing_ok=True)


@pytest.fixture(scope="module")
def app_and_database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """A fresh app with its own temporary database, shared by one test module: the app's URL
    and the database's, for tests that check what the app wrote."""
    db_path = tmp_path_factory.mktemp("e2e") / "atlas.db"
    url, proc = start_app(db_path)
    yield url, database_url(db_path)
    stop_app(proc)


@pytest.fixture(scope="module")
def app_url(app_and_database: tuple[str, str]) -> str:
    """A fresh app with its own temporary database, shared by one test module."""
    return app_and_database[0]


def count_rows(database: str, table: sa.Table) -> int:
    """How many rows `table` holds in the database at URL `database` (read outside the app)."""
    engine = sa.create_engine(database, poolclass=sa.NullPool)
    with engine.connect() as conn:
        n = conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
    engine.dispose()
    return int(n)


@pytest.fixture
def outside_requests(page) -> list[str]:  # type: ignore[no-untyped-def]
    """Every request the page makes to a host other than 127.0.0.1 and the tile servers."""
    seen: list[str] = []

    def record(request) -> None:  # type: ignore[no-untyped-def]
        host = request.url.split("/")[2] if "://" in request.url else ""
        if request.url.startswith(("data:", "blob:", "about:")):
            return
        if host.split(":")[0] == "127.0.0.1" or host.endswith(TILE_HOSTS):
            return
        seen.append(request.url)

    page.on("request", record)
    return seen
