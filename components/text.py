"""Showing untrusted text (registry names, user notes) in Streamlit safely."""

from __future__ import annotations

import re

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~:$])")


def md_escape(text: object) -> str:
    """Escape Markdown and HTML-looking characters so `st.markdown` shows `text` literally."""
    return _MD_SPECIAL.sub(r"\\\1", "" if text is None else str(text))
