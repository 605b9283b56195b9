"""The referral log's editor: a working copy in session state, edits applied in `on_change`.

Why this shape (STACK-NOTES §9, Streamlit #7354/#7749): feeding `st.data_editor`'s return value
back in as its input loses every other edit. Instead the page keeps a *working table* under a
plain session-state key (so it also survives page changes, which widget keys do not), the
editor's `on_change` applies `st.session_state[key]` (edited / added / deleted rows) to it, and
the editor key carries a revision that is bumped after each applied change, so the widget
starts from the working table again and never replays a delta.

Session-state key: "reflog:<practice id>" holds a `LogState`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import pandas as pd
import plotly.graph_objects as go
import sqlalchemy as sa
import streamlit as st
from sqlalchemy.engine import Engine

from services import db
from services import referrals as refs

#: editor columns, in order; "ref" and "check" are read-only helpers
EDITOR_COLUMNS = ["ref", "check", *refs.FIELDS]
PERIODS = ("All time", "Last 30 days", "Last 90 days", "Last 12 months", "Custom range")


@dataclass
class LogState:
    practice_id: int
    work: pd.DataFrame  # index: row token ("id12", "new3"); columns: id, version, *FIELDS
    fingerprint: tuple = ()
    dirty: set[str] = field(default_factory=set)
    deleted: dict[str, tuple[int, int]] = field(default_factory=dict)  # token -> (id, version)
    errors: dict[str, list[refs.FieldError]] = field(default_factory=dict)
    conflicts: list[refs.Conflict] = field(default_factory=list)
    rev: int = 0
    view_tokens: list[str] = field(default_factory=list)
    new_seq: int = 0
    flash: str | None = None
    #: name -> (key, value): results derived from the working table, reused until `rev` moves
    memo: dict[str, tuple[Any, Any]] = field(default_factory=dict)

    @property
    def pending(self) -> int:
        return len(self.dirty) + len(self.deleted)

    @property
    def editor_key(self) -> str:
        return f"ref_editor:{self.practice_id}:{self.rev}"


def _fingerprint(engine: Engine, practice_id: int) -> tuple:
    """Cheap signature of the practice's log: it changes whenever any session saves."""
    r = db.referral
    with engine.connect() as conn:
        row = conn.execute(
            sa.select(sa.func.count(), sa.func.max(r.c.updated_at), sa.func.sum(r.c.version)).where(
                r.c.practice_id == practice_id
            )
        ).one()
    return tuple(row)


def _db_table(engine: Engine, practice_id: int) -> pd.DataFrame:
    df = refs.load_referrals(engine, practice_id)
    df.index = pd.Index(["id" + str(int(i)) for i in df["id"]], dtype=object)
    return df


def get_state(engine: Engine, practice_id: int, today: date) -> LogState:
    """The practice's working table, refreshed from the database when another session (or
    another page) changed the log; unsaved edits in this session are kept on top.

    A pending editor delta is applied *before* the refresh, as on_change would have been: an
    edit made on a stale row keeps the version it was made on, so saving it over another
    session's change is a conflict, never a silent overwrite."""
    key = f"reflog:{practice_id}"
    state: LogState | None = st.session_state.get(key)
    fp = _fingerprint(engine, practice_id)
    if state is None:
        state = LogState(practice_id, _db_table(engine, practice_id), fp)
        st.session_state[key] = state
        return state
    consume_pending_delta(state, today)
    if state.fingerprint != fp:
        refresh(state, engine)
    return state


def refresh(state: LogState, engine: Engine, drop_tokens: set[str] | None = None) -> None:
    """Reload from the database, keeping unsaved rows (new, edited, deleted) except
    `drop_tokens`, whose edits are discarded."""
    drop = drop_tokens or set()
    fresh = _db_table(engine, state.practice_id)
    keep = [t for t in state.dirty if t not in drop and t in state.work.index]
    for t in drop:
        state.dirty.discard(t)
        state.errors.pop(t, None)
        state.deleted.pop(t, None)
    saved_keep = [t for t in keep if t in fresh.index]
    if saved_keep:
        fresh = fresh.astype(object)
        for t in saved_keep:
            fresh.loc[t] = state.work.loc[t, fresh.columns]
    new_rows = state.work.loc[[t for t in keep if t not in fresh.index and t.startswith("new")]]
    gone = [t for t in state.deleted if t in fresh.index]
    fresh = fresh.drop(index=gone)
    state.deleted = {t: v for t, v in state.deleted.items() if t in gone}
    state.dirty = set(saved_keep) | set(new_rows.index)
    work = pd.concat([fresh, new_rows]) if len(new_rows) else fresh
    work["visits"] = work["visits"].astype("Int64")
    state.work = work
    state.fingerprint = _fingerprint(engine, state.practice_id)
    state.rev += 1


