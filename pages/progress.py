"""Progress: where we are against the playbook, what moved this month, and the meeting view.

The widgets and their session-state keys live in `components/progress_view.py`.
"""

from __future__ import annotations

from datetime import date

import streamlit as st

from components import progress_view as ui
from components.session import get_engine
from components.shell import ensure_app_shell
from services.progress_data import group_of

ensure_app_shell()

practice_id = st.session_state.get("practice_id")
st.title("Progress")
if practice_id is None:
    st.info("Pick a practice in the sidebar.")
    st.stop()
engine = get_engine()
group = group_of(engine, int(practice_id))
if not group:
    st.info("Pick a practice in the sidebar.")
    st.stop()
by_id = {p.id: p for p in group}
today = date.today()

scope, first, last, meeting = ui.controls(int(practice_id), group, by_id, today)
view = ui.load_view(engine, by_id, scope, first, last, today, meeting)

if meeting:
    ui.meeting_mode(view)
    st.stop()

ui.overview(view)
ui.chart_grid(view["charts"], last)
ui.roi_panel(view)
ui.export_buttons(view, ui.scope_label(group, by_id, scope), first, last)
