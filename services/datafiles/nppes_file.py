"""The NPPES bulk file: every provider of one or more states, without the registry's caps.

CMS's monthly "NPI Files / Full Replacement Monthly" `npidata_pfile_*.csv` has about 9 M rows
and 330 columns (~10 GB), ISO-8859-1, every value in double quotes, dates MM/DD/YYYY. A state
extract with the same header works the same way. Columns are bound by their exact header text
(`NPPES_HEADER` is the full layout, in file order).

What is kept: providers whose practice LOCATION address (never the mailing address) is in the
chosen states, that hold a code of a chosen specialty group in any of the 15 taxonomy slots,
and that are not deactivated (a deactivated NPI has an empty entity type and a deactivation
date without a later reactivation). The primary taxonomy is the slot whose "Primary Taxonomy
Switch" is `Y` (slot 1 is not always it); the provider's group follows from it as in the live
search. The filter runs inside DuckDB's scan; only the kept rows reach Python.

Kept providers are upserted into `provider` by the live search's own upsert (first seen, last
seen, a changed address cleared for re-geocoding), marked `nppes_file` when new. Geocoding is a
separate step (`geocode_imported`), through the same cascade, Census batch first: the import
itself never waits on the network.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from services import db, provider_store
from services.datafiles import common, scan
from services.datafiles.common import FileRejected, ImportReport, Progress, StopCheck
from services.npi_records import ProviderRecord
from services.specialties import GROUPS, GROUPS_BY_KEY, group_for_codes

KIND = "nppes"
SLOTS = range(1, 16)


def _header() -> list[str]:
    loc = "Provider Business Practice Location Address"
    mail = "Provider Business Mailing Address"
    names = [
        "NPI", "Entity Type Code", "Replacement NPI", "Employer Identification Number (EIN)",
        "Provider Organization Name (Legal Business Name)", "Provider Last Name (Legal Name)",
        "Provider First Name", "Provider Middle Name", "Provider Name Prefix Text",
        "Provider Name Suffix Text", "Provider Credential Text",
        "Provider Other Organization Name", "Provider Other Organization Name Type Code",
        "Provider Other Last Name", "Provider Other First Name", "Provider Other Middle Name",
        "Provider Other Name Prefix Text", "Provider Other Name Suffix Text",
        "Provider Other Credential Text", "Provider Other Last Name Type Code",
        "Provider First Line Business Mailing Address",
        "Provider Second Line Business Mailing Address", f"{mail} City Name",
        f"{mail} State Name", f"{mail} Postal Code",
        f"{mail} Country Code (If outside U.S.)", f"{mail} Telephone Number",
        f"{mail} Fax Number", "Provider First Line Business Practice Location Address",
        "Provider Second Line Business Practice Location Address", f"{loc} City Name",
        f"{loc} State Name", f"{loc} Postal Code", f"{loc} Country Code (If outside U.S.)",
        f"{loc} Telephone Number", f"{loc} Fax Number", "Provider Enumeration Date",
        "Last Update Date", "NPI Deactivation Reason Code", "NPI Deactivation Date",
        "NPI Reactivation Date", "Provider Sex Code", "Authorized Official Last Name",
        "Authorized Official First Name", "Authorized Official Middle Name",
        "Authorized Official Title or Position", "Authorized Official Telephone Number",
    ]  # fmt: skip
    for i in SLOTS:
        names += [
            f"Healthcare Provider Taxonomy Code_{i}", f"Provider License Number_{i}",
            f"Provider License Number State Code_{i}",
            f"Healthcare Provider Primary Taxonomy Switch_{i}",
        ]  # fmt: skip
    for i in range(1, 51):
        names += [
            f"Other Provider Identifier_{i}", f"Other Provider Identifier Type Code_{i}",
            f"Other Provider Identifier State_{i}", f"Other Provider Identifier Issuer_{i}",
        ]  # fmt: skip
    names += [
        "Is Sole Proprietor", "Is Organization Subpart", "Parent Organization LBN",
        "Parent Organization TIN", "Authorized Official Name Prefix Text",
        "Authorized Official Name Suffix Text", "Authorized Official Credential Text",
    ]  # fmt: skip
    names += [f"Healthcare Provider Taxonomy Group_{i}" for i in SLOTS]
    names.append("Certification Date")
    return names


#: The 330 column names of `npidata_pfile`, in file order.
NPPES_HEADER: tuple[str, ...] = tuple(_header())

#: The columns the import reads, by alias.
WANTED: dict[str, str] = {
    "npi": "NPI",
    "entity": "Entity Type Code",
    "org": "Provider Organization Name (Legal Business Name)",
    "last": "Provider Last Name (Legal Name)",
    "first": "Provider First Name",
    "middle": "Provider Middle Name",
    "suffix": "Provider Name Suffix Text",
    "credential": "Provider Credential Text",
    "line1": "Provider First Line Business Practice Location Address",
    "line2": "Provider Second Line Business Practice Location Address",
    "city": "Provider Business Practice Location Address City Name",
    "state": "Provider Business Practice Location Address State Name",
    "postal": "Provider Business Practice Location Address Postal Code",
    "phone": "Provider Business Practice Location Address Telephone Number",
    "enumerated": "Provider Enumeration Date",
    "updated": "Last Update Date",
    "deactivated": "NPI Deactivation Date",
    "reactivated": "NPI Reactivation Date",
    **{f"tax{i}": f"Healthcare Provider Taxonomy Code_{i}" for i in SLOTS},
    **{f"sw{i}": f"Healthcare Provider Primary Taxonomy Switch_{i}" for i in SLOTS},
}

#: Groups imported by default: every referral-source group and the PT competitors.
DEFAULT_GROUPS: tuple[str, ...] = tuple(g.key for g in GROUPS)


def check_header(header: list[str]) -> None:
    if "Rndrng_NPI" in header:
        raise FileRejected(
            "This is a Medicare Physician & Other Practitioners file, not the NPPES file "
            "(npidata_pfile, 330 columns starting NPI, Entity Type Code)."
        )
    if header[:2] == ["NPI", "Provider Secondary Practice Location Address- Address Line 1"]:
        raise FileRejected(
            "This is NPPES's secondary practice location file (pl_pfile); the main file "
            "npidata_pfile (330 columns) was expected."
        )
    common.require_columns(header, list(WANTED.values()), "NPPES npidata_pfile")


def _code_condition(groups: Iterable[str]) -> str:
    """SQL true when any taxonomy slot holds a code of the chosen groups (exact codes and the
    groups' prefix rules such as 207X*)."""
    codes: list[str] = []
    prefixes: list[str] = []
    for key in groups:
        g = GROUPS_BY_KEY[key]
        codes.extend(g.codes)
        prefixes.extend(g.prefixes)
    in_list = ", ".join(scan.sql_text(c) for c in sorted(set(codes)))
    parts = []
    for i in SLOTS:
        col = f'"{WANTED[f"tax{i}"]}"'
        one = [f"{col} IN ({in_list})"] if codes else []
        one += [f"starts_with({col}, {scan.sql_text(p)})" for p in sorted(set(prefixes))]
        parts.append("(" + " OR ".join(one) + ")")
    return "(" + " OR ".join(parts) + ")"


def _mdy(value: object) -> date | None:
    """A date the scan already parsed (see `_DATES`), or MM/DD/YYYY text; None if neither."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        return datetime.strptime(value.strip(), "%m/%d/%Y").date()
    except ValueError:
        return None


#: Dates parsed by DuckDB on the kept rows only: Python's strptime per row cost more than the
#: rest of the record building. A value that is no MM/DD/YYYY date stays NULL ("unknown").
_DATES = ("enumerated", "updated")


def _text(value: object) -> str | None:
    """Normalise: a quoted empty field may come back as NULL or as ''."""
    if not isinstance(value, str):
        return None
    value = value.strip()
    return value or None


def _record(row: dict) -> tuple[ProviderRecord, str | None] | None:
    codes: list[str] = []
    primary = None
    for i in SLOTS:
        code = (_text(row[f"tax{i}"]) or "").upper()
        if not code:
            continue
        if code not in codes:
            codes.append(code)
        if primary is None and (_text(row[f"sw{i}"]) or "").upper() == "Y":
            primary = code
    if not codes:
        return None
    primary = primary or codes[0]
    ordered = (primary, *(c for c in codes if c != primary))
    group = group_for_codes(primary, ordered[1:])
    is_org = _text(row["entity"]) == "2"
    if is_org:
        name = _text(row["org"]) or "Unnamed"
    else:
        parts = [_text(row[k]) for k in ("first", "middle", "last", "suffix")]
        name = " ".join(p for p in parts if p) or "Unnamed"
    street = ", ".join(p for p in (_text(row["line1"]), _text(row["line2"])) if p)
    postal = _text(row["postal"])
    state = _text(row["state"])
    rec = ProviderRecord(
        npi=str(row["npi"]).strip(),
        entity_type="organization" if is_org else "individual",
        name=name,
        credential=None if is_org else _text(row["credential"]),
        primary_taxonomy=primary,
        taxonomy_codes=ordered,
        address=street or None,
        city=_text(row["city"]),
        state=state.upper()[:2] if state else None,
        zip=postal[:5] if postal else None,
        phone=_text(row["phone"]),
        last_updated=_mdy(row["updated"]),
        enumeration_date=_mdy(row["enumerated"]),
        raw_postal_code=postal,
    )
    return rec, group


@contextmanager
def _within(conn: Connection) -> Iterator[Connection]:
    yield conn


class _OneTransaction:
    """Lets `provider_store.upsert_providers`, which opens `engine.begin()`, run inside the
    import's own transaction, so the whole import (providers and its record) commits or rolls
    back once."""

    def __init__(self, conn: Connection):
        self._conn = conn

    def begin(self) -> object:
        return _within(self._conn)


def import_nppes(
    engine: Engine,
    path: Path | str,
    states: Iterable[str],
    groups: Iterable[str] = DEFAULT_GROUPS,
    *,
    file_name: str | None = None,
    today: date | None = None,
    progress: Progress | None = None,
    should_stop: StopCheck | None = None,
) -> ImportReport:
    path = Path(path)
    name = file_name or path.name
    state_list = sorted({s.strip().upper() for s in states if s and s.strip()})
    if not state_list or any(len(s) != 2 or not s.isalpha() for s in state_list):
        raise FileRejected("Choose one or more states by their two-letter codes (e.g. CO, WY).")
    group_list = [g for g in groups if g in GROUPS_BY_KEY]
    if not group_list:
        raise FileRejected("Choose at least one specialty group to import.")
    check_header(common.read_header(path))
    common.check_disk(engine, path, kept_fraction=0.02)
    report = ImportReport(KIND, name, common.guess_year(name))
    states_sql = ", ".join(scan.sql_text(s) for s in state_list)
    loc_state = f'"{WANTED["state"]}"'
    active = (
        f'"{WANTED["entity"]}" IS NOT NULL AND trim("{WANTED["entity"]}") <> \'\' AND '
        f'("{WANTED["deactivated"]}" IS NULL OR trim("{WANTED["deactivated"]}") = \'\' OR '
        f"coalesce(trim(\"{WANTED['reactivated']}\"), '') <> '')"
    )
    con = scan.duckdb_connection()
    try:
        rows_seen, frame = scan.scan_filtered(
            con,
            f"read_csv({scan.sql_text(str(path))}, {scan.csv_options(True)})",
            [(alias, f'"{col}"') for alias, col in WANTED.items()],
            f"upper(trim({loc_state})) IN ({states_sql}) AND {active} AND "
            f"{_code_condition(group_list)}",
            [
                *((alias, alias) for alias in WANTED if alias not in _DATES),
                *((d, f"try_strptime(trim({d}), '%m/%d/%Y')::DATE") for d in _DATES),
                ("npi_ok", "npi_ok(trim(npi))"),
            ],
            progress,
            should_stop,
            span=(0.0, 0.85),
        )
        malformed = scan.rejected_lines(con)
    finally:
        con.close()
    # Plain dicts built from whole columns: DataFrame.to_dict walks Arrow-backed cells one by
    # one, several times slower.
    fields = list(frame.columns)
    kept_rows = [
        dict(zip(fields, values, strict=True))
        for values in zip(*(frame[f].tolist() for f in fields), strict=True)
    ]
    report.rows_read = rows_seen + malformed
    report.skip("malformed rows (wrong number of fields, cut off)", malformed)
    valid = frame["npi_ok"].fillna(False).to_numpy(dtype=bool)
    report.skip("NPIs failing the check digit", int((~valid).sum()))
    records: dict[str, tuple[ProviderRecord, str]] = {}
    wanted_groups = set(group_list)
    other_group = 0
    for row, ok in zip(kept_rows, valid, strict=True):
        if not ok:
            continue
        made = _record(row)
        if made is None:
            continue
        rec, group = made
        if group not in wanted_groups:
            other_group += 1  # its primary code belongs to a group not chosen
            continue
        records[rec.npi] = (rec, group)
    if other_group:
        report.messages.append(
            f"{other_group:,} provider(s) left out: their primary specialty is in a group "
            "not chosen"
        )
    report.rows_kept = len(records)
    if progress is not None:
        progress(0.9, "Saving")
    with engine.begin() as conn:
        if should_stop is not None and should_stop():
            raise common.ImportStopped("Stopped; nothing was written.")
        inserted = provider_store.upsert_providers(
            _OneTransaction(conn),  # type: ignore[arg-type]
            records,
            today or date.today(),
        )
        t = db.provider
        new = sorted(inserted)
        for i in range(0, len(new), 500):
            conn.execute(
                t.update().where(t.c.npi.in_(new[i : i + 500])).values(data_source="nppes_file")
            )
        report.messages.append(
            f"{len(inserted):,} new provider(s), {len(records) - len(inserted):,} refreshed"
        )
        common.record_import(conn, report)
    if progress is not None:
        progress(1.0, "Saved")
    return report


def ungeocoded(engine: Engine, states: Iterable[str] | None = None) -> list[str]:
    """NPIs imported from the file that have no map position yet."""
    t = db.provider
    query = sa.select(t.c.npi).where(t.c.data_source == "nppes_file", t.c.lat.is_(None))
    if states:
        query = query.where(t.c.state.in_([s.upper() for s in states]))
    with engine.connect() as conn:
        return [r.npi for r in conn.execute(query)]


def geocode_imported(
    engine: Engine,
    npis: list[str] | None = None,
    *,
    progress: Progress | None = None,
    should_stop: StopCheck | None = None,
    **geo_kwargs: object,
) -> object:
    """Place imported providers on the map through the geocoding cascade (Census batch first,
    then Nominatim within its budget, then the ZIP centroid); returns the geocoding report."""
    todo = npis if npis is not None else ungeocoded(engine)

    def tick(done: int, total: int, stage: str) -> None:
        if progress is not None:
            progress(done / total if total else 1.0, f"Geocoding ({stage})")

    return provider_store.geocode_providers(
        engine, todo, False, progress=tick, should_stop=should_stop, **geo_kwargs
    )
