"""The Team page's widgets: who may use this practice, and in which role (owners only).

Changes happen in button callbacks, which run before the page draws, so the table below the
form already shows the change; their outcome waits in the "team" flash slot.
"""

from __future__ import annotations

import logging

import pandas as pd
import streamlit as st
from sqlalchemy.engine import Engine

from components.access import sign_in_enabled
from components.feedback import flash, flash_exception, show_flash
from components.text import md_escape
from services import auth
from services.practices import Practice

log = logging.getLogger(__name__)
SLOT = "team"


def _save(engine: Engine, practice_id: int) -> None:
    email = st.session_state.get("team_email", "")
    role = st.session_state.get("team_role", auth.VIEWER)
    try:
        member = auth.set_role(engine, practice_id, email, role)
    except (ValueError, auth.PermissionDenied) as exc:
        flash(SLOT, "error", str(exc))
        return
    except Exception as exc:  # logged with a reference, shown in plain words
        flash_exception(SLOT, log, "The team member could not be saved.", exc)
        return
    st.session_state["team_email"] = ""
    flash(SLOT, "success", f"{member.email} is now a {member.role} of this practice.")


def _remove(engine: Engine, practice_id: int) -> None:
    email = st.session_state.get("team_remove")
    if not email:
        return
    try:
        removed = auth.remove_member(engine, practice_id, email)
    except auth.PermissionDenied as exc:
        flash(SLOT, "error", str(exc))
        return
    except Exception as exc:  # logged with a reference
        flash_exception(SLOT, log, "The team member could not be removed.", exc)
        return
    message = f"{email} no longer has access." if removed else f"{email} was not on the team."
    flash(SLOT, "success" if removed else "info", message)


def team_section(engine: Engine, practice: Practice) -> None:
    if not sign_in_enabled():
        st.info(
            "Sign-in is not configured, so this app has one user with every right. The team "
            "below takes effect once sign-in is set up (see the README's clinic-server mode)."
        )
    owners = sorted(auth.instance_owners())
    if owners:
        st.caption(
            "Instance owners (from the `REFERRAL_ATLAS_OWNERS` setting) own every practice: "
            + ", ".join(md_escape(o) for o in owners)
        )
    show_flash(SLOT)
    members = auth.list_team(engine, practice.id)
    if members:
        st.dataframe(
            pd.DataFrame(
                [{"Email": m.email, "Role": m.role, "May do": auth.ROLE_HELP[m.role]}
                 for m in members]
            ),
            hide_index=True,
            width="stretch",
        )  # fmt: skip
    else:
        st.write("No one has been added to this practice yet.")

    with st.form("team_form", clear_on_submit=False, border=True):
        st.markdown("**Add a member, or change a member's role**")
        cols = st.columns([3, 2])
        cols[0].text_input("Email", key="team_email", placeholder="name@clinic.example")
        cols[1].selectbox(
            "Role",
            auth.ROLES,
            index=auth.ROLES.index(auth.VIEWER),
            key="team_role",
            format_func=lambda r: f"{r}: {auth.ROLE_HELP[r]}",
        )
        st.form_submit_button(
            "Save member", type="primary", on_click=_save, args=(engine, practice.id)
        )

    if members:
        cols = st.columns([3, 2])
        cols[0].selectbox("Member to remove", [m.email for m in members], key="team_remove")
        cols[1].button(
            "Remove member", on_click=_remove, args=(engine, practice.id), key="team_remove_btn"
        )
