"""What every data-file import shares: refusal and stop signals, the report, the header check,
the year rule, the disk check, dropping bad rows, and writing in one transaction.

Every import follows the same order: check the file (header, layout, disk) and refuse before
anything is written; scan it in DuckDB with the filter inside the scan (`scan`); clean the few
kept rows in pandas (bad rows are skipped and counted, never silently zeroed); write everything, the
import record included, in ONE database transaction, so a stop or a failure leaves the database
exactly as it was.
"""

from __future__ import annotations

import csv
import io
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.compute as pc
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from services import db

Progress = Callable[[float, str], None]  # (fraction 0..1, stage text)
StopCheck = Callable[[], bool]

WRITE_CHUNK = 20_000
DISK_MARGIN_BYTES = 256 * 1024**2


class FileRejected(ValueError):
    """The file cannot be imported as the kind chosen; the message says what was expected and
    what was found. Raised before anything is written."""


class ImportStopped(RuntimeError):
    """The user pressed Stop; the transaction was rolled back."""


@dataclass
class ImportReport:
    kind: str
    file_name: str
    data_year: int | None
    rows_read: int = 0
    rows_kept: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    messages: list[str] = field(default_factory=list)

    @property
    def rows_skipped(self) -> int:
        return sum(self.skipped.values())

    def skip(self, reason: str, count: int) -> None:
        if count:
            self.skipped[reason] = self.skipped.get(reason, 0) + int(count)

    def summary(self) -> str:
        year = f" ({self.data_year})" if self.data_year else ""
        text = (
            f"Imported {self.file_name}{year}: {self.rows_read:,} rows read, "
            f"{self.rows_kept:,} kept"
        )
        if self.skipped:
            reasons = "; ".join(f"{n:,} {why}" for why, n in self.skipped.items())
            text += f", {self.rows_skipped:,} skipped ({reasons})"
        return text + "."


# --- checks before anything is written ------------------------------------------------------


def read_header(path: Path, encoding: str = "latin-1") -> list[str]:
    """The first line of a CSV file, as fields (an empty list for an empty file)."""
    with open(path, encoding=encoding, newline="") as fh:
        line = fh.readline()
    if not line.strip():
        return []
    return next(csv.reader(io.StringIO(line)))


def require_columns(found: Sequence[str], required: Sequence[str], what: str) -> None:
    """Refuse a header that lacks a needed column, naming the missing ones."""
    have = set(found)
    missing = [c for c in required if c not in have]
    if missing:
        shown = ", ".join(missing[:6]) + (" …" if len(missing) > 6 else "")
        raise FileRejected(
            f"This is not a {what} file: it lacks the column(s) {shown}. Expected a header "
            f"with {', '.join(required[:6])}{' …' if len(required) > 6 else ''}; found "
            f"{len(found)} column(s) starting {', '.join(list(found)[:4]) or '(nothing)'}."
        )


def guess_year(file_name: str) -> int | None:
    """The data year in an official file name: CMS's `_D23_` (data year 2023), a date stamp
    such as NPPES's `20050523-20250608` (the last one), or a plain year (`..._2015_...`)."""
    name = Path(file_name).name
    m = re.search(r"_D(\d\d)(?:_|\.|$)", name)
    if m:
        return 2000 + int(m.group(1))
    stamps = re.findall(r"(?<!\d)((?:19|20)\d\d)(?:0[1-9]|1[0-2])(?:[0-2]\d|3[01])(?!\d)", name)
    if stamps:
        return int(stamps[-1])
    years = re.findall(r"(?<!\d)((?:19|20)\d\d)(?!\d)", name)
    return int(years[-1]) if years else None


def check_year(year: int | None) -> int:
    if year is None or not 2000 <= int(year) <= 2100:
        raise FileRejected("Give the data year of the file (for example 2023).")
    return int(year)


def checked_file(
    engine: Engine,
    path: Path | str,
    kind: str,
    data_year: int | None,
    file_name: str | None,
    check_header: Callable[[list[str]], None],
    kept_fraction: float,
) -> tuple[Path, int, ImportReport]:
    """The checks every CSV import with a header starts with, before anything is written: the
    data year (given, or read from the official file name), the header, the free disk space.
    Returns the path, the data year and the import's report."""
    path = Path(path)
    name = file_name or path.name
    year = check_year(data_year or guess_year(name))
    check_header(read_header(path))
    check_disk(engine, path, kept_fraction)
    return path, year, ImportReport(kind, name, year)


