"""The Progress page's parts under the one name the page and staff-meeting mode use for them.

`pages/progress.py` and `components/meeting_mode.py` both draw from every part of the page
(controls, cached view, metric cards, charts, partner lists), so they import this one module
instead of five. Each part lives in its own module, and only there:
- `components/progress_controls.py`: location, period, slides, the meeting switch and their
  session state and URL;
- `components/progress_cache.py`: the cached view for one set of inputs;
- `components/progress_cards.py`: the headline, KPI, funnel and return-on-referrals cards;
- `components/progress_chart_section.py`: the charts with their CSVs, and the exports;
- `components/progress_partners.py`: who went quiet and referrer loyalty.
"""

from __future__ import annotations

from components.progress_cache import load_view
from components.progress_cards import (
    context_list,
    funnel_tiles,
    kpi_tiles,
    overview,
    period_caption,
    roi_panel,
)
from components.progress_chart_section import chart_grid, export_buttons, plot
from components.progress_controls import (
    MIN_PERIOD_DAYS,
    TOTAL,
    controls,
    default_range,
    scope_label,
    set_meeting,
)
from components.progress_partners import loyalty_table, partners_section

__all__ = [
    "MIN_PERIOD_DAYS",
    "TOTAL",
    "chart_grid",
    "context_list",
    "controls",
    "default_range",
    "export_buttons",
    "funnel_tiles",
    "kpi_tiles",
    "load_view",
    "loyalty_table",
    "overview",
    "partners_section",
    "period_caption",
    "plot",
    "roi_panel",
    "scope_label",
    "set_meeting",
]
