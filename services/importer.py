"""Import an existing referral tracker (CSV or Excel .xlsx) into the referral log.

The common tracker is a workbook with a "Sent" and a "Received" sheet and columns such as
date, patient ID, referred-to / referred-by provider, specialty, reason, completed Y/N,
outcome notes, revenue generated and follow-up sent. Import goes in three steps, so nothing is
written until the user has seen what will happen:

1. `read_tracker` reads the sheets and drops every column that looks like a patient identifier
   (name, DOB, MRN, patient ID, SSN) *before* anything else sees it; the drop is reported.
2. `suggest_mapping` proposes which source column feeds which referral field; the user adjusts.
3. `plan_import` validates every row (same rules as the editor) and resolves partners by NPI,
   else by name; `run_import` writes the plan in one transaction: all rows, or, only when the
   user asks, the valid ones. A failure part-way leaves the database as it was.
"""

from __future__ import annotations

import csv
import functools
import io
import re
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from services import db
from services import referrals as refs
from services.npi import npi_error

MAX_BYTES = 20 * 1024 * 1024
MAX_ROWS = 50_000

#: Referral fields a source column can feed, with what the mapping step calls them.
TARGETS: dict[str, str] = {
    "referral_date": "Date",
    "partner_npi": "Provider NPI",
    "partner_name": "Provider name",
    "direction": "Direction",
    "reason_category": "Reason",
    "payer_category": "Payer",
    "status": "Status",
    "completed": "Completed (Y/N)",
    "lost_reason": "Lost reason",
    "first_visit_date": "First visit date",
    "visits": "Visits",
    "thank_you_sent": "Thank-you sent (Y/N or date)",
    "outcome_note_sent": "Outcome note sent (Y/N/date)",
    "notes": "Notes",
}

# Header words that mark a patient identifier. A provider's name column ("Referred by",
# "Provider name", "Physician") is not one; a bare "Name" or anything about the patient is.
_IDENTIFIER_PATTERNS = [
    re.compile(p)
    for p in (
        r"\bpatient\b", r"\bpt\b", r"\bclient\b", r"\bdob\b", r"\bbirth", r"\bmrn\b",
        r"\bmedical record", r"\bssn\b", r"\bsocial security", r"\bchart\b",
        r"^(first|last|full|middle)?\s*name$", r"^(first|last|sur|given)\s*name",
    )
]  # fmt: skip

_SUGGEST: dict[str, tuple[str, ...]] = {
    "referral_date": ("referral date", "date referred", "date received", "date sent", "date"),
    "partner_npi": ("npi",),
    "partner_name": (
        "referred by",
        "referred to",
        "referred from",
        "referring",
        "referrer",
        "provider",
        "physician",
        "doctor",
        "partner",
    ),
    "direction": ("direction", "type"),
    "reason_category": ("reason", "body region", "diagnosis", "service"),
    "payer_category": ("payer", "insurance"),
    "status": ("status",),
    "completed": ("completed", "complete", "seen"),
    "lost_reason": ("lost reason", "why lost"),
    "first_visit_date": ("first visit", "eval date", "evaluation date"),
    "visits": ("visits", "visit count"),
    "thank_you_sent": ("thank", "follow-up sent", "follow up sent", "followup sent", "follow-up"),
    "outcome_note_sent": ("outcome note sent", "report sent", "loop closed", "close the loop"),
    "notes": ("outcome notes", "notes", "comments", "outcome"),
}

_YES = {"y", "yes", "true", "1", "x", "done", "sent", "✓"}
_NO = {"n", "no", "false", "0", "-"}


class ImportFileError(ValueError):
    """The file cannot be imported at all; the message is meant for the user."""


@dataclass
class Sheet:
    name: str
    frame: pd.DataFrame  # data rows; columns are the header's texts
    first_row: int  # the spreadsheet row number of frame's first row (for messages)
    direction: str | None  # from the sheet's name ("Sent" / "Received"), if it says
    dropped: list[str] = field(default_factory=list)  # identifier columns removed
    warnings: list[str] = field(default_factory=list)


