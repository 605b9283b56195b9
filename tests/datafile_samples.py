"""Small synthetic files in the real layouts of the public data files (exact column names), for
the tests. The benchmarks generate large ones the same way, in DuckDB."""

from __future__ import annotations

import csv
from collections.abc import Iterable
from pathlib import Path

from services.datafiles.nppes_file import NPPES_HEADER
from services.npi import make_npi

#: "Medicare Physician & Other Practitioners – by Provider" (data year 2023 layout).
BY_PROVIDER_HEADER = [
    "Rndrng_NPI", "Rndrng_Prvdr_Last_Org_Name", "Rndrng_Prvdr_First_Name", "Rndrng_Prvdr_MI",
    "Rndrng_Prvdr_Crdntls", "Rndrng_Prvdr_Gndr", "Rndrng_Prvdr_Ent_Cd", "Rndrng_Prvdr_St1",
    "Rndrng_Prvdr_St2", "Rndrng_Prvdr_City", "Rndrng_Prvdr_State_Abrvtn",
    "Rndrng_Prvdr_State_FIPS", "Rndrng_Prvdr_Zip5", "Rndrng_Prvdr_RUCA",
    "Rndrng_Prvdr_RUCA_Desc", "Rndrng_Prvdr_Cntry", "Rndrng_Prvdr_Type",
    "Rndrng_Prvdr_Mdcr_Prtcptg_Ind", "Tot_HCPCS_Cds", "Tot_Benes", "Tot_Srvcs",
    "Tot_Sbmtd_Chrg", "Tot_Mdcr_Alowd_Amt", "Tot_Mdcr_Pymt_Amt", "Tot_Mdcr_Stdzd_Amt",
    "Drug_Sprsn_Ind", "Drug_Tot_HCPCS_Cds", "Drug_Tot_Benes", "Drug_Tot_Srvcs",
    "Med_Sprsn_Ind", "Med_Tot_HCPCS_Cds", "Med_Tot_Benes", "Med_Tot_Srvcs", "Bene_Avg_Age",
    "Bene_Avg_Risk_Scre",
]  # fmt: skip

#: "... – by Provider and Service": the Rndrng_* columns, then one row per code and place.
BY_SERVICE_HEADER = [
    *BY_PROVIDER_HEADER[:18], "HCPCS_Cd", "HCPCS_Desc", "HCPCS_Drug_Ind", "Place_Of_Srvc",
    "Tot_Benes", "Tot_Srvcs", "Tot_Bene_Day_Srvcs", "Avg_Sbmtd_Chrg", "Avg_Mdcr_Alowd_Amt",
    "Avg_Mdcr_Pymt_Amt", "Avg_Mdcr_Stdzd_Amt",
]  # fmt: skip

HOP_HEADER = ["from_npi", "to_npi", "patient_count", "transaction_count", "average_day_wait",
              "std_day_wait"]  # fmt: skip


def npi(n: int) -> str:
    """A valid NPI from a small number (1xxxxxxxxx)."""
    return make_npi(f"1{n:08d}")


def bad_npi(n: int) -> str:
    good = npi(n)
    return good[:9] + str((int(good[9]) + 1) % 10)


def _write(path: Path, header: list[str] | None, rows: Iterable[dict | list], quote_all=False):
    with open(path, "w", newline="", encoding="latin-1") as fh:
        w = csv.writer(fh, quoting=csv.QUOTE_ALL if quote_all else csv.QUOTE_MINIMAL)
        if header is not None:
            w.writerow(header)
        for row in rows:
            if isinstance(row, dict):
                w.writerow([row.get(c, "") for c in header or []])
            else:
                w.writerow(row)
    return path


