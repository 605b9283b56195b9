"""Progress: where we are against the playbook, what moved in the period, who went quiet, and
the staff-meeting slides.

The widgets are gathered in `components/progress_view.py` (their session-state keys are in
`components/progress_controls.py`); the staff-meeting slides in `components/meeting_mode.py`.
"""

from __future__ import annotations

from datetime import date

import streamlit as st

from components import meeting_mode
from components import progress_view as ui
from components.shell import page_preamble
from services.progress_data import group_of

engine, practice = page_preamble("Progress")
group = group_of(engine, practice.id)
if not group:
    st.info("Pick a practice in the sidebar.")
    st.stop()
by_id = {p.id: p for p in group}
today = date.today()

scope, first, last, meeting = ui.controls(practice.id, group, by_id, today)
view = {**ui.load_view(engine, by_id, scope, first, last, today, meeting), "period": (first, last)}

if meeting:
    meeting_mode.meeting_mode(view, engine, practice.id, today)
    st.stop()

ui.overview(view)
ui.funnel_tiles(view)
ui.chart_grid(view["charts"], last)
ui.partners_section(view, engine, practice.id, today)
ui.roi_panel(view)
ui.export_buttons(view, ui.scope_label(group, by_id, scope), first, last)