@dataclass
class PlannedRow:
    label: str
    values: dict[str, Any]
    partner_name: str | None
    new_referrer: str | None  # "npi" / "name" when run_import must create it


@dataclass
class ImportPlan:
    rows: list[PlannedRow]
    errors: list[refs.FieldError]
    total: int

    @property
    def valid(self) -> int:
        return len(self.rows)

    def error_frame(self) -> pd.DataFrame:
        return pd.DataFrame(
            [(e.row, e.field, e.message) for e in self.errors], columns=["row", "field", "problem"]
        )


# --- reading ---------------------------------------------------------------------------------


_IDENTIFIER_COMPACT = {
    "name", "firstname", "lastname", "fullname", "dob", "mrn", "ssn", "ptid", "ptname",
    "dateofbirth", "birthdate", "socialsecuritynumber", "medicalrecordnumber", "chartnumber",
}  # fmt: skip


def is_identifier_column(header: str) -> bool:
    """True for a header that names a patient identifier ("Patient ID", "DOB", "MRN", ...).

    Errs on the side of dropping: a column wrongly dropped costs a re-import, a column wrongly
    kept puts patient data in the log."""
    text = re.sub(r"[_\-./#]+", " ", str(header).strip().lower())
    text = re.sub(r"\s+", " ", text).strip()
    compact = re.sub(r"[^a-z]", "", text)
    if compact in _IDENTIFIER_COMPACT or compact.startswith(("patient", "client")):
        return True
    return any(p.search(text) for p in _IDENTIFIER_PATTERNS)


def _direction_of(sheet_name: str) -> str | None:
    text = sheet_name.strip().lower()
    if re.search(r"\b(sent|outgoing|out|referred out|to)\b", text):
        return "sent"
    if re.search(r"\b(received|incoming|in|inbound|from)\b", text):
        return "received"
    return None


def _cell(value: object) -> object:
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return int(value)
    return value


def _to_sheet(name: str, grid: list[list[object]], warnings: list[str]) -> Sheet | None:
    """Header = the first non-empty row; empty rows dropped; identifier columns removed."""
    rows = [(i, r) for i, r in enumerate(grid, start=1) if any(not refs.is_blank(c) for c in r)]
    if not rows:
        return None
    header_no, header = rows[0]
    width = max(len(r) for _, r in rows)
    names: list[str] = []
    for j in range(width):
        raw = header[j] if j < len(header) else None
        text = " ".join(str(raw).split()) if not refs.is_blank(raw) else f"Column {j + 1}"
        while text in names:  # merged or repeated headers get a suffix, not silently merged
            text += " (2)"
        names.append(text)
    data = [list(r) + [None] * (width - len(r)) for _, r in rows[1:]]
    frame = pd.DataFrame(data, columns=names, dtype=object)
    frame.index = [no for no, _ in rows[1:]]
    dropped = [c for c in names if is_identifier_column(c)]
    frame = frame.drop(columns=dropped)
    return Sheet(name, frame, header_no + 1, _direction_of(name), dropped, list(warnings))


def read_tracker(data: bytes, filename: str) -> list[Sheet]:
    """The sheets of an uploaded tracker; raises ImportFileError for a file that cannot be read.

    A CSV gives one sheet named after the file. Sheets with no header row are skipped; if none
    has data rows, the file is refused as a whole.
    """
    if not data:
        raise ImportFileError("The file is empty.")
    if len(data) > MAX_BYTES:
        raise ImportFileError(f"The file is larger than {MAX_BYTES // (1024 * 1024)} MB.")
    lower = filename.lower()
    if lower.endswith(".xlsx") or lower.endswith(".xlsm"):
        sheets = _read_xlsx(data)
    elif lower.endswith((".csv", ".txt")):
        sheets = _read_csv(data, filename)
    elif lower.endswith(".xls"):
        raise ImportFileError("Old .xls workbooks are not supported: save it as .xlsx or CSV.")
    else:
        raise ImportFileError("Upload a .csv or .xlsx file.")
    if not sheets:
        raise ImportFileError("The file has no header row and no data.")
    if all(s.frame.empty for s in sheets):
        raise ImportFileError("The file has column headers but no data rows.")
    if sum(len(s.frame) for s in sheets) > MAX_ROWS:
        raise ImportFileError(f"The file has more than {MAX_ROWS:,} rows; split it.")
    return [s for s in sheets if not s.frame.empty]


