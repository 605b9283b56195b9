"""The Referral log page's tabs: the log grid, follow-ups owed, conversion and leakage, import.

The page keeps only its top (practice, engine, the working state) and calls one function per
tab; the editor's state handling stays in components.referral_editor. Every widget key, label
and session-state key here is the page's public surface (tests and saved sessions use them).

Session-state keys (all prefixed "ref_", none needed on another page):
- "ref_save_error": the message of a save the service refused, shown once;
- "ref_referrer_added": the name of a referrer just added, shown once;
- "ref_owed_msg": (kind, message) after a follow-up is marked sent, shown once;
- "ref_import_file": (name, bytes) of the uploaded tracker, kept across reruns until imported;
- "ref_import_done": the number of referrals just imported, shown once.
"""

from __future__ import annotations

from datetime import date

import pandas as pd
import streamlit as st
from sqlalchemy.engine import Engine

from components import referral_editor as ed
from components.text import md_escape
from services import importer
from services import referrals as refs
from services.exports import to_csv_bytes
from services.practices import Practice


def referrer_labels(engine: Engine, practice: Practice, state: ed.LogState) -> dict[str, str]:
    """Partner key -> display label, including keys only the log knows (e.g. a deleted
    provider), so every row in the grid and the tabs still shows a readable partner."""
    directory = refs.referrer_directory(engine, practice.id, practice.is_demo)
    labels: dict[str, str] = dict(zip(directory["key"], directory["label"], strict=True))
    for key in state.work["partner_npi"].dropna().unique():
        labels.setdefault(key, f"{key} (not in the provider list)")
    return labels


def saved_rows(state: ed.LogState) -> pd.DataFrame:
    """The rows as saved: follow-ups and conversion count only what is in the database, so rows
    with unsaved edits join once saved (and new, unsaved rows not at all)."""
    return state.work[state.work["id"].notna() & ~state.work.index.isin(list(state.dirty))]


# --- the log ---------------------------------------------------------------------------------
def log_tab(
    state: ed.LogState,
    engine: Engine,
    practice: Practice,
    today: date,
    labels: dict[str, str],
) -> None:
    """The editable log: edits collect in the working table (`state`) and are written only by
    Save, so a user can review a batch before it reaches the shared database."""
    view, frame = _log_filters(state, today, labels)
    _log_editor(state, practice, today, labels, view, frame)
    _save_buttons(state, engine, today)
    _save_outcome(state, engine)
    _add_referrer_form(engine, practice, labels)
    _export_buttons(view, labels)


def _log_filters(
    state: ed.LogState, today: date, labels: dict[str, str]
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
    state: ed.LogState,
    practice: Practice,
    today: date,
    labels: dict[str, str],
    view: pd.DataFrame,
    frame: pd.DataFrame,
) -> None:
    """The grid. Its `on_change` applies each delta to the working table under "reflog:<id>"
    (see components.referral_editor for why the editor's return value is not used)."""
    state_key = f"reflog:{practice.id}"
    # categories already used in the log stay selectable, or those rows could not be edited
    used_reasons = sorted(set(state.work["reason_category"].dropna()) - set(refs.REASON_CATEGORIES))
    used_payers = sorted(set(state.work["payer_category"].dropna()) - set(refs.PAYER_CATEGORIES))
    st.caption(
        f"{len(view):,} of {len(state.work):,} referrals shown. Add a row with **+** under the "
        "grid; select rows and press the bin to delete. Nothing is written until you save."
    )
    st.data_editor(
        frame,
        key=state.editor_key,
        num_rows="dynamic",
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
        on_change=ed.on_editor_change,
        args=(state_key, state.editor_key, today),
    )


def _save_buttons(state: ed.LogState, engine: Engine, today: date) -> None:
    """Save and Discard run as callbacks, before the rerun, so the grid drawn next already
    reflects the outcome; a refused save leaves its message for `_save_outcome`."""

    def _save() -> None:
        try:
            ed.save(state, engine, today)
        except refs.ReferralError as exc:
            state.flash = None
            st.session_state["ref_save_error"] = str(exc)

    def _discard() -> None:
        ed.refresh(state, engine, drop_tokens=set(state.dirty) | set(state.deleted))
        state.errors, state.conflicts = {}, []

    b1, b2, _ = st.columns([1, 1, 3])
    b1.button(
        f"Save {state.pending} change(s)" if state.pending else "Save",
        key="ref_save",
        type="primary",
        on_click=_save,
        disabled=not state.pending,
    )
    b2.button("Discard changes", key="ref_discard", on_click=_discard, disabled=not state.pending)


