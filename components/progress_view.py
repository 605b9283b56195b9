"""The Progress page's building blocks: its controls, the cached view, the normal layout and
staff-meeting mode.

Session-state keys (plain keys, since widget values do not survive a page change):
- "progress_scope": the location shown (a practice id), or 0 for the group total;
- "progress_range": (first, last) of the date range; last is the as-of day;
- "progress_meeting": staff-meeting mode on/off; "progress_slide": its current slide.
"""

from __future__ import annotations

from datetime import date, timedelta

import streamlit as st
from sqlalchemy.engine import Engine

from components import report
from components.charts import progress_charts
from components.session import get_engine
from components.text import md_escape
from services import config, playbook
from services.progress_data import data_revision, group_of, load_progress_data

TOTAL = 0  # the scope value meaning "all locations of the group"


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
    label = "today" if last == today else f"as of {last:%b %-d}"
    return {
        "data": data,
        "headline": playbook.headline(data, last),
        "kpis": playbook.kpis(data, last),
        "charts": progress_charts(data, first, last, big=big, marker_label=label),
        "roi": playbook.roi(data, first, last),
        "locations": playbook.location_summary(data, last) if data.locations > 1 else None,
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


def _default_range(start: date | None, today: date) -> tuple[date, date]:
    year_ago = today - timedelta(days=364)
    if start is None or start > today or start < year_ago:
        return year_ago, today
    return start, today


def scope_label(group: list, by_id: dict, pid: int) -> str:
    """One wording for the scope in the picker and the exported report."""
    return f"All {len(group)} locations (total)" if pid == TOTAL else by_id[pid].name


def controls(
    practice_id: int, group: list, by_id: dict, today: date
) -> tuple[int, date, date, bool]:
    """Location, date range and meeting toggle, kept in plain session keys so they survive a
    page change (and `?meeting=1` opens the page on a projector). Returns (scope, first, last,
    meeting), with the range clamped so the as-of day is never in the future."""
    if "progress_meeting" not in st.session_state:
        st.session_state["progress_meeting"] = st.query_params.get("meeting") == "1"
    if st.session_state.get("progress_scope") not in {TOTAL, *by_id} or (
        st.session_state.get("progress_scope") == TOTAL and len(group) == 1
    ):
        st.session_state["progress_scope"] = int(practice_id)
    scope_options = ([TOTAL] if len(group) > 1 else []) + list(by_id)

    start_for_scope = (
        by_id[st.session_state["progress_scope"]].playbook_start
        if st.session_state["progress_scope"] != TOTAL
        else min((p.playbook_start for p in group if p.playbook_start), default=None)
    )
    if "progress_range" not in st.session_state:
        st.session_state["progress_range"] = _default_range(start_for_scope, today)

    cols = st.columns([3, 3, 2], vertical_alignment="bottom")
    meeting = cols[2].toggle(
        "Staff-meeting mode",
        value=st.session_state["progress_meeting"],
        key="_w_progress_meeting",
        help="A projector view: large type, one full-width chart at a time, nothing to edit.",
    )
    st.session_state["progress_meeting"] = meeting
    scope = cols[0].selectbox(
        "Location",
        scope_options,
        index=scope_options.index(st.session_state["progress_scope"]),
        format_func=lambda pid: scope_label(group, by_id, pid),
        key="_w_progress_scope",
    )
    st.session_state["progress_scope"] = scope
    picked = cols[1].date_input(
        "Date range (the end is the as-of day)",
        value=st.session_state["progress_range"],
        max_value=today,
        key="_w_progress_range",
    )
    if isinstance(picked, (tuple, list)) and len(picked) == 2:
        st.session_state["progress_range"] = (picked[0], picked[1])
    first, last = st.session_state["progress_range"]
    if last > today:
        last = today
    if first > last:
        first = last
    return scope, first, last, meeting


def kpi_tiles(view: dict) -> None:
    """The KPI row, shared by the normal page and the meeting's first slide."""
    st.caption(
        "Change against 30 days earlier; for counts over 30 days, against the 30 days before. "
        "Visits are outreach visits (visits and lunches)."
    )
    cols = st.columns(len(view["kpis"]))
    for col, k in zip(cols, view["kpis"], strict=True):
        col.metric(
            k.label,
            k.value,
            delta=f"{k.delta:+d}",
            delta_color="normal" if k.delta else "off",
            border=True,
        )


def roi_panel(view: dict) -> None:
    """Return on referrals beside the playbook's sourced figures, so the money is read in
    context; shared by the normal page and the meeting's last slide."""
    roi = view["roi"]
    left, right = st.columns([3, 2])
    with left:
        st.subheader("Return on referrals")
        a, b, c = st.columns(3)
        a.metric("Referred patients", roi.referred_patients, border=True)
        b.metric("Visits", roi.visits, border=True)
        c.metric("Estimated revenue", report.money(roi.revenue), border=True)
        st.caption(
            "Referred patients: referrals received in the range who were evaluated or beyond. "
            "Revenue: their visits × each location's revenue per visit (Settings)."
        )
        if roi.missing_rate:
            st.warning(
                "No revenue per visit is set for "
                + ", ".join(md_escape(name) for name in roi.missing_rate)
                + ": set it in Settings to price those visits."
            )
    with right:
        st.subheader("Context from the playbook")
        for text, source in playbook.CONTEXT_FIGURES:
            st.markdown(f"- {text} — *source: {source}*")


def _plot(chart, key: str) -> None:  # type: ignore[no-untyped-def]
    st.plotly_chart(
        chart.figure,
        width="stretch",
        theme=None,  # the same look as the exported report
        key=key,
        config={"displaylogo": False},
    )


def meeting_mode(view: dict) -> None:
    """The projector view: large type, no sidebar, one slide at a time. The caller stops the
    script after it, so nothing editable is drawn below."""
    charts = view["charts"]
    st.markdown(
        """<style>
        [data-testid="stSidebar"], [data-testid="stSidebarCollapsedControl"] {display: none;}
        .block-container {max-width: 100%; padding-top: 2rem;}
        h1 {font-size: 3rem !important;}
        [data-testid="stMetricValue"] {font-size: 3.2rem;}
        [data-testid="stMetricLabel"] p {font-size: 1.3rem;}
        .st-key-progress_headline p {font-size: 2.1rem; font-weight: 600; line-height: 1.3;}
        </style>""",
        unsafe_allow_html=True,
    )
    with st.container(key="progress_headline"):
        st.markdown(view["headline"])
    slides = [("Where we are", None), *[(c.title, c) for c in charts], ("Return", None)]
    n = len(slides)
    slide = min(max(int(st.session_state.get("progress_slide", 0)), 0), n - 1)

    def _go(step: int) -> None:
        st.session_state["progress_slide"] = (slide + step) % n

    nav = st.columns([1, 4, 1])
    nav[0].button("◀ Previous", key="progress_prev", on_click=_go, args=(-1,), width="stretch")
    nav[1].markdown(
        f"<div style='text-align:center;font-size:1.4rem'>Slide {slide + 1} of {n}: "
        f"<b>{slides[slide][0]}</b></div>",
        unsafe_allow_html=True,
    )
    nav[2].button("Next ▶", key="progress_next", on_click=_go, args=(1,), width="stretch")
    _title, chart = slides[slide]
    if chart is None and slide == 0:
        kpi_tiles(view)
        if view["locations"] is not None:
            st.dataframe(view["locations"], hide_index=True, width="stretch")
    elif chart is None:
        roi_panel(view)
    else:
        _plot(chart, f"meeting_{chart.key}")


def overview(view: dict) -> None:
    """Headline, KPIs and (for a group) the per-location table: the answer before the charts."""
    st.markdown(f"#### {view['headline']}")
    kpi_tiles(view)
    if view["locations"] is not None:
        st.subheader("Locations")
        st.dataframe(view["locations"], hide_index=True, width="stretch")


def _with_csv(chart, last: date) -> None:  # type: ignore[no-untyped-def]
    _plot(chart, f"chart_{chart.key}")
    st.download_button(
        f"CSV: {chart.title.lower()}",
        data=report.chart_csv(chart),
        file_name=f"progress_{chart.key}_{last:%Y%m%d}.csv",
        mime="text/csv",
        key=f"csv_{chart.key}",
        on_click="ignore",
        icon=":material/download:",
        type="tertiary",
    )


def chart_grid(charts: list, last: date) -> None:
    """The growth chart full width, the rest two by two, each with its numbers as CSV so a
    figure can be checked or reused outside the app."""
    _with_csv(charts[0], last)
    for row_start in range(1, len(charts), 2):
        for col, chart in zip(st.columns(2), charts[row_start : row_start + 2], strict=False):
            with col:
                _with_csv(chart, last)


def export_buttons(view: dict, scope_name: str, first: date, last: date) -> None:
    """The report and the chart numbers, each built only when its button is clicked."""
    st.subheader("Export")
    charts = view["charts"]

    def _report_html() -> bytes:
        return report.build_report_html(
            scope=scope_name,
            first=first,
            last=last,
            headline=view["headline"],
            kpis=view["kpis"],
            charts=charts,
            roi=view["roi"],
            locations=view["locations"],
        ).encode("utf-8")

    ex1, ex2 = st.columns(2)
    ex1.download_button(
        "Download report (HTML)",
        data=_report_html,  # built on click only: it carries plotly.js (about 5 MB)
        file_name=f"progress_report_{last:%Y%m%d}.html",
        mime="text/html",
        key="download_report",
        on_click="ignore",
        icon=":material/description:",
        help="One file with interactive charts that opens with no network.",
    )
    ex2.download_button(
        "Download all chart numbers (ZIP of CSVs)",
        data=lambda: report.charts_csv_zip(charts),
        file_name=f"progress_numbers_{last:%Y%m%d}.zip",
        mime="application/zip",
        key="download_csv_zip",
        on_click="ignore",
        icon=":material/folder_zip:",
    )