def _read_csv(data: bytes, filename: str) -> list[Sheet]:
    if b"\x00" in data[:8192]:
        raise ImportFileError("This does not look like a CSV file (it contains binary data).")
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:  # pragma: no cover - cp1252 decodes almost anything
        raise ImportFileError("The file's text encoding is not UTF-8 or Windows-1252.")
    if sum(1 for ch in text[:8192] if ord(ch) < 32 and ch not in "\r\n\t") > 8:
        raise ImportFileError("This does not look like a CSV file (it contains binary data).")
    try:
        # Trackers saved in Europe use ';'; sniff the separator on a sample, parse with C.
        sep = csv.Sniffer().sniff(text[:65536], delimiters=",;\t|").delimiter
    except csv.Error:
        sep = ","
    try:
        frame = pd.read_csv(
            io.StringIO(text),
            dtype=str,
            keep_default_na=False,
            header=None,
            sep=sep,
            skip_blank_lines=False,
        )
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError, TypeError) as exc:
        raise ImportFileError(f"The CSV could not be read: {str(exc)[:200]}") from None
    grid = frame.to_numpy(dtype=object).tolist()
    name = filename.rsplit("/", 1)[-1].rsplit(".", 1)[0] or "CSV"
    sheet = _to_sheet(name, grid, [])
    return [sheet] if sheet else []


_MERGE = re.compile(rb'<(?:\w+:)?mergeCell\b[^>]*?\bref="([A-Z]+[0-9]+:[A-Z]+[0-9]+)"')


def _merged_ranges(archive: zipfile.ZipFile, path: str) -> list[tuple[int, int, int, int]]:
    """(min_row, min_col, max_row, max_col) of each merged range of a sheet. Read from the
    sheet's XML because openpyxl's fast read-only mode does not expose merged cells."""
    from openpyxl.utils.cell import range_boundaries

    try:
        xml = archive.read(path.lstrip("/"))
    except KeyError:
        return []
    out = []
    for ref in _MERGE.findall(xml):
        min_col, min_row, max_col, max_row = range_boundaries(ref.decode())
        out.append((min_row, min_col, max_row, max_col))
    return out


