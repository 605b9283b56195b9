"""The DuckDB side of an import: a capped in-memory connection, one pass over the file with the
filter inside the scan, progress from DuckDB itself, and Stop by interrupting the query.

Only the rows that pass the filter leave DuckDB, through Arrow; their NPI check digits and
counts are checked in SQL (`npi_field`, `count_fields`, `row_status`) before Python sees them.
Imports that keep many rows write them while the scan goes on (`stream_rows`, `stream_import`).
"""

from __future__ import annotations

import json
import queue
import tempfile
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pyarrow as pa
from sqlalchemy.engine import Connection

from services.datafiles import common
from services.datafiles.common import (
    STATUS_BAD_COUNT,
    STATUS_BAD_NPI,
    STATUS_OK,
    FileRejected,
    ImportStopped,
    Progress,
    StopCheck,
)

#: Values CMS prints in place of a count it suppressed (fewer than 11 beneficiaries): read as
#: "no data", never as zero.
SUPPRESSED = {"", "*", "<11", "#", "."}

# The check digit and the count rules as SQL, evaluated inside the scan on the rows that passed
# the filter, so a few hundred thousand kept rows cost no Python string work.
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
    and whether the raw value is bad input (not a number, or negative): suppressed and blank
    values stay NULL ("no data"), never zero."""
    raw = f"trim(coalesce({expr}, ''))"
    num = f"TRY_CAST(replace({raw}, ',', '') AS DOUBLE)"
    suppressed = ", ".join(sql_text(v) for v in sorted(SUPPRESSED))
    bad = f"coalesce(({num} IS NULL AND {raw} NOT IN ({suppressed})) OR {num} < 0, false)"
    return [(alias, num), (f"{alias}_bad", bad)]


def row_status(npis: Sequence[str], counts: Sequence[str]) -> str:
    """SQL for one status per row: an NPI failing its check digit, else a count that is not a
    number (suppressed and blank counts are fine: "no data"), else OK."""
    npi_ok = " AND ".join(f"npi_ok(trim({e}))" for e in npis)
    bad = " OR ".join(dict(count_fields(e, "c"))["c_bad"] for e in counts)
    return (
        f"CASE WHEN NOT ({npi_ok}) THEN {STATUS_BAD_NPI} WHEN {bad} THEN {STATUS_BAD_COUNT} "
        f"ELSE {STATUS_OK} END"
    )


def count_value(expr: str) -> str:
    """SQL for a count column's number: NULL when suppressed or blank ("no data")."""
    return dict(count_fields(expr, "c"))["c"]


def struct_sql(fields: Sequence[tuple[str, str]]) -> str:
    return "struct_pack(" + ", ".join(f"{a} := {e}" for a, e in fields) + ")"


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


def rows_scanned(con: duckdb.DuckDBPyConnection) -> int | None:
    """Rows the last query's CSV scan read, from DuckDB's profiler (profiling must be on:
    `stream_rows` turns it on); None when this DuckDB does not report it. Only the READ_CSV
    operator counts: a query also scanning a small table (the area's NPIs) adds its rows to
    the query's total."""
    try:
        info = json.loads(con.get_profiling_information(format="json"))
    except (duckdb.Error, TypeError, ValueError):
        return None
    found: list[int] = []

    def walk(node: dict) -> None:
        extra = node.get("extra_info") or {}
        is_csv = isinstance(extra, dict) and extra.get("Function") == "READ_CSV"
        if is_csv and "rows_scanned" in node:
            found.append(int(node["rows_scanned"]))
        for child in node.get("children") or []:
            walk(child)

    for top in info.get("operator") or []:
        walk(top)
    return sum(found) if found else None


_DONE = object()


def stream_rows(
    con: duckdb.DuckDBPyConnection,
    sql: str,
    consume: Callable[[pa.RecordBatch], None],
    count_sql: str,
    progress: Progress | None = None,
    should_stop: StopCheck | None = None,
    stage: str = "Reading and saving",
    span: tuple[float, float] = (0.0, 0.95),
    batch_rows: int = 16_384,
) -> int:
    """Run `sql` and hand its rows to `consume`, batch by batch, while DuckDB is still
    scanning; return how many rows the scan read.

    Why: an import that scans first and writes afterwards pays for both in turn. Here DuckDB
    scans and filters in its own threads (a worker thread here fetches its batches) while this
    thread writes the previous batch into the caller's open transaction, so the write hides
    behind the scan. The queue between them is short: memory stays bounded whatever the file's
    size, and a slow writer simply holds DuckDB back. Stop interrupts DuckDB and raises
    ImportStopped; any failure in `consume` stops the scan too. The row count comes from
    DuckDB's profiler (the scan itself counts its rows, so no second pass); should a DuckDB
    version not report it, `count_sql` counts them."""
    con.execute("SET enable_profiling = 'no_output'")
    batches: queue.Queue = queue.Queue(maxsize=16)
    abort = threading.Event()

    def hand_over(item: object) -> None:
        while not abort.is_set():
            try:
                batches.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def work() -> None:
        try:
            for batch in con.sql(sql).to_arrow_reader(batch_rows):
                if abort.is_set():
                    return
                hand_over(batch)
        except BaseException as exc:  # handed to the caller's thread
            hand_over(exc)
            return
        hand_over(_DONE)

    worker = threading.Thread(target=work, name="datafile-stream", daemon=True)
    worker.start()
    lo, hi = span
    finished = False
    try:
        while True:
            if should_stop is not None and should_stop():
                raise ImportStopped("Stopped; nothing was written.")
            try:
                item = batches.get(timeout=0.2)
            except queue.Empty:
                item = None
            if progress is not None:
                try:
                    pct = float(con.query_progress())
                except duckdb.Error:
                    pct = -1.0
                if pct >= 0:
                    progress(lo + (hi - lo) * min(pct, 100.0) / 100.0, stage)
            if item is None:
                continue
            if item is _DONE:
                finished = True
                break
            if isinstance(item, BaseException):
                if isinstance(item, duckdb.Error):
                    first = str(item).splitlines()[0]
                    raise FileRejected(f"The file could not be read: {first}")
                raise item
            consume(item)
    finally:
        if not finished:
            abort.set()
            con.interrupt()
        worker.join()
    if progress is not None:
        progress(hi, stage)
    counted = rows_scanned(con)
    if counted is None:
        counted = int(con.execute(count_sql).fetchone()[0])
    return counted


def stream_import(
    con: duckdb.DuckDBPyConnection,
    conn: Connection,
    sql: str,
    source: str,
    write: common.PreparedWrite,
    report: common.ImportReport,
    progress: Progress | None = None,
    should_stop: StopCheck | None = None,
    practice_id: int | None = None,
) -> None:
    """The streamed part of an import, inside its open transaction `conn`: the OK rows of each
    batch of `sql` go through `write` (a `common.PreparedWrite` for the columns `sql` yields,
    plus a `status` column from `row_status`); then the rows read, the malformed ones and the
    import record. `source` is the FROM item, for the fallback count."""

    def save(batch: pa.RecordBatch) -> None:
        rows = common.good_rows(batch, report, write.columns)
        write.run(conn, rows)
        report.rows_kept += len(rows)

    rows_seen = stream_rows(con, sql, save, f"SELECT count(*) FROM {source}", progress, should_stop)
    malformed = rejected_lines(con)
    report.rows_read = rows_seen + malformed
    report.skip("malformed rows (wrong number of fields, cut off)", malformed)
    common.record_import(conn, report, practice_id)


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