def by_provider_row(npi_: str, benes: object, srvcs: object, ptype="Orthopedic Surgery") -> dict:
    return {
        "Rndrng_NPI": npi_, "Rndrng_Prvdr_Last_Org_Name": "Smith", "Rndrng_Prvdr_First_Name":
        "Ann", "Rndrng_Prvdr_Ent_Cd": "I", "Rndrng_Prvdr_City": "Denver",
        "Rndrng_Prvdr_State_Abrvtn": "CO", "Rndrng_Prvdr_Zip5": "80202",
        "Rndrng_Prvdr_Type": ptype, "Rndrng_Prvdr_Mdcr_Prtcptg_Ind": "Y", "Tot_HCPCS_Cds": "12",
        "Tot_Benes": benes, "Tot_Srvcs": srvcs, "Tot_Sbmtd_Chrg": "1000.5", "Bene_Avg_Age": "72",
    }  # fmt: skip


def write_by_provider(path: Path, rows: list[dict], header=BY_PROVIDER_HEADER) -> Path:
    return _write(path, header, rows)


def by_service_row(npi_: str, code: str, srvcs: object, benes: object = "20", place="F") -> dict:
    return {
        "Rndrng_NPI": npi_, "Rndrng_Prvdr_Last_Org_Name": "Smith", "Rndrng_Prvdr_Type":
        "Orthopedic Surgery", "Rndrng_Prvdr_State_Abrvtn": "CO", "HCPCS_Cd": code,
        "HCPCS_Desc": "Procedure, with a comma", "HCPCS_Drug_Ind": "N", "Place_Of_Srvc": place,
        "Tot_Benes": benes, "Tot_Srvcs": srvcs, "Tot_Bene_Day_Srvcs": srvcs,
        "Avg_Sbmtd_Chrg": "5000.0",
    }  # fmt: skip


def write_by_service(path: Path, rows: list[dict], header=BY_SERVICE_HEADER) -> Path:
    return _write(path, header, rows)


def write_pairs_cms(path: Path, pairs: list[tuple]) -> Path:
    """(npi1, npi2, pair_count, bene_count, same_day_count), no header."""
    return _write(path, None, [list(p) for p in pairs])


def write_pairs_hop(path: Path, pairs: list[tuple], header: bool = True) -> Path:
    """(from_npi, to_npi, patient_count, transaction_count, avg_wait, std_wait)."""
    return _write(path, HOP_HEADER if header else None, [list(p) for p in pairs])


def nppes_row(
    npi_: str,
    codes: list[str],
    state: str = "CO",
    primary: int = 0,
    *,
    org: str | None = None,
    last: str = "Jones",
    first: str = "Pat",
    deactivated: str = "",
    reactivated: str = "",
    entity: str | None = None,
    city: str = "DENVER",
    street: str = "100 MAIN ST",
    postal: str = "802021234",
    mail_state: str = "WY",
) -> dict:
    row = {c: "" for c in NPPES_HEADER}
    row.update({
        "NPI": npi_,
        "Entity Type Code": entity if entity is not None else ("2" if org else "1"),
        "Provider Organization Name (Legal Business Name)": org or "",
        "Provider Last Name (Legal Name)": "" if org else last,
        "Provider First Name": "" if org else first,
        "Provider Credential Text": "" if org else "M.D.",
        "Provider First Line Business Mailing Address": "PO BOX 1",
        "Provider Business Mailing Address State Name": mail_state,
        "Provider First Line Business Practice Location Address": street,
        "Provider Business Practice Location Address City Name": city,
        "Provider Business Practice Location Address State Name": state,
        "Provider Business Practice Location Address Postal Code": postal,
        "Provider Business Practice Location Address Telephone Number": "3035550100",
        "Provider Enumeration Date": "05/23/2005",
        "Last Update Date": "07/08/2024",
        "NPI Deactivation Date": deactivated,
        "NPI Reactivation Date": reactivated,
    })  # fmt: skip
    for i, code in enumerate(codes, start=1):
        row[f"Healthcare Provider Taxonomy Code_{i}"] = code
        row[f"Healthcare Provider Primary Taxonomy Switch_{i}"] = "Y" if i - 1 == primary else "N"
    if deactivated and not reactivated:
        row["Entity Type Code"] = ""
    return row


def write_nppes(path: Path, rows: list[dict], header=NPPES_HEADER) -> Path:
    """Every value quoted, ISO-8859-1, as CMS ships it."""
    return _write(path, list(header), rows, quote_all=True)