def _read_xlsx(data: bytes) -> list[Sheet]:
    import openpyxl  # imported here: only imports need it
    from openpyxl.utils.exceptions import InvalidFileException

    if not zipfile.is_zipfile(io.BytesIO(data)):
        raise ImportFileError("This is not an .xlsx workbook (the file is not a zip package).")
    sheets: list[Sheet] = []
    try:
        # read_only streams the cells (several times faster on 10,000 rows); formulas give
        # their last computed value (data_only), never their text, and are never evaluated.
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        archive = zipfile.ZipFile(io.BytesIO(data))
        try:
            for ws in book.worksheets:
                if not hasattr(ws, "iter_rows"):  # a chart sheet
                    continue
                ws.reset_dimensions()  # some writers store wrong dimensions; read every row
                grid = [[_cell(v) for v in row] for row in ws.iter_rows(values_only=True)]
                merged = _merged_ranges(archive, getattr(ws, "_worksheet_path", ""))
                warnings: list[str] = []
                if merged:
                    _fill_merged(grid, merged)
                    warnings.append(
                        f"Sheet '{ws.title}' has {len(merged)} merged cell range(s); each cell "
                        "of a merged range was given the range's value. Check those rows."
                    )
                sheet = _to_sheet(ws.title, grid, warnings)
                if sheet is not None:
                    sheets.append(sheet)
        finally:
            book.close()
    except ImportFileError:
        raise
    except (InvalidFileException, zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise ImportFileError(f"The workbook could not be read: {str(exc)[:200]}") from None
    except Exception as exc:  # openpyxl raises assorted errors on damaged XML
        raise ImportFileError(f"The workbook could not be read ({type(exc).__name__}).") from None
    return sheets


def _fill_merged(grid: list[list[object]], merged: list[tuple[int, int, int, int]]) -> None:
    """A merged block shows one value over several cells; each row it spans means it."""
    for min_row, min_col, max_row, max_col in merged:
        if min_row > len(grid):
            continue
        top_row = grid[min_row - 1]
        top = top_row[min_col - 1] if min_col <= len(top_row) else None
        for r in range(min_row, min(max_row, len(grid)) + 1):
            row = grid[r - 1]
            if len(row) < max_col:
                row.extend([None] * (max_col - len(row)))
            for c in range(min_col, max_col + 1):
                row[c - 1] = top


# --- mapping ---------------------------------------------------------------------------------


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"[_\-/().:]+", " ", str(text).lower())).strip()


def suggest_mapping(columns: list[str]) -> dict[str, str | None]:
    """target field -> source column (or None), each source column used at most once."""
    used: set[str] = set()
    mapping: dict[str, str | None] = {t: None for t in TARGETS}
    normed = {c: _norm(c) for c in columns}
    # Exact matches first, then containment, so "Date" beats "First visit date" for the date.
    for exact in (True, False):
        for target, words in _SUGGEST.items():
            if mapping[target] is not None:
                continue
            for word in words:
                hit = next(
                    (
                        c
                        for c in columns
                        if c not in used
                        and (normed[c] == word if exact else word in normed[c])
                        and not (target == "referral_date" and "visit" in normed[c])
                        and not (target == "partner_name" and "npi" in normed[c])
                    ),
                    None,
                )
                if hit is not None:
                    mapping[target] = hit
                    used.add(hit)
                    break
    return mapping


def _yes_no_date(value: object, fallback: date | None) -> date | None:
    """A 'sent' column holds Y/N or the date it was sent. Y with no date is recorded as the
    referral's date: the earliest it can have been, and the rule 'owed within 30 days' then
    sees it as done."""
    if refs.is_blank(value):
        return None
    text = str(value).strip().lower()
    if text in _YES:
        return fallback
    if text in _NO:
        return None
    return value  # type: ignore[return-value]  # a date or date text; validation reads it


def _status_from_completed(value: object) -> str | None:
    if refs.is_blank(value):
        return None
    text = str(value).strip().lower()
    if text in _YES:
        return "evaluated"
    if text in _NO:
        return "received"
    return text  # validation reports it


@functools.lru_cache(maxsize=8192)
def _name_key(name: str) -> str:
    text = re.sub(r"[^\w& ]+", " ", name.lower())
    text = re.sub(r"^\s*dr\s+", "", text)
    return re.sub(r"\s+", " ", text).strip()


