"""The provider map page's body: filters, the first-run invitation or the live search, the
map and the selected provider (the lists below the map are in components/map_lists.py).

Layout: the map takes the full width and most of the window's height (CSS below sizes its
frame from the viewport); the colour key sits under it, never over a dot; the selected
provider's card, the suggestion review and the table follow below the map.

Every change happens in a callback, before the script draws, so the map and the table drawn
next already show it. The map itself is never re-created by those changes (see
components/provider_map.py): only its provider layer is updated in place.

Session-state keys: "map_radius_mi", "map_groups" (plain copies of the filters: widget keys
are dropped on a page change), "selected_npi", "map_last_click", "map_here" (the providers
under the last click), "map_autostart" (set by the practice set-up when it was reached from
the map's first-run invitation), "flash:map".
"""

from __future__ import annotations

import pandas as pd
import streamlit as st
from sqlalchemy.engine import Engine
from streamlit_folium import st_folium

from components import feedback
from components.live_search import live_search_panel
from components.map_lists import add_providers, provider_table, suggestion_section
from components.provider_card import provider_card
from components.provider_map import (
    RETURNED_OBJECTS,
    build_map,
    clicked_here,
    co_located,
    legend_html,
)
from components.session import bump_provider_revision, provider_universe
from services import area_search, auth
from services.geo import RADIUS_MAX_MI, RADIUS_MIN_MI, clamp_radius, radius_error
from services.practices import Practice
from services.providers import partner_status, providers_near
from services.specialties import GROUPS, GROUPS_BY_KEY, scored_group_keys

SLOT = "map"
MAP_HEIGHT = 620  # the frame's fallback height; the CSS below fits it to the window
MAP_CSS = """
<style>
iframe[title="streamlit_folium.st_folium"] {
    height: clamp(440px, calc(100vh - 400px), 900px) !important;
}
</style>
"""


# ---- filters ---------------------------------------------------------------------------------


def _copy(widget_key: str, plain_key: str) -> None:
    st.session_state[plain_key] = st.session_state[widget_key]
    feedback.clear_flash(SLOT)


def filters(practice: Practice) -> tuple[float, list[str]]:
    """The radius and specialty groups, sanitised on every run, so a bad query string or stale
    state can never reach the widgets."""
    if "map_radius_mi" not in st.session_state:
        from_query = st.query_params.get("radius")
        radius = clamp_radius(from_query, practice.default_radius_mi)
        if from_query is not None and radius_error(from_query):
            st.warning(f"Ignored the radius in the address: {radius_error(from_query)}")
        st.session_state["map_radius_mi"] = radius
    radius = clamp_radius(st.session_state.get("map_radius_mi"), practice.default_radius_mi)
    st.session_state["map_radius_mi"] = st.session_state["_w_radius"] = radius

    groups_raw = st.session_state.get("map_groups")
    if not isinstance(groups_raw, list | tuple):
        groups_raw = scored_group_keys()
    groups = [g for g in groups_raw if isinstance(g, str) and g in GROUPS_BY_KEY]
    st.session_state["map_groups"] = st.session_state["_w_groups"] = groups

    c1, c2 = st.columns([1, 3])
    c1.slider(
        "Radius (miles)",
        min_value=RADIUS_MIN_MI,
        max_value=RADIUS_MAX_MI,
        step=0.5,
        format="%.1f mi",
        key="_w_radius",
        on_change=_copy,
        args=("_w_radius", "map_radius_mi"),
    )
    c2.multiselect(
        "Specialty groups",
        options=[g.key for g in GROUPS],
        format_func=lambda k: GROUPS_BY_KEY[k].label,
        key="_w_groups",
        on_change=_copy,
        args=("_w_groups", "map_groups"),
        placeholder="Choose specialty groups",
    )
    return radius, groups


# ---- actions ---------------------------------------------------------------------------------


def _pick_here() -> None:
    st.session_state["selected_npi"] = st.session_state["_w_here"]


# ---- first run -------------------------------------------------------------------------------


def first_run_invitation() -> None:
    """On the demo, the way to the owner's own practice: set it up, come back, search. Only
    an instance owner may create a practice, so nobody else is invited to."""
    if not auth.current_actor().is_instance_owner:
        return
    with st.container(border=True, key="first_run"):
        c1, c2 = st.columns([3, 1], vertical_alignment="center")
        c1.markdown(
            "**This is demo data.** Set up your own practice (its NPI or address is enough), "
            "and the map will search the NPI Registry for the doctors around it."
        )
        if c2.button("Start with your own practice", type="primary", key="start_own"):
            st.session_state["setup_from_map"] = True
            st.switch_page("pages/settings.py")


