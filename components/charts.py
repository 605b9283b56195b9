"""The Progress page's set of charts: which figures, in what order, each with the numbers it
draws.

The page, staff-meeting mode and the exported HTML report all take their charts from
`progress_charts`, so all three draw the very same figures and export the very same numbers.
The figures themselves are built in `components/playbook_charts.py` (against the playbook's
targets) and `components/referral_charts.py` (from the referral log), in the shared style of
`components/chart_style.py`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pandas as pd
import plotly.graph_objects as go

from components.playbook_charts import growth_chart, visits_chart
from components.referral_charts import (
    funnel_chart,
    leakage_chart,
    referrals_by_month_chart,
    top_partners_chart,
)
from services import playbook
from services.progress_data import ProgressData
from services.specialties import group_label


@dataclass(frozen=True)
class Chart:
    key: str
    title: str
    figure: go.Figure
    numbers: pd.DataFrame  # what the chart draws, for its CSV


def progress_charts(
    data: ProgressData, first: date, last: date, big: bool = False, marker_label: str = "today"
) -> list[Chart]:
    """Every chart of the Progress page, in presentation order, with its numbers.

    `last` is the as-of day: the growth chart is drawn up to it and the 12-month view ends on
    it; the range `first`–`last` bounds the monthly, weekly, funnel and leakage charts.
    """
    start = data.playbook_start
    series = playbook.weekly_series(data, last, start)
    months = playbook.referrals_by_month(data, first, last)
    funnel = playbook.conversion_funnel(data, first, last)
    visits = playbook.outreach_visits_by_week(data, first, last)
    top = playbook.top_partners(data, last)
    leak = playbook.leakage_by_partner(data, first, last)
    return [
        Chart("growth", "Partnership growth",
              growth_chart(series, start, last, data.locations, big, marker_label), series),
        Chart("referrals_by_month", "Referrals per month", referrals_by_month_chart(months, big),
              months.assign(group=months["group"].map(group_label))),
        Chart("funnel", "Conversion funnel", funnel_chart(funnel, big), funnel),
        Chart("visits", "Outreach visits per week", visits_chart(visits, big), visits),
        Chart("top_partners", "Top partners", top_partners_chart(top, big), top),
        Chart("leakage", "Lost referrals and leakage", leakage_chart(leak, big), leak),
    ]  # fmt: skip
