"""The Letters tab: edit the practice's letter templates, preview and download the letters for
chosen partners, and log them as sent."""

from __future__ import annotations

from datetime import date

import pandas as pd
import sqlalchemy as sa
import streamlit as st
from sqlalchemy.engine import Engine

from components.feedback import clear_flash, flash, flash_exception
from components.shell import writable
from components.targets.common import SLOT, logger
from services import letters as letters_svc
from services.activities import KIND_LABELS, ActivityError
from services.practices import Practice
from services.targets_view import letter_recipients, partner_labels


def _template_editor(engine: Engine, practice: Practice, kind: str) -> str:
    """The template's text area with Save and Reset; returns the template as typed."""
    rev = st.session_state.get("letter_rev", 0)
    tkey = f"letter_template:{kind}:{rev}"
    saved = letters_svc.get_template(engine, practice.id, kind)
    label = letters_svc.KIND_LABELS[kind]

    def save() -> None:
        clear_flash(SLOT)
        try:
            letters_svc.save_template(engine, practice.id, kind, st.session_state[tkey])
        except letters_svc.LetterError as exc:
            flash(SLOT, "error", f"Template not saved. {exc}")
            return
        except sa.exc.SQLAlchemyError as exc:
            flash_exception(SLOT, logger, "Template not saved: the database failed.", exc)
            return
        flash(SLOT, "success", f"{label} template saved.")

    def reset() -> None:
        clear_flash(SLOT)
        try:
            letters_svc.reset_template(engine, practice.id, kind)
        except sa.exc.SQLAlchemyError as exc:
            flash_exception(SLOT, logger, "Template not reset: the database failed.", exc)
            return
        st.session_state["letter_rev"] = rev + 1
        flash(SLOT, "success", f"{label} template reset to the default.")

    st.text_area("Template", value=saved, height=360, key=tkey)
    st.caption(
        "Placeholders: "
        + ", ".join(f"`{{{p}}}` {d}" for p, d in letters_svc.PLACEHOLDERS.items())
        + ". Write `{{` or `}}` for a literal brace."
    )
    if not writable():
        return st.session_state.get(tkey, saved)
    b1, b2 = st.columns(2)
    b1.button("Save template", on_click=save, key="save_template", type="primary")
    b2.button(
        "Reset to default",
        on_click=reset,
        key="reset_template",
        disabled=not letters_svc.is_customised(engine, practice.id, kind),
    )
    return st.session_state.get(tkey, saved)


def letters_panel(
    engine: Engine, practice: Practice, df: pd.DataFrame, today: date, default_staff: str
) -> None:
    kind = st.radio(
        "Letter",
        letters_svc.KINDS,
        format_func=letters_svc.KIND_LABELS.get,
        horizontal=True,
        key="_w_letter_kind",
    )
    edit, use = st.columns(2, gap="large")
    with edit:
        template = _template_editor(engine, practice, kind)
    labels = partner_labels(df)
    with use:
        chosen = st.multiselect(
            "Partners",
            list(labels),
            format_func=labels.get,
            key="_w_letter_partners",
            placeholder="Choose one or more partners",
        )
        c1, c2 = st.columns(2)
        st.session_state.setdefault("_w_letter_staff", default_staff)
        staff = c1.text_input("Signed by (staff)", key="_w_letter_staff")
        day = c2.date_input("Letter date", value=today, key="_w_letter_date")
        try:
            letters_svc.check_template(template)
        except letters_svc.LetterError as exc:
            st.error(str(exc), icon=":material/error:")
            return
        if not chosen:
            st.info("Choose partners to preview and download their letters.")
            return
        try:
            batch = letters_svc.render_letters(
                template, letter_recipients(df, chosen), practice.name, staff, day
            )
        except letters_svc.LetterError as exc:
            st.error(str(exc), icon=":material/error:")
            return
        with st.container(border=True, height=300, key="letter_preview"):
            st.text(batch[0].text)
        if len(batch) > 1:
            st.caption(f"Showing the first of {len(batch)} letters.")
        stem = f"{kind}-letters-{day.isoformat()}"
        d1, d2 = st.columns(2)
        d1.download_button(
            "Download .docx",
            data=letters_svc.to_docx(batch),
            file_name=f"{stem}.docx",
            on_click="ignore",
            key="letters_docx",
            mime="application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            icon=":material/description:",
        )
        d2.download_button(
            "Download text",
            data=letters_svc.to_text(batch),
            file_name=f"{stem}.txt",
            mime="text/plain",
            on_click="ignore",
            key="letters_txt",
            icon=":material/article:",
        )

        def log_sent() -> None:
            clear_flash(SLOT)
            try:
                n = letters_svc.log_letters(engine, practice.id, kind, chosen, day, staff)
            except (letters_svc.LetterError, ActivityError) as exc:
                flash(SLOT, "error", f"Not logged. {exc}")
                return
            except sa.exc.SQLAlchemyError as exc:
                flash_exception(SLOT, logger, "Not logged: the database failed; no letter "
                                "was logged.", exc)  # fmt: skip
                return
            activity = KIND_LABELS[letters_svc.ACTIVITY_KIND[kind]].lower()
            flash(SLOT, "success", f"Logged {n} {activity} activit{'y' if n == 1 else 'ies'}.")

        if not writable():
            return
        st.button(
            f"Log {len(batch)} as sent",
            on_click=log_sent,
            key="log_letters",
            icon=":material/send:",
            help="Adds one activity per partner to the activity log.",
        )
