"""Staff-meeting mode: the Progress page as a presentation for a projector.

One slide at a time (a title line, one chart or short table, one takeaway), sized to the window,
with large type; only a small exit link and the slide arrows stay. The ← → keys and PageUp /
PageDown (what presenter clickers send) move between slides.

A slide change reruns only the slide (a fragment), not the page: the page's controls, the data
and every figure are already built by the cached view, so a change costs one small rerun and the
browser's drawing of one chart. The slide number is written to the URL here, since a fragment's
rerun does not reach the page's own URL update.
"""

from __future__ import annotations

from datetime import date

import streamlit as st
from sqlalchemy.engine import Engine

from components import progress_view as ui
from components import report
from components.quiet_list import quiet_list
from components.text import md_escape
from services import slides

_MEETING_CSS = """<style>
[data-testid="stSidebar"], [data-testid="stSidebarCollapsedControl"], [data-testid="stHeader"],
[data-testid="stToolbar"], [data-testid="stDecoration"], header {display: none !important;}
[data-testid="stMainBlockContainer"] {max-width: 100% !important; height: calc(100vh - 1rem);
  box-sizing: border-box; padding: 0.4rem 1.5rem 0.6rem 1.5rem !important;}
[data-testid="stMainBlockContainer"] > [data-testid="stVerticalBlock"] {height: 100%;
  gap: 0.35rem;}
[data-testid="stMain"] h1 {display: none;}
/* the slide (a fragment: its own block) takes what the page leaves */
[data-testid="stMainBlockContainer"] > [data-testid="stVerticalBlock"] >
  [data-testid="stLayoutWrapper"]:has(.st-key-meeting_bar) {flex: 1 1 0 !important;
  min-height: 0 !important;}
[data-testid="stMainBlockContainer"] > [data-testid="stVerticalBlock"] >
  [data-testid="stLayoutWrapper"]:has(.st-key-meeting_bar) > [data-testid="stVerticalBlock"] {
  height: 100%; gap: 0.35rem;}
.st-key-meeting_bar p {font-size: 1.6rem; margin: 0;}
.st-key-meeting_bar button p {font-size: 1.1rem;}
[data-testid="stLayoutWrapper"]:has(> .st-key-meeting_keys) {display: none !important;}
[data-testid="stLayoutWrapper"]:has(> .st-key-meeting_chart),
[data-testid="stLayoutWrapper"]:has(> .st-key-meeting_table) {flex: 1 1 0 !important;
  min-height: 0 !important; overflow: hidden;}
.st-key-meeting_chart {height: 100% !important;}
.st-key-meeting_chart > .stElementContainer {flex: 1 1 0 !important; min-height: 0;
  height: 100% !important;}
.st-key-meeting_chart [data-testid="stFullScreenFrame"],
.st-key-meeting_chart [data-testid="stFullScreenFrame"] > div {height: 100% !important;}
.st-key-meeting_table p, .st-key-meeting_table li {font-size: 1.45rem;}
.st-key-meeting_table button p {font-size: 1.1rem;}
.st-key-meeting_takeaway p {font-size: 1.7rem; font-weight: 600; margin: 0; line-height: 1.25;}
.st-key-meeting_headline p {font-size: 2.3rem; font-weight: 650; line-height: 1.25;}
.st-key-meeting_table [data-testid="stMetricValue"],
.st-key-meeting_table [data-testid="stMetricValue"] * {font-size: 3rem !important;}
.st-key-meeting_table [data-testid="stMetricLabel"] p {font-size: 1.25rem;}
</style>"""


def meeting_mode(view: dict, engine: Engine, practice_id: int, today: date) -> None:
    """The projector view. The caller stops the script after it, so nothing editable is drawn
    below."""
    st.markdown(_MEETING_CSS, unsafe_allow_html=True)
    _slide(view, engine, practice_id, today)


