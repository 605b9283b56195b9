"""Reading an uploaded tracker (CSV or Excel .xlsx) into sheets of text cells.

Every column that looks like a patient identifier is dropped here, *before* anything else
sees it, and the drop is reported on the sheet.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from dataclasses import dataclass, field

import pandas as pd

from services import referrals as refs

MAX_BYTES = 20 * 1024 * 1024
MAX_ROWS = 50_000

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
