"""The Settings page's "Delete this practice" section and its callback.

Deleting is the one irreversible practice edit (it takes the targets, activities, referrals and
searches with it), so it is kept apart from the form that creates and saves: it asks for a tick
first, then points the sidebar at a remaining practice and empties the form.
"""

from __future__ import annotations

import streamlit as st
from sqlalchemy.engine import Engine

from components import feedback
from components.practice_state import FLASH, NEW, fill_form, make_current
from components.session import bump_provider_revision
from components.shell import can_write
from services.practices import Practice, PracticeError, delete_practice, list_practices


def _delete(engine: Engine, practice_id: int) -> None:
    try:
        delete_practice(engine, practice_id)
    except PracticeError as exc:
        feedback.flash(FLASH, "error", " ".join(exc.problems))
        return
    remaining = list_practices(engine)
    make_current(remaining[0].id if remaining else None)
    st.session_state["settings_pick"] = st.session_state["_w_settings_pick"] = NEW
    fill_form(engine, NEW)
    st.session_state["set_confirm_delete"] = False
    bump_provider_revision()
    feedback.flash(FLASH, "success", "Practice deleted with its targets, activities and referrals.")


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