def database_dir(engine: Engine) -> Path | None:
    """The folder of a file database (None for a server or in-memory database)."""
    url = engine.url
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        return Path(url.database).resolve().parent
    return None


def disk_needed(file_size: int, kept_fraction: float) -> int:
    """Bytes an import may need: DuckDB's spill space plus the kept rows in the database."""
    return int(file_size * kept_fraction) + DISK_MARGIN_BYTES


def check_disk(engine: Engine, path: Path, kept_fraction: float) -> int:
    """Refuse, before starting, an import the free disk space cannot hold; return the need."""
    needed = disk_needed(path.stat().st_size, kept_fraction)
    places = {Path(tempfile.gettempdir())}
    folder = database_dir(engine)
    if folder is not None:
        places.add(folder)
    for place in places:
        free = shutil.disk_usage(place).free
        if free < needed:
            raise FileRejected(
                f"Not enough free disk space: this import needs about {_size(needed)} in "
                f"{place}, and {_size(free)} is free. Free some space and try again."
            )
    return needed


def _size(n: int) -> str:
    return f"{n / 1024**3:.1f} GB" if n >= 1024**3 else f"{n / 1024**2:.0f} MB"


# --- cleaning -------------------------------------------------------------------------------


def clean_rows(
    df: pd.DataFrame, report: ImportReport, npis: Sequence[str], counts: Sequence[str]
) -> pd.DataFrame:
    """Drop, and count in the report, rows with an NPI failing the check digit or a count that
    is not a number (columns made by `scan.npi_field` / `scan.count_fields`)."""
    if df.empty:
        return df
    valid = np.ones(len(df), dtype=bool)
    for c in npis:
        valid &= df[f"{c}_ok"].fillna(False).to_numpy(dtype=bool)
    report.skip("NPIs failing the check digit", int((~valid).sum()))
    bad = np.zeros(len(df), dtype=bool)
    for c in counts:
        bad |= df[f"{c}_bad"].fillna(False).to_numpy(dtype=bool)
    bad &= valid
    report.skip("non-numeric counts", int(bad.sum()))
    return df[valid & ~bad]


#: A kept row's status, computed in SQL by `scan.row_status`: only OK rows are written; the others
#: are skipped and counted.
STATUS_OK, STATUS_BAD_NPI, STATUS_BAD_COUNT = 0, 1, 2


def good_rows(batch: Any, report: ImportReport, columns: Sequence[str]) -> list[tuple]:
    """The rows of an Arrow batch whose `status` (see `scan.row_status`) is OK, as tuples of
    `columns`; the others are counted in the report under the same reasons as `clean_rows`."""
    status = batch.column("status")
    if (pc.max(status).as_py() or 0) > 0:  # a damaged file: count and drop its bad rows
        bad_npi = int(pc.sum(pc.equal(status, STATUS_BAD_NPI)).as_py() or 0)
        report.skip("NPIs failing the check digit", bad_npi)
        report.skip(
            "non-numeric counts", int(pc.sum(pc.equal(status, STATUS_BAD_COUNT)).as_py() or 0)
        )
        batch = batch.filter(pc.equal(status, STATUS_OK))
    return list(zip(*(batch.column(c).to_pylist() for c in columns), strict=True))


# --- writing --------------------------------------------------------------------------------


def latest_year(conn: Connection, table: sa.Table) -> int | None:
    return conn.execute(sa.select(sa.func.max(table.c.data_year))).scalar()


def refuse_older(conn: Connection, table: sa.Table, year: int, what: str) -> None:
    """A newer year's values are never replaced by an older file's."""
    loaded = latest_year(conn, table)
    if loaded is not None and loaded > year:
        raise FileRejected(
            f"{what} for {loaded} is already loaded; this file is for {year}. Importing an "
            "older year would replace newer values, so it was not imported."
        )


#: SQLite's page cache during an import (KiB, as a negative PRAGMA value): the kept rows arrive
#: in file order, not key order, and with the default 2 MB cache each insert into a B-tree
#: larger than that evicts the page the next one needs; 64 MB keeps the tables being written in
#: memory until the commit (measured: about twice as fast for 124,000 pairs in random order).
IMPORT_CACHE_KIB = 65536


@contextmanager
def import_transaction(engine: Engine) -> Iterator[Connection]:
    """The one transaction of an import, with a page cache sized for bulk writes on SQLite
    (set back to the connection's own size afterwards, as the connection returns to the pool)."""
    with engine.begin() as conn:
        if conn.dialect.name != "sqlite":
            yield conn
            return
        before = conn.exec_driver_sql("PRAGMA cache_size").scalar()
        conn.exec_driver_sql(f"PRAGMA cache_size = -{IMPORT_CACHE_KIB}")
        try:
            yield conn
        finally:
            conn.exec_driver_sql(f"PRAGMA cache_size = {int(before)}")


