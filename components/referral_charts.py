"""The referral figures: referrals per month by specialty group, the conversion funnel, the
top partners and the lost referrals (leakage) by partner and reason.

Separate from the playbook figures (`components/playbook_charts.py`): these read the referral
log, those the playbook's phases and paces. Each builder is a pure function from a metric frame
to a `go.Figure`, so tests read the figure spec instead of a screenshot.
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from components.chart_style import AXIS, empty, figure
from services.specialties import group_color, group_label

LOST_COLORS = {
    "went_elsewhere": "#DC2626",
    "declined": "#F59E0B",
    "no_show": "#6366F1",
    "other": "#94A3B8",
}
LOST_LABELS = {
    "went_elsewhere": "Went elsewhere",
    "declined": "Declined",
    "no_show": "No-show",
    "other": "Other",
}


def referrals_by_month_chart(frame: pd.DataFrame, big: bool = False) -> go.Figure:
    """Received (top) and sent (bottom) per month, stacked by the partner's specialty group."""
    title = "Referrals per month, by specialty group"
    if frame.empty:
        return empty(
            title,
            big,
            "No referrals in this period yet.<br>Each month's received and "
            "sent referrals appear here<br>as they are logged in the Referral log.",
        )
    # One pivot instead of a filter per group and direction: 15 groups × 2 directions × 24
    # months was the slowest figure on two years of referrals.
    table = frame.pivot_table(
        index="month", columns=["direction", "group"], values="referrals", aggfunc="sum",
        fill_value=0,
    )  # fmt: skip
    # Month names as categories: a date axis over one month would tick hours of the day.
    x = [f"{m:%b %Y}" for m in table.index]
    traces, shown = [], set()
    groups = sorted(frame["group"].unique(), key=group_label)
    for axis, direction in (("", "received"), ("2", "sent")):
        for group in groups:
            if (direction, group) not in table.columns:
                continue
            traces.append(
                go.Bar(
                    x=x,
                    y=table[(direction, group)].astype(int).tolist(),
                    name=group_label(group),
                    legendgroup=group,
                    showlegend=group not in shown,
                    marker_color=group_color(group),
                    xaxis=f"x{axis}",
                    yaxis=f"y{axis}",
                    meta={"direction": direction, "group": group},
                )
            )
            shown.add(group)
    size = 18 if big else 13
    return figure(
        traces, title, big,
        height=640 if big else 540,
        barmode="stack",
        legend={"orientation": "h", "yanchor": "top", "y": -0.08, "x": 0, "xanchor": "left"},
        xaxis={"anchor": "y", "matches": "x2", "showticklabels": False},
        yaxis={"domain": [0.56, 1.0], "title": {"text": "Received"}},
        xaxis2={**AXIS, "anchor": "y2", "type": "category"},
        yaxis2={**AXIS, "domain": [0.0, 0.44], "rangemode": "tozero", "title": {"text": "Sent"}},
        annotations=[
            {"text": "<b>Received</b>", "xref": "paper", "yref": "paper", "x": 0, "y": 1.0,
             "yanchor": "bottom", "showarrow": False, "font": {"size": size}},
            {"text": "<b>Sent</b>", "xref": "paper", "yref": "paper", "x": 0, "y": 0.44,
             "yanchor": "bottom", "showarrow": False, "font": {"size": size}},
        ],
    )  # fmt: skip


def funnel_chart(frame: pd.DataFrame, big: bool = False) -> go.Figure:
    """Received referrals reaching each step, with the share of those received."""
    title = "Conversion funnel: referrals received → discharged"
    if frame.empty or int(frame["referrals"].iloc[0]) == 0:
        return empty(
            title,
            big,
            "No referrals received in this period yet.<br>The funnel "
            "fills in as received referrals are logged<br>and move to scheduled, "
            "evaluated and discharged.",
        )
    trace = go.Funnel(
        y=frame["step"].tolist(),
        x=frame["referrals"].tolist(),
        textinfo="value+percent initial",
        marker={"color": ["#1D4ED8", "#2563EB", "#3B82F6", "#60A5FA", "#93C5FD"]},
        connector={"fillcolor": "#E2E8F0"},
    )
    return figure([trace], title, big)


def _trend_text(trend: int) -> str:
    if trend > 0:
        return f"▲ +{trend}"
    if trend < 0:
        return f"▼ −{-trend}"
    return "no change"  # no arrow for zero


def top_partners_chart(frame: pd.DataFrame, big: bool = False) -> go.Figure:
    """Partners by referrals over 12 months; the label gives the last 6 vs the 6 before."""
    title = "Top partners by referrals, last 12 months"
    if frame.empty:
        return empty(
            title,
            big,
            "No referrals in the last 12 months yet.<br>Partners appear "
            "here, most referrals first,<br>once referrals are logged.",
        )
    f = frame.iloc[::-1]
    names = f["name"].tolist()
    labels = [
        f"{int(t)}  {_trend_text(int(d))}" for t, d in zip(f["referrals"], f["trend"], strict=True)
    ]
    traces = [
        go.Bar(y=names, x=f["previous_6_months"].tolist(), orientation="h",
               name="Months 7–12 ago", marker_color="#CBD5E1"),
        go.Bar(y=names, x=f["last_6_months"].tolist(), orientation="h",
               name="Last 6 months (▲▼: vs the 6 before)", marker_color="#2563EB",
               text=labels, textposition="outside", cliponaxis=False),
    ]  # fmt: skip
    return figure(
        traces, title, big,
        height=max(580 if big else 420, 120 + (44 if big else 32) * len(f)),
        barmode="stack",
        xaxis={"title": {"text": "Referrals (received and sent)"},
               "range": [0, float(f["referrals"].max()) * 1.25 + 1]},
        yaxis={"automargin": True},
    )  # fmt: skip


def leakage_chart(frame: pd.DataFrame, big: bool = False) -> go.Figure:
    """Referrals a partner sent us that never became our patients, by reason."""
    title = "Lost referrals by partner and reason (leakage: went elsewhere)"
    if frame.empty:
        return empty(
            title,
            big,
            "No lost referrals in this period.<br>When a received "
            "referral is marked lost, its partner<br>and reason (went elsewhere, "
            "declined, no-show) appear here.",
        )
    f = frame.iloc[::-1]
    names = f["name"].tolist()
    traces: list = [
        go.Bar(y=names, x=f[reason].tolist(), orientation="h", name=LOST_LABELS[reason],
               marker_color=LOST_COLORS[reason])
        for reason in ("went_elsewhere", "declined", "no_show", "other")
        if int(f[reason].sum()) > 0
    ]  # fmt: skip
    traces.append(
        go.Scatter(
            y=names, x=f["lost"].tolist(), mode="text", textposition="middle right",
            text=[f"  {lost} of {n} lost, {r:.0%} went elsewhere"
                  for lost, r, n in zip(f["lost"], f["leakage_rate"], f["received"], strict=True)],
            showlegend=False, hoverinfo="skip", cliponaxis=False,
        )
    )  # fmt: skip
    return figure(
        traces, title, big,
        height=max(580 if big else 420, 120 + (44 if big else 32) * len(f)),
        barmode="stack",
        xaxis={"title": {"text": "Lost referrals"}, "dtick": 1 if f["lost"].max() <= 10 else None,
               "range": [0, float(f["lost"].max()) * 1.4 + 0.5]},
        yaxis={"automargin": True},
    )  # fmt: skip
