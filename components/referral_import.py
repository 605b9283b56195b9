"""The Referral log page's Import tab: bring in an existing spreadsheet tracker.

Nothing is written until Import. The file is read once and planned once per mapping (both
cached in session state by the file's content hash, since every widget on the page reruns the
script), and a file already imported into the practice is refused unless the user asks to
import it again. A success clears the uploader by giving it a new key.

Messages go through components.feedback in the slot "ref_import".

Session-state keys (all prefixed "ref_", none needed on another page):
- "ref_import_file": (name, bytes) of the uploaded tracker, kept across reruns until imported;
- "ref_import_parsed": the tracker read once per file, and its plan once per mapping;
- "ref_upload_seq": moves on after a successful import, which gives the uploader a new key.
"""

from __future__ import annotations

import logging
from datetime import date
from typing import Any

import streamlit as st
from sqlalchemy.engine import Engine

from components.feedback import clear_flash, flash, flash_exception, show_flash
from components.shell import writable
from components.text import md_escape
from services import importer, logs
from services import referrals as refs
from services.practices import Practice

log = logging.getLogger(__name__)


def import_tab(engine: Engine, practice: Practice, today: date) -> None:
    """Bring in an existing spreadsheet tracker. The uploaded file is copied to a plain
    session-state key so the mapping survives reruns; nothing is written until Import, and a
    file already imported is refused unless the user asks to import it again. Not offered to
    a read-only user."""
    if not writable():
        return
    st.write(
        "Import an existing tracker (CSV or Excel .xlsx, e.g. with a **Sent** and a **Received** "
        "sheet). Columns that look like patient identifiers are dropped before anything is read."
    )
    seq = st.session_state.get("ref_upload_seq", 0)
    upload = st.file_uploader("Tracker file", type=["csv", "xlsx"], key=f"ref_upload:{seq}")
    if upload is not None:
        st.session_state["ref_import_file"] = (upload.name, upload.getvalue())
        clear_flash("ref_import")
    file = st.session_state.get("ref_import_file")
    if file is not None:
        name, data = file
        parsed = _parsed(name, data)
        if parsed["error"]:
            st.error(f"**{md_escape(name)}** cannot be imported: {parsed['error']}")
        elif parsed["sheets"]:
            mappings, dirs = _sheet_mappings(parsed["sheets"])
            _import_check_and_run(engine, practice, today, parsed, mappings, dirs)
    show_flash("ref_import")


def _parsed(name: str, data: bytes) -> dict[str, Any]:
    """The file read once per content: {"source", "sheets", "error", "plans"}. Reading a
    10,000-row workbook takes seconds, and every widget on the page reruns this script."""
    source = importer.TrackerFile.of(name, data)
    cached = st.session_state.get("ref_import_parsed")
    if cached is not None and cached["source"] == source:
        return cached
    parsed: dict[str, Any] = {"source": source, "sheets": [], "error": None, "plans": {}}
    try:
        parsed["sheets"] = importer.read_tracker(data, name)
    except importer.ImportFileError as exc:
        parsed["error"] = str(exc)
    except Exception as exc:  # a bug or a file no rule foresaw: log it
        ref = logs.log_exception(log, f"Reading the tracker {name!r} failed unexpectedly", exc)
        parsed["error"] = (
            f"This file is not a CSV or Excel file we can read (reference {ref} in the app's log)."
        )
    st.session_state["ref_import_parsed"] = parsed
    return parsed


