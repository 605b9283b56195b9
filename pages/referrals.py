"""Referral log: every referral received and sent, the notes owed to referrers, conversion and
leakage, and import/export of a spreadsheet tracker. The logic is in services.referrals and
services.importer; the grid's state handling is in components.referral_editor and the tabs
are drawn by components.referral_log_view and components.referral_import."""

from __future__ import annotations

from datetime import date

import streamlit as st

from components import referral_editor as ed
from components import referral_import
from components import referral_log_view as log_view
from components.shell import page_preamble

engine, practice = page_preamble("Referral log")
today = date.today()

st.caption(
    "No patient identifiers, ever: this log has no column for a patient's name, date of birth, "
    "record number or ID, because it tracks referral *relationships* and a spreadsheet of "
    "patients would need HIPAA safeguards this tool does not have. Keep notes free of names."
)

state = ed.get_state(engine, practice.id, today)
labels = log_view.referrer_labels(engine, practice, state)

tab_log, tab_owed, tab_conv, tab_import = st.tabs(
    ["Log", "Follow-ups owed", "Conversion & leakage", "Import"]
)
with tab_log:
    log_view.log_tab(state, engine, practice, today, labels)

# Follow-ups and conversion count what is saved: rows with unsaved edits join once saved.
saved = log_view.saved_rows(state)
with tab_owed:
    log_view.follow_ups_tab(state, engine, practice, today, labels, saved)
with tab_conv:
    log_view.conversion_tab(state, labels, saved)
with tab_import:
    referral_import.import_tab(engine, practice, today)
