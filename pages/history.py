"""History: the practice's audit trail, who changed what and when, with undo for removals."""

from __future__ import annotations

from components.history_view import history_section
from components.shell import page_preamble, require_page_role

engine, practice = page_preamble("History")
require_page_role("owner")
history_section(engine, practice)
