"""The Progress page's building blocks: its controls, the cached view and the normal layout
(staff-meeting mode is `components/meeting_mode.py`).

Session-state keys (plain keys, since widget values do not survive a page change):
- "progress_scope": the location shown (a practice id), or 0 for the group total;
- "progress_range": (first, last) of the date range; last is the as-of day;
- "progress_meeting": staff-meeting mode on/off; "progress_slide": its current slide (0-based);
- "progress_slides": the meeting's chosen slides, in order.
The meeting's state is mirrored in the URL (`?meeting=1&slides=growth,quiet&slide=2`), so the
weekly meeting's link opens on the same deck and slide.
"""

from __future__ import annotations

from datetime import date, timedelta

import streamlit as st
from sqlalchemy.engine import Engine

from components import report
from components.charts import progress_charts, slide_figure
from components.quiet_list import quiet_list
from components.session import get_engine
from components.text import md_escape
from services import config, metrics, playbook, quiet, slides
from services.metrics import DEFINITIONS
from services.progress_data import data_revision, group_of, load_progress_data

TOTAL = 0  # the scope value meaning "all locations of the group"
#: The default period shows at least this many days, so a new practice's charts have weeks.
MIN_PERIOD_DAYS = 28


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


def default_range(start: date | None, today: date) -> tuple[date, date]:
    """The playbook so far (at most a year), and never less than MIN_PERIOD_DAYS: a practice
    created today still sees four weeks, not one day."""
    year_ago = today - timedelta(days=364)
    first = start if start is not None and year_ago <= start <= today else year_ago
    return min(first, today - timedelta(days=MIN_PERIOD_DAYS - 1)), today


def scope_label(group: list, by_id: dict, pid: int) -> str:
    """One wording for the scope in the picker and the exported report."""
    return f"All {len(group)} locations (total)" if pid == TOTAL else by_id[pid].name


def _sync_from_url() -> None:
    """On the page's first run in a session, take the meeting state from the URL."""
    if "progress_meeting" in st.session_state:
        return
    q = st.query_params
    st.session_state["progress_meeting"] = q.get("meeting") == "1"
    st.session_state["progress_slides"] = slides.parse_slides(q.get("slides"))
    try:
        st.session_state["progress_slide"] = max(int(q.get("slide", "1")) - 1, 0)
    except ValueError:
        st.session_state["progress_slide"] = 0


def _write_url() -> None:
    """Mirror the meeting state in the URL (only what differs from the default)."""
    q = st.query_params
    chosen = st.session_state["progress_slides"]
    wanted = {}
    if st.session_state["progress_meeting"]:
        wanted["meeting"] = "1"
        wanted["slide"] = str(st.session_state.get("progress_slide", 0) + 1)
    if chosen != list(slides.DEFAULT_SLIDES):
        wanted["slides"] = slides.slides_param(chosen)
    for key in ("meeting", "slide", "slides"):
        if key in wanted:
            if q.get(key) != wanted[key]:
                q[key] = wanted[key]
        elif key in q:
            del q[key]


def set_meeting(on: bool) -> None:
    st.session_state["progress_meeting"] = on
    st.session_state["progress_slide"] = 0


