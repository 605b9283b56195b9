"""Team: who may use this practice, and in which role."""

from __future__ import annotations

from components.shell import page_preamble, require_page_role
from components.team_view import team_section

engine, practice = page_preamble("Team")
require_page_role("owner")
team_section(engine, practice)
