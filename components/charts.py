"""Plotly figures for the Progress page and its report: pure functions from metric frames.

Each builder returns a `go.Figure`, so tests read the figure spec instead of a screenshot, and
the page, staff-meeting mode and the exported HTML report all draw the very same figures.
`big=True` is the projector variant: larger type and taller plots.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date

import pandas as pd
import plotly.graph_objects as go

from services import playbook
from services.progress_data import ProgressData
from services.specialties import group_color, group_label

PHASE_COLORS = {
    "research": "#E0F2FE",
    "outreach": "#FEF9C3",
    "activation": "#DCFCE7",
    "growth": "#EDE9FE",
    "maturity": "#FCE7F3",
}
TARGET_FILL = "rgba(100, 116, 139, 0.28)"
LINE_COLORS = {"targets": "#64748B", "connections": "#2563EB", "active": "#DC2626"}
LINE_NAMES = {
    "targets": "On the target list",
    "connections": "Connections",
    "active": "Active partnerships",
}
SHORT_NOUNS = {"targets": "targets", "connections": "connections", "active": "active"}
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


_AXIS = {"showline": True, "linecolor": "#CBD5E1", "gridcolor": "#EEF2F7"}


def _figure(
    traces: list,
    title: str,
    big: bool,
    height: int | None = None,
    xaxis: dict | None = None,
    yaxis: dict | None = None,
    **layout: object,
) -> go.Figure:
    """Build the figure in one constructor call: every `update_layout`/`update_xaxes` re-walks
    and re-validates the layout, which made six charts cost half a second."""
    base = {
        "title": {"text": title, "x": 0, "xanchor": "left"},
        "font": {"size": 20 if big else 13},
        "height": height or (580 if big else 420),
        "margin": {"l": 60, "r": 30, "t": 80 if big else 60, "b": 50},
        "plot_bgcolor": "white",
        # Below the plot: above it, a legend collides with the title in a half-width column.
        "legend": {"orientation": "h", "yanchor": "top", "y": -0.3, "x": 0, "xanchor": "left"},
        "xaxis": {**_AXIS, **(xaxis or {})},
        "yaxis": {**_AXIS, "rangemode": "tozero", "automargin": True, **(yaxis or {})},
    }
    base.update(layout)
    return go.Figure(data=traces, layout=base)


def _empty(title: str, big: bool, text: str) -> go.Figure:
    """An empty chart that says what will appear there and when (never a bare axis)."""
    return _figure(
        [], title, big,
        xaxis={"visible": False}, yaxis={"visible": False},
        annotations=[{"text": text, "showarrow": False, "xref": "paper", "yref": "paper",
                      "x": 0.5, "y": 0.5, "font": {"size": 22 if big else 15}}],
    )  # fmt: skip


def growth_chart(
    series: pd.DataFrame,
    start: date | None,
    today: date,
    locations: int = 1,
    big: bool = False,
    marker_label: str = "today",
) -> go.Figure:
    """Partnership growth over weeks 0–52 against the playbook.

    Each phase is a shaded band across its weeks carrying its name and target range; the target
    range itself is a darker box at the height the phase's metric must reach, so the eye reads
    "the red line must be inside the box by the end of the band". x is elapsed weeks (day / 7).
    """
    # Shapes, annotations and traces are collected and set once: add_vrect and friends
    # re-validate the whole layout per call, which cost a tenth of a second per chart.
    shapes: list[dict] = []
    notes: list[dict] = []
    traces: list[go.Scatter] = []
    ymax = 1.0
    for i, phase in enumerate(playbook.PHASES):
        x0, x1 = phase.first_day / 7, (phase.last_day + 1) / 7
        low, high = phase.target_low * locations, phase.target_high * locations
        ymax = max(ymax, high)
        shapes.append(
            {"type": "rect", "xref": "x", "yref": "paper", "x0": x0, "x1": x1, "y0": 0, "y1": 1,
             "fillcolor": PHASE_COLORS[phase.key], "layer": "below", "line": {"width": 0},
             "name": f"phase:{phase.key}"}
        )  # fmt: skip
        # Research and Outreach are narrow: stagger the labels so they do not overlap.
        notes.append(
            {"x": (x0 + x1) / 2, "y": 1.0, "xref": "x", "yref": "paper", "yanchor": "bottom",
             "yshift": 34 if i % 2 else 2, "showarrow": False, "name": f"phase:{phase.key}",
             "text": f"<b>{phase.label}</b> {low}–{high} {SHORT_NOUNS[phase.metric]}",
             "font": {"size": 15 if big else 10}}
        )  # fmt: skip
        noun = playbook.METRIC_NOUNS[phase.metric][1]
        traces.append(
            go.Scatter(
                x=[x0, x1, x1, x0, x0],
                y=[low, low, high, high, low],
                fill="toself",
                fillcolor=TARGET_FILL,
                line={"width": 0},
                mode="lines",
                name="Target range",
                legendgroup="target",
                showlegend=phase.key == "research",
                hoverinfo="text",
                text=f"{phase.label} target: {low}–{high} {noun} by week "
                f"{playbook.phase_end_week(phase)}",
                meta={"phase": phase.key, "metric": phase.metric, "low": low, "high": high},
            )
        )
    for metric in ("targets", "connections", "active"):
        ys = [None if (v is None or math.isnan(v)) else v for v in series[metric].tolist()]
        ymax = max([ymax, *[v for v in ys if v is not None]])
        traces.append(
            go.Scatter(
                x=series["week"].tolist(),
                y=ys,
                mode="lines+markers",
                name=LINE_NAMES[metric],
                line={"color": LINE_COLORS[metric], "width": 4 if big else 3},
                marker={"size": 7 if big else 5},
                meta={"metric": metric},
                hovertemplate="week %{x}: %{y} " + LINE_NAMES[metric].lower() + "<extra></extra>",
            )
        )
    if start is not None and today >= start:
        x_today = min((today - start).days / 7, 52.9)
        shapes.append(
            {"type": "line", "xref": "x", "yref": "paper", "x0": x_today, "x1": x_today, "y0": 0,
             "y1": 1, "line": {"color": "#111827", "width": 2, "dash": "dash"}, "name": "today"}
        )  # fmt: skip
        notes.append(
            {"x": x_today, "y": 0.97, "xref": "x", "yref": "paper", "text": marker_label,
             "showarrow": False, "xanchor": "left", "bgcolor": "white", "name": "today",
             "font": {"size": 16 if big else 11}}
        )  # fmt: skip
    title = "Partnership growth against the playbook"
    if locations > 1:
        title += f" — all {locations} locations"
    return _figure(
        traces, title, big,
        height=640 if big else 500,
        xaxis={"title": {"text": "Weeks from playbook start"}, "range": [0, 53], "dtick": 4},
        yaxis={"title": {"text": "Partners"}, "range": [0, ymax * 1.1]},
        shapes=shapes, annotations=notes,
        margin={"l": 60, "r": 30, "t": 150 if big else 110, "b": 50},
        legend={"orientation": "h", "yanchor": "top", "y": -0.26 if big else -0.2, "x": 0},
    )  # fmt: skip


def referrals_by_month_chart(frame: pd.DataFrame, big: bool = False) -> go.Figure:
    """Received (top) and sent (bottom) per month, stacked by the partner's specialty group."""
    title = "Referrals per month, by specialty group"
    if frame.empty:
        return _empty(
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
    return _figure(
        traces, title, big,
        height=640 if big else 540,
        barmode="stack",
        legend={"orientation": "h", "yanchor": "top", "y": -0.08, "x": 0, "xanchor": "left"},
        xaxis={"anchor": "y", "matches": "x2", "showticklabels": False},
        yaxis={"domain": [0.56, 1.0], "title": {"text": "Received"}},
        xaxis2={**_AXIS, "anchor": "y2", "type": "category"},
        yaxis2={**_AXIS, "domain": [0.0, 0.44], "rangemode": "tozero", "title": {"text": "Sent"}},
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
        return _empty(
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
    return _figure([trace], title, big)


def visits_chart(frame: pd.DataFrame, big: bool = False) -> go.Figure:
    """Outreach visits per week as bars against the playbook's 2–3 band (red below it)."""
    title = "Outreach visits per week"
    if frame.empty:
        return _empty(title, big, "No weeks in this period.")
    # Week labels as categories: a date axis over a week or two ticks hours of the day.
    x = [f"{playbook.day_text(d)}" for d in frame["week_of"]]
    low, high = int(frame["target_low"].iloc[0]), int(frame["target_high"].iloc[0])
    colors = [
        "#DC2626" if v < low else "#16A34A" if v <= high else "#2563EB" for v in frame["visits"]
    ]
    traces = [
        go.Scatter(x=x, y=frame["target_high"].tolist(), mode="lines", line={"width": 0},
                   showlegend=False, hoverinfo="skip", name="band top"),
        go.Scatter(x=x, y=frame["target_low"].tolist(), mode="lines", line={"width": 0},
                   fill="tonexty", fillcolor="rgba(34, 197, 94, 0.25)",
                   name=f"Playbook: {low}–{high} a week", hoverinfo="skip"),
        go.Bar(x=x, y=frame["visits"].tolist(), name="Outreach visits (red: below the band)",
               marker_color=colors, opacity=0.85),
    ]  # fmt: skip
    notes = []
    if int(frame["visits"].sum()) == 0:
        notes.append(
            {"text": f"No outreach visits logged yet: each visit or lunch logged on Targets<br>"
             f"appears here in its week; the playbook's pace is {low}–{high} a week.",
             "showarrow": False, "xref": "paper", "yref": "paper", "x": 0.5, "y": 0.5,
             "font": {"size": 20 if big else 14}, "bgcolor": "rgba(255,255,255,0.85)"}
        )  # fmt: skip
    return _figure(
        traces, title, big,
        xaxis={"title": {"text": "Week of"}, "type": "category"},
        yaxis={"title": {"text": "Outreach visits"}, "dtick": 1 if high <= 6 else None},
        annotations=notes,
    )  # fmt: skip


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
        return _empty(
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
    return _figure(
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
        return _empty(
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
    return _figure(
        traces, title, big,
        height=max(580 if big else 420, 120 + (44 if big else 32) * len(f)),
        barmode="stack",
        xaxis={"title": {"text": "Lost referrals"}, "dtick": 1 if f["lost"].max() <= 10 else None,
               "range": [0, float(f["lost"].max()) * 1.4 + 0.5]},
        yaxis={"automargin": True},
    )  # fmt: skip


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


def slide_figure(fig) -> None:  # type: ignore[no-untyped-def]
    """Fit a projector figure to a slide: its height follows the window, the slide's title
    line replaces the figure's title, and the legend sits at the figure's foot."""
    top = 95 if fig.layout.shapes else 20  # the growth chart's phase labels need room
    fig.update_layout(
        height=None,
        autosize=True,
        title=None,
        margin={"t": top, "b": 10},
        legend={"orientation": "h", "yref": "container", "y": 0, "yanchor": "bottom",
                "x": 0, "xanchor": "left"},
    )  # fmt: skip
    fig.update_xaxes(automargin=True)
