"""Reading an uploaded tracker (CSV or Excel .xlsx) into sheets of text cells.

Every column that looks like a patient identifier is dropped here, *before* anything else
sees it, and the drop is reported on the sheet.
"""

from __future__ import annotations

import codecs
import csv
import io
import logging
import re
import zipfile
from dataclasses import dataclass, field
from datetime import date, datetime

import pandas as pd

from services import identifiers, logs
from services import referrals as refs

log = logging.getLogger(__name__)

MAX_BYTES = 20 * 1024 * 1024
MAX_ROWS = 50_000


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
    #: dropped column -> why it was taken for an identifier ("an email address", ...)
    drop_reasons: dict[str, str] = field(default_factory=dict)


# --- reading ---------------------------------------------------------------------------------


def is_identifier_column(header: str) -> bool:
    """True for a header that names a patient identifier ("Patient ID", "DOB", "MRN", ...);
    the rules are in services.identifiers."""
    return identifiers.identifier_header(header) is not None


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
    reasons = {
        c: why for c in names if (why := identifiers.identifier_column(c, frame[c].tolist()))
    }
    frame = frame.drop(columns=list(reasons))
    return Sheet(
        name, frame, header_no + 1, _direction_of(name), list(reasons), list(warnings), reasons
    )


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
        raise ImportFileError(f"{UNREADABLE}: upload a .csv or .xlsx file.")
    if not sheets:
        raise ImportFileError("The file has no header row and no data.")
    if all(s.frame.empty for s in sheets):
        raise ImportFileError("The file has column headers but no data rows.")
    if sum(len(s.frame) for s in sheets) > MAX_ROWS:
        raise ImportFileError(f"The file has more than {MAX_ROWS:,} rows; split it.")
    return [s for s in sheets if not s.frame.empty]


UNREADABLE = "This file is not a CSV or Excel file we can read"


def _decode(data: bytes) -> str:
    """The file's text. UTF-8 (with or without a BOM), UTF-16 (what Excel's "Unicode text"
    saves; with a BOM, or without one when every other byte is zero) and Windows-1252 are
    read; anything else with zero bytes in it is binary."""
    if data.startswith(codecs.BOM_UTF8):
        return _decode_as(data, "utf-8-sig")
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return _decode_as(data, "utf-16")
    sample = data[:4096]
    half = len(sample) // 2
    if half >= 2:
        odd_zeros = sample[1::2].count(0)
        even_zeros = sample[0::2].count(0)
        if odd_zeros >= 0.9 * half and even_zeros == 0:
            return _decode_as(data, "utf-16-le")
        if even_zeros >= 0.9 * half and odd_zeros == 0:
            return _decode_as(data, "utf-16-be")
    if b"\x00" in sample:
        raise ImportFileError(f"{UNREADABLE}: it contains binary data, not text.")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = data.decode("cp1252", errors="replace")
    if sum(1 for ch in text[:8192] if ord(ch) < 32 and ch not in "\r\n\t") > 8:
        raise ImportFileError(f"{UNREADABLE}: it contains binary data, not text.")
    return text


def _decode_as(data: bytes, encoding: str) -> str:
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        log.warning("A tracker could not be decoded as %s", encoding, exc_info=exc)
        raise ImportFileError(
            f"{UNREADABLE}: its text is damaged (it is not valid {encoding.upper()}); save "
            "it again as CSV UTF-8."
        ) from None


def _read_csv(data: bytes, filename: str) -> list[Sheet]:
    text = _decode(data)
    try:
        # Trackers saved in Europe use ';'; sniff the separator on a sample.
        sep = csv.Sniffer().sniff(text[:65536], delimiters=",;\t|").delimiter
    except csv.Error:
        sep = ","
    try:
        # Rows may have fewer or more cells than the header (a title row above it, a stray
        # comma): the csv module reads them as they are and `_to_sheet` evens them out, where
        # a strict parser would refuse the whole file.
        grid: list[list[object]] = list(csv.reader(io.StringIO(text, newline=""), delimiter=sep))
    except csv.Error as exc:
        log.warning("A tracker CSV could not be split into cells", exc_info=exc)
        raise ImportFileError(
            f"{UNREADABLE}: its rows cannot be split into cells, probably because a quotation "
            "mark is never closed. Open it in a spreadsheet program and save it as CSV again."
        ) from None
    name = filename.rsplit("/", 1)[-1].rsplit(".", 1)[0] or "CSV"
    sheet = _to_sheet(name, grid, [])
    return [sheet] if sheet else []


def _xlsx_cell(value: object) -> object:
    """A workbook cell as the rest of the import expects it: blank as None, whole numbers as
    int, and a date as a datetime at midnight (what a date-formatted cell holds)."""
    if value == "":
        return None
    if isinstance(value, date) and not isinstance(value, datetime):
        return datetime(value.year, value.month, value.day)
    return _cell(value)


def _read_xlsx(data: bytes) -> list[Sheet]:
    # calamine (Rust) reads a 10,000-row workbook several times faster than openpyxl. Formulas
    # give their last computed value, never their text, and are never evaluated.
    from python_calamine import CalamineError, CalamineWorkbook, SheetTypeEnum

    if not zipfile.is_zipfile(io.BytesIO(data)):
        raise ImportFileError(
            f"{UNREADABLE}: it is named .xlsx but is not an .xlsx workbook. Save it from your "
            "spreadsheet program as .xlsx or CSV."
        )
    sheets: list[Sheet] = []
    try:
        book = CalamineWorkbook.from_filelike(io.BytesIO(data))
        try:
            for meta in book.sheets_metadata:
                if meta.typ != SheetTypeEnum.WorkSheet:  # chart and macro sheets hold no rows
                    continue
                ws = book.get_sheet_by_name(meta.name)
                # skip_empty_area=False: rows and columns count from A1, so row numbers in
                # messages are the spreadsheet's own.
                grid = [[_xlsx_cell(v) for v in row] for row in ws.to_python(skip_empty_area=False)]
                merged = [
                    (r0 + 1, c0 + 1, r1 + 1, c1 + 1)
                    for (r0, c0), (r1, c1) in (ws.merged_cell_ranges or [])
                ]
                warnings: list[str] = []
                if merged:
                    _fill_merged(grid, merged)
                    warnings.append(
                        f"Sheet '{meta.name}' has {len(merged)} merged cell range(s); each cell "
                        "of a merged range was given the range's value. Check those rows."
                    )
                sheet = _to_sheet(meta.name, grid, warnings)
                if sheet is not None:
                    sheets.append(sheet)
        finally:
            book.close()
    except ImportFileError:
        raise
    except (CalamineError, zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        log.warning("A tracker workbook could not be read", exc_info=exc)
        raise ImportFileError(
            f"{UNREADABLE}: the .xlsx workbook is damaged or is not a workbook. Open it in "
            "Excel and save it again, or save it as CSV."
        ) from None
    except Exception as exc:  # a reader error no rule foresaw
        ref = logs.log_exception(log, "A tracker workbook failed to read unexpectedly", exc)
        raise ImportFileError(
            f"{UNREADABLE}: the .xlsx workbook could not be read (reference {ref} in the "
            "app's log). Save it again from Excel, or as CSV."
        ) from None
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
