"""Saving a practice from the Settings form: validate, geocode a new address, or place it by hand.

Saving is where the form meets the geocoders, so it is kept apart from the form's layout: an
unchanged address keeps its location (which may have been placed by hand), a new one is looked
up, and an address no geocoder finds is left pending for manual placement (the map click,
typed coordinates, or the ZIP code's centre) rather than lost. A practice created from the
map's "Start with your own practice" sends the user back to the map with its search started.
The geocoders' failures reach the user as their plain sentences; anything unexpected is logged
with its traceback and shown with the log's reference.
"""

from __future__ import annotations

import logging

import streamlit as st
from sqlalchemy.engine import Engine

from components import feedback
from components.practice_state import FLASH, NEW, form_input, make_current
from components.session import bump_provider_revision
from components.text import md_escape
from services import geocoding
from services.practices import (
    PracticeError,
    PracticeInput,
    create_practice,
    get_practice,
    update_practice,
    validate_practice,
)

logger = logging.getLogger(__name__)


def _commit(engine: Engine, data: PracticeInput) -> None:
    pick = st.session_state.get("settings_pick", NEW)
    try:
        if pick:
            practice = update_practice(engine, pick, data)
            verb = "Saved"
        else:
            practice = create_practice(engine, data)
            verb = "Created"
    except PracticeError as exc:
        feedback.flash(FLASH, "error", "Not saved: " + " ".join(exc.problems))
        return
    st.session_state["settings_pick"] = st.session_state["_w_settings_pick"] = practice.id
    st.session_state.pop("settings_pending", None)
    make_current(practice.id)
    bump_provider_revision()
    where = {"address": "at its street address", "street": "on its street",
             "zip": "at its ZIP code's centre (approximate)"}.get(
        data.geocode_precision or "", "where you placed it")  # fmt: skip
    feedback.flash(FLASH, "success", f"{verb} **{md_escape(practice.name)}**, placed {where}.")
    if verb == "Created" and st.session_state.pop("setup_from_map", False):
        # Started from the map's "Start with your own practice": back there, search started.
        st.session_state["map_autostart"] = practice.id


def save(engine: Engine) -> None:
    """Validate, geocode if the address is new, then save; offer manual placement on failure."""
    data = form_input()
    try:
        validate_practice(data)
    except PracticeError as exc:
        feedback.flash(FLASH, "error", "Not saved: " + " ".join(exc.problems))
        return
    pick = st.session_state.get("settings_pick", NEW)
    old = get_practice(engine, pick) if pick else None
    clean = validate_practice(data)
    address = geocoding.Address(clean.address, clean.city, clean.state, clean.zip)
    if old is not None and old.located:
        same = geocoding.address_key(old.address, old.city, old.state, old.zip) == address.key
        if same:  # the address did not change: keep the location (maybe placed by hand)
            _commit(engine, form_input(old.lat, old.lon, old.geocode_source, old.geocode_precision))
            return
    try:
        result, messages = geocoding.geocode_one(engine, address, zip_fallback=False)
    except Exception as exc:  # the geocoders' own failures are messages; this is unexpected
        feedback.flash_exception(
            FLASH, logger, "Not saved: the address could not be looked up.", exc
        )
        return
    if result is not None:
        _commit(engine, form_input(result.lat, result.lon, result.source, result.precision))
        return
    st.session_state["settings_pending"] = {"messages": messages}
    offline = " ".join(messages)
    feedback.flash(
        FLASH,
        "warning",
        "We could not find this address"
        + (f" ({md_escape(offline)})" if offline else "")
        + ". Place the practice below: click the map or type its coordinates.",
    )


def _place(engine: Engine, lat: float, lon: float, source: str, precision: str) -> None:
    data = form_input()
    try:
        clean = validate_practice(data)
    except PracticeError as exc:
        feedback.flash(FLASH, "error", "Not saved: " + " ".join(exc.problems))
        return
    if source == "manual":
        geocoding.store_manual(
            engine, geocoding.Address(clean.address, clean.city, clean.state, clean.zip), lat, lon
        )
    _commit(engine, form_input(lat, lon, source, precision))


def place_typed(engine: Engine) -> None:
    """Save the practice at the typed (or map-clicked) coordinates, remembered for its address."""
    _place(engine, st.session_state["set_lat"], st.session_state["set_lon"], "manual", "address")


def place_zip(engine: Engine, lat: float, lon: float) -> None:
    """Save the practice at its ZIP code's centre, marked as approximate."""
    _place(engine, lat, lon, "zip_centroid", "zip")
