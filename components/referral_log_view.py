"""The Referral log page's tabs: the log grid, follow-ups owed, conversion and leakage (the
import tab is components.referral_import).

The page keeps only its top (practice, engine, the working state) and calls one function per
tab; the editor's state handling stays in components.referral_editor. Every widget key, label
and session-state key here is the page's public surface (tests and saved sessions use them).

Messages go through components.feedback in the slots "ref_save", "ref_referrer" and
"ref_owed"; each stays until the next action in its slot.
"""

from __future__ import annotations

import logging
from datetime import date
from typing import Any

import pandas as pd
import streamlit as st
from sqlalchemy.engine import Engine

from components import referral_editor as ed
from components.feedback import clear_flash, flash, flash_exception, show_flash
from components.shell import can_write, writable
from components.text import md_escape
from services import referrals as refs
from services.exports import to_csv_bytes, to_xlsx_bytes
from services.metrics import DEFINITIONS
from services.practices import Practice
from services.referrals.working_copy import WorkingCopy
from services.referrals.working_save import save_summary

log = logging.getLogger(__name__)


def referrer_labels(engine: Engine, practice: Practice, state: WorkingCopy) -> dict[str, str]:
    """Partner key -> display label, including keys only the log knows (e.g. a deleted
    provider), so every row in the grid and the tabs still shows a readable partner."""
    directory = refs.referrer_directory(engine, practice.id, practice.is_demo)
    labels: dict[str, str] = dict(zip(directory["key"], directory["label"], strict=True))
    for key in state.work["partner_npi"].dropna().unique():
        labels.setdefault(key, f"{key} (not in the provider list)")
    return labels


def saved_rows(state: WorkingCopy) -> pd.DataFrame:
    """The rows as saved: follow-ups and conversion count only what is in the database."""
    return state.saved_rows()


# --- the log ---------------------------------------------------------------------------------
def log_tab(
    state: WorkingCopy,
    engine: Engine,
    practice: Practice,
    today: date,
    labels: dict[str, str],
) -> None:
    """The editable log: edits collect in the working table (`state`) and are written only by
    Save, so a user can review a batch before it reaches the shared database."""
    view, frame = _log_filters(state, today, labels)
    may_write = can_write()
    _log_editor(state, practice, today, labels, view, frame, read_only=not may_write)
    if writable():  # a read-only user reads the grid and exports it; nothing more
        _save_buttons(state, engine, today)
        _save_outcome(state, engine, today)
        _add_referrer_form(engine, practice, labels)
    _export_buttons(view, labels)