# --- applying the editor's deltas ------------------------------------------------------------


def _from_editor(column: str, value: Any) -> Any:
    """Editor cell value -> working-table value. Dates arrive as ISO text; a text we cannot
    read is kept as typed, so validation can name it rather than it silently vanishing."""
    if column in ("referral_date", "first_visit_date", "thank_you_sent", "outcome_note_sent"):
        try:
            return refs.parse_date(value)
        except ValueError:
            return value
    if column == "visits":
        try:
            return refs.parse_int(value)
        except ValueError:
            return value
    if refs.is_blank(value):
        return None
    return value


def new_row_defaults(today: date) -> dict[str, Any]:
    return {
        "referral_date": today,
        "direction": "received",
        "status": "received",
    }


def apply_editor_delta(state: LogState, delta: dict[str, Any], today: date) -> None:
    """Apply one `st.session_state[editor key]` to the working table (the on_change body).

    Positions in the delta are positions in the view the editor was drawn with, which
    `state.view_tokens` recorded; so filters and the working table's order cannot misdirect an
    edit.
    """
    work = state.work
    tokens = state.view_tokens
    for pos, changes in (delta.get("edited_rows") or {}).items():
        pos = int(pos)
        if pos >= len(tokens):
            continue
        token = tokens[pos]
        for column, value in changes.items():
            if column in refs.FIELDS:
                if column == "visits" and not isinstance(_from_editor(column, value), int | None):
                    work["visits"] = work["visits"].astype(object)
                work.at[token, column] = _from_editor(column, value)
        state.dirty.add(token)
    added = delta.get("added_rows") or []
    if added:
        rows = {}
        for values in added:
            state.new_seq += 1
            token = f"new{state.new_seq}"
            row: dict[str, Any] = {c: None for c in work.columns}
            row.update(new_row_defaults(today))
            for column, value in values.items():
                if column in refs.FIELDS and not refs.is_blank(value):
                    row[column] = _from_editor(column, value)
            rows[token] = row
            state.dirty.add(token)
        extra = pd.DataFrame.from_dict(rows, orient="index")
        work = pd.concat([work, extra[work.columns]]) if len(work) else extra[work.columns]
    for pos in delta.get("deleted_rows") or []:
        pos = int(pos)
        if pos >= len(tokens):
            continue
        token = tokens[pos]
        if token not in work.index:
            continue
        rid, version = work.at[token, "id"], work.at[token, "version"]
        if not refs.is_blank(rid):
            state.deleted[token] = (int(rid), int(version))
        state.dirty.discard(token)
        state.errors.pop(token, None)
        work = work.drop(index=token)
    state.work = work
    state.rev += 1


def on_editor_change(state_key: str, editor_key: str, today: date) -> None:
    state: LogState = st.session_state[state_key]
    if editor_key == state.editor_key:  # a stale key's delta was applied already
        apply_editor_delta(state, st.session_state.get(editor_key) or {}, today)


def consume_pending_delta(state: LogState, today: date) -> None:
    """Apply a delta that reached the current editor key without its on_change running.

    In the browser on_change always runs first and moves the key on, so this finds nothing;
    AppTest sets `session_state[key]` without firing callbacks, and this applies it the same
    way. Either path applies a delta exactly once, because applying moves the key on."""
    delta = st.session_state.get(state.editor_key)
    if isinstance(delta, dict) and any(
        delta.get(k) for k in ("edited_rows", "added_rows", "deleted_rows")
    ):
        apply_editor_delta(state, delta, today)


# --- saving ----------------------------------------------------------------------------------


def save(state: LogState, engine: Engine, today: date) -> refs.SaveResult:
    """Save the working table's changes; keep rows that failed, with their messages."""
    work = state.work
    added, edited = [], []
    for token in work.index:
        if token not in state.dirty:
            continue
        row = work.loc[token]
        values = {f: row[f] for f in refs.FIELDS}
        if refs.is_blank(row["id"]):
            added.append((token, f"new row {token[3:]}", values))
        else:
            edited.append(
                refs.Edit(
                    token, int(row["id"]), int(row["version"]), values, f"referral #{row['id']}"
                )
            )
    deleted = [(t, rid, ver) for t, (rid, ver) in state.deleted.items()]
    result = refs.save_changes(engine, state.practice_id, added, edited, deleted, today)
    done = set(result.inserted) | set(result.updated) | set(result.deleted)
    state.errors = {t: e for t, e in result.errors.items()}
    state.conflicts = list(result.conflicts)
    for t in done:
        state.dirty.discard(t)
        state.deleted.pop(t, None)
    # New rows that were saved leave the working table; the reload brings them back by id.
    state.work = state.work.drop(index=[t for t in result.inserted if t in state.work.index])
    for c in result.conflicts:  # a refused delete comes back with the other session's values
        state.deleted.pop(c.ref, None)
    refresh(state, engine)
    parts = []
    if result.inserted:
        parts.append(f"{len(result.inserted)} added")
    if result.updated:
        parts.append(f"{len(result.updated)} changed")
    if result.deleted:
        parts.append(f"{len(result.deleted)} deleted")
    state.flash = ("Saved: " + ", ".join(parts) + ".") if parts else None
    return result


