"""The Settings page's "Location" section: place or move the practice on a map by hand.

It is the page's only map, so it is kept apart from the details form: it draws a folium map
centred on the practice (else its ZIP code, else the whole country), copies a click into the
coordinate fields, and saves through the placement callbacks of components/practice_save.py.
"""

from __future__ import annotations

import folium
import streamlit as st
from sqlalchemy.engine import Engine
from streamlit_folium import st_folium

from components.practice_save import place_typed, place_zip
from components.practice_state import NEW
from components.provider_map import localize_assets
from components.shell import can_write
from services.practices import Practice
from services.zipcentroids import centroid

US_CENTER = (39.5, -98.35)


def location_section(engine: Engine, chosen: Practice | None, pending: dict | None) -> None:
    """Manual placement, for an address no geocoder found or a location the user wants to move.

    It opens by itself only while a save is pending on it; the approximate ZIP-centre offer is
    made only then, so a placed practice is never silently moved to a centroid.
    """
    if not can_write("owner", chosen.id if chosen is not None else NEW):
        return  # moving the practice is an owner's edit (the form above says read-only)
    title = "Place the practice" if pending is not None else "Location"
    with st.expander(title, expanded=pending is not None):
        if chosen is not None and chosen.located and pending is None:
            st.write(f"Now at {chosen.lat:.5f}, {chosen.lon:.5f}. To move it, click the map or "
                     "type coordinates.")  # fmt: skip
        zc = centroid(st.session_state.get("set_zip"))
        if chosen is not None and chosen.located:
            center, zoom = (chosen.lat, chosen.lon), 15
        elif zc is not None:
            center, zoom = (zc.lat, zc.lon), 13
        else:
            center, zoom = US_CENTER, 4
        m = folium.Map(location=center, zoom_start=zoom, tiles="OpenStreetMap")
        if chosen is not None and chosen.located:
            folium.Marker((chosen.lat, chosen.lon), tooltip="Current location").add_to(m)
        localize_assets(m)
        returned = st_folium(m, height=320, returned_objects=["last_clicked"], key="place_map")
        click = (returned or {}).get("last_clicked")
        if isinstance(click, dict) and click != st.session_state.get("settings_last_click"):
            st.session_state["settings_last_click"] = click
            st.session_state["set_lat"] = round(float(click["lat"]), 6)
            st.session_state["set_lon"] = round(float(click["lng"]), 6)
        st.session_state.setdefault("set_lat", round(center[0], 6))
        st.session_state.setdefault("set_lon", round(center[1], 6))
        c1, c2 = st.columns(2)
        c1.number_input("Latitude", min_value=-90.0, max_value=90.0, format="%.6f", key="set_lat")
        c2.number_input(
            "Longitude", min_value=-180.0, max_value=180.0, format="%.6f", key="set_lon"
        )
        b1, b2 = st.columns(2)
        b1.button("Place practice here", key="set_place", on_click=place_typed, args=(engine,))
        if zc is not None and pending is not None:
            b2.button(
                f"Use the centre of ZIP {zc.zip_code} (approximate)",
                key="set_place_zip",
                on_click=place_zip,
                args=(engine, zc.lat, zc.lon),
            )
        st.caption("Map data © OpenStreetMap contributors.")