class PreparedWrite:
    """One INSERT (or upsert) statement compiled once for the connection's driver, run with
    plain tuples in `columns` order through the driver's executemany.

    Why: for hundreds of thousands of rows that is several times faster than a dict per row
    through SQLAlchemy; the statement itself is still SQLAlchemy's, so it is right for SQLite
    and PostgreSQL alike (positional `?` or named `%(x)s` parameters)."""

    def __init__(self, conn: Connection, stmt: Any, columns: Sequence[str]) -> None:
        self.columns = list(columns)
        compiled = stmt.compile(dialect=conn.dialect, column_keys=self.columns)
        self.sql = str(compiled)
        self.positional = bool(compiled.positional)
        order = list(compiled.positiontup) if compiled.positional and compiled.positiontup else []
        self.order = order or self.columns
        self._index = [self.columns.index(c) for c in self.order]

    def run(self, conn: Connection, rows: Sequence[Sequence[Any]]) -> None:
        if not rows:
            return
        if self.positional:
            data: list[Any] = (
                list(rows)
                if self.order == self.columns
                else [tuple(r[i] for i in self._index) for r in rows]
            )
        else:
            data = [dict(zip(self.columns, r, strict=True)) for r in rows]
        conn.exec_driver_sql(self.sql, data)


def upsert(
    conn: Connection,
    table: sa.Table,
    columns: Sequence[str],
    merge: Callable[[Any], dict[str, Any]],
) -> PreparedWrite:
    """INSERT … ON CONFLICT (primary key) DO UPDATE, in the connection's dialect. `merge`
    receives the `excluded` pseudo-row and returns the SET clause: how a row arriving for a key
    already written combines with it (summed, the larger kept, or the last one wins)."""
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    stmt = insert(table)
    key = [c.name for c in table.primary_key.columns]
    stmt = stmt.on_conflict_do_update(index_elements=key, set_=merge(stmt.excluded))
    return PreparedWrite(conn, stmt, columns)


def insert_chunks(
    conn: Connection,
    table: sa.Table,
    rows: pd.DataFrame,
    progress: Progress | None,
    should_stop: StopCheck | None,
    span: tuple[float, float] = (0.9, 1.0),
) -> None:
    """Insert a DataFrame (columns named as the table's) in chunks inside the caller's
    transaction through `PreparedWrite`, honouring Stop between chunks. NaN becomes NULL."""
    lo, hi = span
    # In primary-key order, the database appends to its index instead of inserting at random
    # places: about twice as fast for a few hundred thousand rows in SQLite.
    key = [c.name for c in table.primary_key.columns if c.name in rows.columns]
    if key and len(rows) > 1:
        rows = rows.sort_values(key, kind="stable")
    cols = list(rows.columns)
    write = PreparedWrite(conn, table.insert(), cols)
    values = [rows[c].astype(object).where(rows[c].notna(), None).tolist() for c in cols]
    data = list(zip(*values, strict=True))
    total = len(data)
    for i in range(0, total, WRITE_CHUNK):
        if should_stop is not None and should_stop():
            raise ImportStopped("Stopped; nothing was written.")
        write.run(conn, data[i : i + WRITE_CHUNK])
        if progress is not None:
            progress(lo + (hi - lo) * min(1.0, (i + WRITE_CHUNK) / total), "Saving")


def record_import(conn: Connection, report: ImportReport, practice_id: int | None = None) -> None:
    conn.execute(
        db.data_file_import.insert().values(
            kind=report.kind,
            file_name=report.file_name[:300],
            data_year=report.data_year,
            rows_read=report.rows_read,
            rows_kept=report.rows_kept,
            rows_skipped=report.rows_skipped,
            details="; ".join(
                [*(f"{n} {why}" for why, n in report.skipped.items()), *report.messages]
            )[:2000]
            or None,
            practice_id=practice_id,
            imported_at=db.utcnow(),
        )
    )


def import_history(engine: Engine, limit: int = 50) -> pd.DataFrame:
    t = db.data_file_import
    cols = ["imported_at", "kind", "file_name", "data_year", "rows_read", "rows_kept",
            "rows_skipped", "details"]  # fmt: skip
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(*(t.c[c] for c in cols)).order_by(t.c.imported_at.desc()).limit(limit)
        ).all()
    return pd.DataFrame(rows, columns=cols)
