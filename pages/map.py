"""Provider map: who is near us that could send us patients?"""

from __future__ import annotations

import streamlit as st
from streamlit_folium import st_folium

from components.live_search import live_search_panel
from components.provider_card import provider_card
from components.provider_map import RETURNED_OBJECTS, build_map, clicked_npi
from components.session import (
    bump_provider_revision,
    current_practice,
    get_engine,
    provider_universe,
)
from components.shell import ensure_app_shell
from services import area_search
from services.geo import RADIUS_MAX_MI, RADIUS_MIN_MI, clamp_radius, radius_error
from services.partners import PartnerError, add_targets
from services.providers import partner_status, providers_near
from services.specialties import GROUPS, GROUPS_BY_KEY, scored_group_keys

ensure_app_shell()

practice = current_practice()
st.title("Provider map")
if practice is None or not practice.located:
    st.info("Pick a practice with a location in the sidebar to see the providers around it.")
    st.stop()
engine = get_engine()


def _copy(widget_key: str, plain_key: str) -> None:
    st.session_state[plain_key] = st.session_state[widget_key]


# Filters. Their values live in plain keys (widget keys are dropped on a page change) and are
# sanitised on every run, so a bad query string or stale state can never reach the widgets.
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

# Live data (real practices): search the NPI Registry around the practice, or refresh it.
# The search runs only when asked, in the background; offline, the page keeps what is saved.
if not practice.is_demo:
    live_search_panel(engine, practice, radius, groups, on_finished=bump_provider_revision)

providers = provider_universe(practice)
partners = partner_status(engine, practice.id)
near = providers_near(providers, partners, practice.lat, practice.lon, radius, groups)
known = set(near["npi"])
if not practice.is_demo:
    new_npis, since = area_search.new_since_previous(engine, practice.id)
    near["new_since"] = [
        f"{since:%Y-%m-%d}" if since is not None and n in new_npis else "" for n in near["npi"]
    ]


def _add(npis: list[str]) -> None:
    """Runs before the script, so the map and table drawn next already show the change."""
    try:
        added = add_targets(engine, practice.id, npis)
    except PartnerError as exc:
        st.session_state["map_flash"] = ("error", str(exc))
        return
    if added:
        st.session_state["map_flash"] = ("success", f"Added {len(added)} provider(s) to targets.")
    else:
        st.session_state["map_flash"] = ("info", "Already on your target list.")


kind, message = st.session_state.pop("map_flash", (None, None))
if kind:
    getattr(st, kind)(message)

map_col, card_col = st.columns([3, 2], gap="medium")
with map_col:
    pm = build_map(practice, near, radius)
    returned = st_folium(
        pm.base,
        feature_group_to_add=pm.layers,
        center=pm.center,
        zoom=pm.zoom,
        returned_objects=RETURNED_OBJECTS,
        height=560,
        use_container_width=True,
        key="provider_map",
    )
    on_list = int(near["on_list"].sum())
    st.caption(
        f"{len(near)} providers within {radius:g} mi · {on_list} on your list · "
        "click a dot to see the provider. Map data © OpenStreetMap contributors."
    )

# A click is new when its (NPI, click count) differs from the last one taken, so returning to
# the page or selecting in the table is not overridden by an old map click.
npi = clicked_npi(returned, known)
if npi:
    click = (npi, (returned or {}).get("last_object_clicked_count"))
    if click != st.session_state.get("map_last_click"):
        st.session_state["map_last_click"] = click
        st.session_state["selected_npi"] = npi

with card_col:
    selected = st.session_state.get("selected_npi")
    rows = near[near["npi"] == selected]
    if rows.empty:
        st.info("Click a provider on the map to see their details and add them to your targets.")
    else:
        provider_card(rows.iloc[0], radius, on_add=_add)

st.subheader("Providers in the radius, best first")
TABLE_COLUMNS = ["npi", "display_name", "group_label", "specialty", "distance_mi", "score"]
extra = ["new_since"] if "new_since" in near.columns else []
table = near[[*TABLE_COLUMNS, "stage", *extra, "city", "phone"]].rename(
    columns={"display_name": "name", "group_label": "group"}
)
if extra:
    table["new_since"] = ["new since " + d if d else "" for d in table["new_since"]]
selection = st.dataframe(
    table,
    hide_index=True,
    on_select="rerun",
    selection_mode="multi-row",
    key=f"near_table:{practice.id}",
    column_config={
        "npi": st.column_config.TextColumn("NPI"),
        "name": st.column_config.TextColumn("Name", width="medium"),
        "group": "Group",
        "specialty": "Specialty",
        "distance_mi": st.column_config.NumberColumn("Distance (mi)", format="%.1f"),
        "score": st.column_config.ProgressColumn(
            "Score", min_value=0, max_value=100, format="%.0f"
        ),
        "stage": st.column_config.TextColumn("On list"),
        "new_since": st.column_config.TextColumn("New"),
        "city": "City",
        "phone": "Phone",
    },
    height=360,
)
chosen = [table.iloc[i]["npi"] for i in selection.selection.rows if i < len(table)]
st.button(
    f"Add {len(chosen)} selected to targets" if chosen else "Add selected to targets",
    disabled=not chosen,
    on_click=_add,
    args=(chosen,),
    key="add_selected",
)
