"""The map page's live-data panel: search the NPI Registry around a real practice, or refresh.

A search is hundreds of registry queries and can take minutes, so it runs in a worker thread,
not in the script run: a Streamlit rerun (a click on the map, a filter change, the map
component's first report) stops the script, and would otherwise stop the search with it. The
panel polls the job with a fragment that reruns every second; **Stop search** sets the job's
cancel flag, and the search then ends at its next step, keeping what it already geocoded.

Session-state keys: "live_job" (the running or just-finished SearchJob of this session); the
outcome of the last job is the "live" flash slot (components/feedback.py), shown until the next
search starts.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import streamlit as st
from sqlalchemy.engine import Engine

from components.feedback import clear_flash, flash, show_flash
from components.shell import writable
from components.text import md_escape
from services import area_search, logs
from services.practices import Practice

POLL_SECONDS = 1.0
FLASH = "live"
logger = logging.getLogger(__name__)
STAGE_LABELS = {
    "registry": "Querying the NPI Registry",
    "geocode:cache": "Geocoding",
    "geocode:census": "Geocoding (US Census)",
    "geocode:nominatim": "Geocoding (Nominatim, 1 per second)",
    "geocode:zip": "Geocoding",
}


@dataclass
class SearchJob:
    practice_id: int
    radius_mi: float
    kind: str  # search / refresh
    had_pull: bool = False  # a search existed before: report how many are new
    cancel: threading.Event = field(default_factory=threading.Event)
    progress: tuple[int, int, str] = (0, 0, "registry")
    result: area_search.AreaSearchResult | None = None
    error: str | None = None
    thread: threading.Thread | None = None
    #: when the current stage began (monotonic seconds), for the time-left estimate
    stage_started: float = field(default_factory=time.monotonic)
    #: how many providers the map has been redrawn with while the search ran
    shown: int = 0

    @property
    def done(self) -> bool:
        return self.thread is not None and not self.thread.is_alive()


def start_job(
    engine: Engine,
    practice: Practice,
    radius_mi: float,
    groups: list[str],
    refresh: bool,
    had_pull: bool = False,
    run: Callable[..., area_search.AreaSearchResult] | None = None,
) -> SearchJob:
    """Start the search in a daemon thread; it never touches Streamlit."""
    job = SearchJob(practice.id, radius_mi, "refresh" if refresh else "search", had_pull)
    search = run or area_search.run_area_search

    def progress(done: int, total: int, stage: str) -> None:
        if stage != job.progress[2]:
            job.stage_started = time.monotonic()
        job.progress = (done, total, stage)

    def work() -> None:
        try:
            job.result = search(
                engine, practice, radius_mi, groups, refresh=refresh, progress=progress,
                should_stop=job.cancel.is_set,
            )  # fmt: skip
        except Exception as exc:  # logged with its traceback; the page shows the reference
            ref = logs.log_exception(logger, f"Area search for practice {practice.id} failed", exc)
            job.error = (
                f"The search failed unexpectedly (reference {ref}: the details are in the app's "
                "log). Providers already saved are kept; try again later."
            )

    job.thread = threading.Thread(target=work, name=f"area-search-{practice.id}", daemon=True)
    job.thread.start()
    return job


def _finish(job: SearchJob) -> None:
    """Turn a finished job into the one message the page shows next."""
    result = job.result
    if job.error or result is None:
        flash(FLASH, "error", md_escape(job.error or "The search failed."))
        return
    notes = " ".join(md_escape(m) for m in result.messages)
    if result.offline:
        kept = f" The {result.kept} providers that arrived are kept." if result.kept else ""
        flash(
            FLASH,
            "warning",
            f"{md_escape(result.offline)}{kept} Showing the providers already saved; press the "
            f"button to try again. {notes}".strip(),
        )
    elif result.complete:
        text = f"Found {result.found} providers within {job.radius_mi:g} mi"
        text += f", {result.new} new." if job.had_pull else "."
        flash(FLASH, "success", f"{text} {notes}".strip())
    elif result.stopped:
        flash(
            FLASH,
            "info",
            "The search was stopped. Providers already geocoded are kept; search again to "
            f"finish the rest. {notes}".strip(),
        )
    else:
        flash(FLASH, "info", notes or "The search did not finish.")


def live_search_panel(
    engine: Engine,
    practice: Practice,
    radius_mi: float,
    groups: list[str],
    on_finished: Callable[[], None],
    autostart: bool = False,
) -> None:
    """Last search, the Search/Refresh button, and the running job's progress.

    `autostart` starts a search at once when none has run for this practice (the first-run
    path: the practice was just created from the map's invitation)."""
    assert practice.lat is not None and practice.lon is not None
    job: SearchJob | None = st.session_state.get("live_job")
    if job is not None and job.practice_id != practice.id:
        job.cancel.set()  # the user switched practice: stop the other one's search
        st.session_state.pop("live_job", None)
        clear_flash(FLASH)
        job = None
    last = next(iter(area_search.pulls(engine, practice.id, 1)), None)
    if autostart and job is None and last is None and groups:
        clear_flash(FLASH)
        job = st.session_state["live_job"] = start_job(
            engine, practice, radius_mi, list(groups), False
        )
    if job is not None and job.done:
        st.session_state.pop("live_job", None)
        _finish(job)
        on_finished()
        job = None
    # The outcome stays until the next search: the map component's own reruns would wipe a
    # message shown only once, and the user must see that the registry was unreachable.
    show_flash(FLASH)

    covered = last is not None and last.covers(practice.lat, practice.lon, radius_mi, groups)
    with st.container(border=True, key="live_search"):
        c1, c2 = st.columns([3, 1], vertical_alignment="center")
        if last is None:
            c1.markdown(
                "**No NPI Registry search yet** for this practice: press **Search the NPI "
                "Registry** to put the doctors around it who could refer patients to you on "
                "the map."
            )
        else:
            c1.markdown(
                f"**Last NPI Registry search:** {last.pulled_at:%Y-%m-%d %H:%M} UTC · "
                f"{last.found} providers within {float(last.params.get('radius_mi', 0)):g} mi"
                f" · {last.new} new"
            )
            if not covered:
                c1.caption("It did not cover this radius or these specialty groups.")
        if job is None:
            if not writable():  # a search writes the practice's providers: liaisons and up
                return

            def start(refresh: bool) -> None:
                clear_flash(FLASH)
                st.session_state["live_job"] = start_job(
                    engine, practice, radius_mi, list(groups), refresh, had_pull=last is not None
                )

            if covered:
                c2.button("Refresh", key="live_refresh", on_click=start, args=(True,),
                          help="Query the registry again and mark who is new.")  # fmt: skip
            else:
                c2.button("Search the NPI Registry", key="live_search_btn", type="primary",
                          on_click=start, args=(False,), disabled=not groups)  # fmt: skip
            return
        c2.button("Stop search", key="live_stop", on_click=job.cancel.set,
                  disabled=job.cancel.is_set())  # fmt: skip
        _progress_fragment(on_finished)


def time_left(done: int, total: int, elapsed: float) -> str:
    """'about 40 s left' from the pace so far in this stage; '' until there is a pace."""
    if done <= 0 or total <= done or elapsed <= 0:
        return ""
    seconds = elapsed / done * (total - done)
    if seconds < 60:
        return f"about {max(1, round(seconds))} s left"
    return f"about {round(seconds / 60)} min left"


#: While geocoding, the whole page reruns this often (seconds) so the map fills in.
REFILL_SECONDS = 4.0


@st.fragment(run_every=POLL_SECONDS)
def _progress_fragment(on_progress: Callable[[], None] | None = None) -> None:
    """Redraws the progress every second; reruns the whole page once the job has ended, and
    every few seconds while providers are being placed, so the map fills in as they arrive."""
    job: SearchJob | None = st.session_state.get("live_job")
    if job is None:
        return
    if job.done:
        st.rerun()
    done, total, stage = job.progress
    label = STAGE_LABELS.get(stage, "Working")
    if job.cancel.is_set():
        label = "Stopping after the current step"
    left = time_left(done, total, time.monotonic() - job.stage_started)
    text = f"{label}: {done} of {total}" + (f" · {left}" if left else "")
    st.progress(min(1.0, done / total) if total else 0.0, text=text)
    refill_due = time.monotonic() - st.session_state.get("live_refilled", 0.0) >= REFILL_SECONDS
    if stage.startswith("geocode") and done > job.shown and refill_due and on_progress:
        job.shown = done
        st.session_state["live_refilled"] = time.monotonic()
        on_progress()
        st.rerun(scope="app")
