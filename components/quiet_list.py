"""Who went quiet, as a short list with "Log a visit" one click away; shown on Progress and on
Targets (the rule itself is `services.quiet`)."""

from __future__ import annotations

import logging
from datetime import date

import pandas as pd
import streamlit as st
from sqlalchemy.engine import Engine

from components.feedback import flash, flash_exception, show_flash
from components.shell import writable
from components.text import md_escape
from services import activities, quiet
from services.metrics import DEFINITIONS
from services.playbook import day_text

log = logging.getLogger(__name__)


def _log_visit(engine: Engine, practice_id: int, row: dict, today: date, slot: str) -> None:
    try:
        partner_id = row.get("partner_id") or quiet.partner_id_for(engine, practice_id, row["npi"])
        activities.log_activity(
            engine,
            practice_id,
            "visit",
            today,
            partner_id=partner_id,
            notes=None if partner_id else f"Visit to {row['name']} (NPI {row['npi']}).",
            today=today,
        )
    except Exception as exc:  # shown as a plain sentence with a log reference
        flash_exception(slot, log, "The visit could not be logged.", exc)
        return
    flash(slot, "success", f"Outreach visit to **{md_escape(row['name'])}** logged for today.")


def quiet_list(
    engine: Engine, practice_id: int, frame: pd.DataFrame, today: date, key: str, limit: int = 10
) -> None:
    """The partners who went quiet (frame from `services.quiet`), oldest silence first, each
    with its last referral date and a "Log a visit" button that logs today's outreach visit."""
    slot = f"{key}_quiet"
    show_flash(slot)
    if frame.empty:
        st.caption(
            "Nobody went quiet: every partner who sends at least one referral a month is "
            "sending at their usual pace."
        )
        return
    may_log = writable()
    for i, row in enumerate(frame.head(limit).to_dict("records")):
        c = st.columns([4, 3, 3, 2], vertical_alignment="center")
        c[0].markdown(f"**{md_escape(row['name'])}**")
        c[1].markdown(f"usually {row['usual_per_month']:.1f} a month, {row['recent']} in 45 days")
        c[2].markdown(f"last referral {day_text(row['last_referral'], year=True)}")
        if not may_log:
            continue
        c[3].button(
            "Log a visit",
            key=f"{key}_visit_{i}_{row['npi']}",
            on_click=_log_visit,
            args=(engine, practice_id, row, today, slot),
            icon=":material/directions_walk:",
            help="Log an outreach visit to this partner, dated today.",
        )
    if len(frame) > limit:
        st.caption(f"The {limit} silent longest of {len(frame)}.")


def quiet_section(engine: Engine, practice_id: int, today: date, key: str = "targets") -> None:
    """The whole section for a page that has no Progress data loaded (Targets): one call."""
    st.subheader("Who went quiet", help=DEFINITIONS["quiet"])
    quiet_list(engine, practice_id, quiet.quiet_partners(engine, practice_id, today), today, key)
