"""The Activities tab: overdue and due follow-ups, the activity form, the log and its export."""

from __future__ import annotations

from datetime import date

import pandas as pd
import streamlit as st
from sqlalchemy.engine import Engine

from components.targets.activity_form import activity_form
from components.targets.common import csv_download
from services import outreach
from services.practices import Practice
from services.targets_view import follow_ups_view, partner_labels


def follow_up_table(df: pd.DataFrame, key: str, empty: str) -> None:
    if df.empty:
        st.caption(empty)
        return
    st.dataframe(follow_ups_view(df), hide_index=True, key=key)


def activity_log(acts: pd.DataFrame) -> None:
    if acts.empty:
        st.caption("No activities logged yet.")
        return
    st.dataframe(
        outreach.activities_export(acts),
        hide_index=True,
        key="activity_log",
        column_config={"Notes": st.column_config.TextColumn(width="large")},
    )


def activities_tab(
    engine: Engine,
    practice: Practice,
    everyone: pd.DataFrame,
    acts: pd.DataFrame,
    today: date,
    staff_default: str,
) -> None:
    c1, c2 = st.columns(2)
    with c1:
        st.markdown("##### Overdue follow-ups")
        follow_up_table(outreach.overdue(acts, today), "overdue_table", "Nothing overdue.")
    with c2:
        st.markdown("##### Due this week")
        follow_up_table(outreach.due_this_week(acts, today), "due_table",
                        "Nothing else due this week.")  # fmt: skip
    st.markdown("##### Log an activity")
    activity_form(engine, practice, "any", partner_labels(everyone), default_staff=staff_default)
    st.markdown("##### Activity log")
    activity_log(acts)
    csv_download("Download activities (CSV)", outreach.activities_export(acts),
                 f"activities-{today.isoformat()}.csv", "activities_csv")  # fmt: skip
