"""Make sure a page runs inside app.py's shell, even when it is the server's first request.

With a folder named `pages/` next to app.py (the layout the design card fixes), Streamlit starts
in its legacy multipage mode and stays there until some script calls `st.navigation`. If the
first request a fresh server gets is a page URL (a bookmark of /targets, say), Streamlit runs
that page file alone: no sidebar, no practice, no demo badge. Every page therefore starts with
`ensure_app_shell()`: in that situation it leaves legacy mode and reruns, and the rerun goes
through app.py like every other run. It touches one Streamlit internal, kept here alone.
"""

from __future__ import annotations

import streamlit as st
from sqlalchemy.engine import Engine

from services.practices import Practice

try:
    from streamlit.runtime.pages_manager import PagesManager
except ImportError:  # a future Streamlit without it has no legacy mode to leave
    PagesManager = None  # type: ignore[assignment,misc]


def ensure_app_shell() -> None:
    if PagesManager is not None and getattr(PagesManager, "uses_pages_directory", False):
        PagesManager.uses_pages_directory = False
        st.rerun()


def page_preamble(
    title: str, *, missing: str = "Pick a practice in the sidebar."
) -> tuple[Engine, Practice]:
    """What every page starts with: the app shell, its title, and the practice picked in the
    sidebar (the page stops with `missing` when there is none). Returns (engine, practice)."""
    from components.session import current_practice, get_engine

    ensure_app_shell()
    practice = current_practice()
    st.title(title)
    if practice is None:
        st.info(missing)
        st.stop()
    return get_engine(), practice


def can_write(role: str = "liaison", practice_id: int | None = None) -> bool:
    """Whether the signed-in user may write at `role` level ("liaison": targets, activities,
    referrals; "owner": the practice, its team) in `practice_id`, by default the practice
    picked in the sidebar. Pages hide write controls with it; the services refuse the write
    anyway (services/auth.py)."""
    from services import auth

    pid = st.session_state.get("practice_id") if practice_id is None else practice_id
    return auth.current_actor().can(role, pid)


def writable(role: str = "liaison", practice_id: int | None = None) -> bool:
    """`can_write`, for a place that draws write controls: when the user may not write there,
    it says so in one short caption (where the controls would have been) and returns False,
    so the caller skips its buttons. A click that could only end in "Not allowed" is never
    offered."""
    if can_write(role, practice_id):
        return True
    from services import auth

    pid = st.session_state.get("practice_id") if practice_id is None else practice_id
    held = auth.current_actor().role_in(pid)
    st.caption(
        f"You have read-only access ({held})." if held else "You have read-only access.",
        help=None if role != "owner" else "Only the practice's owners can change this.",
    )
    return False


def require_page_role(role: str) -> None:
    """Stop the page with a plain message unless the user holds `role` in this practice."""
    if not can_write(role):
        st.info(f"This page is for the practice's {role}s.")
        st.stop()