def resolve_conflicts(state: LogState, engine: Engine, keep: str) -> None:
    """`keep="theirs"` drops this session's edits to the conflicting rows; `keep="mine"` takes
    the other session's version as read, so the next save writes this session's values."""
    tokens = {c.ref for c in state.conflicts}
    if keep == "theirs":
        refresh(state, engine, drop_tokens=tokens)
    else:
        for c in state.conflicts:
            if c.current_version is not None and c.ref in state.work.index:
                state.work.at[c.ref, "version"] = c.current_version
        state.rev += 1
    state.conflicts = []


# --- the view --------------------------------------------------------------------------------


def period_bounds(period: str, today: date, custom: Any = None) -> tuple[date | None, date | None]:
    if period == "Last 30 days":
        return today - timedelta(days=29), today
    if period == "Last 90 days":
        return today - timedelta(days=89), today
    if period == "Last 12 months":
        return today - timedelta(days=364), today
    if period == "Custom range" and custom:
        start = custom[0] if len(custom) > 0 else None
        end = custom[1] if len(custom) > 1 else start
        return start, end
    return None, None


def filtered_view(
    state: LogState,
    start: date | None = None,
    end: date | None = None,
    directions: list[str] | None = None,
    partner: str | None = None,
    statuses: list[str] | None = None,
) -> pd.DataFrame:
    """The rows to show. Unsaved rows always show, so a new row never vanishes behind a filter
    before it is saved."""
    work = state.work
    keep = pd.Series(True, index=work.index)
    if start is not None or end is not None:
        dates = pd.to_datetime(work["referral_date"], errors="coerce")
        if start is not None:
            keep &= dates >= pd.Timestamp(start)
        if end is not None:
            keep &= dates <= pd.Timestamp(end)
    if directions:
        keep &= work["direction"].isin(directions)
    if partner:
        keep &= work["partner_npi"] == partner
    if statuses:
        keep &= work["status"].isin(statuses)
    if state.dirty:
        keep |= work.index.isin(list(state.dirty))
    return work[keep]


def memoized(state: LogState, name: str, key: Any, compute: Any) -> Any:
    """`compute()`, reused while `key` is unchanged. Every change to the working table moves
    `state.rev`, so keys that include it can never serve stale results; with 10,000 referrals
    this keeps a rerun that changed nothing from recomputing the grid, funnel and follow-ups."""
    hit = state.memo.get(name)
    if hit is not None and hit[0] == key:
        return hit[1]
    value = compute()
    state.memo[name] = (key, value)
    return value


def view_and_frame(
    state: LogState,
    start: date | None = None,
    end: date | None = None,
    directions: list[str] | None = None,
    partner: str | None = None,
    statuses: list[str] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The filtered view and the editor's frame for it, memoized on the filters and `rev`."""
    key = (state.rev, start, end, tuple(directions or ()), partner, tuple(statuses or ()))

    def compute() -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
        view = filtered_view(state, start, end, directions, partner, statuses)
        frame = editor_frame(state, view)
        return view, frame, list(state.view_tokens)

    view, frame, tokens = memoized(state, "view", key, compute)
    state.view_tokens = tokens
    return view, frame


def editor_frame(state: LogState, view: pd.DataFrame) -> pd.DataFrame:
    """The frame handed to st.data_editor (RangeIndex; positions map to `view_tokens`)."""
    state.view_tokens = list(view.index)
    out = view[list(refs.FIELDS)].reset_index(drop=True)
    tokens = pd.Series(view.index, dtype=object)
    ids = view["id"].reset_index(drop=True)
    out.insert(0, "ref", ["#" + str(i) if not pd.isna(i) else "new" for i in ids])
    checks = [
        "; ".join(f"{e.field}: {e.message}" for e in state.errors[t])
        if t in state.errors
        else ("unsaved" if t in state.dirty else "")
        for t in tokens
    ]
    out.insert(1, "check", checks)
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


def error_frame(state: LogState) -> pd.DataFrame:
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