def controls(
    practice_id: int, group: list, by_id: dict, today: date
) -> tuple[int, date, date, bool]:
    """Location, date range, the meeting's slides and the meeting switch, kept in plain
    session keys so they survive a page change. In meeting mode nothing is drawn: the slides
    take the whole screen. Returns (scope, first, last, meeting), with the range clamped so
    the as-of day is never in the future."""
    _sync_from_url()
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
        st.session_state["progress_range"] = default_range(start_for_scope, today)
    meeting = bool(st.session_state["progress_meeting"])
    if not meeting:
        cols = st.columns([3, 3, 2], vertical_alignment="bottom")
        scope = cols[0].selectbox(
            "Location",
            scope_options,
            index=scope_options.index(st.session_state["progress_scope"]),
            format_func=lambda pid: scope_label(group, by_id, pid),
            key="_w_progress_scope",
        )
        st.session_state["progress_scope"] = scope
        picked = cols[1].date_input(
            "Period (the end is the as-of day)",
            value=st.session_state["progress_range"],
            max_value=today,
            key="_w_progress_range",
        )
        if isinstance(picked, (tuple, list)) and len(picked) == 2:
            st.session_state["progress_range"] = (picked[0], picked[1])
        cols[2].button(
            "Staff-meeting mode",
            key="progress_meeting_on",
            on_click=set_meeting,
            args=(True,),
            icon=":material/slideshow:",
            help="A projector view: one slide at a time, large type, nothing to edit. "
            "← → or PageUp/PageDown (a presenter clicker) move between slides.",
            width="stretch",
        )
        _slide_picker()
    first, last = st.session_state["progress_range"]
    if last > today:
        last = today
    if first > last:
        first = last
    _write_url()
    return st.session_state["progress_scope"], first, last, meeting


def _slide_picker() -> None:
    def _changed() -> None:
        picked = st.session_state["_w_progress_slides"]
        st.session_state["progress_slides"] = list(picked) or list(slides.DEFAULT_SLIDES)

    st.session_state["_w_progress_slides"] = st.session_state["progress_slides"]
    chosen = st.session_state["progress_slides"]
    label = "all" if chosen == list(slides.DEFAULT_SLIDES) else f"{len(chosen)} chosen"
    st.expander(f"Meeting slides ({label})", icon=":material/view_carousel:").multiselect(
        "Meeting slides, in order",
        list(slides.SLIDES),
        key="_w_progress_slides",
        format_func=lambda k: slides.SLIDES[k],
        on_change=_changed,
        help="The slides staff-meeting mode shows, in the order picked. The choice is kept in "
        "the page's address: bookmark it for the weekly meeting.",
    )


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


def plot(chart, key: str, height: int | str = "content") -> None:  # type: ignore[no-untyped-def]
    st.plotly_chart(
        chart.figure,
        width="stretch",
        height=height,
        theme=None,  # the same look as the exported report
        key=key,
        config={"displaylogo": False, "displayModeBar": False} if height != "content" else
        {"displaylogo": False},
    )  # fmt: skip


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


def loyalty_table(view: dict, key: str) -> None:
    frame = view["loyalty"]
    if frame.empty:
        st.caption("Partners appear here once they send referrals in this period.")
        return
    st.dataframe(
        frame.drop(columns=["npi"]),
        hide_index=True,
        width="stretch",
        key=key,
        column_config={
            "name": "Partner",
            "received": st.column_config.NumberColumn("Referrals to us"),
            "went_elsewhere": st.column_config.NumberColumn("Went elsewhere"),
            "kept_share": st.column_config.ProgressColumn(
                "Share we received", format="percent", min_value=0.0, max_value=1.0
            ),
            "label": st.column_config.TextColumn("Label", help=DEFINITIONS["loyalty"]),
        },
    )


# --- the normal page -------------------------------------------------------------------------


def overview(view: dict) -> None:
    """Headline, KPIs and (for a group) the per-location table: the answer before the charts."""
    st.markdown(f"#### {view['headline']}")
    period_caption(*view["period"])
    kpi_tiles(view)
    if view["locations"] is not None:
        st.subheader("Locations")
        st.dataframe(view["locations"], hide_index=True, width="stretch")


def _with_csv(chart, last: date) -> None:  # type: ignore[no-untyped-def]
    plot(chart, f"chart_{chart.key}")
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


def partners_section(view: dict, engine: Engine, practice_id: int, today: date) -> None:
    """Who went quiet and referrer loyalty: the two partner lists a meeting acts on."""
    left, right = st.columns(2)
    with left:
        st.subheader("Who went quiet", help=DEFINITIONS["quiet"])
        quiet_list(engine, practice_id, view["quiet"], today, key="progress")
    with right:
        st.subheader("Referrer loyalty", help=DEFINITIONS["loyalty"])
        loyalty_table(view, "progress_loyalty")


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