def _save_outcome(state: ed.LogState, engine: Engine) -> None:
    """What the last save left behind: a message, rows the service rejected, and rows someone
    else changed meanwhile, which the user must resolve before those rows can be saved."""
    if msg := st.session_state.pop("ref_save_error", None):
        st.error(msg)
    if state.flash:
        st.success(state.flash)
        state.flash = None
    if state.errors:
        st.warning(
            f"{len(state.errors)} row(s) were not saved because of the problems below; they "
            "stay in the grid (marked in the Check column) so you can fix them. The other "
            "changes were saved."
        )
        st.dataframe(ed.error_frame(state), hide_index=True, width="stretch", key="ref_errors")
    if state.conflicts:
        for c in state.conflicts:
            st.error(c.message)
        c1, c2 = st.columns(2)
        c1.button(
            "Keep their version",
            key="ref_keep_theirs",
            on_click=ed.resolve_conflicts,
            args=(state, engine, "theirs"),
        )
        c2.button(
            "Use mine (overwrite on next save)",
            key="ref_keep_mine",
            on_click=ed.resolve_conflicts,
            args=(state, engine, "mine"),
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
                    st.error(str(exc))
                else:
                    st.session_state["ref_referrer_added"] = labels.get(new_key) or (
                        name_in or npi_in
                    )
                    st.rerun()
        if added_name := st.session_state.pop("ref_referrer_added", None):
            st.success(f"Added. Pick **{md_escape(added_name)}** in the Partner column.")


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
        data=lambda: refs.to_xlsx_bytes(export()),
        file_name="referral-log.xlsx",
        mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        key="ref_export_xlsx",
        on_click="ignore",
    )


# --- follow-ups owed -------------------------------------------------------------------------
def follow_ups_tab(
    state: ed.LogState,
    engine: Engine,
    practice: Practice,
    today: date,
    labels: dict[str, str],
    saved: pd.DataFrame,
) -> None:
    """The thank-yous and outcome notes owed to referrers (the playbook's 30-day follow-up),
    each with a button that records the note as sent; memoized on `state.rev` so reruns that
    change nothing in the log do not recompute it."""
    owed = ed.memoized(
        state, "owed", (state.rev, today), lambda: refs.follow_ups_owed(saved, today)
    )
    n_thanks = int((owed["kind"] == "thank_you").sum())
    n_loop = int((owed["kind"] == "loop_close").sum())
    m1, m2 = st.columns(2)
    m1.metric("Thank-yous owed", n_thanks, help="Received in the last 30 days, no thank-you yet")
    m2.metric("Outcome notes owed", n_loop, help="Evaluated or discharged, no note to the referrer")

    def _done(referral_id: int, kind: str) -> None:
        try:
            ok = refs.mark_follow_up_done(engine, practice.id, referral_id, kind, on=today)
        except (refs.ReferralError, ValueError) as exc:
            st.session_state["ref_owed_msg"] = ("error", str(exc))
            return
        what = "Thank-you" if kind == "thank_you" else "Outcome note"
        st.session_state["ref_owed_msg"] = (
            ("success", f"{what} for referral #{referral_id} marked sent and logged.")
            if ok
            else ("info", f"Referral #{referral_id} was already marked by someone else.")
        )

    if msg := st.session_state.pop("ref_owed_msg", None):
        getattr(st, msg[0])(msg[1])
    if owed.empty:
        st.success("Nothing owed: every recent referrer has been thanked and every loop closed.")
    limit = 50
    for item in owed.head(limit).itertuples(index=False):
        what = "Thank-you" if item.kind == "thank_you" else "Outcome note"
        c1, c2 = st.columns([4, 1])
        c1.markdown(
            f"**{what}** to {md_escape(labels.get(item.partner_npi, item.partner_npi))} · "
            f"referral #{item.id} of {item.referral_date.isoformat()} "
            f"({item.age_days} days ago, {refs.STATUS_LABELS.get(item.status, item.status)})"
        )
        c2.button(
            "Mark sent",
            key=f"ref_done:{item.kind}:{item.id}",
            on_click=_done,
            args=(int(item.id), item.kind),
        )
    if len(owed) > limit:
        st.caption(f"Showing the oldest {limit} of {len(owed)}.")