def plan_import(
    engine: Engine,
    practice_id: int,
    sheets: list[Sheet],
    mappings: Mapping[str, Mapping[str, str | None]],
    directions: Mapping[str, str | None] | None = None,
    scope_demo: bool = False,
    today: date | None = None,
) -> ImportPlan:
    """Validate every row against the mapping and resolve its partner; write nothing.

    `mappings[sheet name]` is target -> source column; `directions[sheet name]` the direction
    of a sheet with no direction column. Partners: a valid NPI is used as it is (added as a
    manual provider on import if new, which needs a name); with no NPI the name is matched,
    case- and punctuation-insensitively, to the practice's partners first, then to the
    providers it can see, then to its named referrers; an unmatched name becomes a new named
    referrer; a name matching several providers is an error (give the NPI).
    """
    today = today or date.today()
    directory = refs.referrer_directory(engine, practice_id, scope_demo)
    by_name: dict[str, list[tuple[str, bool]]] = {}
    for key, name, is_partner in directory[["key", "name", "is_partner"]].itertuples(index=False):
        bare = name.split(",")[0] if refs.named_id(key) is None else name
        for variant in {_name_key(name), _name_key(bare)}:
            by_name.setdefault(variant, []).append((key, bool(is_partner)))
    known_keys = set(directory["key"])
    with engine.connect() as conn:
        known_keys |= {r[0] for r in conn.execute(sa.select(db.provider.c.npi))}

    rows: list[PlannedRow] = []
    errors: list[refs.FieldError] = []
    total = 0
    for sheet in sheets:
        mapping = mappings.get(sheet.name, {})
        default_dir = (directions or {}).get(sheet.name) or sheet.direction
        cols = {t: mapping.get(t) for t in TARGETS}
        frame = sheet.frame
        get = {
            t: (frame[c].tolist() if c is not None and c in frame.columns else None)
            for t, c in cols.items()
        }
        for i, row_no in enumerate(frame.index):
            total += 1
            label = f"{sheet.name} row {row_no}"

            def val(t: str, i: int = i, get: dict = get) -> object:
                column = get[t]
                return column[i] if column is not None else None

            values: dict[str, Any] = {
                f: val(f) for f in refs.FIELDS if f not in ("partner_npi", "direction")
            }
            values["direction"] = val("direction") if get["direction"] else default_dir
            if refs.is_blank(values["status"]) and get["completed"] is not None:
                values["status"] = _status_from_completed(val("completed"))
            if refs.is_blank(values["status"]):
                values["status"] = "received"
            try:
                ref_date = refs.parse_date(values["referral_date"])
            except ValueError:
                ref_date = None
            for f in ("thank_you_sent", "outcome_note_sent"):
                values[f] = _yes_no_date(values[f], ref_date)
            name = (
                None
                if refs.is_blank(val("partner_name"))
                else " ".join(str(val("partner_name")).split())
            )
            npi = None if refs.is_blank(val("partner_npi")) else str(val("partner_npi")).strip()
            new_referrer = None
            partner_errors: list[str] = []
            if npi is not None:
                values["partner_npi"] = npi
                if problem := npi_error(npi):
                    partner_errors.append(f"NPI {npi}: {problem}")
                elif npi not in known_keys:
                    if name is None:
                        partner_errors.append(f"NPI {npi} is not known and no name is given")
                    new_referrer = "npi"
            elif name is not None:
                hits = by_name.get(_name_key(name), [])
                partners = [k for k, p in hits if p]
                chosen = list(dict.fromkeys(partners or [k for k, _ in hits]))
                if len(chosen) == 1:
                    values["partner_npi"] = chosen[0]
                elif len(chosen) > 1:
                    partner_errors.append(
                        f"'{name[:60]}' matches {len(chosen)} providers; add an NPI column"
                    )
                elif len(name) > 200:
                    partner_errors.append("the provider's name is longer than 200 characters")
                else:
                    values["partner_npi"] = refs.named_key(0)  # the real key comes on import
                    new_referrer = "name"
            else:
                partner_errors.append("no provider NPI or name in this row")
            clean, problems = refs.validate_referral(values, label, today)
            row_errors = [refs.FieldError(label, "partner", m) for m in partner_errors]
            row_errors += [p for p in problems if p.field != "partner" or not partner_errors]
            if row_errors:
                errors.extend(row_errors)
            else:
                rows.append(PlannedRow(label, clean, name, new_referrer))
    return ImportPlan(rows, errors, total)


