"""The Pipeline tab: stage counts, filters, the list (selection kept by partner id), bulk moves
and removals that name whom they change, the export, and the partner panel below."""

from __future__ import annotations

from datetime import date

import pandas as pd
import sqlalchemy as sa
import streamlit as st
from sqlalchemy.engine import Engine

from components.feedback import clear_flash, flash, flash_exception
from components.selection import id_table
from components.shell import can_write, writable
from components.targets.activity_form import activity_form
from components.targets.common import SLOT, csv_download, forget_editor, logger
from components.targets.partner_panel import partner_editor, partner_picker, timeline_view
from services import outreach, partners, playbook
from services.practices import Practice
from services.specialties import group_label
from services.targets_view import names_phrase, pipeline_view, targets_export

CONFIRM = "targets_confirm_remove"

PIPELINE_COLUMNS = {
    "partner_id": None,
    "npi": st.column_config.TextColumn("NPI"),
    "stage": "Stage",
    "name": st.column_config.TextColumn("Name", width="medium"),
    "group": "Group",
    "active": st.column_config.TextColumn(
        "Active", help="From the referral log: a referral exchanged in the last 90 days."
    ),
    "priority": "Priority",
    "owner": "Owner",
    "last_referral": st.column_config.TextColumn("Last referral"),
    "city": "City",
    "phone": "Phone",
    "added": st.column_config.TextColumn("Added"),
    "notes": st.column_config.TextColumn("Notes", width="medium"),
}


def stage_metrics(counts: dict[str, int]) -> None:
    cols = st.columns(len(playbook.STAGES))
    for col, stage in zip(cols, playbook.STAGES, strict=True):
        col.metric(playbook.STAGE_LABELS[stage], counts.get(stage, 0))


def pipeline_filters(df: pd.DataFrame) -> tuple[list[str] | None, list[str] | None, list[str]]:
    """Specialty group, owner and stage pickers; an empty picker means "all"."""
    c1, c2, c3 = st.columns(3)
    groups = sorted({g for g in df["specialty_group"].dropna()}, key=group_label)
    owners = sorted({o for o in df["owner"].dropna() if o})
    g = c1.multiselect(
        "Specialty group",
        groups,
        format_func=group_label,
        key="_w_f_groups",
        placeholder="All groups",
    )
    o = c2.multiselect(
        "Owner",
        [*owners, ""],
        format_func=lambda v: v or "(nobody)",
        key="_w_f_owners",
        placeholder="All owners",
    )
    s = c3.multiselect(
        "Stage",
        list(playbook.STAGES),
        format_func=playbook.STAGE_LABELS.get,
        key="_w_f_stages",
        placeholder="All stages",
    )
    return (g or None), (o or None), (s or list(playbook.STAGES))


def pipeline_table(view: pd.DataFrame) -> list[int]:
    """The list; returns the partner ids selected in it (by id, whatever the order shown)."""
    ids = [int(i) for i in view["partner_id"]]
    chosen = [
        int(i)
        for i in id_table(
            view, ids, key="targets_table", hide_index=True, column_config=PIPELINE_COLUMNS
        )
    ]
    # A newly selected single row opens in the editor below (drawn after this, so its picker
    # can still be set); a picker change while the row stays selected is left alone.
    if len(chosen) == 1 and st.session_state.get("_targets_last_selection") != chosen:
        st.session_state["_w_partner"] = chosen[0]
    st.session_state["_targets_last_selection"] = chosen
    return chosen


