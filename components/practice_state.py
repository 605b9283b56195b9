"""The Settings form's session state: which practice it edits, its fields, the current practice.

Every practice change happens in a button callback (components/practice_setup.py says why),
and the callbacks of the lookup, save, placement and delete modules all read and write the same
widget keys; keeping those keys and the helpers that fill, read and re-point them in one module
lets each callback module stay about its own job without importing another's.

Session-state keys: "settings_pick" (the practice being edited, NEW for a new one),
"_settings_filled" (which practice the form fields hold), the "settings" flash slot
(components/feedback.py: a callback's outcome, shown once on the next run),
"settings_pending" (an address no geocoder found, awaiting manual placement),
"settings_last_click" (the map click already copied into the coordinates); the form's widget
keys start with "set_".
"""

from __future__ import annotations

from datetime import date

import streamlit as st
from sqlalchemy.engine import Engine

from components import feedback
from services.practices import Practice, PracticeInput, get_practice

NEW = 0  # the picker's "new practice" entry
FLASH = "settings"
FIELDS = ("set_npi", "set_name", "set_address", "set_city", "set_state", "set_zip")


def fill_form(engine: Engine, practice_id: int) -> None:
    """Load a practice (or blanks for a new one) into the form's widget keys."""
    p = get_practice(engine, practice_id) if practice_id else None
    st.session_state["set_npi"] = (p.npi if p else "") or ""
    st.session_state["set_name"] = p.name if p else ""
    st.session_state["set_address"] = (p.address if p else "") or ""
    st.session_state["set_city"] = (p.city if p else "") or ""
    st.session_state["set_state"] = (p.state if p else "") or ""
    st.session_state["set_zip"] = (p.zip if p else "") or ""
    st.session_state["set_start"] = (p.playbook_start if p else None) or date.today()
    st.session_state["set_radius"] = float(p.default_radius_mi if p else 5.0)
    st.session_state["set_rpv"] = p.revenue_per_visit if p else None
    st.session_state.pop("settings_pending", None)


def make_current(practice_id: int | None) -> None:
    """Point the sidebar at a practice (callback only: it sets the picker's widget state)."""
    st.session_state["practice_id"] = practice_id
    if practice_id is not None:
        st.session_state["_w_practice"] = practice_id
    st.session_state.pop("selected_npi", None)
    for key in ("map_radius_mi", "map_groups"):  # the map re-reads the practice's default
        st.session_state.pop(key, None)


def form_input(lat: float | None = None, lon: float | None = None, source: str | None = None,
               precision: str | None = None) -> PracticeInput:  # fmt: skip
    s = st.session_state
    return PracticeInput(
        name=s.get("set_name", ""), npi=s.get("set_npi"), address=s.get("set_address"),
        city=s.get("set_city"), state=s.get("set_state"), zip=s.get("set_zip"),
        playbook_start=s.get("set_start"), default_radius_mi=s.get("set_radius", 5.0),
        revenue_per_visit=s.get("set_rpv"),
        lat=lat, lon=lon, geocode_source=source, geocode_precision=precision,
    )  # fmt: skip


def sync_pick(engine: Engine, real: dict[int, Practice]) -> int:
    """Settle which practice the form edits, refilling the fields only when that changes.

    A pick that no longer exists (deleted, or the demo) falls back to the current practice, so
    the form never shows a stale record; refilling only on a change keeps unsaved typing.
    """
    current = st.session_state.get("practice_id")
    if st.session_state.get("settings_pick") not in (NEW, *real):
        st.session_state["settings_pick"] = current if current in real else NEW
    pick = st.session_state["settings_pick"]
    if "set_name" not in st.session_state or st.session_state.get("_settings_filled") != pick:
        fill_form(engine, pick)
        st.session_state["_settings_filled"] = pick
    st.session_state["_w_settings_pick"] = pick
    return pick


def show_flash() -> None:
    """Show the last callback's outcome once: callbacks run before the page, so they leave it.

    A practice created from the map's "Start with your own practice" leaves "map_autostart"
    behind; a callback cannot switch pages, so the script does it here, back to the map.
    """
    if st.session_state.get("map_autostart") is not None:
        st.switch_page("pages/map.py")  # a callback cannot switch pages; the script can
    feedback.show_flash(FLASH, once=True)
