"""Shared-patient pairs: who saw the same Medicare patients, in time order.

Two layouts of the same idea:
- CMS "Physician Shared Patient Patterns" (2009–2015, CMS's last release is 2015): no header,
  five columns `npi1, npi2, pair_count, bene_count, same_day_count`.
- DocGraph "Hop Teaming" (CareSet, later years): six columns `from_npi, to_npi, patient_count,
  transaction_count, average_day_wait, std_day_wait` (with or without that header line).

Both leave out pairs with fewer than 11 shared patients. The first NPI saw the patients first,
so a pair (surgeon → PT clinic) is the trace of a likely referral, not a proven one.

A year-file has 55–120 million pairs; only those where one side matters to the practice are
kept: a provider in its area (within the largest map radius), the practice's own NPI, or a PT
competitor (who are in the area too). The filter is a semi-join inside DuckDB's scan.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from services import db
from services.datafiles import common, scan
from services.datafiles.common import FileRejected, ImportReport, Progress, StopCheck
from services.geo import RADIUS_MAX_MI, within_radius
from services.practices import Practice

KIND = "shared_patients"
LAYOUTS: dict[str, dict] = {
    "cms": {
        "label": "CMS Physician Shared Patient Patterns (no header, 5 columns)",
        "columns": ["npi1", "npi2", "pair_count", "bene_count", "same_day_count"],
        "source": "cms_shared_patients",
    },
    "hop": {
        "label": "DocGraph Hop Teaming (6 columns)",
        "columns": [
            "from_npi", "to_npi", "patient_count", "transaction_count", "average_day_wait",
            "std_day_wait",
        ],
        "source": "hop_teaming",
    },
}  # fmt: skip
SOURCE_LABELS = {
    "cms_shared_patients": "CMS Physician Shared Patient Patterns",
    "hop_teaming": "DocGraph Hop Teaming",
}


def sniff(path: Path) -> tuple[int, bool]:
    """(number of fields, has a header line) from the file's first line."""
    first = common.read_header(path)
    if not first:
        raise FileRejected("The file is empty.")
    has_header = not first[0].strip().isdigit()
    return len(first), has_header


def check_layout(path: Path, layout: str) -> bool:
    """Refuse a file whose column count is not the layout's; return whether it has a header."""
    spec = LAYOUTS[layout]
    expected = len(spec["columns"])
    found, has_header = sniff(path)
    if found != expected:
        other = next((v["label"] for v in LAYOUTS.values() if len(v["columns"]) == found), None)
        hint = f" It looks like {other}: choose that layout." if other else ""
        raise FileRejected(
            f"Expected {spec['label']}: {expected} columns ({', '.join(spec['columns'])}); "
            f"found {found} columns.{hint}"
        )
    if layout == "cms" and has_header:
        raise FileRejected(
            "CMS's shared-patient files have no header line, but this file starts with one "
            f"({', '.join(common.read_header(path)[:5])})."
        )
    return has_header


def relevant_npis(engine: Engine, practice: Practice, radius_mi: float = RADIUS_MAX_MI) -> set[str]:
    """The NPIs whose pairs are worth keeping for this practice: every stored provider within
    `radius_mi` (referral sources and PT competitors alike) and the practice's own NPI."""
    t = db.provider
    scope = t.c.data_source == "demo" if practice.is_demo else t.c.data_source != "demo"
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(t.c.npi, t.c.lat, t.c.lon).where(scope, t.c.lat.is_not(None))
        ).all()
    npis = set()
    if rows and practice.lat is not None and practice.lon is not None:
        frame = pd.DataFrame(rows, columns=["npi", "lat", "lon"])
        idx, _ = within_radius(
            practice.lat, practice.lon, frame["lat"].to_numpy(float),
            frame["lon"].to_numpy(float), radius_mi,
        )  # fmt: skip
        npis = set(frame["npi"].iloc[idx])
    if practice.npi:
        npis.add(practice.npi)
    return npis


