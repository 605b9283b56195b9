"""Provider map: who is near us that could send us patients?"""

from __future__ import annotations

import streamlit as st

from components.map_view import map_page
from components.shell import page_preamble

engine, practice = page_preamble(
    "Provider map", missing="Pick a practice in the sidebar to see the providers around it."
)
if not practice.located:
    st.info(
        "This practice has no location yet: place it in Settings to see the providers around it."
    )
    st.stop()
map_page(engine, practice)
