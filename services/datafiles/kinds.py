"""The kinds of data file the app imports: what each is called where it is published, what is
kept, and one entry point (`run_import`) that the page calls for any of them.

The app downloads nothing itself: the user fetches the files from the publishers named here and
points the app at them (a path for the big ones, an upload for small ones).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from services import db
from services.datafiles import medicare, nppes_file, shared_patients
from services.datafiles.common import FileRejected, ImportReport, Progress, StopCheck
from services.practices import Practice


@dataclass(frozen=True)
class Kind:
    key: str
    label: str
    dataset: str  # the publisher's own name for it
    where: str
    kept: str
    typical_size: str
    needs_year: bool = True


KINDS: tuple[Kind, ...] = (
    Kind(
        "medicare_by_provider",
        "Medicare volumes (by Provider)",
        'CMS "Medicare Physician & Other Practitioners – by Provider"',
        "data.cms.gov, one file per data year (e.g. MUP_PHY_R25_P05_V20_D23_Prov.csv)",
        "Per NPI: Medicare patients a year (Tot_Benes), services (Tot_Srvcs) and the Medicare "
        "specialty (Rndrng_Prvdr_Type). Suppressed counts are kept as no data.",
        "about 1.3 M rows, 600 MB",
    ),
    Kind(
        "medicare_by_service",
        "PT-generating procedures (by Provider and Service)",
        'CMS "Medicare Physician & Other Practitioners – by Provider and Service"',
        "data.cms.gov, one file per data year (e.g. MUP_PHY_R25_P05_V20_D23_Prov_Svc.csv)",
        "Only the rows of the PT-generating procedure codes (knee and hip replacements, "
        "arthroscopies, rotator cuff repairs, spinal fusions …), summed per NPI and code.",
        "about 9.7 M rows, 3 GB",
    ),
    Kind(
        "pairs_cms",
        "Shared patients (CMS, 5 columns)",
        'CMS "Physician Shared Patient Patterns" (2009–2015; 2015 is the last release)',
        "CMS's shared-patient files, one per year and window (30/60/90/180 days), no header",
        "Only pairs where one side is a provider in your area, your own NPI or a PT competitor.",
        "55–120 M rows a year",
    ),
    Kind(
        "pairs_hop",
        "Shared patients (DocGraph Hop Teaming, 6 columns)",
        'DocGraph "Hop Teaming" (CareSet), later years',
        "CareSet / DocGraph's Hop Teaming releases",
        "Only pairs where one side is a provider in your area, your own NPI or a PT competitor.",
        "tens of millions of rows",
    ),
    Kind(
        "nppes",
        "Providers of whole states (NPPES file)",
        'NPPES "NPI Files / Full Replacement Monthly" (npidata_pfile), or a state extract',
        "download.cms.gov/nppes/NPI_Files.html (the monthly zip holds npidata_pfile_*.csv)",
        "Providers of the chosen states with a code of the chosen specialty groups (any of the "
        "15 taxonomy slots), at their practice location address; deactivated NPIs left out.",
        "about 9 M rows, 10 GB",
        needs_year=False,
    ),
)
KINDS_BY_KEY: dict[str, Kind] = {k.key: k for k in KINDS}
#: The kind recorded with each import (one record kind for both pair layouts), as a label.
RECORD_LABELS: dict[str, str] = {
    "medicare_by_provider": KINDS_BY_KEY["medicare_by_provider"].label,
    "medicare_by_service": KINDS_BY_KEY["medicare_by_service"].label,
    "shared_patients": "Shared patients",
    "nppes": KINDS_BY_KEY["nppes"].label,
}


def run_import(
    engine: Engine,
    kind: str,
    path: Path | str,
    *,
    practice: Practice | None = None,
    data_year: int | None = None,
    file_name: str | None = None,
    states: Iterable[str] = (),
    groups: Iterable[str] = nppes_file.DEFAULT_GROUPS,
    progress: Progress | None = None,
    should_stop: StopCheck | None = None,
) -> ImportReport:
    """Import one file of `kind`; raises FileRejected (nothing written) or ImportStopped."""
    opts = {"file_name": file_name, "progress": progress, "should_stop": should_stop}
    if kind == "medicare_by_provider":
        return medicare.import_by_provider(engine, path, data_year, **opts)
    if kind == "medicare_by_service":
        return medicare.import_by_service(engine, path, data_year, **opts)
    if kind in ("pairs_cms", "pairs_hop"):
        if practice is None:
            raise FileRejected("Pick a practice first: pairs are kept for its area.")
        keep = shared_patients.relevant_npis(engine, practice)
        layout = "cms" if kind == "pairs_cms" else "hop"
        return shared_patients.import_pairs(
            engine, path, layout, keep, data_year, practice_id=practice.id, **opts
        )
    if kind == "nppes":
        return nppes_file.import_nppes(engine, path, states, groups, **opts)
    raise FileRejected(f"Unknown kind of file: {kind}")


def loaded(engine: Engine) -> pd.DataFrame:
    """What is loaded now, per kind of signal: data year and rows."""
    out = []
    with engine.connect() as conn:
        for label, table, extra in (
            ("Medicare volumes", db.medicare_volume, None),
            ("PT-generating procedures", db.procedure_volume, None),
            ("Shared-patient pairs", db.shared_patient_pair, None),
        ):
            row = conn.execute(sa.select(sa.func.max(table.c.data_year), sa.func.count())).one()
            out.append((label, row[0], row[1], extra))
        t = db.provider
        n = conn.execute(
            sa.select(sa.func.count()).where(t.c.data_source == "nppes_file")
        ).scalar_one()
        placed = conn.execute(
            sa.select(sa.func.count()).where(t.c.data_source == "nppes_file", t.c.lat.is_not(None))
        ).scalar_one()
    out.append(("Providers from the NPPES file", None, n, f"{placed:,} on the map" if n else None))
    return pd.DataFrame(out, columns=["Data", "Data year", "Rows", "Note"])
