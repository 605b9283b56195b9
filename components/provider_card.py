"""The selected provider's card: details, the parts of its score, and "Add to targets"."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
import streamlit as st

from components.text import md_escape
from services.scoring import score_parts


def provider_card(row: pd.Series, radius_mi: float, on_add: Callable[[list[str]], None]) -> None:
    parts = score_parts(
        row["specialty_group"],
        float(row["distance_mi"]),
        radius_mi,
        stage=row["stage"] if isinstance(row["stage"], str) else None,
        active=bool(row["active"]),
    )
    with st.container(border=True, key="provider_card"):
        st.markdown(f"#### {md_escape(row['display_name'])}")
        st.markdown(f"{md_escape(row['specialty'])}  \n**{md_escape(row['group_label'])}**")
        address = ", ".join(
            str(v) for v in (row["address"], row["city"], row["state"], row["zip"]) if v
        )
        approx = " (approximate: ZIP centroid)" if row["geocode_precision"] == "zip" else ""
        st.markdown(
            f"{md_escape(address)}  \n"
            f"Phone: {md_escape(row['phone'] or '—')}  \n"
            f"Distance: {row['distance_mi']:.1f} mi{approx}  \nNPI {md_escape(row['npi'])}"
        )
        st.markdown("**Referral potential**")
        st.table(pd.DataFrame(parts.as_rows(), columns=["Part", "Value"]).set_index("Part"))
        st.caption(
            "Score = 100 × specialty weight × distance decay (half at the radius edge) × "
            "volume factor × relationship factor."
        )
        if bool(row["on_list"]):
            st.success(f"On your list · stage: {row['stage']}", icon=":material/check_circle:")
        else:
            st.button(
                "Add to targets",
                key="add_to_targets",
                type="primary",
                on_click=on_add,
                args=([str(row["npi"])],),
                icon=":material/add:",
            )
