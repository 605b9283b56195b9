"""The Progress page's controls: location, period, the meeting's slides and the meeting switch,
with the session state and the URL that keep them.

Session-state keys (plain keys, since widget values do not survive a page change):
- "progress_scope": the location shown (a practice id), or 0 for the group total;
- "progress_range": (first, last) of the date range; last is the as-of day;
- "progress_meeting": staff-meeting mode on/off; "progress_slide": its current slide (0-based);
- "progress_slides": the meeting's chosen slides, in order.
The meeting's state is mirrored in the URL (`?meeting=1&slides=growth,quiet&slide=2`), so the
weekly meeting's link opens on the same deck and slide.

Kept apart from what the page draws: these decide *which* view is shown and carry no figures.
"""

from __future__ import annotations

from datetime import date, timedelta

import streamlit as st

from services import slides

TOTAL = 0  # the scope value meaning "all locations of the group"
#: The default period shows at least this many days, so a new practice's charts have weeks.
MIN_PERIOD_DAYS = 28


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
