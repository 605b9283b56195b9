"""Data files: import the public files that make the referral-potential score real (Medicare
volumes and procedures, shared-patient pairs, the NPPES file for whole states)."""

from __future__ import annotations

import streamlit as st

from components.data_files_view import datasets_section, import_section, status_section
from components.shell import can_write, page_preamble

engine, practice = page_preamble("Data files")
datasets_section()
# Imports change the providers every practice sees: the owner's job.
if can_write("owner"):
    import_section(engine, practice)
else:
    st.info("Importing data files is for the practice's owners.")
status_section(engine)
