"""The Progress page's partner lists: who went quiet and referrer loyalty, the two lists a
meeting acts on.

Kept apart from the charts and metric cards: these are tables of named partners with actions
(the quiet list logs outreach), not figures.
"""

from __future__ import annotations

from datetime import date

import streamlit as st
from sqlalchemy.engine import Engine

from components.quiet_list import quiet_list
from services.metrics import DEFINITIONS


def loyalty_table(view: dict, key: str) -> None:
    frame = view["loyalty"]
    if frame.empty:
        st.caption("Partners appear here once they send referrals in this period.")
        return
    st.dataframe(
        frame.drop(columns=["npi"]),
        hide_index=True,
        width="stretch",
        key=key,
        column_config={
            "name": "Partner",
            "received": st.column_config.NumberColumn("Referrals to us"),
            "went_elsewhere": st.column_config.NumberColumn("Went elsewhere"),
            "kept_share": st.column_config.ProgressColumn(
                "Share we received", format="percent", min_value=0.0, max_value=1.0
            ),
            "label": st.column_config.TextColumn("Label", help=DEFINITIONS["loyalty"]),
        },
    )


def partners_section(view: dict, engine: Engine, practice_id: int, today: date) -> None:
    """Who went quiet and referrer loyalty: the two partner lists a meeting acts on."""
    left, right = st.columns(2)
    with left:
        st.subheader("Who went quiet", help=DEFINITIONS["quiet"])
        quiet_list(engine, practice_id, view["quiet"], today, key="progress")
    with right:
        st.subheader("Referrer loyalty", help=DEFINITIONS["loyalty"])
        loyalty_table(view, "progress_loyalty")
