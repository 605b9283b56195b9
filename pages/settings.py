"""Settings: set up a real practice (from its NPI or a typed address), place it, edit, delete.

Every change happens in a button callback (components/practice_setup.py says why); this page
only settles which practice the form edits and draws the sections in order.
"""

from __future__ import annotations

import streamlit as st

from components.backup_view import backup_section
from components.practice_delete import delete_section
from components.practice_location import location_section
from components.practice_setup import practice_form, practice_picker
from components.practice_state import show_flash, sync_pick
from components.shell import page_preamble
from services.practices import list_practices

# The current practice is not used here (the form has its own picker); the preamble still gives
# the page the app shell, its title and the engine like every other page.
engine, _current = page_preamble("Settings")

practices = list_practices(engine)
real = {p.id: p for p in practices if not p.is_demo}
pick = sync_pick(engine, real)
show_flash()

practice_picker(engine, real)
practice_form(engine, pick)

chosen = real.get(pick)
pending = st.session_state.get("settings_pending")
if pending is not None or chosen is not None:
    location_section(engine, chosen, pending)

if chosen is not None:
    st.page_link("pages/map.py", label="Find providers around this practice", icon="🗺️")
    delete_section(engine, chosen)

backup_section(engine)  # owners of every practice only
