"""One partner: the picker, the editor (stage with the date it changed, owner, priority,
notes) and the timeline of its stage changes, activities and referrals."""

from __future__ import annotations

from datetime import date, datetime, time

import pandas as pd
import sqlalchemy as sa
import streamlit as st
from sqlalchemy.engine import Engine

from components.feedback import clear_flash, flash, flash_exception
from components.shell import writable
from components.targets.common import EDITOR_FIELDS, SLOT, logger
from components.text import md_escape
from services import db, partners, playbook
from services.practices import Practice
from services.specialties import specialty_label
from services.targets_view import display_name, partner_labels


def partner_picker(df: pd.DataFrame) -> int | None:
    labels = partner_labels(df)
    if not labels:
        return None
    if st.session_state.get("_w_partner") not in labels:
        st.session_state["_w_partner"] = next(iter(labels))
    return st.selectbox(
        "Partner",
        list(labels),
        format_func=labels.get,
        key="_w_partner",
        help="Or select one row in the table above.",
    )


def partner_editor(engine: Engine, practice: Practice, row: pd.Series, today: date) -> None:
    """Stage (with the date it changed), owner, priority and notes of one partner."""
    pid = int(row["partner_id"])
    k = {f: f"pf:{f}:{pid}" for f in EDITOR_FIELDS}
    defaults = {
        "stage": row["stage"],
        "day": today,
        "owner": row["owner"] or "",
        "priority": int(row["priority"]) if pd.notna(row["priority"]) else None,
        "notes": row["notes"] or "",
        "token": row["updated_at"],
    }
    for f, value in defaults.items():
        st.session_state.setdefault(k[f], value)
    name = display_name(row)

    def save() -> None:
        clear_flash(SLOT)
        day = st.session_state[k["day"]]
        stage = st.session_state[k["stage"]]
        # a business date: local wall-clock time; a past day is recorded at noon
        when = db.localnow() if day == date.today() else datetime.combine(day, time(12))
        try:
            moved = partners.update_partner(
                engine,
                practice.id,
                pid,
                stage=stage,
                owner=st.session_state[k["owner"]],
                priority=st.session_state[k["priority"]],
                notes=st.session_state[k["notes"]],
                when=when,
                expected_updated_at=st.session_state[k["token"]],
            )
        except partners.PartnerError as exc:
            flash(SLOT, "error", f"Not saved. {exc}")
            return
        except sa.exc.SQLAlchemyError as exc:
            flash_exception(SLOT, logger, f"{name} was not saved: the database failed.", exc)
            return
        fresh = partners.list_partners(engine, practice.id).set_index("partner_id")
        st.session_state[k["token"]] = fresh.loc[pid, "updated_at"]
        label = playbook.STAGE_LABELS[stage]
        flash(SLOT, "success", f"Saved. Stage moved to {label}." if moved else "Saved.")

    head, badge = st.columns([3, 1], vertical_alignment="center")
    head.markdown(f"#### {md_escape(name)}")
    if row["active"]:
        badge.badge(
            "Active partnership",
            icon=":material/bolt:",
            color="green",
            help="A referral exchanged in the last 90 days (from the referral log).",
        )
    else:
        badge.badge("Not active", color="gray", help="No referral exchanged in the last 90 days.")
    details = [
        specialty_label(row["primary_taxonomy"]),
        ", ".join(str(v) for v in (row["address"], row["city"], row["state"]) if v),
        f"Phone {row['phone']}" if row["phone"] else "",
        f"NPI {row['npi']}",
    ]
    st.caption(md_escape(" · ".join(d for d in details if d)))
    if not writable():  # read-only: what the editor would hold, as text
        priority = defaults["priority"]
        st.markdown(
            f"Stage: **{playbook.STAGE_LABELS.get(row['stage'], row['stage'])}** · "
            f"Owner: {md_escape(defaults['owner'] or '—')} · Priority: "
            f"{'—' if priority is None else partners.PRIORITY_LABELS[priority]}"
        )
        if defaults["notes"]:
            st.text(defaults["notes"])
        return
    with st.form(key=f"partner_form:{pid}", border=True):
        c1, c2 = st.columns(2)
        c1.selectbox(
            "Stage", playbook.STAGES, format_func=playbook.STAGE_LABELS.get, key=k["stage"]
        )
        c2.date_input(
            "Stage changed on",
            key=k["day"],
            max_value=today,
            help="Used only when the stage changes; recorded in the history.",
        )
        c3, c4 = st.columns(2)
        c3.text_input("Owner (staff name)", key=k["owner"], max_chars=partners.MAX_OWNER)
        c4.selectbox(
            "Priority",
            [None, *partners.PRIORITIES],
            format_func=lambda p: "—" if p is None else partners.PRIORITY_LABELS[p],
            key=k["priority"],
        )
        st.text_area("Notes", key=k["notes"], max_chars=partners.MAX_NOTES, height=90)
        st.form_submit_button(
            "Save partner", type="primary", on_click=save, key=f"save_partner:{pid}"
        )


def timeline_view(tl: pd.DataFrame) -> None:
    if tl.empty:
        st.caption("Nothing logged yet.")
        return
    lines = []
    for _, e in tl.iterrows():
        who = f" · {md_escape(e['staff'])}" if isinstance(e["staff"], str) and e["staff"] else ""
        line = f"**{e['date'].isoformat()}** · {md_escape(e['what'])}{who}"
        if isinstance(e["notes"], str) and e["notes"].strip():
            line += f"  \n{md_escape(e['notes'])}"
        lines.append(f"- {line}")
    with st.container(height=min(420, 60 + 52 * len(lines)), key="partner_timeline"):
        st.markdown("\n".join(lines))
