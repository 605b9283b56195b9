"""The playbook: its definitions and the numbers that say where a practice stands against it,
computed in one place so every page counts the same way.

The package is cut by job:
- `definitions`: stages, phases and their targets, the outreach cadence, the weekly actions and
  the context figures (reads no data);
- `counts`: the target list, connections and active partnerships as of a day, and week by week;
- `headline_text`: the sentence saying where the practice stands in the current phase, and the
  day format pages and reports share;
- `comparisons`: the KPI tiles (now against 30 days earlier) and the per-location table;
- `breakdowns`: a period's referrals by month, funnel, outreach visits by week, top partners,
  leakage by partner and return on referrals.

The names below are re-exported so callers keep writing `playbook.<name>`.
"""

from __future__ import annotations

from services.playbook.breakdowns import (
    TOP_PARTNERS_DAYS,
    Roi,
    conversion_funnel,
    leakage_by_partner,
    outreach_visits_by_week,
    referrals_by_month,
    roi,
    top_partners,
)
from services.playbook.comparisons import DEFS, KPI_WINDOW_DAYS, Kpi, kpis, location_summary
from services.playbook.counts import (
    WEEKS,
    active_partnerships,
    connections,
    counts_as_of,
    rows_between,
    stages_as_of,
    target_list_size,
    weekly_series,
)
from services.playbook.definitions import (
    ACTIVE_WINDOW_DAYS,
    ARRIVED_STATUSES,
    CONNECTED_STAGES,
    CONTEXT_FIGURES,
    IDENTIFY_PER_WEEK,
    IDENTIFY_RADIUS_MI,
    INTRO_KINDS,
    INTROS_PER_WEEK,
    METRIC_NOUNS,
    NETWORKING_PER_MONTH,
    OUTREACH_VISIT_KINDS,
    PHASES,
    PLAYBOOK_STATEMENT,
    REFERRAL_FOLLOW_UP_DAYS,
    REFERRAL_FOLLOW_UP_KINDS,
    STAGE_LABELS,
    STAGES,
    VISITS_PER_WEEK,
    Phase,
    context_source,
    is_active,
    phase_end_week,
    phase_on,
    week_of,
)
from services.playbook.headline_text import day_text, headline

__all__ = [
    "ACTIVE_WINDOW_DAYS",
    "ARRIVED_STATUSES",
    "CONNECTED_STAGES",
    "CONTEXT_FIGURES",
    "DEFS",
    "IDENTIFY_PER_WEEK",
    "IDENTIFY_RADIUS_MI",
    "INTROS_PER_WEEK",
    "INTRO_KINDS",
    "KPI_WINDOW_DAYS",
    "METRIC_NOUNS",
    "NETWORKING_PER_MONTH",
    "OUTREACH_VISIT_KINDS",
    "PHASES",
    "PLAYBOOK_STATEMENT",
    "REFERRAL_FOLLOW_UP_DAYS",
    "REFERRAL_FOLLOW_UP_KINDS",
    "STAGES",
    "STAGE_LABELS",
    "TOP_PARTNERS_DAYS",
    "VISITS_PER_WEEK",
    "WEEKS",
    "Kpi",
    "Phase",
    "Roi",
    "active_partnerships",
    "connections",
    "context_source",
    "conversion_funnel",
    "counts_as_of",
    "day_text",
    "headline",
    "is_active",
    "kpis",
    "leakage_by_partner",
    "location_summary",
    "outreach_visits_by_week",
    "phase_end_week",
    "phase_on",
    "referrals_by_month",
    "roi",
    "rows_between",
    "stages_as_of",
    "target_list_size",
    "top_partners",
    "week_of",
    "weekly_series",
]
