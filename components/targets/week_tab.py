"""The This week tab: outreach visits against the playbook's pace, the last weeks' visits, and
the playbook's weekly steps."""

from __future__ import annotations

from datetime import date

import pandas as pd
import streamlit as st

from services import outreach, playbook
from services.metrics import DEFINITIONS


def week_panel(acts: pd.DataFrame, checklist: list[outreach.ChecklistItem], today: date) -> None:
    low, high = playbook.VISITS_PER_WEEK
    visits = outreach.visits_in_week(acts, today)
    monday, sunday = outreach.week_of(today)
    status = outreach.cadence_status(visits)
    c1, c2 = st.columns([1, 2])
    with c1, st.container(border=True, key="week_visits"):
        st.metric(
            f"Outreach visits this week ({monday:%b} {monday.day}–{sunday:%b} {sunday.day})",
            f"{visits} of {low}–{high}",
            help=DEFINITIONS["outreach_visits"] + " The playbook's pace is 2–3 a week.",
        )
        st.progress(min(1.0, visits / high))
        st.caption(
            {
                "below": f"{low - visits} more to reach the playbook's pace.",
                "on": "On the playbook's pace.",
                "above": "Above the playbook's pace.",
            }[status]
        )
    with c2:
        weekly = outreach.weekly_visits(acts, today).assign(
            week=lambda d: d["week_of"].map(lambda w: f"{w:%b} {w.day}")
        )
        st.bar_chart(
            weekly,
            x="week",
            y="visits",
            height=190,
            x_label="Week of",
            y_label="Outreach visits",
            sort=False,
        )
    st.markdown("##### The playbook's weekly steps")
    with st.container(border=True, key="weekly_checklist"):
        for item in checklist:
            icon = (
                ":green[:material/check_circle:]"
                if item.done
                else ":orange[:material/radio_button_unchecked:]"
            )
            st.markdown(f"{icon} {item.label}", help=item.detail or None)