def _sheet_mappings(
    sheets: list[importer.Sheet],
) -> tuple[dict[str, dict[str, str | None]], dict[str, str | None]]:
    """Per sheet, the user's column mapping (pre-filled with the importer's guess) and, when no
    column gives the direction, the sheet's direction: trackers name their columns freely.
    Dropped identifier columns are not in the frame, so they are never offered."""
    mappings: dict[str, dict[str, str | None]] = {}
    dirs: dict[str, str | None] = {}
    for i, sheet in enumerate(sheets):
        n_rows = len(sheet.frame)
        st.markdown(
            f"**Sheet {md_escape(sheet.name)}** · {n_rows:,} row{'s' if n_rows != 1 else ''}"
        )
        if sheet.dropped:
            why = "; ".join(
                f"{c} ({sheet.drop_reasons[c]})" if c in sheet.drop_reasons else c
                for c in sheet.dropped
            )
            st.warning(
                "Dropped columns that look like patient identifiers (they are not read or "
                f"stored): {md_escape(why)}."
            )
        for w in sheet.warnings:
            st.warning(w)
        suggestion = importer.suggest_mapping(list(sheet.frame.columns))
        options = [None, *sheet.frame.columns]
        mapping: dict[str, str | None] = {}
        cols = st.columns(4)
        for j, (target, label) in enumerate(importer.TARGETS.items()):
            mapping[target] = cols[j % 4].selectbox(
                label,
                options,
                index=options.index(suggestion[target]),
                format_func=lambda c: "— not in file —" if c is None else str(c),
                key=f"ref_map:{i}:{target}",
            )
        mappings[sheet.name] = mapping
        if mapping["direction"] is None:
            dirs[sheet.name] = st.selectbox(
                "Direction of this sheet's referrals",
                refs.DIRECTIONS,
                index=refs.DIRECTIONS.index(sheet.direction or "received"),
                format_func=str.capitalize,
                key=f"ref_map_dir:{i}",
            )
    return mappings, dirs


def _import_check_and_run(
    engine: Engine,
    practice: Practice,
    today: date,
    parsed: dict[str, Any],
    mappings: dict[str, dict[str, str | None]],
    dirs: dict[str, str | None],
) -> None:
    """Show how many rows would import before anything is written, so a bad mapping is caught
    on screen; the user may then import only the valid rows. The plan is made once per file
    and mapping (and again after the log changes), not on every rerun."""
    key = (
        repr(sorted((s, sorted(m.items())) for s, m in mappings.items())),
        repr(sorted(dirs.items())),
        today,
        refs.log_revision(engine, [practice.id]),
    )
    plan = parsed["plans"].get(key)
    if plan is None:
        try:
            plan = importer.plan_import(
                engine, practice.id, parsed["sheets"], mappings, dirs, practice.is_demo, today
            )
        except Exception as exc:  # a bug or a case no rule foresaw: log it, say so plainly
            ref = logs.log_exception(log, "Checking a tracker's rows failed unexpectedly", exc)
            st.error(
                "The rows of this file could not be checked, so nothing can be imported yet "
                f"(reference {ref} in the app's log)."
            )
            return
        parsed["plans"] = {key: plan}
    st.markdown(
        f"**Check:** {plan.valid:,} of {plan.total:,} rows are valid; "
        f"{plan.total - plan.valid:,} have problems."
    )
    if plan.errors:
        st.dataframe(plan.error_frame(), hide_index=True, key="ref_import_errors")
    if plan.warnings:
        st.warning(
            f"{len(plan.warnings)} row(s) have notes that seem to identify a patient. Remove "
            "those details from the file before importing, or they are stored as written."
        )
        st.dataframe(plan.warning_frame(), hide_index=True, key="ref_import_warnings")
    source: importer.TrackerFile = parsed["source"]
    past = importer.previous_import(engine, practice.id, source.digest)
    again = False
    if past is not None:
        st.warning(past.message())
        again = st.checkbox(
            "Import it again (its rows are added a second time)", key="ref_import_again"
        )
    only_valid = st.checkbox(
        "Import only the valid rows (skip the rows with problems)",
        key="ref_import_only_valid",
        disabled=not plan.errors,
    )
    blocked = not plan.valid or (past is not None and not again)
    if st.button("Import", key="ref_import_go", type="primary", disabled=blocked):
        try:
            n = importer.run_import(
                engine, practice.id, plan, only_valid=only_valid, source=source, again=again
            )
        except refs.ReferralError as exc:
            flash("ref_import", "error", str(exc))
        except Exception as exc:  # anything else is a bug: log it, say so
            flash_exception("ref_import", log, "Nothing was imported: the import failed.", exc)
        else:
            for k in ("ref_import_file", "ref_import_parsed", "ref_import_again"):
                st.session_state.pop(k, None)
            st.session_state["ref_upload_seq"] = st.session_state.get("ref_upload_seq", 0) + 1
            flash("ref_import", "success", f"Imported {n:,} referrals.")
        st.rerun()
