"""Spreadsheet-safe exports: CSV and Excel cells that cannot run as formulas.

A cell starting with `=`, `+`, `-` or `@` (or a tab / carriage return, which some spreadsheet
programs strip first) is read as a formula by Excel, LibreOffice and Google Sheets, so an
untrusted provider name or note could run `=HYPERLINK(...)` or worse on the owner's machine
(OWASP "CSV injection"). Such text cells get a leading apostrophe, which spreadsheets show as
plain text. Numbers are left alone: -3 stays a number.
"""

from __future__ import annotations

import io
from datetime import date, datetime

import pandas as pd

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def looks_like_formula(value: object) -> bool:
    """True for text a spreadsheet would read as a formula (see the module's note)."""
    return isinstance(value, str) and value.startswith(FORMULA_PREFIXES)


def neutralize_cell(value: object) -> object:
    """The value, made safe for a spreadsheet cell."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def neutralize_frame(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of `df` whose text cells cannot be read as formulas."""
    out = df.copy()
    for col in out.columns:
        if out[col].dtype == object or pd.api.types.is_string_dtype(out[col]):
            out[col] = out[col].map(neutralize_cell)
    out.columns = [neutralize_cell(str(c)) for c in out.columns]
    return out


def to_csv_bytes(df: pd.DataFrame) -> bytes:
    """UTF-8 CSV (with BOM, so Excel detects the encoding) of a neutralized copy of `df`."""
    return neutralize_frame(df).to_csv(index=False).encode("utf-8-sig")


def to_xlsx_bytes(frame: pd.DataFrame, sheet_name: str = "Referrals") -> bytes:
    """An .xlsx of `frame` in which no cell can run as a formula.

    Text that looks like a formula is written as a string cell (openpyxl would otherwise store
    a text starting with "=" as a formula), so the spreadsheet shows exactly the text, with no
    apostrophe added; Excel, LibreOffice and Google Sheets never evaluate a string cell. Dates
    stay dates and numbers stay numbers.
    """
    import openpyxl  # imported here: only exports need it
    from openpyxl.cell import WriteOnlyCell

    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet(sheet_name)

    def cell(value: object) -> object:
        if value is None or value is pd.NaT or (not isinstance(value, str) and _is_na(value)):
            return None
        if isinstance(value, pd.Timestamp):
            value = value.to_pydatetime()
        if isinstance(value, datetime) and value.tzinfo is not None:
            value = value.replace(tzinfo=None)  # Excel has no time zones
        if hasattr(value, "item") and not isinstance(value, (str, date)):
            value = value.item()  # numpy scalars
        if isinstance(value, str) and value.startswith("="):
            out = WriteOnlyCell(sheet, value)
            out.data_type = "s"
            return out
        return value

    sheet.append([cell(str(c)) for c in frame.columns])
    for row in frame.itertuples(index=False, name=None):
        sheet.append([cell(v) for v in row])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _is_na(value: object) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False