# --- conversion and leakage ------------------------------------------------------------------
def conversion_tab(state: ed.LogState, labels: dict[str, str], saved: pd.DataFrame) -> None:
    """Where received referrals end up (evaluated, lost, gone elsewhere), overall and per
    partner, so the practice sees which relationships actually bring patients in."""
    overall, per_partner, reasons = ed.memoized(
        state, "conversion", state.rev, lambda: refs.conversion(saved)
    )
    k = st.columns(5)
    k[0].metric("Received", overall["received"])
    k[1].metric(
        "Evaluated",
        overall["evaluated"],
        f"{overall['evaluated_rate']:.0%} of received" if overall["received"] else None,
        delta_color="off",
    )
    days = overall["median_days_to_first_visit"]
    k[2].metric("Median days to first visit", "–" if pd.isna(days) else f"{days:g}")
    k[3].metric("Lost", overall["lost"])
    k[4].metric(
        "Leaked (went elsewhere)",
        overall["leaked"],
        f"{overall['leakage_rate']:.0%} of received" if overall["received"] else None,
        delta_color="off",
    )
    if overall["received"]:
        st.plotly_chart(
            ed.funnel_figure(overall), key="ref_funnel", config={"displayModeBar": False}
        )
    st.caption(
        "Received referrals only. A lost referral counts as received (a no-show also as "
        "scheduled); 'went elsewhere' is leakage. Playbook context: 55–65% of referrals leak "
        "out of network (industry estimate)."
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


# --- import ----------------------------------------------------------------------------------
def import_tab(engine: Engine, practice: Practice, today: date) -> None:
    """Bring in an existing spreadsheet tracker. The uploaded file is copied to a plain
    session-state key so the mapping survives reruns; nothing is written until Import."""
    st.write(
        "Import an existing tracker (CSV or Excel .xlsx, e.g. with a **Sent** and a **Received** "
        "sheet). Columns that look like patient identifiers are dropped before anything is read."
    )
    upload = st.file_uploader("Tracker file", type=["csv", "xlsx"], key="ref_upload")
    if upload is not None:
        st.session_state["ref_import_file"] = (upload.name, upload.getvalue())
    file = st.session_state.get("ref_import_file")
    if file is not None:
        name, data = file
        try:
            sheets = importer.read_tracker(data, name)
        except importer.ImportFileError as exc:
            st.error(f"**{md_escape(name)}** cannot be imported: {exc}")
            sheets = []
        mappings, dirs = _sheet_mappings(sheets)
        if sheets:
            _import_check_and_run(engine, practice, today, sheets, mappings, dirs)
    if (n := st.session_state.pop("ref_import_done", None)) is not None:
        st.success(f"Imported {n:,} referrals.")


def _sheet_mappings(
    sheets: list[importer.Sheet],
) -> tuple[dict[str, dict[str, str | None]], dict[str, str | None]]:
    """Per sheet, the user's column mapping (pre-filled with the importer's guess) and, when no
    column gives the direction, the sheet's direction: trackers name their columns freely."""
    mappings: dict[str, dict[str, str | None]] = {}
    dirs: dict[str, str | None] = {}
    for i, sheet in enumerate(sheets):
        n_rows = len(sheet.frame)
        st.markdown(
            f"**Sheet {md_escape(sheet.name)}** · {n_rows:,} row{'s' if n_rows != 1 else ''}"
        )
        if sheet.dropped:
            st.warning(
                "Dropped columns that look like patient identifiers (they are not read or "
                f"stored): {md_escape(', '.join(sheet.dropped))}."
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
    sheets: list[importer.Sheet],
    mappings: dict[str, dict[str, str | None]],
    dirs: dict[str, str | None],
) -> None:
    """Show how many rows would import before anything is written, so a bad mapping is caught
    on screen; the user may then import only the valid rows."""
    plan = importer.plan_import(
        engine, practice.id, sheets, mappings, dirs, practice.is_demo, today
    )
    st.markdown(
        f"**Check:** {plan.valid:,} of {plan.total:,} rows are valid; "
        f"{plan.total - plan.valid:,} have problems."
    )
    if plan.errors:
        st.dataframe(plan.error_frame(), hide_index=True, key="ref_import_errors")
    only_valid = st.checkbox(
        "Import only the valid rows (skip the rows with problems)",
        key="ref_import_only_valid",
        disabled=not plan.errors,
    )
    if st.button("Import", key="ref_import_go", type="primary", disabled=not plan.valid):
        try:
            n = importer.run_import(engine, practice.id, plan, only_valid=only_valid)
        except refs.ReferralError as exc:
            st.error(str(exc))
        else:
            st.session_state.pop("ref_import_file", None)
            st.session_state["ref_import_done"] = n
            st.rerun()