def bulk_actions(engine: Engine, practice: Practice, view: pd.DataFrame, chosen: list[int]) -> None:
    """Move the selected partners to a stage, or remove them (asking first when they have
    history). Each button names the partners it will change; each action is all or nothing.
    A read-only user sees the table without them."""
    if not writable():
        return
    names_by_id = dict(zip(view["partner_id"].astype(int), view["name"], strict=True))
    names = [names_by_id[pid] for pid in chosen]

    def move(ids: list[int], who: list[str]) -> None:
        clear_flash(SLOT)
        st.session_state.pop(CONFIRM, None)
        stage = st.session_state["_w_bulk_stage"]
        label = playbook.STAGE_LABELS[stage]
        try:
            moved = partners.set_stage(engine, practice.id, ids, stage)
        except partners.PartnerError as exc:
            flash(SLOT, "error", f"Not saved. {exc}")
            return
        except sa.exc.SQLAlchemyError as exc:
            flash_exception(SLOT, logger, f"Not saved: the database failed while moving "
                            f"{names_phrase(who)}. Nobody was moved.", exc)  # fmt: skip
            return
        forget_editor(ids)
        already = len(ids) - moved
        rest = f" ({already} already there)" if already else ""
        flash(SLOT, "success", f"Moved {moved} to {label}{rest}: {names_phrase(who)}.")

    def remove(ids: list[int], who: list[str], confirmed: bool) -> None:
        clear_flash(SLOT)
        st.session_state.pop(CONFIRM, None)
        try:
            removed = partners.remove_partners(engine, practice.id, ids, confirmed=confirmed)
        except partners.ConfirmationRequired as exc:
            st.session_state[CONFIRM] = (list(ids), list(who), str(exc))
            return
        except partners.PartnerError as exc:
            flash(SLOT, "error", f"Not removed. {exc}")
            return
        except sa.exc.SQLAlchemyError as exc:
            flash_exception(SLOT, logger, f"Not removed: the database failed while removing "
                            f"{names_phrase(who)}. Nobody was removed.", exc)  # fmt: skip
            return
        forget_editor(ids)
        flash(SLOT, "success", f"Removed {removed} from the list: {names_phrase(who)}. Their "
              "referrals stay in the log.")  # fmt: skip

    c1, c2, c3 = st.columns([2, 2, 2], vertical_alignment="bottom")
    c1.selectbox(
        "Move selected to",
        playbook.STAGES,
        format_func=playbook.STAGE_LABELS.get,
        key="_w_bulk_stage",
    )
    c2.button(
        f"Move {len(chosen)} selected: {names_phrase(names)}" if chosen else "Move selected",
        disabled=not chosen,
        on_click=move,
        args=(chosen, names),
        key="move_selected",
    )
    c3.button(
        f"Remove {len(chosen)} selected: {names_phrase(names)}" if chosen else "Remove selected",
        disabled=not chosen,
        on_click=remove,
        args=(chosen, names, False),
        key="remove_selected",
        help="Referrals already logged with these providers stay in the referral log.",
    )
    if len(chosen) > 1:  # a narrow button cuts its label short; the list here is whole
        st.caption(f"Selected: {', '.join(names)}")
    pending = st.session_state.get(CONFIRM)
    if pending and pending[0] != chosen:  # the question was about another selection
        st.session_state.pop(CONFIRM, None)
        pending = None
    if pending:
        ids, who, question = pending
        with st.container(border=True, key="confirm_remove_box"):
            st.warning(question, icon=":material/warning:")
            a, b = st.columns(2)
            a.button(
                f"Yes, remove {len(ids)}: {names_phrase(who)}",
                type="primary",
                key="confirm_remove",
                on_click=remove,
                args=(ids, who, True),
            )
            b.button(
                "Cancel",
                key="cancel_remove",
                on_click=lambda: st.session_state.pop(CONFIRM, None),
            )


def partner_section(
    engine: Engine,
    practice: Practice,
    everyone: pd.DataFrame,
    shown_in_order: pd.DataFrame,
    today: date,
    staff_default: str,
) -> None:
    """The picked partner's editor, an activity form for it, and its timeline."""
    pid = partner_picker(shown_in_order)
    if pid is None:
        return
    row = everyone.set_index("partner_id").loc[pid].copy()
    row["partner_id"] = pid
    left, right = st.columns([3, 2], gap="large")
    with left:
        partner_editor(engine, practice, row, today)
        st.markdown("##### Log an activity with this partner")
        activity_form(engine, practice, f"p{pid}", {}, fixed_partner=pid,
                      default_staff=row["owner"] or staff_default)  # fmt: skip
    with right:
        st.markdown("##### Timeline")
        timeline_view(outreach.timeline(engine, practice.id, pid))


def pipeline_tab(
    engine: Engine, practice: Practice, everyone: pd.DataFrame, today: date, staff_default: str
) -> None:
    if everyone.empty:
        st.info("No targets yet. Click a provider on the **Provider map** and press "
                "**Add to targets**.")  # fmt: skip
        return
    stage_metrics(partners.stage_counts(everyone))
    groups, owners, stages = pipeline_filters(everyone)
    shown = partners.filter_partners(everyone, groups, owners, stages)
    view = pipeline_view(shown)
    st.caption(
        f"{len(shown)} of {len(everyone)} partners, grouped by stage. **Active** comes from the "
        "referral log (a referral in the last 90 days). "
        + ("Select rows to move or remove them; select one" if can_write() else "Select one")
        + " to open it below."
    )
    chosen = pipeline_table(view)
    bulk_actions(engine, practice, view, chosen)
    csv_download("Download target list (CSV)", targets_export(shown),
                 f"targets-{today.isoformat()}.csv", "targets_csv")  # fmt: skip
    st.divider()
    in_view_order = shown.set_index("partner_id").loc[view["partner_id"]].reset_index()
    partner_section(engine, practice, everyone, in_view_order, today, staff_default)
