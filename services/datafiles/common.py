"""What every data-file import shares: refusal and stop signals, the report, the header check,
the year rule, the disk check, NPI check digits in bulk, and a DuckDB scan that reports
progress and can be stopped.

Every import follows the same order: check the file (header, layout, disk) and refuse before
anything is written; scan it in DuckDB with the filter inside the scan; clean the few kept rows
in pandas (bad rows are skipped and counted, never silently zeroed); write everything, the
import record included, in ONE database transaction, so a stop or a failure leaves the database
exactly as it was.
"""

from __future__ import annotations

import csv
import io
import os
import re
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from services import db

Progress = Callable[[float, str], None]  # (fraction 0..1, stage text)
StopCheck = Callable[[], bool]

#: Values CMS prints in place of a count it suppressed (fewer than 11 beneficiaries): read as
#: "no data", never as zero.
SUPPRESSED = {"", "*", "<11", "#", "."}

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


def valid_npi_mask(values: pd.Series) -> np.ndarray:
    """Vectorised NPI check (10 digits, starts with 1 or 2, Luhn over 80840 + the first nine):
    the same rule as services.npi.is_valid_npi, fast enough for a million rows."""
    text = values.fillna("").astype(str).str.strip()
    shape_ok = text.str.fullmatch(r"[12]\d{9}").to_numpy(dtype=bool)
    out = np.zeros(len(text), dtype=bool)
    if not shape_ok.any():
        return out
    good = text[shape_ok]
    digits = np.frombuffer("".join(good).encode("ascii"), dtype=np.uint8).reshape(-1, 10) - 48
    digits = digits.astype(np.int64)
    # Luhn over "80840" + d0..d8 then the check digit d9: counting from the right of the
    # payload, d8, d6, d4, d2, d0 are doubled; the prefix 80840 contributes a constant 24.
    doubled = digits[:, [0, 2, 4, 6, 8]] * 2
    doubled = np.where(doubled > 9, doubled - 9, doubled)
    total = 24 + doubled.sum(axis=1) + digits[:, [1, 3, 5, 7]].sum(axis=1)
    check = (10 - total % 10) % 10
    out[np.flatnonzero(shape_ok)] = check == digits[:, 9]
    return out


