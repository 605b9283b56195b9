"""The History page's widgets: the practice's audit trail, filtered, one entry's before and
after, and undo for a removed partner or referral (owners only).

A record's own history opens from a link with `?table=partner&record=12` in the URL.
"""

from __future__ import annotations

import logging
from datetime import date, timedelta

import pandas as pd
import streamlit as st
from sqlalchemy.engine import Engine

from components.feedback import flash, flash_exception, show_flash
from services import audit, audit_trail, auth
from services.practices import Practice

log = logging.getLogger(__name__)
SLOT = "history"
TABLE_LABELS = {
    "partner": "Partner",
    "partner_stage_history": "Stage change",
    "activity": "Activity",
    "referral": "Referral",
    "named_referrer": "Named referrer",
    "letter_template": "Letter template",
    "practice": "Practice",
    "app_user": "Team member",
}
ACTION_LABELS = {"insert": "added", "update": "changed", "delete": "removed"}
#: bookkeeping fields every change touches; listing them would hide what really changed
_NOISE = {"updated_at", "version"}
#: the field that names a record best, per table
_NAME_FIELD = {
    "partner": "npi", "partner_stage_history": "to_stage", "activity": "kind",
    "referral": "referral_date", "named_referrer": "name", "letter_template": "kind",
    "practice": "name", "app_user": "email",
}  # fmt: skip


def _short(value: object, width: int = 40) -> str:
    text = "—" if value is None else str(value)
    return text if len(text) <= width else text[: width - 1] + "…"


def describe(entry: audit_trail.Entry) -> str:
    """One line a person reads: what changed, from what to what."""
    if entry.action == "insert":
        return "added"
    if entry.action == "delete":
        return "removed"
    fields = [f for f in entry.changed if f not in _NOISE] or entry.changed
    before, after = entry.before or {}, entry.after or {}
    return "; ".join(f"{f}: {_short(before.get(f))} → {_short(after.get(f))}" for f in fields)


def _record_label(entry: audit_trail.Entry) -> str:
    row = entry.after or entry.before or {}
    name = row.get(_NAME_FIELD.get(entry.table_name, ""), "")
    label = f"{TABLE_LABELS.get(entry.table_name, entry.table_name)} #{entry.record_id}"
    return f"{label} ({_short(name, 30)})" if name else label


def _frame(entries: list[audit_trail.Entry]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "When (UTC)": e.at.strftime("%Y-%m-%d %H:%M:%S"),
                "Who": e.actor,
                "Record": _record_label(e),
                "Action": ACTION_LABELS.get(e.action, e.action),
                "Change": describe(e),
                "Note": e.note or "",
            }
            for e in entries
        ],
        columns=["When (UTC)", "Who", "Record", "Action", "Change", "Note"],
    )


def record_history_link(table: str, record_id: int, label: str = "History") -> None:
    """A link to one record's history (owners only; nothing for anyone else). For the pages
    that show a partner, a referral or an activity: `record_history_link("partner", 12)`."""
    if not auth.current_actor().can(auth.OWNER, st.session_state.get("practice_id")):
        return
    st.page_link(
        "pages/history.py",
        label=label,
        icon=":material/history:",
        query_params={"table": table, "record": str(int(record_id))},
    )


def _undo(engine: Engine, entry_id: int) -> None:
    try:
        steps = audit_trail.undo_delete(engine, entry_id)
    except (audit.AuditError, auth.PermissionDenied) as exc:
        flash(SLOT, "error", str(exc))
        return
    except Exception as exc:  # logged with a reference, shown in plain words
        flash_exception(SLOT, log, "The removal could not be undone.", exc)
        return
    # a new table widget, so the row index selected before does not land on another entry
    st.session_state["hist_view_gen"] = st.session_state.get("hist_view_gen", 0) + 1
    counts = audit_trail.record_counts(steps)
    extra = sum(counts.values()) - 1
    flash(
        SLOT,
        "success",
        f"Restored history entry #{entry_id}"
        + (f" with {extra} related change(s) (stage history, activities)." if extra else "."),
    )


