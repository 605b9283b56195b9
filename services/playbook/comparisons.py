"""The KPI tiles and the per-location table: each headline number now and 30 days earlier, and
the same numbers side by side for each location of a group.

Separate from `counts` because these are comparisons built on the counts (now against then, one
site against another), each with the one-sentence definition shown as its tooltip.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING

import pandas as pd

from services import metrics
from services.playbook.counts import counts_as_of, rows_between
from services.playbook.definitions import phase_on

if TYPE_CHECKING:
    from services.progress_data import ProgressData

DEFS = metrics.DEFINITIONS
#: Event counts (referrals, outreach visits) are over this many days, compared with the window
#: before; the partnership counts are compared with their value this many days earlier.
KPI_WINDOW_DAYS = 30


@dataclass(frozen=True)
class Kpi:
    key: str
    label: str
    value: int
    previous: int
    help: str = ""  # the metric's one definition, shown as its tooltip

    @property
    def delta(self) -> int:
        return self.value - self.previous


def _count_in(df: pd.DataFrame, col: str, first: date, last: date) -> int:
    return len(rows_between(df, col, first, last))


def kpis(data: ProgressData, today: date) -> list[Kpi]:
    """Headline numbers as of `today`, each with its value 30 days earlier (or the previous
    30-day window, for counts of events)."""
    before = today - timedelta(days=KPI_WINDOW_DAYS)
    now, then = counts_as_of(data, today), counts_as_of(data, before)
    w = KPI_WINDOW_DAYS
    cur = (today - timedelta(days=w - 1), today)
    prev = (today - timedelta(days=2 * w - 1), before)
    r = data.referrals
    received = r[r["direction"] == "received"]
    sent = r[r["direction"] == "sent"]
    visits = metrics.outreach_visits(data.activities)

    def both(df: pd.DataFrame, col: str) -> tuple[int, int]:
        return _count_in(df, col, *cur), _count_in(df, col, *prev)

    return [
        Kpi("active", "Active partners", now["active"], then["active"], DEFS["active"]),
        Kpi(
            "connections",
            "Connections",
            now["connections"],
            then["connections"],
            "Partners at stage connected (they responded or met us) or formal.",
        ),
        Kpi(
            "targets",
            "Target list",
            now["targets"],
            then["targets"],
            "Partners on the list at any stage but dropped.",
        ),
        Kpi(
            "received",
            "Received, 30 days",
            *both(received, "referral_date"),
            DEFS["received"].replace("in the period", "in the last 30 days"),
        ),
        Kpi(
            "sent",
            "Sent, 30 days",
            *both(sent, "referral_date"),
            "Referrals we sent to a partner, dated in the last 30 days.",
        ),
        Kpi(
            "visits",
            "Outreach visits, 30 days",
            *both(visits, "activity_date"),
            DEFS["outreach_visits"],
        ),
    ]


def location_summary(data: ProgressData, today: date) -> pd.DataFrame:
    """One row per location and a total row: what a group owner compares across sites."""
    rows = []
    for p in data.practices:
        one = data.only(p.id)
        phase = phase_on(p.playbook_start, today) if p.playbook_start else None
        rows.append(_summary_row(one, today, p.name, phase.label if phase else "—"))
    if data.locations > 1:
        rows.append(_summary_row(data, today, f"Total ({data.locations} locations)", ""))
    return pd.DataFrame(rows)


def _summary_row(data: ProgressData, today: date, name: str, phase: str) -> dict[str, object]:
    counts = counts_as_of(data, today)
    received = data.referrals[data.referrals["direction"] == "received"]
    first = today - timedelta(days=KPI_WINDOW_DAYS - 1)
    return {
        "location": name,
        "phase": phase,
        "active_partnerships": counts["active"],
        "connections": counts["connections"],
        "target_list": counts["targets"],
        "referrals_received_30d": _count_in(received, "referral_date", first, today),
    }
