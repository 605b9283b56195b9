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
    """An .xlsx of a neutralised copy of `frame` (no cell can be read as a formula)."""
    safe = neutralize_frame(frame)
    for col in safe.columns:
        if safe[col].map(lambda v: isinstance(v, (date, datetime))).any():
            safe[col] = pd.to_datetime(safe[col]).dt.date
    out = io.BytesIO()
    with pd.ExcelWriter(out, engine="openpyxl") as writer:
        safe.to_excel(writer, index=False, sheet_name=sheet_name)
    return out.getvalue()
