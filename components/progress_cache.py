"""The Progress page's cached view: everything the page and staff-meeting mode show for one set
of inputs (scope, period, as-of day, projector or not), built once.

Kept apart from the drawing so a rerun with the same inputs (a slide change, a download) costs
nothing but drawing, and so the cache's keys (the database and its data revision, so an edit
elsewhere in the app shows up here without a manual refresh) live in one place.
"""

from __future__ import annotations

from datetime import date

import streamlit as st
from sqlalchemy.engine import Engine

from components.chart_style import slide_figure
from components.charts import progress_charts
from components.progress_controls import TOTAL
from components.session import get_engine
from services import config, metrics, playbook, quiet, slides
from services.progress_data import data_revision, group_of, load_progress_data


@st.cache_resource(max_entries=4, show_spinner=False)
def _data(url: str, practice_ids: tuple[int, ...], revision: tuple):  # type: ignore[no-untyped-def]
    """One load per data revision (never mutated: the metrics only read)."""
    engine = get_engine()
    practices = [p for p in group_of(engine, practice_ids[0]) if p.id in practice_ids]
    return load_progress_data(engine, practices)


@st.cache_resource(max_entries=16, show_spinner=False)
def _view(  # type: ignore[no-untyped-def]
    url: str, ids: tuple[int, ...], revision: tuple, scope: int, first: date, last: date,
    today: date, big: bool,
):  # fmt: skip
    """Everything the page shows for one set of inputs; a rerun with the same ones (a slide
    change, a download) costs nothing but drawing."""
    data = _data(url, ids, revision)
    if scope != TOTAL:
        data = data.only(scope)
    label = "today" if last == today else f"as of {playbook.day_text(last)}"
    charts = progress_charts(data, first, last, big=big, marker_label=label)
    if big:  # a slide's chart fills the window's height, whatever the projector
        for chart in charts:
            slide_figure(chart.figure)
    period = metrics.in_period(data.referrals, first, last)
    leaked, _rate = metrics.leakage(period)
    quiet_frame = quiet.went_quiet(data.referrals, last)
    loyalty = metrics.loyalty_table(period)
    by_key = {c.key: c for c in charts}
    takeaways = {
        "growth": slides.growth_takeaway(by_key["growth"].numbers),
        "referrals_by_month": slides.referrals_by_month_takeaway(
            by_key["referrals_by_month"].numbers  # the chart's own numbers: no second pass
        ),
        "funnel": slides.funnel_takeaway(by_key["funnel"].numbers, leaked),
        "visits": slides.visits_takeaway(by_key["visits"].numbers),
        "top_partners": slides.top_partners_takeaway(by_key["top_partners"].numbers),
        "leakage": slides.leakage_takeaway(by_key["leakage"].numbers),
        "quiet": slides.quiet_takeaway(quiet_frame),
        "loyalty": slides.loyalty_takeaway(loyalty),
    }
    return {
        "data": data,
        "headline": playbook.headline(data, last),
        "kpis": playbook.kpis(data, last),
        "charts": charts,
        "roi": playbook.roi(data, first, last),
        "locations": playbook.location_summary(data, last) if data.locations > 1 else None,
        "quiet": quiet_frame,
        "loyalty": loyalty,
        "takeaways": takeaways,
    }


def load_view(
    engine: Engine, by_id: dict, scope: int, first: date, last: date, today: date, big: bool
) -> dict:
    """The cached view, keyed on the database and its data revision so an edit elsewhere in
    the app shows up here without a manual refresh."""
    ids = tuple(by_id)
    return _view(
        config.database_url(), ids, data_revision(engine, ids), scope, first, last, today, big
    )
