"""Conversion and leakage of received referrals: the funnel, timing, and lost reasons."""

from __future__ import annotations

from typing import Any

import pandas as pd

from services import metrics
from services.referrals.cells import FUNNEL, LEAKAGE_REASON, as_datetime


def _reached(status: pd.Series, lost_reason: pd.Series) -> pd.DataFrame:
    """Which funnel stages each referral reached: the one definition in `services.metrics`
    (a lost referral reached `received`; a no-show was also `scheduled`)."""
    return metrics.funnel_reached(status, lost_reason)[list(FUNNEL)]


def _facts(received: pd.DataFrame) -> pd.DataFrame:
    """One row per referral with what the funnel counts, computed once for every grouping."""
    reached = _reached(received["status"], received["lost_reason"])
    days = (
        as_datetime(received["first_visit_date"]) - as_datetime(received["referral_date"])
    ).dt.days
    lost = received["status"] == "lost"
    leaked = metrics.is_leaked(received["status"], received["lost_reason"])
    return reached.assign(
        partner_npi=received["partner_npi"].to_numpy(),
        days=days.to_numpy(),
        lost=lost.to_numpy(),
        leaked=leaked.to_numpy(),
    )


def _with_rates(table: pd.DataFrame) -> pd.DataFrame:
    n = table["received"].where(table["received"] > 0)
    for stage in FUNNEL[1:]:
        table[f"{stage}_rate"] = table[stage] / n
    table["leakage_rate"] = table["leaked"] / n
    return table


_AGG = {
    **{stage: (stage, "sum") for stage in FUNNEL},
    "median_days_to_first_visit": ("days", "median"),
    "lost": ("lost", "sum"),
    "leaked": ("leaked", "sum"),
}


def conversion(referrals: pd.DataFrame) -> tuple[dict[str, Any], pd.DataFrame, pd.DataFrame]:
    """Funnel, timing and leakage of received referrals: (overall, per partner, lost reasons).

    Rates are of referrals received (so "evaluated_rate" is the share that became an
    evaluation). Leakage is the count of lost referrals whose reason is `went_elsewhere`.
    Sent referrals are left out: their funnel happens at the other provider.
    """
    received = referrals[referrals["direction"] == "received"].reset_index(drop=True)
    facts = _facts(received)
    cols = ["partner_npi", *FUNNEL, "scheduled_rate", "evaluated_rate", "discharged_rate",
            "median_days_to_first_visit", "lost", "leaked", "leakage_rate"]  # fmt: skip
    whole = _with_rates(facts.assign(partner_npi="").groupby("partner_npi").agg(**_AGG))
    if len(facts):
        overall = {k: v for k, v in whole.iloc[0].items()}
    else:
        overall = {c: 0 for c in cols[1:]}
        overall.update({c: float("nan") for c in cols if c.endswith("_rate")})
        overall["median_days_to_first_visit"] = float("nan")
    for key in (*FUNNEL, "lost", "leaked"):
        overall[key] = int(overall[key])
    for key in ("median_days_to_first_visit", *(c for c in cols if c.endswith("_rate"))):
        overall[key] = float(overall[key])
    per_partner = _with_rates(facts.groupby("partner_npi", sort=False).agg(**_AGG))
    per_partner = per_partner.reset_index()[cols]
    for key in (*FUNNEL, "lost", "leaked"):
        per_partner[key] = per_partner[key].astype(int)
    per_partner = per_partner.sort_values(
        ["received", "partner_npi"], ascending=[False, True]
    ).reset_index(drop=True)
    lost = received[received["status"] == "lost"]
    reasons = (
        lost["lost_reason"].fillna("unknown").value_counts().rename_axis("lost_reason")
    ).reset_index(name="count")
    reasons["leakage"] = reasons["lost_reason"] == LEAKAGE_REASON
    return overall, per_partner, reasons
