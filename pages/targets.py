"""Targets: the liaison's daily tool. The pipeline by stage, each partner's editor and timeline,
activities and follow-ups, the week against the playbook, letters, a visit route, exports."""

from __future__ import annotations

from datetime import date

import streamlit as st

from components.feedback import show_flash
from components.quiet_list import quiet_section
from components.shell import page_preamble
from components.targets.activities_tab import activities_tab
from components.targets.common import SLOT
from components.targets.letters_tab import letters_panel
from components.targets.pipeline_tab import pipeline_tab
from components.targets.planner_tab import planner_panel
from components.targets.week_tab import week_panel
from services import outreach, partners

engine, practice = page_preamble("Targets")
today = date.today()

everyone = partners.list_partners(engine, practice.id, today)
acts = outreach.activities_frame(engine, practice.id)
staff_default = next((o for o in everyone["owner"].dropna() if o), "")
show_flash(SLOT)

# Lazy tabs: only the open one runs, so a click in the pipeline does not rebuild letters,
# routes and the checklist. The open tab's label is st.session_state["targets_tab"].
tabs = st.tabs(
    ["Pipeline", "Activities", "This week", "Letters", "Visit planner"],
    key="targets_tab",
    on_change="rerun",
)
draw = [
    lambda: pipeline_tab(engine, practice, everyone, today, staff_default),
    lambda: activities_tab(engine, practice, everyone, acts, today, staff_default),
    lambda: (
        week_panel(acts, outreach.weekly_checklist(engine, practice, today, acts), today),
        quiet_section(engine, practice.id, today),  # who went quiet: a visit is one click
    ),
    lambda: letters_panel(engine, practice, everyone, today, staff_default),
    lambda: planner_panel(practice, everyone),
]
for tab, body in zip(tabs, draw, strict=True):
    if tab.open:
        with tab:
            body()
