"""Writing while scanning: the kept rows of a data file reach the database batch by batch while
DuckDB still reads, in one transaction that a Stop or a failure rolls back whole."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
import sqlalchemy as sa

from services import db
from services.datafiles import common, medicare, scan
from services.datafiles.common import ImportStopped
from tests import datafile_samples as s


def _numbers_csv(path: Path, n: int) -> Path:
    path.write_text("a,b\n" + "".join(f"{i},{i % 7}\n" for i in range(n)))
    return path


def _no_stream_thread_left() -> bool:
    return not any(t.name == "datafile-stream" and t.is_alive() for t in threading.enumerate())


def test_the_rows_read_come_from_the_scan_itself(tmp_path):
    """The count is the CSV scan's own (DuckDB's profiler), not a second pass over the file; a
    DuckDB that stopped reporting it would fall back to counting, slower: this test says so."""
    path = _numbers_csv(tmp_path / "n.csv", 10_000)
    con = scan.duckdb_connection()
    con.execute("CREATE TEMP TABLE small AS SELECT range AS v FROM range(50)")
    seen: list[int] = []
    sql = (
        f"SELECT a FROM read_csv({scan.sql_text(str(path))}, {scan.csv_options(True, 'utf-8')}) "
        "WHERE TRY_CAST(b AS INT) = 3 OR TRY_CAST(a AS INT) IN (SELECT v FROM small)"
    )
    read = scan.stream_rows(con, sql, lambda b: seen.append(b.num_rows), "SELECT -1")
    assert read == 10_000  # the CSV's rows only, not the small table's
    assert scan.rows_scanned(con) == 10_000
    assert sum(seen) == len({i for i in range(10_000) if i % 7 == 3 or i < 50})
    con.close()


def test_stop_during_the_scan_interrupts_it_and_leaves_no_thread(tmp_path):
    path = _numbers_csv(tmp_path / "n.csv", 300_000)
    con = scan.duckdb_connection()
    batches: list[int] = []
    sql = f"SELECT a FROM read_csv({scan.sql_text(str(path))}, {scan.csv_options(True, 'utf-8')})"
    with pytest.raises(ImportStopped):
        scan.stream_rows(
            con, sql, lambda b: batches.append(b.num_rows), "SELECT 0",
            should_stop=lambda: len(batches) >= 1, batch_rows=1000,
        )  # fmt: skip
    assert 1 <= len(batches) < 300
    assert _no_stream_thread_left()
    con.close()


def test_a_failure_while_writing_stops_the_scan_and_is_raised(tmp_path):
    path = _numbers_csv(tmp_path / "n.csv", 300_000)
    con = scan.duckdb_connection()
    sql = f"SELECT a FROM read_csv({scan.sql_text(str(path))}, {scan.csv_options(True, 'utf-8')})"

    def fail(_batch) -> None:
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        scan.stream_rows(con, sql, fail, "SELECT 0", batch_rows=1000)
    assert _no_stream_thread_left()
    con.close()


def test_places_of_service_add_up_even_when_they_arrive_in_different_batches(
    engine, tmp_path, monkeypatch
):
    """One NPI's knee replacements in the office and in the facility, 40,000 kept rows apart
    (more than a batch): they reach the database in different batches and are still one row,
    summed; beneficiaries keep the larger count; an all-suppressed code stays "no data"."""
    surgeon, quiet, half = s.npi(1), s.npi(2), s.npi(3)
    rows = [
        s.by_service_row(surgeon, "27447", "30", benes="20", place="F"),
        s.by_service_row(quiet, "27130", "", benes="", place="F"),
        s.by_service_row(half, "29881", "", benes="", place="F"),
    ]
    rows += [s.by_service_row(s.npi(100 + i), "27447", "11") for i in range(40_000)]
    rows += [
        s.by_service_row(surgeon, "27447", "12", benes="25", place="O"),
        s.by_service_row(quiet, "27130", "", benes="", place="O"),
        s.by_service_row(half, "29881", "15", benes="11", place="O"),
    ]
    batches: list[int] = []
    good_rows = common.good_rows

    def counted(batch, report, columns):  # type: ignore[no-untyped-def]
        batches.append(batch.num_rows)
        return good_rows(batch, report, columns)

    monkeypatch.setattr(common, "good_rows", counted)
    report = medicare.import_by_service(engine, s.write_by_service(tmp_path / "x_D23.csv", rows))
    assert len(batches) >= 2 and sum(batches) == 40_006
    assert (report.rows_read, report.rows_kept) == (40_006, 40_006)
    with engine.connect() as conn:
        got = {
            r.npi: (r.tot_srvcs, r.tot_benes)
            for r in conn.execute(
                sa.select(db.procedure_volume).where(
                    db.procedure_volume.c.npi.in_([surgeon, quiet, half])
                )
            )
        }
        total = conn.execute(sa.select(sa.func.count()).select_from(db.procedure_volume))
        assert total.scalar_one() == 40_003
    assert got == {surgeon: (42.0, 25), quiet: (None, None), half: (15.0, 11)}


def test_sqlite_keeps_the_bulk_tables_in_key_order_and_v9_rebuilds_old_ones(empty_db_url):
    """Version 9 turns the rowid tables of an older SQLite database into WITHOUT ROWID ones,
    keeping their rows; a new database has them so from the start."""
    url = empty_db_url()
    if not url.startswith("sqlite"):
        pytest.skip("a SQLite storage layout")
    engine = db.make_engine(url)
    names = ("procedure_volume", "shared_patient_pair")

    def layouts() -> dict[str, str]:
        with engine.connect() as conn:
            return {
                n: conn.exec_driver_sql(
                    "SELECT sql FROM sqlite_master WHERE type='table' AND name=?", (n,)
                ).scalar_one()
                for n in names
            }

    assert all("WITHOUT ROWID" in sql for sql in layouts().values())
    with engine.begin() as conn:  # back to version 8's layout, with rows in it
        for name in names:
            conn.exec_driver_sql(f"DROP TABLE {name}")
        conn.exec_driver_sql(
            "CREATE TABLE procedure_volume (npi VARCHAR(10) NOT NULL, hcpcs_cd VARCHAR(10) NOT "
            "NULL, data_year INTEGER NOT NULL, tot_srvcs FLOAT, tot_benes INTEGER, "
            "PRIMARY KEY (npi, hcpcs_cd))"
        )
        conn.exec_driver_sql(
            "CREATE TABLE shared_patient_pair (npi_from VARCHAR(10) NOT NULL, npi_to "
            "VARCHAR(10) NOT NULL, data_year INTEGER NOT NULL, source VARCHAR(20) NOT NULL, "
            "patient_count INTEGER, transaction_count INTEGER, PRIMARY KEY (npi_from, npi_to))"
        )
        conn.exec_driver_sql("CREATE INDEX ix_shared_pair_to ON shared_patient_pair (npi_to)")
        conn.exec_driver_sql(
            "INSERT INTO procedure_volume VALUES ('1234567893', '27447', 2023, 96.0, 40)"
        )
        conn.exec_driver_sql(
            "INSERT INTO shared_patient_pair VALUES ('1234567893', '1245319599', 2015, "
            "'cms_shared_patients', 40, 50)"
        )
        conn.execute(db.schema_version.delete().where(db.schema_version.c.version >= 9))
    engine.dispose()
    assert not any("WITHOUT ROWID" in sql for sql in layouts().values())
    engine = db.make_engine(url)
    assert all("WITHOUT ROWID" in sql for sql in layouts().values())
    with engine.connect() as conn:
        assert db.current_version(conn) == 9
        assert conn.execute(sa.select(db.procedure_volume.c.tot_srvcs)).scalar_one() == 96.0
        assert conn.execute(sa.select(db.shared_patient_pair.c.npi_to)).scalar_one() == (
            "1245319599"
        )
        index = conn.exec_driver_sql(
            "SELECT name FROM sqlite_master WHERE type='index' AND tbl_name='shared_patient_pair'"
            " AND sql IS NOT NULL"
        ).scalars()
        assert list(index) == ["ix_shared_pair_to"]
    engine.dispose()