# ---- the map ---------------------------------------------------------------------------------


def provider_map(practice: Practice, near: pd.DataFrame, radius: float) -> dict | None:
    """Draw the map (full width) and its key; return st_folium's value."""
    st.markdown(MAP_CSS, unsafe_allow_html=True)
    colour_by = "group"
    if "shared_label" in near and near["shared_label"].notna().any():  # pairs were imported
        shared = st.toggle(
            "Colour by shared patients with PT competitors", key="map_colour_shared",
            help="From the imported shared-patient data: red dots already send patients to a "
            "PT competitor and none to you.",
        )  # fmt: skip
        colour_by = "shared" if shared else "group"
    pm = build_map(
        practice, near, radius, selected=st.session_state.get("selected_npi"), colour_by=colour_by
    )
    returned = st_folium(
        pm.base,
        feature_group_to_add=pm.layers,
        returned_objects=RETURNED_OBJECTS,
        height=MAP_HEIGHT,
        use_container_width=True,
        key="provider_map",
    )
    on_list = int(near["on_list"].sum())
    st.html(legend_html(colour_by))
    st.caption(
        f"{len(near)} providers within {radius:g} mi · {on_list} on your list · click a dot "
        "to see the provider below the map. Map data © OpenStreetMap contributors."
    )
    return returned


def take_click(returned: dict | None, near: pd.DataFrame) -> None:
    """A click is new when its (NPI, click count) differs from the last one taken, so returning
    to the page or selecting in the table is not overridden by an old map click."""
    known = set(near["npi"])
    here = clicked_here(returned, known)
    if not here:
        return
    click = (here[0], (returned or {}).get("last_object_clicked_count"))
    if click == st.session_state.get("map_last_click"):
        return
    st.session_state["map_last_click"] = click
    st.session_state["selected_npi"] = here[0]
    same_spot = co_located(near, here[0])
    st.session_state["map_here"] = list(dict.fromkeys([*here, *same_spot]))


def selected_section(engine: Engine, practice: Practice, near: pd.DataFrame, radius: float) -> None:
    """The selected provider's card; when several providers stand where the user clicked, a
    picker over all of them first."""
    selected = st.session_state.get("selected_npi")
    rows = near[near["npi"] == selected]
    if rows.empty:
        st.info("Click a provider on the map to see their details and add them to your targets.")
        return
    here = [n for n in st.session_state.get("map_here", []) if n in set(near["npi"])]
    if len(here) > 1 and selected in here:
        labels = {
            r.npi: f"{r.display_name} · {r.group_label}" + (" · on your list" if r.on_list else "")
            for r in near[near["npi"].isin(here)].itertuples()
        }
        st.session_state["_w_here"] = selected
        st.radio(
            f"{len(here)} providers here",
            options=here,
            format_func=lambda n: labels.get(n, n),
            key="_w_here",
            on_change=_pick_here,
            horizontal=len(here) <= 3,
        )
    row = rows.iloc[0]

    def on_add(npis: list[str]) -> None:
        add_providers(engine, practice.id, npis, names=str(row["display_name"]))

    provider_card(row, radius, on_add=on_add)


# ---- the page --------------------------------------------------------------------------------


def map_page(engine: Engine, practice: Practice) -> None:
    radius, groups = filters(practice)
    if practice.is_demo:
        first_run_invitation()
    else:
        autostart = st.session_state.get("map_autostart") == practice.id
        st.session_state.pop("map_autostart", None)
        live_search_panel(
            engine,
            practice,
            radius,
            groups,
            on_finished=bump_provider_revision,
            autostart=autostart,
        )

    providers = provider_universe(practice)
    partners = partner_status(engine, practice.id)
    near = providers_near(providers, partners, practice.lat, practice.lon, radius, groups)
    if not practice.is_demo:
        new_npis, since = area_search.new_since_previous(engine, practice.id)
        near["new_since"] = [
            f"{since:%Y-%m-%d}" if since is not None and n in new_npis else "" for n in near["npi"]
        ]
    feedback.show_flash(SLOT)
    # The map's last value is in session state before the script runs: taking the click first
    # lets the map drawn in this run already ring the provider just clicked.
    take_click(st.session_state.get("provider_map"), near)
    returned = provider_map(practice, near, radius)
    take_click(returned, near)
    selected_section(engine, practice, near, radius)
    if near.empty:
        if providers.empty:
            return  # the search panel above says what to do next
        st.info("No providers in this radius and these groups: widen the radius or add groups.")
        return
    suggestion_section(engine, practice, near)
    provider_table(engine, practice, near)
