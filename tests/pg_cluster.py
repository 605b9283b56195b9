"""A throwaway PostgreSQL cluster for the test run: `initdb` + `pg_ctl` in a temporary folder.

The suite runs once on SQLite and once on PostgreSQL (`REFERRAL_ATLAS_TEST_DB=postgresql`). No
server is assumed to be running: the run starts its own cluster, listening only on a Unix socket
inside its temporary folder (no TCP port to collide with), and stops it at the end. `initdb`
refuses to run as root, so as root the server runs as the `postgres` account through `runuser`.

Each test gets a fresh database copied from a template that already holds the current schema
(`CREATE DATABASE ... TEMPLATE ...` copies files, far faster than creating every table again).

Run alone (`python -m tests.pg_cluster`) it starts a cluster, prints its URL, and waits.
"""

from __future__ import annotations

import atexit
import glob
import itertools
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa

#: The database role the tests connect as (created by initdb as the superuser).
USER = "atlas"
TEMPLATE = "atlas_template"


class ClusterError(RuntimeError):
    """The PostgreSQL binaries are missing or the server would not start."""


def find_bindir() -> Path:
    """The folder holding `initdb` and `pg_ctl`.

    Debian keeps them in /usr/lib/postgresql/<major>/bin, off PATH; `pg_config --bindir` may
    name a folder without the server (it comes with the client library package), so each
    candidate is checked for both programs and the newest version wins.
    """
    candidates: list[Path] = []
    env = os.environ.get("REFERRAL_ATLAS_PG_BINDIR")
    if env:
        candidates.append(Path(env))
    pg_config = shutil.which("pg_config")
    if pg_config:
        try:
            out = subprocess.run(
                [pg_config, "--bindir"], capture_output=True, text=True, timeout=10, check=True
            ).stdout.strip()
            candidates.append(Path(out))
        except (OSError, subprocess.SubprocessError):
            pass
    versioned = glob.glob("/usr/lib/postgresql/*/bin")
    versioned.sort(key=lambda p: int(Path(p).parent.name) if Path(p).parent.name.isdigit() else 0)
    candidates.extend(Path(p) for p in reversed(versioned))
    on_path = shutil.which("initdb")
    if on_path:
        candidates.append(Path(on_path).resolve().parent)
    for folder in candidates:
        if (folder / "initdb").is_file() and (folder / "pg_ctl").is_file():
            return folder
    raise ClusterError(
        "PostgreSQL server programs (initdb, pg_ctl) were not found; run `make test`, which "
        "installs them (Debian: sudo apt-get install postgresql)"
    )


class Cluster:
    """One PostgreSQL server in a temporary folder, reachable through its Unix socket."""

    def __init__(self, port: int = 55432) -> None:
        self.bindir = find_bindir()
        self.port = port
        self.root = Path(tempfile.mkdtemp(prefix="atlas-pg-"))
        self.datadir = self.root / "data"
        self.logfile = self.root / "server.log"
        self._as_postgres = os.geteuid() == 0
        self._names = itertools.count(1)
        self.running = False

    # -- running the server programs ------------------------------------------------------

    def _run(self, *args: str, timeout: float = 120) -> None:
        cmd = [str(self.bindir / args[0]), *args[1:]]
        if self._as_postgres:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        if proc.returncode != 0:
            log = self.logfile.read_text()[-2000:] if self.logfile.exists() else ""
            raise ClusterError(f"{args[0]} failed: {proc.stderr.strip()[-2000:]}\n{log}")

    def start(self) -> Cluster:
        if self._as_postgres:
            shutil.chown(self.root, "postgres")
        self._run("initdb", "-D", str(self.datadir), "-A", "trust", "-U", USER, "-E", "UTF8",
                  "--no-sync")  # fmt: skip
        # Tests create and drop hundreds of databases: durability is not wanted here.
        opts = (
            f"-k {self.root} -p {self.port} -c listen_addresses='' -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )
        self._run("pg_ctl", "-D", str(self.datadir), "-o", opts, "-l", str(self.logfile), "-w",
                  "start")  # fmt: skip
        self.running = True
        atexit.register(self.stop)  # an interrupted run leaves no server behind
        return self

    def stop(self) -> None:
        atexit.unregister(self.stop)
        if self.running:
            try:
                self._run("pg_ctl", "-D", str(self.datadir), "-m", "immediate", "-w", "stop")
            finally:
                self.running = False
        shutil.rmtree(self.root, ignore_errors=True)

    # -- databases ------------------------------------------------------------------------

    def url(self, dbname: str = "postgres") -> str:
        """SQLAlchemy URL of `dbname`; the host is the socket folder, so no TCP is used."""
        return f"postgresql+psycopg://{USER}@/{dbname}?host={self.root}&port={self.port}"

    def _admin(self, sql: str) -> None:
        engine = sa.create_engine(self.url(), isolation_level="AUTOCOMMIT", poolclass=sa.NullPool)
        try:
            with engine.connect() as conn:
                conn.exec_driver_sql(sql)
        finally:
            engine.dispose()

    def create_database(self, name: str | None = None, template: str | None = None) -> str:
        """Create a new database (copied from `template` if given); return its URL."""
        name = name or f"t{os.getpid()}_{next(self._names)}"
        clause = f" TEMPLATE {template}" if template else ""
        # A template cannot be copied while someone is connected to it; retry briefly.
        for attempt in range(20):
            try:
                self._admin(f'CREATE DATABASE "{name}"{clause}')
                break
            except sa.exc.OperationalError as exc:
                if "being accessed by other users" not in str(exc) or attempt == 19:
                    raise
                time.sleep(0.1)
        return self.url(name)

    def drop_database(self, name: str) -> None:
        self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def make_template(self) -> str:
        """A database at the current schema version, for fast per-test copies."""
        from services import db

        url = self.create_database(TEMPLATE)
        engine = db.make_engine(url)
        engine.dispose()
        return TEMPLATE


if __name__ == "__main__":
    cluster = Cluster().start()
    print(cluster.url(), flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        cluster.stop()
