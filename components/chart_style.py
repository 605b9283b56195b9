"""The one look every Progress figure shares: axes, type sizes, margins, the empty state and the
projector fit.

Kept apart from the figures themselves so the growth, visits and referral charts (and the
exported report, which draws the same figures) cannot drift apart in style: a change of font or
legend placement is made here once. `big=True` is the projector variant: larger type and
taller plots.
"""

from __future__ import annotations

import plotly.graph_objects as go

AXIS = {"showline": True, "linecolor": "#CBD5E1", "gridcolor": "#EEF2F7"}


def figure(
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
        "xaxis": {**AXIS, **(xaxis or {})},
        "yaxis": {**AXIS, "rangemode": "tozero", "automargin": True, **(yaxis or {})},
    }
    base.update(layout)
    return go.Figure(data=traces, layout=base)


def empty(title: str, big: bool, text: str) -> go.Figure:
    """An empty chart that says what will appear there and when (never a bare axis)."""
    return figure(
        [], title, big,
        xaxis={"visible": False}, yaxis={"visible": False},
        annotations=[{"text": text, "showarrow": False, "xref": "paper", "yref": "paper",
                      "x": 0.5, "y": 0.5, "font": {"size": 22 if big else 15}}],
    )  # fmt: skip


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
