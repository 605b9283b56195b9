"""Targets: the liaison's daily tool. The pipeline by stage, each partner's editor and timeline,
activities and follow-ups, the week against the playbook, letters, a visit route, exports."""

from __future__ import annotations

from datetime import date

import streamlit as st

from components import pipeline as ui
from components.session import current_practice, get_engine
from components.shell import ensure_app_shell
from services import outreach, partners

ensure_app_shell()

practice = current_practice()
st.title("Targets")
if practice is None:
    st.info("Pick a practice in the sidebar.")
    st.stop()
engine = get_engine()
today = date.today()

everyone = partners.list_partners(engine, practice.id, today)
acts = outreach.activities_frame(engine, practice.id)
staff_default = next((o for o in everyone["owner"].dropna() if o), "")
ui.show_flash()


def pipeline_tab() -> None:
    if everyone.empty:
        st.info("No targets yet. Click a provider on the **Provider map** and press "
                "**Add to targets**.")  # fmt: skip
        return
    ui.stage_metrics(partners.stage_counts(everyone))
    groups, owners, stages = ui.pipeline_filters(everyone)
    shown = partners.filter_partners(everyone, groups, owners, stages)
    view = ui.pipeline_view(shown)
    st.caption(
        f"{len(shown)} of {len(everyone)} partners, grouped by stage. **Active** comes from the "
        "referral log (a referral in the last 90 days). Select rows to move or remove them; "
        "select one to open it below."
    )
    chosen = ui.pipeline_table(view)
    ui.bulk_actions(engine, practice, chosen)
    ui.csv_download("Download target list (CSV)", ui.targets_export(shown),
                    f"targets-{today.isoformat()}.csv", "targets_csv")  # fmt: skip
    st.divider()
    in_view_order = shown.set_index("partner_id").loc[view["partner_id"]].reset_index()
    pid = ui.partner_picker(in_view_order)
    if pid is None:
        return
    row = everyone.set_index("partner_id").loc[pid].copy()
    row["partner_id"] = pid
    left, right = st.columns([3, 2], gap="large")
    with left:
        ui.partner_editor(engine, practice, row, today)
        st.markdown("##### Log an activity with this partner")
        ui.activity_form(engine, practice, f"p{pid}", {}, fixed_partner=pid,
                         default_staff=row["owner"] or staff_default)  # fmt: skip
    with right:
        st.markdown("##### Timeline")
        ui.timeline_view(outreach.timeline(engine, practice.id, pid))


def activities_tab() -> None:
    c1, c2 = st.columns(2)
    with c1:
        st.markdown("##### Overdue follow-ups")
        ui.follow_up_table(outreach.overdue(acts, today), "overdue_table", "Nothing overdue.")
    with c2:
        st.markdown("##### Due this week")
        ui.follow_up_table(outreach.due_this_week(acts, today), "due_table",
                           "Nothing else due this week.")  # fmt: skip
    st.markdown("##### Log an activity")
    ui.activity_form(engine, practice, "any", ui.partner_labels(everyone),
                     default_staff=staff_default)  # fmt: skip
    st.markdown("##### Activity log")
    ui.activity_log(acts)
    ui.csv_download("Download activities (CSV)", outreach.activities_export(acts),
                    f"activities-{today.isoformat()}.csv", "activities_csv")  # fmt: skip


# Lazy tabs: only the open one runs, so a click in the pipeline does not rebuild letters,
# routes and the checklist. The open tab's label is st.session_state["targets_tab"].
tabs = st.tabs(
    ["Pipeline", "Activities", "This week", "Letters", "Visit planner"],
    key="targets_tab",
    on_change="rerun",
)
draw = [
    pipeline_tab,
    activities_tab,
    lambda: ui.week_panel(acts, outreach.weekly_checklist(engine, practice, today, acts), today),
    lambda: ui.letters_panel(engine, practice, everyone, today, staff_default),
    lambda: ui.planner_panel(practice, everyone),
]
for tab, body in zip(tabs, draw, strict=True):
    if tab.open:
        with tab:
            body()
