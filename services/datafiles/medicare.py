"""CMS "Medicare Physician & Other Practitioners": the by-Provider and by-Provider-and-Service
files (one per data year, traditional Medicare Part B only).

By Provider (about 1.3 M rows): per NPI `Tot_Benes` (Medicare patients a year), `Tot_Srvcs`
and `Rndrng_Prvdr_Type` (the Medicare specialty), all kept: the file is national and small once
projected to four columns, and a provider imported later from NPPES finds its volume waiting.

By Provider and Service (about 3 GB, 9.7 M rows, one row per NPI × HCPCS code × place of
service): only the rows for the PT-generating codes of `procedures.PT_PROCEDURES` are kept,
filtered inside DuckDB's scan, and summed per NPI and code over the places of service as they
are written (the kept rows are saved while the scan goes on, see `scan.stream_rows`).

CMS suppresses aggregates from 10 or fewer beneficiaries: a blank or suppressed count is stored
as NULL and shown as "no data", never as zero. A count that is not a number at all is bad input:
its row is skipped and counted.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from services import db
from services.datafiles import common, scan
from services.datafiles.common import FileRejected, ImportReport, Progress, StopCheck
from services.datafiles.procedures import procedure_codes

KIND_BY_PROVIDER = "medicare_by_provider"
KIND_BY_SERVICE = "medicare_by_service"

BY_PROVIDER_COLUMNS = ["Rndrng_NPI", "Rndrng_Prvdr_Type", "Tot_HCPCS_Cds", "Tot_Benes", "Tot_Srvcs"]
BY_SERVICE_COLUMNS = ["Rndrng_NPI", "HCPCS_Cd", "Place_Of_Srvc", "Tot_Benes", "Tot_Srvcs"]


def check_by_provider_header(header: list[str]) -> None:
    if "HCPCS_Cd" in header and "Tot_HCPCS_Cds" not in header:
        raise FileRejected(
            "This is the Medicare by Provider and Service file (it has HCPCS_Cd, one row per "
            "procedure); the by Provider file was expected (one row per NPI, with "
            "Tot_HCPCS_Cds). Choose the other kind, or the other file."
        )
    common.require_columns(header, BY_PROVIDER_COLUMNS, "Medicare by Provider")


def check_by_service_header(header: list[str]) -> None:
    if "HCPCS_Cd" not in header and "Tot_HCPCS_Cds" in header:
        raise FileRejected(
            "This is the Medicare by Provider file (one row per NPI, with Tot_HCPCS_Cds); the "
            "by Provider and Service file was expected (one row per NPI and procedure, with "
            "HCPCS_Cd). Choose the other kind, or the other file."
        )
    common.require_columns(header, BY_SERVICE_COLUMNS, "Medicare by Provider and Service")


NPI = scan.npi_field("Rndrng_NPI", "npi")
BENES = scan.count_fields("Tot_Benes", "benes")
SRVCS = scan.count_fields("Tot_Srvcs", "srvcs")


def _clean(df: pd.DataFrame, report: ImportReport) -> pd.DataFrame:
    return common.clean_rows(df, report, ["npi"], ["benes", "srvcs"])


def import_by_provider(
    engine: Engine,
    path: Path | str,
    data_year: int | None = None,
    *,
    file_name: str | None = None,
    progress: Progress | None = None,
    should_stop: StopCheck | None = None,
) -> ImportReport:
    path, year, report = common.checked_file(
        engine, path, KIND_BY_PROVIDER, data_year, file_name, check_by_provider_header, 0.15
    )
    con = scan.duckdb_connection()
    try:
        table = scan.run_scan(
            con,
            f"""SELECT {", ".join(f"{e} AS {a}" for a, e in NPI + BENES + SRVCS)},
                       Rndrng_Prvdr_Type AS ptype
                FROM read_csv({scan.sql_text(str(path))},
                              {scan.csv_options(True, "utf-8")})""",
            progress,
            should_stop,
            arrow=True,
        )
        df = table.to_pandas()
        malformed = scan.rejected_lines(con)
    finally:
        con.close()
    report.rows_read = len(df) + malformed
    report.skip("malformed rows (wrong number of fields, cut off)", malformed)
    df = _clean(df, report)
    dupes = df["npi"].duplicated(keep="last")
    report.skip("repeated NPIs (the last row kept)", int(dupes.sum()))
    df = df[~dupes]
    report.rows_kept = len(df)
    rows = pd.DataFrame(
        {
            "npi": df["npi"].to_numpy(),
            "data_year": year,
            "tot_benes": df["benes"].round().astype("Int64"),
            "tot_srvcs": df["srvcs"],
            "provider_type": df["ptype"].where(df["ptype"].fillna("").str.strip() != "", None),
        }
    )
    t = db.medicare_volume
    with common.import_transaction(engine) as conn:
        common.refuse_older(conn, t, year, "Medicare by Provider data")
        conn.execute(t.delete())  # same or older year: replaced as a whole (a national file)
        common.insert_chunks(conn, t, rows, progress, should_stop)
        common.record_import(conn, report)
    return report


def import_by_service(
    engine: Engine,
    path: Path | str,
    data_year: int | None = None,
    *,
    file_name: str | None = None,
    progress: Progress | None = None,
    should_stop: StopCheck | None = None,
) -> ImportReport:
    path, year, report = common.checked_file(
        engine, path, KIND_BY_SERVICE, data_year, file_name, check_by_service_header, 0.02
    )
    codes = ", ".join(scan.sql_text(c) for c in procedure_codes())
    source = f"read_csv({scan.sql_text(str(path))}, {scan.csv_options(True, 'utf-8')})"
    # One pass: DuckDB reads only the four columns it needs, keeps the rows whose code is on
    # the list and checks them; the kept rows are written while the scan goes on.
    sql = f"""SELECT trim(Rndrng_NPI) AS npi, trim(HCPCS_Cd) AS hcpcs_cd, {year} AS data_year,
                     {scan.count_value("Tot_Srvcs")} AS tot_srvcs,
                     CAST(round({scan.count_value("Tot_Benes")}) AS BIGINT) AS tot_benes,
                     {scan.row_status(["Rndrng_NPI"], ["Tot_Benes", "Tot_Srvcs"])} AS status
              FROM {source} WHERE HCPCS_Cd IN ({codes})"""
    t = db.procedure_volume
    columns = ["npi", "hcpcs_cd", "data_year", "tot_srvcs", "tot_benes"]

    def merge(new: Any) -> dict[str, Any]:
        # One row per place of service: they add up. Beneficiaries may overlap between places,
        # so the larger of the two is the honest floor; all-suppressed stays "no data".
        return {
            "tot_srvcs": sa.case(
                (t.c.tot_srvcs.is_(None), new.tot_srvcs),
                (new.tot_srvcs.is_(None), t.c.tot_srvcs),
                else_=t.c.tot_srvcs + new.tot_srvcs,
            ),
            "tot_benes": sa.case(
                (sa.or_(t.c.tot_benes.is_(None), new.tot_benes > t.c.tot_benes), new.tot_benes),
                else_=t.c.tot_benes,
            ),
        }

    con = scan.duckdb_connection()
    try:
        with common.import_transaction(engine) as conn:
            common.refuse_older(conn, t, year, "Medicare by Provider and Service data")
            conn.execute(t.delete())
            write = common.upsert(conn, t, columns, merge)
            scan.stream_import(con, conn, sql, source, write, report, progress, should_stop)
    finally:
        con.close()
    return report


def loaded_year(engine: Engine, table: sa.Table) -> int | None:
    with engine.connect() as conn:
        return common.latest_year(conn, table)
