"""Bits every Targets tab shares: the flash slot, the CSV download button, the editor's keys."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import pandas as pd
import streamlit as st

from services.exports import to_csv_bytes

#: The page's one message slot (components/feedback.py).
SLOT = "targets"
EDITOR_FIELDS = ("stage", "day", "owner", "priority", "notes", "token")
logger = logging.getLogger(__name__)


def forget_editor(partner_ids: Sequence[int]) -> None:
    """Drop the editor's widget state of partners changed elsewhere, so it reopens fresh."""
    for pid in partner_ids:
        for f in EDITOR_FIELDS:
            st.session_state.pop(f"pf:{f}:{pid}", None)


def csv_download(label: str, frame: pd.DataFrame, file_name: str, key: str) -> None:
    st.download_button(
        label,
        data=to_csv_bytes(frame),
        file_name=file_name,
        mime="text/csv",
        key=key,
        on_click="ignore",
        icon=":material/download:",
        help="Cells that a spreadsheet would run as a formula are prefixed with '.",
    )
