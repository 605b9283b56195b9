"""The Visit planner tab: a day's stops in a short order from the practice, with a Google Maps
link that drives it."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from services import routes
from services.practices import Practice
from services.targets_view import partner_labels, route_candidates, route_stops, route_table


def planner_panel(practice: Practice, df: pd.DataFrame) -> None:
    if not practice.located:
        st.info("The practice has no location yet, so a route cannot start from it.")
        return
    candidates = route_candidates(df)
    labels = partner_labels(candidates)
    chosen = st.multiselect(
        "Stops for the day",
        list(labels),
        format_func=labels.get,
        key="_w_route_stops",
        max_selections=routes.MAX_WAYPOINTS,
        placeholder="Choose the partners to visit",
        help=f"Up to {routes.MAX_WAYPOINTS} stops (what a Google Maps link can carry).",
    )
    round_trip = st.checkbox("Back to the practice at the end", value=True, key="_w_route_back")
    if not chosen:
        st.info("Choose two or more partners to plan a route.")
        return
    start = routes.Stop("practice", practice.name, practice.lat, practice.lon)  # type: ignore[arg-type]
    try:
        route = routes.plan_route(start, route_stops(candidates, chosen), round_trip=round_trip)
        url = routes.google_maps_url(route)
    except routes.RouteError as exc:
        st.error(str(exc))
        return
    st.dataframe(route_table(route, candidates), hide_index=True, key="route_table")
    back = f" including {route.legs_mi[-1]:.1f} mi back to the practice" if round_trip else ""
    st.metric("Total distance", f"{route.total_mi:.1f} mi")
    st.caption(f"Straight-line miles{back}; driving distance will be longer.")
    st.link_button("Open in Google Maps", url, icon=":material/directions_car:", type="primary")
