"""The Settings page's practice set-up: picker, details form, placement and deletion.

Every change happens in a button callback: callbacks run before the script, so they may set
the sidebar picker's widget state (a new practice becomes the current one) and the form's
fields (an NPI lookup prefills them), which the script itself may not do once drawn. The
callbacks get the engine through `args=`, since they run outside the page's own variables.

Session-state keys: "settings_pick" (the practice being edited, NEW for a new one),
"_settings_filled" (which practice the form fields hold), the "settings" flash slot
(components/feedback.py: a callback's outcome, shown once on the next run),
"settings_pending" (an address no geocoder found, awaiting manual placement),
"settings_last_click" (the map click already copied into the coordinates); the form's widget
keys start with "set_". Network failures reach the user as the services' plain sentences;
anything unexpected is logged with its traceback and shown with the log's reference.
"""

from __future__ import annotations

import logging
from datetime import date

import folium
import streamlit as st
from sqlalchemy.engine import Engine
from streamlit_folium import st_folium

from components import feedback
from components.provider_map import localize_assets
from components.session import bump_provider_revision
from components.shell import can_write, writable
from components.text import md_escape
from services import geocoding
from services.geo import RADIUS_MAX_MI, RADIUS_MIN_MI
from services.npi import npi_error
from services.npi_registry import RegistryClient, RegistryError
from services.practices import (
    Practice,
    PracticeError,
    PracticeInput,
    create_practice,
    delete_practice,
    get_practice,
    list_practices,
    update_practice,
    validate_practice,
)
from services.zipcentroids import centroid

NEW = 0  # the picker's "new practice" entry
FLASH = "settings"
logger = logging.getLogger(__name__)
FIELDS = ("set_npi", "set_name", "set_address", "set_city", "set_state", "set_zip")
US_CENTER = (39.5, -98.35)


def _fill(engine: Engine, practice_id: int) -> None:
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


def _pick_changed(engine: Engine) -> None:
    st.session_state["settings_pick"] = st.session_state["_w_settings_pick"]
    _fill(engine, st.session_state["settings_pick"])


def _make_current(practice_id: int | None) -> None:
    """Point the sidebar at a practice (callback only: it sets the picker's widget state)."""
    st.session_state["practice_id"] = practice_id
    if practice_id is not None:
        st.session_state["_w_practice"] = practice_id
    st.session_state.pop("selected_npi", None)
    for key in ("map_radius_mi", "map_groups"):  # the map re-reads the practice's default
        st.session_state.pop(key, None)


def _lookup() -> None:
    """Prefill the form from the registry's record of the practice's own NPI."""
    npi = str(st.session_state.get("set_npi") or "").strip()
    problem = npi_error(npi)
    if problem:
        feedback.flash(FLASH, "error", f"NPI {md_escape(npi) or '(empty)'}: {problem}.")
        return
    try:
        record = RegistryClient(retries=1, backoff=0.3, timeout=(5, 15)).lookup(npi)
    except RegistryError as exc:  # the registry's failures are already in the app's words
        feedback.flash(FLASH, "warning", f"{exc} Type the name and address instead.")
        return
    except Exception as exc:  # anything else: logged with its traceback, a plain sentence here
        feedback.flash_exception(
            FLASH, logger, "The NPI lookup failed. Type the name and address instead.", exc
        )
        return
    if record is None:
        feedback.flash(FLASH, "warning", f"The NPI Registry has no provider with NPI {npi}.")
        return
    st.session_state["set_name"] = record.name[:200]
    st.session_state["set_address"] = record.address or ""
    st.session_state["set_city"] = (record.city or "").title()
    st.session_state["set_state"] = record.state or ""
    st.session_state["set_zip"] = record.zip or ""
    feedback.flash(
        FLASH,
        "success",
        f"Found **{md_escape(record.name)}** in the NPI Registry; check the details and save.",
    )


def _form_input(lat: float | None = None, lon: float | None = None, source: str | None = None,
                precision: str | None = None) -> PracticeInput:  # fmt: skip
    s = st.session_state
    return PracticeInput(
        name=s.get("set_name", ""), npi=s.get("set_npi"), address=s.get("set_address"),
        city=s.get("set_city"), state=s.get("set_state"), zip=s.get("set_zip"),
        playbook_start=s.get("set_start"), default_radius_mi=s.get("set_radius", 5.0),
        revenue_per_visit=s.get("set_rpv"),
        lat=lat, lon=lon, geocode_source=source, geocode_precision=precision,
    )  # fmt: skip


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
    _make_current(practice.id)
    bump_provider_revision()
    where = {"address": "at its street address", "street": "on its street",
             "zip": "at its ZIP code's centre (approximate)"}.get(
        data.geocode_precision or "", "where you placed it")  # fmt: skip
    feedback.flash(FLASH, "success", f"{verb} **{md_escape(practice.name)}**, placed {where}.")
    if verb == "Created" and st.session_state.pop("setup_from_map", False):
        # Started from the map's "Start with your own practice": back there, search started.
        st.session_state["map_autostart"] = practice.id


def _save(engine: Engine) -> None:
    """Validate, geocode if the address is new, then save; offer manual placement on failure."""
    data = _form_input()
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
            _commit(
                engine, _form_input(old.lat, old.lon, old.geocode_source, old.geocode_precision)
            )
            return
    try:
        result, messages = geocoding.geocode_one(engine, address, zip_fallback=False)
    except Exception as exc:  # the geocoders' own failures are messages; this is unexpected
        feedback.flash_exception(
            FLASH, logger, "Not saved: the address could not be looked up.", exc
        )
        return
    if result is not None:
        _commit(engine, _form_input(result.lat, result.lon, result.source, result.precision))
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
    data = _form_input()
    try:
        clean = validate_practice(data)
    except PracticeError as exc:
        feedback.flash(FLASH, "error", "Not saved: " + " ".join(exc.problems))
        return
    if source == "manual":
        geocoding.store_manual(
            engine, geocoding.Address(clean.address, clean.city, clean.state, clean.zip), lat, lon
        )
    _commit(engine, _form_input(lat, lon, source, precision))