def _log_filters(
    state: WorkingCopy, today: date, labels: dict[str, str]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The filter row; returns the filtered working rows and the frame the editor shows, which
    must come from the same filter so the editor's row positions map back to the right rows."""
    f1, f2, f3, f4 = st.columns([1.2, 1, 2, 1.6])
    period = f1.selectbox("Period", ed.PERIODS, key="ref_f_period")
    custom = None
    if period == "Custom range":
        custom = f1.date_input("From – to", value=(), key="ref_f_range", max_value=today)
    directions = f2.multiselect(
        "Direction", refs.DIRECTIONS, format_func=str.capitalize, key="ref_f_dir"
    )
    partner = f3.selectbox(
        "Partner",
        [None, *labels],
        format_func=lambda k: "All partners" if k is None else labels.get(k, k),
        key="ref_f_partner",
    )
    statuses = f4.multiselect(
        "Status", refs.STATUSES, format_func=lambda s: refs.STATUS_LABELS[s], key="ref_f_status"
    )
    start, end = ed.period_bounds(period, today, custom)
    return ed.view_and_frame(state, start, end, directions, partner, statuses)


def _log_editor(
    state: WorkingCopy,
    practice: Practice,
    today: date,
    labels: dict[str, str],
    view: pd.DataFrame,
    frame: pd.DataFrame,
    read_only: bool = False,
) -> None:
    """The grid (locked for a read-only user). Its deltas reach the working copy at the start
    of the next run (see components.referral_editor for why the editor's return value is not
    used)."""
    # categories already used in the log stay selectable, or those rows could not be edited
    used_reasons = sorted(set(state.work["reason_category"].dropna()) - set(refs.REASON_CATEGORIES))
    used_payers = sorted(set(state.work["payer_category"].dropna()) - set(refs.PAYER_CATEGORIES))
    how = (
        ""
        if read_only
        else " Add a row with **+** under the grid; select rows and press the bin to delete. "
        "Nothing is written until you save."
    )
    st.caption(f"{len(view):,} of {len(state.work):,} referrals shown.{how}")
    st.data_editor(
        frame,
        key=state.editor_key,
        disabled=read_only,
        num_rows="fixed" if read_only else "dynamic",
        hide_index=True,
        width="stretch",
        height=420,
        column_order=ed.EDITOR_COLUMNS,
        column_config=ed.column_config(
            labels,
            [*refs.REASON_CATEGORIES, *used_reasons],
            [*refs.PAYER_CATEGORIES, *used_payers],
            today,
        ),
    )
    for row, warning in state.note_warnings():
        st.warning(f"Before you save {row}: {warning}.")


def _save_buttons(state: WorkingCopy, engine: Engine, today: date) -> None:
    """Save and Discard run as callbacks, before the rerun, so the grid drawn next already
    reflects the outcome. Each first applies the grid's waiting delta: the callback runs before
    the page could."""

    def _save() -> None:
        ed.consume_pending_delta(state, today)
        try:
            result = state.save(engine, today)
        except refs.ReferralError as exc:
            flash("ref_save", "error", str(exc))
        except Exception as exc:  # anything else is a bug: log it, say so
            flash_exception("ref_save", log, "Nothing was saved: saving failed unexpectedly.", exc)
        else:
            if summary := save_summary(result):
                flash("ref_save", "success", summary)
            else:
                clear_flash("ref_save")

    def _discard() -> None:
        ed.consume_pending_delta(state, today)
        state.refresh(engine, drop_tokens=set(state.dirty) | set(state.deleted))
        state.errors, state.conflicts = {}, []
        clear_flash("ref_save")

    b1, b2, _ = st.columns([1, 1, 3])
    b1.button(
        f"Save {state.pending} change(s)" if state.pending else "Save",
        key="ref_save",
        type="primary",
        on_click=_save,
        disabled=not state.pending,
    )
    b2.button("Discard changes", key="ref_discard", on_click=_discard, disabled=not state.pending)


def _save_outcome(state: WorkingCopy, engine: Engine, today: date) -> None:
    """What the last save left behind: a message, rows the service rejected, and rows someone
    else changed or deleted meanwhile, which the user settles before those rows are saved."""
    show_flash("ref_save")
    if state.errors:
        st.warning(
            f"{len(state.errors)} row(s) were not saved because of the problems below; they "
            "stay in the grid (marked in the Check column) so you can fix them. The other "
            "changes were saved."
        )
        st.dataframe(ed.error_frame(state), hide_index=True, width="stretch", key="ref_errors")
    if not state.conflicts:
        return

    def _act(action: str, token: Any = None) -> None:
        ed.consume_pending_delta(state, today)
        if action == "restore":
            state.restore(token)
        elif action == "discard":
            state.discard(token)
        else:
            state.resolve_conflicts(engine, action)

    for c in state.conflicts:
        st.error(c.message)
        if c.kind == "deleted":
            r1, r2, _ = st.columns([1.3, 1, 2])
            r1.button(
                "Restore it with my changes",
                key=f"ref_restore:{c.ref}",
                on_click=_act,
                args=("restore", c.ref),
            )
            r2.button(
                "Discard my changes",
                key=f"ref_discard_mine:{c.ref}",
                on_click=_act,
                args=("discard", c.ref),
            )
    c1, c2 = st.columns(2)
    c1.button("Keep their version", key="ref_keep_theirs", on_click=_act, args=("theirs",))
    c2.button(
        "Use mine (overwrite on next save)", key="ref_keep_mine", on_click=_act, args=("mine",)
    )


def _add_referrer_form(engine: Engine, practice: Practice, labels: dict[str, str]) -> None:
    """Referrers the provider list lacks (outside the area, or known only by name) must exist
    before a row can name them in the Partner column."""
    with st.expander("Add a referrer who is not in the list"):
        st.write(
            "Known by NPI: enter it (and a name if the NPI is new to the app). Known only by "
            "name: enter the name; you can add the NPI later by adding them again by NPI."
        )
        with st.form("ref_add_referrer", clear_on_submit=True):
            npi_in = st.text_input("NPI", max_chars=10, key="ref_new_npi")
            name_in = st.text_input("Name (provider or clinic)", max_chars=200, key="ref_new_name")
            if st.form_submit_button("Add referrer"):
                try:
                    new_key = refs.add_referrer(engine, practice.id, npi=npi_in, name=name_in)
                except refs.ReferralError as exc:
                    flash("ref_referrer", "error", str(exc))
                else:
                    added = labels.get(new_key) or (name_in or npi_in)
                    flash(
                        "ref_referrer",
                        "success",
                        f"Added. Pick **{md_escape(added)}** in the Partner column.",
                    )
                    st.rerun()
        show_flash("ref_referrer")


def _export_buttons(view: pd.DataFrame, labels: dict[str, str]) -> None:
    """Export what the filters show; the file is built only when a button is pressed (lazy
    `data`), so drawing the page never pays for a spreadsheet."""

    def export() -> pd.DataFrame:
        return refs.export_frame(view.reset_index(drop=True), labels)

    e1, e2, _ = st.columns([1, 1, 3])
    e1.download_button(
        "Export CSV",
        data=lambda: to_csv_bytes(export()),
        file_name="referral-log.csv",
        mime="text/csv",
        key="ref_export_csv",
        on_click="ignore",
    )
    e2.download_button(
        "Export Excel",
        data=lambda: to_xlsx_bytes(export()),
        file_name="referral-log.xlsx",
        mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        key="ref_export_xlsx",
        on_click="ignore",
    )


# --- follow-ups owed -------------------------------------------------------------------------
def follow_ups_tab(
    state: WorkingCopy,
    engine: Engine,
    practice: Practice,
    today: date,
    labels: dict[str, str],
    saved: pd.DataFrame,
) -> None:
    """The thank-yous and outcome notes owed to referrers (the playbook's 30-day follow-up),
    each with a button that records the note as sent; memoized on `state.rev` so reruns that
    change nothing in the log do not recompute it."""
    owed = state.memoized("owed", (state.rev, today), lambda: refs.follow_ups_owed(saved, today))
    n_thanks = int((owed["kind"] == "thank_you").sum())
    n_loop = int((owed["kind"] == "loop_close").sum())
    m1, m2 = st.columns(2)
    m1.metric("Thank-yous owed", n_thanks, help="Received in the last 30 days, no thank-you yet")
    m2.metric("Outcome notes owed", n_loop, help="Evaluated or discharged, no note to the referrer")

    def _done(referral_id: int, kind: str) -> None:
        try:
            ok = refs.mark_follow_up_done(engine, practice.id, referral_id, kind, on=today)
        except refs.ReferralError as exc:
            flash("ref_owed", "error", str(exc))
            return
        except Exception as exc:  # anything else is a bug: log it, say so
            flash_exception("ref_owed", log, "The follow-up could not be recorded.", exc)
            return
        what = "Thank-you" if kind == "thank_you" else "Outcome note"
        if ok:
            flash(
                "ref_owed", "success", f"{what} for referral #{referral_id} marked sent and logged."
            )
        else:
            flash(
                "ref_owed", "info", f"Referral #{referral_id} was already marked by someone else."
            )

    show_flash("ref_owed")
    if owed.empty:
        st.success("Nothing owed: every recent referrer has been thanked and every loop closed.")
    may_mark = writable() if not owed.empty else False
    limit = 50
    for item in owed.head(limit).itertuples(index=False):
        what = "Thank-you" if item.kind == "thank_you" else "Outcome note"
        c1, c2 = st.columns([4, 1])
        c1.markdown(
            f"**{what}** to {md_escape(labels.get(item.partner_npi, item.partner_npi))} · "
            f"referral #{item.id} of {item.referral_date.isoformat()} "
            f"({item.age_days} days ago, {refs.STATUS_LABELS.get(item.status, item.status)})"
        )
        if not may_mark:
            continue
        c2.button(
            "Mark sent",
            key=f"ref_done:{item.kind}:{item.id}",
            on_click=_done,
            args=(int(item.id), item.kind),
        )
    if len(owed) > limit:
        st.caption(f"Showing the oldest {limit} of {len(owed)}.")


# --- conversion and leakage ------------------------------------------------------------------
def conversion_tab(state: WorkingCopy, labels: dict[str, str], saved: pd.DataFrame) -> None:
    """Where received referrals end up (evaluated, lost, gone elsewhere), overall and per
    partner, so the practice sees which relationships actually bring patients in."""
    overall, per_partner, reasons = state.memoized(
        "conversion", state.rev, lambda: refs.conversion(saved)
    )
    k = st.columns(5)
    k[0].metric("Received", overall["received"], help=DEFINITIONS["received"])
    k[1].metric(
        "Evaluated",
        overall["evaluated"],
        f"{overall['evaluated_rate']:.0%} of received" if overall["received"] else None,
        delta_color="off",
        help=DEFINITIONS["conversion"],
    )
    days = overall["median_days_to_first_visit"]
    k[2].metric("Median days to first visit", "–" if pd.isna(days) else f"{days:g}")
    k[3].metric("Lost", overall["lost"], help=DEFINITIONS["lost"])
    k[4].metric(
        "Leaked (went elsewhere)",
        overall["leaked"],
        f"{overall['leakage_rate']:.0%} of received" if overall["received"] else None,
        delta_color="off",
        help=DEFINITIONS["leakage"],
    )
    if overall["received"]:
        st.plotly_chart(
            ed.funnel_figure(overall), key="ref_funnel", config={"displayModeBar": False}
        )
    st.caption(
        "Every received referral in the log (Progress shows the same counts for a chosen "
        "period). A lost referral counts as received (a no-show also as scheduled); 'went "
        "elsewhere' is leakage. Playbook context: 55–65% of referrals leak out of network "
        "(the playbook's own statement)."
    )
    st.subheader("By partner")
    table = per_partner.assign(
        partner=per_partner["partner_npi"].map(lambda k: labels.get(k, k))
    )[["partner", "received", "scheduled", "evaluated", "discharged", "evaluated_rate",
       "median_days_to_first_visit", "lost", "leaked", "leakage_rate"]]  # fmt: skip
    st.dataframe(
        table,
        hide_index=True,
        width="stretch",
        key="ref_by_partner",
        column_config={
            "evaluated_rate": st.column_config.NumberColumn("Evaluated %", format="percent"),
            "leakage_rate": st.column_config.NumberColumn("Leakage %", format="percent"),
            "median_days_to_first_visit": st.column_config.NumberColumn("Median days to visit"),
        },
    )
    st.subheader("Lost reasons")
    st.dataframe(
        reasons.assign(lost_reason=reasons["lost_reason"].str.replace("_", " ")),
        hide_index=True,
        key="ref_lost_reasons",
    )
