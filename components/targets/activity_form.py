"""The form that logs an outreach or networking activity (on the pipeline's partner panel and
on the Activities tab)."""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa
import streamlit as st
from sqlalchemy.engine import Engine

from components.feedback import clear_flash, flash, flash_exception
from components.shell import writable
from components.targets.common import SLOT, logger
from services.activities import KIND_LABELS, KINDS, ActivityError, log_activity
from services.practices import Practice

NO_PARTNER = -1


def activity_form(
    engine: Engine,
    practice: Practice,
    key: str,
    partner_choices: dict[int, str],
    fixed_partner: int | None = None,
    default_staff: str = "",
) -> None:
    """Log an outreach or networking activity; partner optional (events) unless fixed.
    Not drawn for a read-only user."""
    if not writable():
        return
    k = {f: f"af:{key}:{f}" for f in ("partner", "kind", "day", "staff", "notes", "due")}

    def submit() -> None:
        clear_flash(SLOT)
        pid = fixed_partner if fixed_partner is not None else st.session_state[k["partner"]]
        try:
            log_activity(
                engine,
                practice.id,
                st.session_state[k["kind"]],
                st.session_state[k["day"]],
                partner_id=None if pid in (None, NO_PARTNER) else int(pid),
                staff=st.session_state[k["staff"]],
                notes=st.session_state[k["notes"]] or None,
                follow_up_due=st.session_state[k["due"]],
            )
        except ActivityError as exc:
            flash(SLOT, "error", f"Not logged. {exc}")
            return
        except sa.exc.SQLAlchemyError as exc:
            flash_exception(SLOT, logger, "The activity was not logged: the database failed.", exc)
            return
        label = KIND_LABELS[st.session_state[k["kind"]]]
        flash(SLOT, "success", f"{label} logged.")
        st.session_state[k["notes"]] = ""
        st.session_state[k["due"]] = None

    st.session_state.setdefault(k["staff"], default_staff)
    with st.form(key=f"activity_form:{key}", border=True):
        if fixed_partner is None:
            options = [NO_PARTNER, *partner_choices]
            st.selectbox(
                "Partner",
                options,
                format_func=lambda p: (
                    "— none (an event, e.g. a medical society evening) —"
                    if p == NO_PARTNER
                    else partner_choices[p]
                ),
                key=k["partner"],
            )
        c1, c2, c3 = st.columns(3)
        c1.selectbox("Kind", KINDS, format_func=KIND_LABELS.get, key=k["kind"])
        c2.date_input(
            "Date",
            value=date.today(),
            key=k["day"],
            help="The day it happened. Plans go in the follow-up date.",
        )
        c3.date_input("Follow-up due (optional)", value=None, key=k["due"])
        st.text_input("Staff", key=k["staff"], max_chars=100)
        st.text_area("Notes", key=k["notes"], height=80)
        st.form_submit_button("Log activity", on_click=submit, key=f"log_activity:{key}")
