"""Shared state for the pages: the database engine and the selected practice.

Session-state keys (set in app.py, read by pages):
- "practice_id": the id of the practice picked in the sidebar (a plain key, so it survives page
  changes, which widget keys do not).
- "map_radius_mi", "map_groups": the map's filters, copied from their widgets for the same reason.
- "selected_npi": the provider selected on the map; "map_last_click": the (npi, click count) last
  taken from the map, so a stale click does not re-select after the user moved on.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st
from sqlalchemy.engine import Engine

from services import config, db, providers
from services.practices import Practice, get_practice


@st.cache_resource(show_spinner=False)
def _engine_for(url: str) -> Engine:
    return db.make_engine(url)


def get_engine() -> Engine:
    """The engine for the configured URL; raises db.StorageError with a readable message."""
    return _engine_for(config.database_url())


def current_practice() -> Practice | None:
    practice_id = st.session_state.get("practice_id")
    if practice_id is None:
        return None
    return get_practice(get_engine(), int(practice_id))


@st.cache_data(max_entries=8, show_spinner=False)
def _providers_cached(url: str, practice_id: int, revision: int) -> pd.DataFrame:
    practice = get_practice(_engine_for(url), practice_id)
    assert practice is not None
    return providers.load_providers(_engine_for(url), practice)


def provider_universe(practice: Practice) -> pd.DataFrame:
    """The practice's providers, cached until `bump_provider_revision` (never mutate it)."""
    revision = st.session_state.get("provider_revision", 0)
    return _providers_cached(config.database_url(), practice.id, revision)


def bump_provider_revision() -> None:
    """Call after providers change (demo reset, a registry pull) to drop the cached frame."""
    _providers_cached.clear()
    st.session_state["provider_revision"] = st.session_state.get("provider_revision", 0) + 1
