"""Targets: the practice's list of providers it is working on. Issue 4 grows it into the
pipeline; for now it lists the targets and removes them."""

from __future__ import annotations

import streamlit as st

from components.session import current_practice, get_engine
from services.partners import list_partners, remove_partner
from services.playbook import STAGE_LABELS
from services.specialties import group_label

practice = current_practice()
st.title("Targets")
if practice is None:
    st.info("Pick a practice in the sidebar.")
    st.stop()
engine = get_engine()

partners = list_partners(engine, practice.id)
if partners.empty:
    st.info(
        "No targets yet. Click a provider on the **Provider map** and press **Add to targets**."
    )
    st.stop()

counts = partners["stage"].value_counts()
cols = st.columns(len(STAGE_LABELS))
for col, (stage, label) in zip(cols, STAGE_LABELS.items(), strict=True):
    col.metric(label, int(counts.get(stage, 0)))

view = partners.assign(
    name=partners["name"] + partners["credential"].fillna("").map(lambda c: f", {c}" if c else ""),
    group=partners["specialty_group"].map(group_label),
    stage=partners["stage"].map(lambda s: STAGE_LABELS.get(s, s)),
    added=partners["added_at"].map(lambda d: d.date() if hasattr(d, "date") else d),
)[["partner_id", "npi", "name", "group", "stage", "owner", "city", "phone", "added"]]

selection = st.dataframe(
    view,
    hide_index=True,
    on_select="rerun",
    selection_mode="multi-row",
    key="targets_table",
    column_config={"partner_id": None, "npi": st.column_config.TextColumn("NPI")},
)
chosen = [int(view.iloc[i]["partner_id"]) for i in selection.selection.rows if i < len(view)]


def _remove(ids: list[int]) -> None:
    removed = sum(remove_partner(engine, practice.id, pid) for pid in ids)
    st.session_state["targets_flash"] = f"Removed {removed} from the list."


if msg := st.session_state.pop("targets_flash", None):
    st.success(msg)
st.button(
    f"Remove {len(chosen)} selected" if chosen else "Remove selected",
    disabled=not chosen,
    on_click=_remove,
    args=(chosen,),
    key="remove_selected",
    help="Referrals already logged with these providers stay in the referral log.",
)
