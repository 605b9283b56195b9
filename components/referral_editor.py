"""The referral log's grid: the working copy in session state, and what `st.data_editor` needs.

Why this shape: feeding `st.data_editor`'s return value back in as its input loses every other
edit. Instead the page keeps a *working copy* (`services.referrals.working_copy.WorkingCopy`)
under a plain session-state key, so it also survives page changes, which widget keys do not.
Each run, before anything else reads it, the delta the grid left under its key
(`st.session_state[key]`: edited / added / deleted rows) is applied to the working copy, and
the grid's key carries the copy's revision, which applying moves on: the grid is then drawn
from the working copy again and never replays a delta. Callbacks that act on the copy (Save,
Discard, conflict buttons) apply a waiting delta first, because they run before the page.
This one path serves the browser and AppTest alike; there is no `on_change` callback.

Session-state key: "reflog:<practice id>" holds the practice's `WorkingCopy`.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pandas as pd
import plotly.graph_objects as go
import streamlit as st
from sqlalchemy.engine import Engine

from services import referrals as refs
from services.referrals.working_copy import WorkingCopy
from services.referrals.working_view import PERIODS, period_bounds

#: editor columns, in order; "ref" and "check" are read-only helpers
EDITOR_COLUMNS = ["ref", "check", *refs.FIELDS]
__all__ = ["EDITOR_COLUMNS", "PERIODS", "WorkingCopy", "period_bounds"]


def state_key(practice_id: int) -> str:
    return f"reflog:{practice_id}"


def get_state(engine: Engine, practice_id: int, today: date) -> WorkingCopy:
    """The practice's working copy, refreshed from the database when another session (or
    another page) changed the log; unsaved edits in this session are kept on top.

    A waiting grid delta is applied *before* the refresh: an edit made on a stale row keeps
    the version it was made on, so saving it over another session's change is a conflict,
    never a silent overwrite."""
    key = state_key(practice_id)
    state: WorkingCopy | None = st.session_state.get(key)
    if not isinstance(state, WorkingCopy):
        state = WorkingCopy.load(engine, practice_id)
        st.session_state[key] = state
        return state
    consume_pending_delta(state, today)
    state.sync(engine)
    return state


def consume_pending_delta(state: WorkingCopy, today: date) -> None:
    """Apply the delta waiting under the grid's current key, exactly once: applying moves
    `state.rev`, hence the key, on."""
    delta = st.session_state.get(state.editor_key)
    if isinstance(delta, dict) and any(
        delta.get(k) for k in ("edited_rows", "added_rows", "deleted_rows")
    ):
        state.apply_delta(delta, today)


def view_and_frame(
    state: WorkingCopy,
    start: date | None = None,
    end: date | None = None,
    directions: list[str] | None = None,
    partner: str | None = None,
    statuses: list[str] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The filtered view and the editor's frame for it, memoized on the filters and `rev`."""
    key = (state.rev, start, end, tuple(directions or ()), partner, tuple(statuses or ()))

    def compute() -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
        view = state.filtered_view(start, end, directions, partner, statuses)
        frame = editor_frame(state, view)
        return view, frame, list(state.view_tokens)

    view, frame, tokens = state.memoized("view", key, compute)
    state.view_tokens = tokens
    return view, frame


def editor_frame(state: WorkingCopy, view: pd.DataFrame) -> pd.DataFrame:
    """The frame handed to st.data_editor (RangeIndex; positions map to `view_tokens`)."""
    state.view_tokens = list(view.index)
    out = view[list(refs.FIELDS)].reset_index(drop=True)
    tokens = pd.Series(view.index, dtype=object)
    ids = view["id"].reset_index(drop=True)
    out.insert(0, "ref", ["#" + str(i) if not pd.isna(i) else "new" for i in ids])
    out.insert(1, "check", state.check_messages(list(tokens)))
    for c in ("referral_date", "first_visit_date", "thank_you_sent", "outcome_note_sent"):
        # datetime64 serialises several times faster than date objects; typed text that is
        # not a date shows empty here while the Check column names the problem.
        out[c] = pd.to_datetime(out[c], errors="coerce", format="mixed")
    out["visits"] = pd.to_numeric(out["visits"], errors="coerce").astype("Int64")
    for c in ("partner_npi", "direction", "status", "lost_reason", "reason_category",
              "payer_category", "notes"):  # fmt: skip
        out[c] = out[c].astype(object).where(out[c].notna(), None)
    return out