@st.fragment
def _slide(view: dict, engine: Engine, practice_id: int, today: date) -> None:
    """The bar and the current slide; the arrows and keys rerun only this."""
    deck = st.session_state.get("progress_slides") or list(slides.DEFAULT_SLIDES)
    n = len(deck)
    slide = min(max(int(st.session_state.get("progress_slide", 0)), 0), n - 1)
    st.session_state["progress_slide"] = slide
    if st.query_params.get("slide") != str(slide + 1):
        st.query_params["slide"] = str(slide + 1)  # the bookmarkable link follows the slide
    key = deck[slide]

    def _go(step: int) -> None:
        st.session_state["progress_slide"] = (slide + step) % n

    with st.container(key="meeting_bar", horizontal=True, vertical_alignment="center"):
        st.button("◀", key="progress_prev", on_click=_go, args=(-1,), shortcut="Left",
                  type="tertiary", help="Previous slide (← or PageUp)")  # fmt: skip
        st.markdown(f"**{slides.SLIDES[key]}** · {slide + 1} / {n}", width="stretch")
        st.button("▶", key="progress_next", on_click=_go, args=(1,), shortcut="Right",
                  type="tertiary", help="Next slide (→ or PageDown)")  # fmt: skip
        if st.button("Exit meeting mode", key="progress_exit", type="tertiary",
                     icon=":material/close:"):  # fmt: skip
            # the whole page must come back (controls, URL), not just this fragment
            ui.set_meeting(False)
            st.rerun(scope="app")
        with st.container(key="meeting_keys"):
            # What presenter clickers send; hidden, the arrows are the visible controls.
            st.button("prev", key="progress_pageup", on_click=_go, args=(-1,), shortcut="PageUp")
            st.button("next", key="progress_pagedown", on_click=_go, args=(1,),
                      shortcut="PageDown")  # fmt: skip
    charts = {c.key: c for c in view["charts"]}
    if key in charts:
        with st.container(key="meeting_chart"):
            ui.plot(charts[key], f"meeting_{key}", height="stretch")
        takeaway = view["takeaways"][key]
    else:
        with st.container(key="meeting_table"):
            takeaway = _table_slide(key, view, engine, practice_id, today)
    with st.container(key="meeting_takeaway"):
        st.markdown(md_escape(takeaway))


def _table_slide(key: str, view: dict, engine: Engine, practice_id: int, today: date) -> str:
    """The slides that are not a chart; returns the takeaway line."""
    if key == "headline":
        with st.container(key="meeting_headline"):
            st.markdown(md_escape(view["headline"]))
        ui.kpi_tiles(view)
        if view["locations"] is not None:
            st.dataframe(view["locations"], hide_index=True, width="stretch")
        return "Change against 30 days earlier; counts over 30 days against the 30 days before."
    if key == "quiet":
        if view["quiet"].empty:
            st.markdown(
                "No partner's referrals fell well below their usual rate in the last 45 days. "
                "A partner who sends one or more a month and then goes quiet will be listed "
                "here, with the date of their last referral."
            )
            return view["takeaways"]["quiet"]
        quiet_list(engine, practice_id, view["quiet"], today, key="meeting", limit=6)
        return view["takeaways"]["quiet"]
    if key == "loyalty":
        frame = view["loyalty"].head(6)
        for row in frame.to_dict("records"):
            st.markdown(
                f"- **{md_escape(row['name'])}**: {row['label']} — we received "
                f"{slides.percent(row['kept_share'])} of their {row['received']} referrals"
            )
        return view["takeaways"]["loyalty"]
    roi = view["roi"]
    a, b, c = st.columns(3)
    a.metric("Referred patients", roi.referred_patients, border=True)
    b.metric("Patient visits", roi.visits, border=True)
    c.metric("Estimated revenue", report.money(roi.revenue), border=True)
    ui.context_list(view)
    return "Revenue: patient visits × revenue per patient visit, set per location in Settings."