def _place_typed(engine: Engine) -> None:
    _place(engine, st.session_state["set_lat"], st.session_state["set_lon"], "manual", "address")


def _place_zip(engine: Engine, lat: float, lon: float) -> None:
    _place(engine, lat, lon, "zip_centroid", "zip")


def _delete(engine: Engine, practice_id: int) -> None:
    try:
        delete_practice(engine, practice_id)
    except PracticeError as exc:
        feedback.flash(FLASH, "error", " ".join(exc.problems))
        return
    remaining = list_practices(engine)
    _make_current(remaining[0].id if remaining else None)
    st.session_state["settings_pick"] = st.session_state["_w_settings_pick"] = NEW
    _fill(engine, NEW)
    st.session_state["set_confirm_delete"] = False
    bump_provider_revision()
    feedback.flash(FLASH, "success", "Practice deleted with its targets, activities and referrals.")


# --- what the page draws ----------------------------------------------------------------------


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
        _fill(engine, pick)
        st.session_state["_settings_filled"] = pick
    st.session_state["_w_settings_pick"] = pick
    return pick


def show_flash() -> None:
    """Show the last callback's outcome once: callbacks run before the page, so they leave it."""
    if st.session_state.get("map_autostart") is not None:
        st.switch_page("pages/map.py")  # a callback cannot switch pages; the script can
    feedback.show_flash(FLASH, once=True)


def practice_picker(engine: Engine, real: dict[int, Practice]) -> None:
    """Only real practices are offered: the demo is reset from the sidebar, never edited."""
    st.subheader("Your practices")
    st.caption(
        "The demo practice is separate from your own: it is reset from the sidebar and cannot be "
        "edited here. Your practices use live NPI Registry data."
    )
    st.selectbox(
        "Practice to edit",
        options=[NEW, *real],
        format_func=lambda pid: "➕ New practice" if pid == NEW else real[pid].name,
        key="_w_settings_pick",
        on_change=_pick_changed,
        args=(engine,),
    )


def practice_form(engine: Engine, pick: int) -> None:
    """The details form; its buttons only queue callbacks, which do the lookup and the save.
    Editing is for the practice's owners (creating one, for instance owners): anyone else sees
    the details greyed out, without the buttons."""
    ro = not writable("owner", pick)
    if ro and pick == NEW:
        return  # nothing to show: they may not create a practice
    with st.container(border=True):
        st.markdown("**Start from your NPI** (optional): we look it up to fill in the details.")
        c1, c2 = st.columns([3, 1], vertical_alignment="bottom")
        c1.text_input(
            "Practice NPI", key="set_npi", max_chars=10, placeholder="10 digits", disabled=ro
        )
        if not ro:
            c2.button("Look up NPI", key="set_lookup", on_click=_lookup)

        st.text_input("Practice name", key="set_name", max_chars=200, disabled=ro)
        st.text_input("Street address", key="set_address", max_chars=300, disabled=ro)
        c1, c2, c3 = st.columns([3, 1, 1])
        c1.text_input("City", key="set_city", max_chars=100, disabled=ro)
        c2.text_input("State", key="set_state", max_chars=2, placeholder="CO", disabled=ro)
        c3.text_input("ZIP", key="set_zip", max_chars=10, disabled=ro)
        c1, c2 = st.columns(2)
        c1.date_input(
            "Playbook start date",
            key="set_start",
            disabled=ro,
            help="Phases and targets are counted from this day. A new practice starts on the "
            "day it is created; change it if the playbook began earlier.",
            format="YYYY-MM-DD",
        )
        c2.number_input(
            "Default radius (miles)",
            min_value=RADIUS_MIN_MI,
            max_value=RADIUS_MAX_MI,
            step=0.5,
            key="set_radius",
            disabled=ro,
        )
        c1.number_input(
            "Revenue per patient visit ($)",
            min_value=0.0,
            step=5.0,
            key="set_rpv",
            disabled=ro,
            placeholder="e.g. 110",
            help="Average revenue of one treatment visit. Progress prices referred patients' "
            "visits with it (return on referrals); leave empty if unknown.",
        )
        if ro:
            return
        st.button(
            "Save practice" if pick else "Create practice",
            key="set_save",
            type="primary",
            on_click=_save,
            args=(engine,),
        )


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
        b1.button("Place practice here", key="set_place", on_click=_place_typed, args=(engine,))
        if zc is not None and pending is not None:
            b2.button(
                f"Use the centre of ZIP {zc.zip_code} (approximate)",
                key="set_place_zip",
                on_click=_place_zip,
                args=(engine, zc.lat, zc.lon),
            )
        st.caption("Map data © OpenStreetMap contributors.")


def delete_section(engine: Engine, chosen: Practice) -> None:
    """Deleting takes a tick first, since it takes the practice's whole history with it.
    Owners only."""
    if not can_write("owner", chosen.id):
        return
    with st.expander("Delete this practice"):
        st.write(
            "Deletes the practice with its targets, activities, referrals and searches. "
            "Providers found by its searches stay (they are public registry data)."
        )
        confirm = st.checkbox("Yes, delete it and its history", key="set_confirm_delete")
        st.button(
            "Delete practice",
            key="set_delete",
            disabled=not confirm,
            on_click=_delete,
            args=(engine, chosen.id),
        )
