"""The partnership-building figures, each drawn against the playbook's own targets: growth of
the target list, connections and active partnerships against the phase bands, and outreach
visits per week against the playbook's weekly pace.

Separate from the referral figures (`components/referral_charts.py`): these read the playbook's
phases and paces, those read the referral log. Each builder is a pure function from a metric
frame to a `go.Figure`, so tests read the figure spec instead of a screenshot.
"""

from __future__ import annotations

import math
from datetime import date

import pandas as pd
import plotly.graph_objects as go

from components.chart_style import empty, figure
from services import playbook

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
    return figure(
        traces, title, big,
        height=640 if big else 500,
        xaxis={"title": {"text": "Weeks from playbook start"}, "range": [0, 53], "dtick": 4},
        yaxis={"title": {"text": "Partners"}, "range": [0, ymax * 1.1]},
        shapes=shapes, annotations=notes,
        margin={"l": 60, "r": 30, "t": 150 if big else 110, "b": 50},
        legend={"orientation": "h", "yanchor": "top", "y": -0.26 if big else -0.2, "x": 0},
    )  # fmt: skip


def visits_chart(frame: pd.DataFrame, big: bool = False) -> go.Figure:
    """Outreach visits per week as bars against the playbook's 2–3 band (red below it)."""
    title = "Outreach visits per week"
    if frame.empty:
        return empty(title, big, "No weeks in this period.")
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
    return figure(
        traces, title, big,
        xaxis={"title": {"text": "Week of"}, "type": "category"},
        yaxis={"title": {"text": "Outreach visits"}, "dtick": 1 if high <= 6 else None},
        annotations=notes,
    )  # fmt: skip