def parse_counts(values: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """(numbers with NaN for suppressed or missing, mask of values that are not numbers at all).

    Suppressed and blank stay NaN ("no data"); a value such as "abc" is bad input and its row
    is skipped by the caller. (`count_fields` is the same rule inside a DuckDB scan.)"""
    text = values.fillna("").astype(str).str.strip()
    numbers = pd.to_numeric(text.str.replace(",", "", regex=False), errors="coerce")
    suppressed = text.isin(SUPPRESSED).to_numpy()
    bad = numbers.isna().to_numpy() & ~suppressed
    bad |= (numbers < 0).fillna(False).to_numpy()
    return numbers.astype(float), bad


# The same two rules as SQL, evaluated inside the scan on the rows that passed the filter, so
# a few hundred thousand kept rows cost no Python string work.
_DOUBLED = "(CASE WHEN 2 * TRY_CAST(s[{i}] AS INT) > 9 THEN 2 * TRY_CAST(s[{i}] AS INT) - 9 ELSE 2 * TRY_CAST(s[{i}] AS INT) END)"  # noqa: E501
NPI_OK_MACRO = (
    "CREATE OR REPLACE TEMP MACRO npi_ok(s) AS coalesce(regexp_full_match(s, '[12][0-9]{9}') "
    "AND (24 + "
    + " + ".join(_DOUBLED.format(i=i) for i in (1, 3, 5, 7, 9))
    + " + "
    + " + ".join(f"TRY_CAST(s[{i}] AS INT)" for i in (2, 4, 6, 8, 10))
    + ") % 10 = 0, false)"
)


def npi_field(expr: str, alias: str) -> list[tuple[str, str]]:
    """Struct fields for an NPI column: the trimmed text and whether its check digit holds."""
    return [(alias, f"trim({expr})"), (f"{alias}_ok", f"npi_ok(trim({expr}))")]


def count_fields(expr: str, alias: str) -> list[tuple[str, str]]:
    """Struct fields for a count column: the number (NULL when suppressed or blank: "no data")
    and whether the raw value is bad input (not a number, or negative)."""
    raw = f"trim(coalesce({expr}, ''))"
    num = f"TRY_CAST(replace({raw}, ',', '') AS DOUBLE)"
    suppressed = ", ".join(sql_text(v) for v in sorted(SUPPRESSED))
    bad = f"coalesce(({num} IS NULL AND {raw} NOT IN ({suppressed})) OR {num} < 0, false)"
    return [(alias, num), (f"{alias}_bad", bad)]


def struct_sql(fields: Sequence[tuple[str, str]]) -> str:
    return "struct_pack(" + ", ".join(f"{a} := {e}" for a, e in fields) + ")"


def clean_rows(
    df: pd.DataFrame, report: ImportReport, npis: Sequence[str], counts: Sequence[str]
) -> pd.DataFrame:
    """Drop, and count in the report, rows with an NPI failing the check digit or a count that
    is not a number (columns made by `npi_field` / `count_fields`)."""
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


# --- DuckDB with progress and Stop ----------------------------------------------------------


def duckdb_connection() -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with a memory cap and its spill files in the temp folder, so an
    import of a 10 GB file stays well under 2 GB of memory."""
    con = duckdb.connect(":memory:")
    spill = Path(tempfile.gettempdir()) / "referral_atlas_duckdb"
    con.execute(f"SET temp_directory = '{spill.as_posix()}'")
    con.execute("SET memory_limit = '1GB'")
    con.execute("SET preserve_insertion_order = false")
    con.execute("SET enable_progress_bar = true")  # query_progress needs it; printing off:
    con.execute("SET enable_progress_bar_print = false")
    con.execute(NPI_OK_MACRO)
    return con


def sql_text(value: str) -> str:
    """A SQL string literal (DuckDB's read_csv takes the path and options as literals)."""
    return "'" + str(value).replace("'", "''") + "'"


def run_scan(
    con: duckdb.DuckDBPyConnection,
    sql: str,
    progress: Progress | None = None,
    should_stop: StopCheck | None = None,
    stage: str = "Reading the file",
    span: tuple[float, float] = (0.0, 0.9),
    arrow: bool = False,
) -> Any:
    """Run one DuckDB query in a worker thread while this thread reports DuckDB's own progress
    and interrupts the query when Stop is pressed (raising ImportStopped)."""
    box: dict[str, Any] = {}

    def work() -> None:
        try:
            relation = con.sql(sql)
            box["df"] = relation.to_arrow_table() if arrow else relation.df()
        except BaseException as exc:  # handed to the caller's thread
            box["error"] = exc

    worker = threading.Thread(target=work, name="datafile-scan", daemon=True)
    worker.start()
    lo, hi = span
    stopped = False
    while worker.is_alive():
        worker.join(0.2)
        if should_stop is not None and should_stop() and not stopped:
            stopped = True
            con.interrupt()
        if progress is not None and worker.is_alive():
            try:
                pct = float(con.query_progress())
            except duckdb.Error:
                pct = -1.0
            if pct >= 0:
                progress(lo + (hi - lo) * min(pct, 100.0) / 100.0, stage)
    if stopped:
        raise ImportStopped("Stopped; nothing was written.")
    if "error" in box:
        error = box["error"]
        if isinstance(error, duckdb.Error):
            raise FileRejected(f"The file could not be read: {str(error).splitlines()[0]}")
        raise error
    if progress is not None:
        progress(hi, stage)
    return box["df"]


def scan_filtered(
    con: duckdb.DuckDBPyConnection,
    source: str,
    raw: Sequence[tuple[str, str]],
    where: str,
    derived: Sequence[tuple[str, str]],
    progress: Progress | None = None,
    should_stop: StopCheck | None = None,
    span: tuple[float, float] = (0.0, 0.9),
) -> tuple[int, pd.DataFrame]:
    """One pass over `source` (a FROM item, e.g. a read_csv call): how many rows it has, and
    the rows passing `where`, as a DataFrame of the `derived` fields.

    The pass collects only the raw text of the `raw` columns (alias, column) of the rows that
    pass, by a filtered aggregate; the `derived` expressions (over the raw aliases: check digits,
    numbers) then run on those few rows alone, in DuckDB, and come back through Arrow column by
    column. So the full file costs one tokenising scan, and nothing more per row."""
    sql = f"""
        WITH agg AS MATERIALIZED (
            SELECT count(*) AS n, list({struct_sql(raw)}) FILTER (WHERE {where}) AS kept
            FROM {source}),
        flat AS (SELECT unnest(kept, recursive := true) FROM agg)
        SELECT (SELECT n FROM agg) AS n,
               (SELECT list({struct_sql(derived)}) FROM flat) AS kept"""
    table = run_scan(con, sql, progress, should_stop, span=span, arrow=True)
    n = int(table.column("n")[0].as_py() or 0)
    fields = [a for a, _ in derived]
    kept = table.column("kept").combine_chunks()
    if kept.null_count == len(kept):
        return n, pd.DataFrame({f: pd.Series(dtype=object) for f in fields})
    flat = kept.flatten()
    return n, pd.DataFrame({f: flat.field(f).to_pandas() for f in fields})


def rejected_lines(con: duckdb.DuckDBPyConnection) -> int:
    """Rows DuckDB's CSV reader skipped as malformed (wrong number of fields, a row cut off
    mid-way) in the last scan with `store_rejects`."""
    try:
        return int(con.execute("SELECT count(DISTINCT line) FROM reject_errors").fetchone()[0])
    except duckdb.Error:
        return 0


def csv_options(header: bool, encoding: str = "latin-1", all_varchar: bool = True) -> str:
    """read_csv options every import uses: all text (we validate numbers ourselves, unless the
    caller gives explicit column types), bad rows skipped and recorded rather than failing the
    whole file."""
    text = "all_varchar=true, " if all_varchar else ""
    return (
        f"header={'true' if header else 'false'}, {text}ignore_errors=true, "
        f"store_rejects=true, encoding={sql_text(encoding)}, delim=',', quote='\"', "
        "escape='\"', parallel=true"
    )


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


def insert_chunks(
    conn: Connection,
    table: sa.Table,
    rows: list[dict[str, Any]] | pd.DataFrame,
    progress: Progress | None,
    should_stop: StopCheck | None,
    span: tuple[float, float] = (0.9, 1.0),
) -> None:
    """Insert in chunks inside the caller's transaction, honouring Stop between chunks.

    A DataFrame (columns named as the table's) goes through the driver's executemany with
    plain tuples, in primary-key order: for hundreds of thousands of rows that is several times
    faster than a dict per row through SQLAlchemy. NaN becomes NULL."""
    lo, hi = span
    if isinstance(rows, pd.DataFrame):
        # In primary-key order, the database appends to its index instead of inserting at
        # random places: about twice as fast for a few hundred thousand rows in SQLite.
        key = [c.name for c in table.primary_key.columns if c.name in rows.columns]
        if key and len(rows) > 1:
            rows = rows.sort_values(key, kind="stable")
        cols = list(rows.columns)
        stmt = table.insert().compile(dialect=conn.dialect, column_keys=cols)
        order = list(stmt.positiontup) if stmt.positional and stmt.positiontup else cols
        values = [rows[c].astype(object).where(rows[c].notna(), None).tolist() for c in order]
        if stmt.positional:
            data: list[Any] = list(zip(*values, strict=True))
        else:
            data = [dict(zip(order, v, strict=True)) for v in zip(*values, strict=True)]
        sql = str(stmt)
        total = len(data)
        for i in range(0, total, WRITE_CHUNK):
            if should_stop is not None and should_stop():
                raise ImportStopped("Stopped; nothing was written.")
            conn.exec_driver_sql(sql, data[i : i + WRITE_CHUNK])
            if progress is not None:
                progress(lo + (hi - lo) * min(1.0, (i + WRITE_CHUNK) / total), "Saving")
        return
    for i in range(0, len(rows), WRITE_CHUNK):
        if should_stop is not None and should_stop():
            raise ImportStopped("Stopped; nothing was written.")
        conn.execute(table.insert(), rows[i : i + WRITE_CHUNK])
        if progress is not None:
            progress(lo + (hi - lo) * min(1.0, (i + WRITE_CHUNK) / len(rows)), "Saving")


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


def none_if_nan(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, float) and np.isnan(value):
        return None
    return value


def elapsed(start: float) -> float:
    return time.perf_counter() - start


def file_size(path: Path) -> int:
    return os.path.getsize(path)
