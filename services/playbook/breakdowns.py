"""What happened in a date range, broken down for the Progress charts and the report: referrals
by month, the conversion funnel, outreach visits by week against the cadence, top partners,
leakage by partner, and the return on referrals.

Separate from `counts` because these are not judged against a phase target: each one slices the
referral log or the activities over the period the user picked, counting per the definitions in
`services.metrics`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING

import pandas as pd

from services import metrics
from services.playbook.counts import rows_between
from services.playbook.definitions import VISITS_PER_WEEK

if TYPE_CHECKING:
    from services.progress_data import ProgressData

#: Top partners are ranked over the last year, split in two halves for the trend.
TOP_PARTNERS_DAYS = 365


def referrals_by_month(data: ProgressData, first: date, last: date) -> pd.DataFrame:
    """Referrals per calendar month, by direction and specialty group of the partner."""
    r = rows_between(data.referrals, "referral_date", first, last)
    cols = ["month", "direction", "group", "referrals"]
    if r.empty:
        return pd.DataFrame(columns=cols)
    out = (
        r.assign(
            month=r["referral_date"].dt.to_period("M").dt.start_time.dt.date,
            group=r["group"].astype(object).fillna("unknown"),
        )
        .groupby(["month", "direction", "group"], as_index=False)
        .size()
        .rename(columns={"size": "referrals"})
    )
    return out[cols].sort_values(["month", "direction", "group"]).reset_index(drop=True)


def conversion_funnel(data: ProgressData, first: date, last: date) -> pd.DataFrame:
    """Received referrals in the range reaching each stage, by `metrics.funnel_counts` (a lost
    referral counts as received, a no-show also as scheduled)."""
    counts = metrics.funnel_counts(rows_between(data.referrals, "referral_date", first, last))
    total = counts["received"]
    rows = [
        {"step": label, "referrals": counts[key], "share": metrics.share(counts[key], total)}
        for key, label in metrics.FUNNEL_STAGES
    ]
    return pd.DataFrame(rows, columns=["step", "referrals", "share"])


def _week_start(day: date) -> date:
    return day - timedelta(days=day.weekday())


def outreach_visits_by_week(data: ProgressData, first: date, last: date) -> pd.DataFrame:
    """Outreach visits per calendar week (Monday first), with the playbook's band.

    Every week of the range is listed, zero included: an empty week is what the chart must show.
    """
    a = rows_between(data.activities, "activity_date", first, last)
    a = metrics.outreach_visits(a)
    weeks = pd.Series(a["activity_date"].dt.date.map(_week_start), dtype=object)
    counts = weeks.value_counts()
    n = data.locations
    rows = []
    week = _week_start(first)
    while week <= last:
        rows.append(
            {
                "week_of": week,
                "visits": int(counts.get(week, 0)),
                "target_low": VISITS_PER_WEEK[0] * n,
                "target_high": VISITS_PER_WEEK[1] * n,
            }
        )
        week += timedelta(days=7)
    return pd.DataFrame(rows, columns=["week_of", "visits", "target_low", "target_high"])


def top_partners(data: ProgressData, today: date, n: int = 10) -> pd.DataFrame:
    """The partners with most referrals (both directions) over the 12 months up to `today`.

    Trend: referrals in the last six months minus the six before, so a partner coasting on an
    old burst shows a fall even while it still tops the list.
    """
    first = today - timedelta(days=TOP_PARTNERS_DAYS - 1)
    r = rows_between(data.referrals, "referral_date", first, today)
    cols = ["npi", "name", "group", "referrals", "last_6_months", "previous_6_months", "trend"]
    if r.empty:
        return pd.DataFrame(columns=cols)
    half = pd.Timestamp(today - timedelta(days=TOP_PARTNERS_DAYS // 2))
    out = (
        r.assign(recent=r["referral_date"] > half)
        .groupby("npi", as_index=False)
        .agg(
            name=("name", "first"),
            group=("group", "first"),
            referrals=("npi", "size"),
            last_6_months=("recent", "sum"),
        )
    )
    out["last_6_months"] = out["last_6_months"].astype(int)
    out["previous_6_months"] = out["referrals"] - out["last_6_months"]
    out["trend"] = out["last_6_months"] - out["previous_6_months"]
    out = out.sort_values(["referrals", "name"], ascending=[False, True]).head(n)
    return out[cols].reset_index(drop=True)


def leakage_by_partner(data: ProgressData, first: date, last: date, n: int = 15) -> pd.DataFrame:
    """Referrals received that never became our patients (status lost), by partner and reason."""
    r = rows_between(data.referrals, "referral_date", first, last)
    r = r[r["direction"] == "received"]
    cols = ["npi", "name", "received", "lost", "leakage_rate", "no_show", "declined",
            "went_elsewhere", "other"]  # fmt: skip
    if r.empty:
        return pd.DataFrame(columns=cols)
    lost = r["status"] == "lost"
    reason = r["lost_reason"].where(
        r["lost_reason"].isin(["no_show", "declined", "went_elsewhere"]), "other"
    )
    frame = pd.DataFrame(
        {
            "npi": r["npi"],
            "name": r["name"],
            "received": 1,
            "lost": lost.astype(int),
            **{k: (lost & (reason == k)).astype(int) for k in cols[5:]},
        }
    )
    out = frame.groupby("npi", as_index=False).agg(
        name=("name", "first"), **{c: (c, "sum") for c in ["received", "lost", *cols[5:]]}
    )
    out = out[out["lost"] > 0]
    # Leakage is "went elsewhere" only (metrics.DEFINITIONS["leakage"]); the bars show every
    # lost reason, so a no-show problem is not mistaken for a loyalty problem.
    out["leakage_rate"] = out["went_elsewhere"] / out["received"]
    out = out.sort_values(["lost", "leakage_rate", "name"], ascending=[False, False, True])
    return out[cols].head(n).reset_index(drop=True)


@dataclass(frozen=True)
class Roi:
    referred_patients: int
    visits: int  # patient visits (metrics.patient_visits), not outreach visits
    revenue: float | None  # None when no location has a revenue per visit set
    missing_rate: tuple[str, ...]  # locations without a revenue per visit


def roi(data: ProgressData, first: date, last: date) -> Roi:
    """Referred patients who came in, their visits, and the revenue at each location's rate."""
    r = metrics.arrived(rows_between(data.referrals, "referral_date", first, last))
    visits_by_practice = r.groupby("practice_id")["visits"].sum()
    revenue = 0.0
    priced = False
    for p in data.practices:
        if p.revenue_per_visit is not None:
            priced = True
            revenue += float(visits_by_practice.get(p.id, 0)) * float(p.revenue_per_visit)
    missing = tuple(p.name for p in data.practices if p.revenue_per_visit is None)
    return Roi(len(r), metrics.patient_visits(r), revenue if priced else None, missing)