def import_pairs(
    engine: Engine,
    path: Path | str,
    layout: str,
    keep_npis: set[str],
    data_year: int | None = None,
    *,
    file_name: str | None = None,
    practice_id: int | None = None,
    progress: Progress | None = None,
    should_stop: StopCheck | None = None,
) -> ImportReport:
    """Import the pairs of `path` in `layout` ("cms" or "hop") where either side is in
    `keep_npis` (see `relevant_npis`). Same-year pairs touching these NPIs are replaced, older
    years dropped; pairs kept for another practice's area survive."""
    if layout not in LAYOUTS:
        raise FileRejected(f"Unknown layout {layout!r}; choose one of {', '.join(LAYOUTS)}.")
    path = Path(path)
    name = file_name or path.name
    year = common.check_year(data_year or common.guess_year(name))
    has_header = check_layout(path, layout)
    if not keep_npis:
        raise FileRejected(
            "No providers are stored around this practice yet, so no pair could be kept. "
            "Search the area (or import the NPPES file) first."
        )
    common.check_disk(engine, path, kept_fraction=0.01)
    spec = LAYOUTS[layout]
    cols = spec["columns"]
    report = ImportReport(KIND, name, year)
    # NPIs are read as integers: hashing them against the area's NPIs is much cheaper than
    # hashing text, and a value that is no number at all is a malformed row, skipped and counted.
    types = {cols[0]: "BIGINT", cols[1]: "BIGINT"}
    col_spec = "{" + ", ".join(f"'{c}': '{types.get(c, 'VARCHAR')}'" for c in cols) + "}"
    options = scan.csv_options(has_header, "utf-8", all_varchar=False)
    source = f"read_csv({scan.sql_text(str(path))}, {options}, columns={col_spec}) s"
    a, b = (f"CAST(s.{c} AS VARCHAR)" for c in cols[:2])
    patients, trans = (cols[3], cols[2]) if layout == "cms" else (cols[2], cols[3])
    # Two semi-joins against the (small) set of NPIs that matter, probed during the scan: a
    # mark join per side keeps no columns of the small table, cheaper than two outer joins.
    sql = f"""SELECT {a} AS npi_from, {b} AS npi_to, {year} AS data_year,
                     {scan.sql_text(spec["source"])} AS source,
                     CAST(round({scan.count_value(f"s.{patients}")}) AS BIGINT) AS patient_count,
                     CAST(round({scan.count_value(f"s.{trans}")}) AS BIGINT) AS transaction_count,
                     {scan.row_status([a, b], [f"s.{patients}", f"s.{trans}"])} AS status
              FROM {source}
              WHERE s.{cols[0]} IN (SELECT npi FROM keep_npi)
                 OR s.{cols[1]} IN (SELECT npi FROM keep_npi)"""
    t = db.shared_patient_pair
    columns = ["npi_from", "npi_to", "data_year", "source", "patient_count", "transaction_count"]
    con = scan.duckdb_connection()
    try:
        con.execute("CREATE TEMP TABLE keep_npi (npi BIGINT PRIMARY KEY)")
        con.execute(
            "INSERT INTO keep_npi SELECT DISTINCT unnest(?::BIGINT[])",
            [sorted(int(n) for n in keep_npis if n.isdigit())],
        )
        with common.import_transaction(engine) as conn:
            common.refuse_older(conn, t, year, "Shared-patient data")
            conn.execute(t.delete().where(t.c.data_year < year))
            keys = sorted(keep_npis)
            for i in range(0, len(keys), 500):
                chunk = keys[i : i + 500]
                conn.execute(
                    t.delete().where(sa.or_(t.c.npi_from.in_(chunk), t.c.npi_to.in_(chunk)))
                )
            # A pair listed twice (a damaged file): the last one read stands.
            write = common.upsert(conn, t, columns, lambda new: {c: new[c] for c in columns[2:]})
            scan.stream_import(
                con,
                conn,
                sql,
                source,
                write,
                report,
                progress,
                should_stop,
                practice_id=practice_id,
            )
    finally:
        con.close()
    return report
