"""The Progress page's headline and metric cards: the headline with its period, the KPI tiles,
the funnel's tiles and the return on referrals beside the playbook's sourced figures.

Kept apart from the charts and the partner lists: these are the numbers read first, and staff-
meeting mode reuses the KPI tiles and the playbook's context on its first and last slides.
"""

from __future__ import annotations

from datetime import date, timedelta

import streamlit as st

from components import report
from components.text import md_escape
from services import metrics, playbook, slides
from services.metrics import DEFINITIONS


def period_caption(first: date, last: date) -> None:
    st.caption(
        f"Period: {playbook.day_text(first, year=True)} – {playbook.day_text(last, year=True)} "
        f"({(last - first).days + 1} days). Funnel, leakage, loyalty, outreach visits and "
        "return count this period; the KPIs count the 30 days up to its last day."
    )


def _delta(k: playbook.Kpi) -> tuple[str | None, str]:
    """No arrow for no change; colours follow meaning (fewer partners is red)."""
    if k.delta == 0:
        return None, "off"
    return f"{k.delta:+d}", "normal"


def kpi_tiles(view: dict) -> None:
    """The KPI row, shared by the normal page and the meeting's first slide."""
    cols = st.columns(len(view["kpis"]))
    for col, k in zip(cols, view["kpis"], strict=True):
        delta, color = _delta(k)
        col.metric(
            k.label,
            k.value,
            delta=delta,
            delta_color=color,
            border=True,
            help=(k.help + " Change: against 30 days earlier.") if k.help else None,
        )


def context_list(view: dict | None = None) -> None:
    for text, source in playbook.CONTEXT_FIGURES:
        st.markdown(f"- {text} — *{playbook.context_source(source)}*")


def roi_panel(view: dict) -> None:
    """Return on referrals beside the playbook's sourced figures, so the money is read in
    context; shared by the normal page and the meeting's last slide."""
    roi = view["roi"]
    left, right = st.columns([3, 2])
    with left:
        st.subheader("Return on referrals")
        a, b, c = st.columns(3)
        a.metric(
            "Referred patients",
            roi.referred_patients,
            border=True,
            help="Received referrals in the period whose patient came in (evaluated or beyond).",
        )
        b.metric("Patient visits", roi.visits, border=True, help=DEFINITIONS["patient_visits"])
        c.metric(
            "Estimated revenue",
            report.money(roi.revenue),
            border=True,
            help="Patient visits × each location's revenue per patient visit (Settings).",
        )
        if roi.missing_rate:
            st.warning(
                "No revenue per patient visit is set for "
                + ", ".join(md_escape(name) for name in roi.missing_rate)
                + ": set it in Settings (Revenue per patient visit) to price those visits."
            )
    with right:
        st.subheader("Context from the playbook")
        context_list(view)


def funnel_tiles(view: dict) -> None:
    """The funnel's numbers with their one definitions (the same ones the Referral log uses)."""
    funnel = next(c for c in view["charts"] if c.key == "funnel").numbers
    counts = dict(zip(funnel["step"], funnel["referrals"], strict=True))
    received = int(counts["Received"])
    period = metrics.in_period(view["data"].referrals, *view["period"])
    leaked, rate = metrics.leakage(period)
    cols = st.columns(4)
    cols[0].metric("Received", received, help=DEFINITIONS["received"], border=True)
    cols[1].metric(
        "Scheduled",
        f"{counts['Scheduled']} ({slides.percent(metrics.share(counts['Scheduled'], received))})",
        help=DEFINITIONS["scheduled"],
        border=True,
    )
    cols[2].metric(
        "Conversion (evaluated)",
        f"{counts['Evaluated']} ({slides.percent(metrics.share(counts['Evaluated'], received))})",
        help=DEFINITIONS["conversion"],
        border=True,
    )
    first, last = view["period"]
    before = (first - timedelta(days=(last - first).days + 1), first - timedelta(days=1))
    _prev_leaked, prev_rate = metrics.leakage(metrics.in_period(view["data"].referrals, *before))
    points = round((rate - prev_rate) * 100) if rate == rate and prev_rate == prev_rate else 0
    cols[3].metric(
        "Leakage (went elsewhere)",
        f"{leaked} ({slides.percent(rate)})",
        # against the period of the same length before; more leakage is bad news: red
        delta=f"{points:+d} pts" if points else None,
        delta_color="inverse",
        help=DEFINITIONS["leakage"] + " Change: in percentage points against the period of "
        "the same length just before.",
        border=True,
    )


def overview(view: dict) -> None:
    """Headline, KPIs and (for a group) the per-location table: the answer before the charts."""
    st.markdown(f"#### {view['headline']}")
    period_caption(*view["period"])
    kpi_tiles(view)
    if view["locations"] is not None:
        st.subheader("Locations")
        st.dataframe(view["locations"], hide_index=True, width="stretch")