def _insert_referrals(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """One executemany for the whole batch, without SQLAlchemy's per-value type processing
    (two thirds of a 10,000-row import). The values are already validated. On SQLite, dates
    and timestamps are written in exactly the text form SQLAlchemy's Date and DateTime types
    store and read back, through the driver's own executemany; other databases get an untyped
    Core insert whose Python values their drivers adapt."""
    if not rows:
        return
    names = list(rows[0])
    if conn.dialect.name != "sqlite":
        untyped = sa.table("referral", *(sa.column(n) for n in names))
        conn.execute(untyped.insert(), rows)
        return

    def text(value: object) -> object:
        if isinstance(value, datetime):
            return value.strftime("%Y-%m-%d %H:%M:%S.%f")
        if isinstance(value, date):
            return value.isoformat()
        return value

    cache: dict[object, object] = {}  # the same few dates and one timestamp, thousands of times

    def plain(value: object) -> object:
        if value is None or isinstance(value, (str, int)):
            return value
        if value not in cache:
            cache[value] = text(value)
        return cache[value]

    table = db.referral.name
    for n in names:  # the names are this module's own keys, never user text; check anyway
        if n not in db.referral.c:
            raise ValueError(f"unknown referral column {n!r}")
    sql = (
        f"INSERT INTO {table} ({', '.join(names)}) "  # fixed, checked column names
        f"VALUES ({', '.join('?' for _ in names)})"
    )
    conn.exec_driver_sql(sql, [tuple(plain(row[n]) for n in names) for row in rows])


def run_import(engine: Engine, practice_id: int, plan: ImportPlan, only_valid: bool = False) -> int:
    """Write the plan in one transaction; return how many referrals were added.

    With errors in the plan nothing is written unless `only_valid` is set. Referrers the plan
    marked new are created in the same transaction, so a failure leaves no orphans either.
    """
    if plan.errors and not only_valid:
        raise refs.ReferralError(
            f"{len(plan.errors)} problem(s) in {plan.total - plan.valid} row(s): nothing was "
            "imported. Fix the file, or choose to import only the valid rows."
        )
    if not plan.rows:
        return 0
    now = db.utcnow()
    try:
        with engine.begin() as conn:
            created: dict[tuple[str, str], str] = {}
            batch = []
            for row in plan.rows:
                values = dict(row.values)
                if row.new_referrer == "name":
                    assert row.partner_name is not None
                    cache_key = ("name", row.partner_name.lower())
                    if cache_key not in created:
                        created[cache_key] = refs.add_referrer(
                            conn, practice_id, name=row.partner_name
                        )
                    values["partner_npi"] = created[cache_key]
                elif row.new_referrer == "npi":
                    cache_key = ("npi", values["partner_npi"])
                    if cache_key not in created:
                        created[cache_key] = refs.add_referrer(
                            conn, practice_id, npi=values["partner_npi"], name=row.partner_name
                        )
                batch.append(
                    {
                        **values,
                        "practice_id": practice_id,
                        "version": 1,
                        "created_at": now,
                        "updated_at": now,
                    }
                )
            _insert_referrals(conn, batch)
    except sa.exc.SQLAlchemyError as exc:
        detail = str(getattr(exc, "orig", exc))[:200]
        raise refs.ReferralError(
            f"Nothing was imported: the database refused it ({detail})."
        ) from exc
    return len(batch)


def sample_tracker_xlsx() -> bytes:  # pragma: no cover - convenience for the page's help
    """A two-sheet tracker in the common layout, for people who want to see the expected shape."""
    import openpyxl

    book = openpyxl.Workbook()
    sent = book.active
    sent.title = "Sent"
    sent.append(["Date", "Referred to", "NPI", "Specialty", "Reason", "Completed Y/N", "Notes"])
    received = book.create_sheet("Received")
    received.append(
        ["Date", "Referred by", "NPI", "Reason", "Completed Y/N", "Follow-up sent", "Notes"]
    )
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
