"""The Settings page's practice picker and details form.

Every change happens in a button callback: callbacks run before the script, so they may set
the sidebar picker's widget state (a new practice becomes the current one) and the form's
fields (an NPI lookup prefills them), which the script itself may not do once drawn. The
callbacks get the engine through `args=`, since they run outside the page's own variables.

The rest of the practice set-up lives beside this module, one job each: the form's session
state, `sync_pick` and the once-shown outcome (components/practice_state.py), the NPI lookup
(components/practice_lookup.py), saving and geocoding (components/practice_save.py), manual
placement on a map (components/practice_location.py) and deletion
(components/practice_delete.py).
"""

from __future__ import annotations

import streamlit as st
from sqlalchemy.engine import Engine

from components.practice_lookup import lookup_npi
from components.practice_save import save
from components.practice_state import NEW, fill_form
from components.shell import writable
from services.geo import RADIUS_MAX_MI, RADIUS_MIN_MI
from services.practices import Practice


def _pick_changed(engine: Engine) -> None:
    st.session_state["settings_pick"] = st.session_state["_w_settings_pick"]
    fill_form(engine, st.session_state["settings_pick"])


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
            c2.button("Look up NPI", key="set_lookup", on_click=lookup_npi)

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
            on_click=save,
            args=(engine,),
        )