def _filters(engine: Engine, practice: Practice) -> dict:
    params = st.query_params
    tables = ["", *TABLE_LABELS]
    wanted_table = params.get("table", "")
    record = params.get("record", "")
    cols = st.columns([2, 1, 2, 1.3, 1.5, 1.5])
    table = cols[0].selectbox(
        "What",
        tables,
        index=tables.index(wanted_table) if wanted_table in tables else 0,
        format_func=lambda t: TABLE_LABELS.get(t, "Everything"),
        key="hist_table",
    )
    record_text = cols[1].text_input("Record #", value=record, key="hist_record")
    who = ["", *audit_trail.actors(engine, practice.id)]
    actor = cols[2].selectbox("Who", who, format_func=lambda a: a or "Anyone", key="hist_actor")
    action = cols[3].selectbox(
        "Action", ["", *ACTION_LABELS], format_func=lambda a: ACTION_LABELS.get(a, "Any"),
        key="hist_action",
    )  # fmt: skip
    since = cols[4].date_input("From", value=date.today() - timedelta(days=90), key="hist_from")
    until = cols[5].date_input("To", value=date.today(), key="hist_to")
    record_id = None
    if record_text.strip():
        if record_text.strip().isdigit():
            record_id = int(record_text.strip())
        else:
            st.warning("Record # takes a number, such as 12; it is ignored until then.")
    return {"table": table or None, "record_id": record_id, "actor": actor or None,
            "action": action or None, "since": since, "until": until}  # fmt: skip


def _details(engine: Engine, entry: audit_trail.Entry) -> None:
    st.markdown(f"**{_record_label(entry)}**, {ACTION_LABELS.get(entry.action, entry.action)} "
                f"by {entry.actor} at {entry.at:%Y-%m-%d %H:%M:%S} UTC")  # fmt: skip
    before, after = entry.before or {}, entry.after or {}
    fields = sorted(set(before) | set(after))
    changed = set(entry.changed)
    st.dataframe(
        pd.DataFrame(
            [{"Field": f, "Before": _short(before.get(f), 80), "After": _short(after.get(f), 80),
              "Changed": "yes" if f in changed and entry.action == "update" else ""}
             for f in fields]
        ),
        hide_index=True,
        width="stretch",
    )  # fmt: skip
    if st.query_params.get("record") != str(entry.record_id):
        record_history_link(entry.table_name, entry.record_id, "Only this record's history")
    if entry.undoable:
        st.button(
            "Undo this removal",
            type="primary",
            key=f"undo_{entry.id}",
            on_click=_undo,
            args=(engine, entry.id),
            help="Brings the record back as it was, with what was removed along with it.",
        )


def history_section(engine: Engine, practice: Practice) -> None:
    show_flash(SLOT)
    chosen = _filters(engine, practice)
    entries = audit_trail.history(engine, practice.id, **chosen)
    if not entries:
        st.info("No changes match these filters.")
        return
    st.caption(
        f"{len(entries)} change(s), newest first"
        + (
            " (the latest 500 shown; narrow the filters to see older ones)."
            if len(entries) == 500
            else "."
        )
    )
    picked = st.dataframe(
        _frame(entries),
        hide_index=True,
        width="stretch",
        on_select="rerun",
        selection_mode="single-row",
        key=f"hist_table_view_{st.session_state.get('hist_view_gen', 0)}",
        column_config={
            "Record": st.column_config.TextColumn(width="medium"),
            "Change": st.column_config.TextColumn(width="large"),
        },
    )
    rows = picked.selection.rows if picked is not None else []
    if rows:
        _details(engine, entries[rows[0]])
    else:
        st.caption("Select a row to see its values before and after"
                   " (and to undo the removal of a partner or a referral).")  # fmt: skip