def column_config(
    partner_labels: dict[str, str], reasons: list[str], payers: list[str], today: date
) -> dict[str, Any]:
    cc = st.column_config
    return {
        "ref": cc.TextColumn("Ref", disabled=True, width="small", help="The referral's number"),
        "check": cc.TextColumn(
            "Check", disabled=True, help="Problems found when saving, or 'unsaved'"
        ),
        "referral_date": cc.DateColumn(
            "Date",
            required=True,
            default=today,
            min_value=refs.EARLIEST,
            max_value=today,
            format="YYYY-MM-DD",
        ),
        "partner_npi": cc.SelectboxColumn(
            "Partner",
            options=list(partner_labels),
            format_func=lambda k: partner_labels.get(k, k),
            required=True,
            width="medium",
            help="Who referred the patient to us, or whom we referred to. Type to search. "
            "Not in the list? Add them under 'Add a referrer'.",
        ),
        "direction": cc.SelectboxColumn(
            "Direction",
            options=list(refs.DIRECTIONS),
            format_func=str.capitalize,
            required=True,
            default="received",
        ),
        "reason_category": cc.SelectboxColumn(
            "Reason", options=reasons, help="Body region or service; never a diagnosis of a person"
        ),
        "payer_category": cc.SelectboxColumn("Payer", options=payers),
        "status": cc.SelectboxColumn(
            "Status",
            options=list(refs.STATUSES),
            format_func=lambda s: refs.STATUS_LABELS.get(s, s),
            required=True,
            default="received",
        ),
        "lost_reason": cc.SelectboxColumn(
            "Lost reason",
            options=list(refs.LOST_REASONS),
            format_func=lambda s: s.replace("_", " ").capitalize(),
            help="Only for status Lost. 'Went elsewhere' is leakage.",
        ),
        "first_visit_date": cc.DateColumn(
            "First visit",
            min_value=refs.EARLIEST,
            max_value=today + timedelta(days=365),
            format="YYYY-MM-DD",
        ),
        "visits": cc.NumberColumn("Visits", min_value=0, max_value=refs.MAX_VISITS, step=1),
        "thank_you_sent": cc.DateColumn(
            "Thank-you sent", min_value=refs.EARLIEST, max_value=today, format="YYYY-MM-DD"
        ),
        "outcome_note_sent": cc.DateColumn(
            "Outcome note sent", min_value=refs.EARLIEST, max_value=today, format="YYYY-MM-DD"
        ),
        "notes": cc.TextColumn(
            "Notes",
            max_chars=refs.MAX_NOTES,
            help="No patient names, dates of birth or record numbers: describe the referral, "
            "not the person.",
        ),
    }


def error_frame(state: WorkingCopy) -> pd.DataFrame:
    rows = [(e.row, e.field, e.message) for errs in state.errors.values() for e in errs]
    return pd.DataFrame(rows, columns=["row", "field", "problem"])


# --- conversion chart ------------------------------------------------------------------------


def funnel_figure(overall: dict[str, Any]) -> go.Figure:
    """Received → scheduled → evaluated → discharged, with each stage's share of received."""
    labels = [refs.STATUS_LABELS[s] for s in refs.FUNNEL]
    values = [overall[s] for s in refs.FUNNEL]
    fig = go.Figure(
        go.Funnel(
            y=labels,
            x=values,
            textinfo="value+percent initial",
            marker={"color": ["#1D4ED8", "#2563EB", "#3B82F6", "#93C5FD"]},
        )
    )
    fig.update_layout(height=280, margin={"l": 10, "r": 10, "t": 10, "b": 10})
    return fig
