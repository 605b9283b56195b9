"""The Data files page's parts: which datasets to fetch, what is loaded, the import form with
its progress bar and Stop, and the record of past imports.

An import of a 10 GB file takes minutes, so it runs in a worker thread (like the live registry
search), not in the script run: any rerun would otherwise stop it. A fragment polls the job
every second; Stop sets the job's cancel flag, DuckDB's scan is interrupted, and the import's
single transaction is rolled back, so nothing is half-written.

Session-state keys: "datafile_job" (the running or just-finished job of this session);
the outcome goes to the "data_files" flash slot (components/feedback.py).
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import streamlit as st
from sqlalchemy.engine import Engine

from components.feedback import flash, show_flash
from components.provider_card import clear_caches as clear_card_caches
from components.session import bump_provider_revision
from components.text import md_escape
from services import logs
from services.datafiles import common, kinds, nppes_file
from services.datafiles.common import FileRejected, ImportStopped
from services.practices import Practice
from services.specialties import GROUPS, GROUPS_BY_KEY

log = logging.getLogger(__name__)
POLL_SECONDS = 1.0
SLOT = "data_files"
US_STATES = [
    "AL", "AK", "AZ", "AR", "CA", "CO", "CT", "DE", "DC", "FL", "GA", "HI", "ID", "IL", "IN",
    "IA", "KS", "KY", "LA", "ME", "MD", "MA", "MI", "MN", "MS", "MO", "MT", "NE", "NV", "NH",
    "NJ", "NM", "NY", "NC", "ND", "OH", "OK", "OR", "PA", "PR", "RI", "SC", "SD", "TN", "TX",
    "UT", "VT", "VA", "WA", "WV", "WI", "WY",
]  # fmt: skip


@dataclass
class FileJob:
    """One import (or geocoding run) in a worker thread; never touches Streamlit."""

    label: str
    cancel: threading.Event = field(default_factory=threading.Event)
    progress: tuple[float, str] = (0.0, "Starting")
    outcome: tuple[str, str] | None = None  # (flash kind, message)
    thread: threading.Thread | None = None
    cleanup: Path | None = None  # an uploaded file's temporary copy

    @property
    def done(self) -> bool:
        return self.thread is not None and not self.thread.is_alive()


def start_job(label: str, work: Callable[[FileJob], tuple[str, str]], cleanup: Path | None = None):
    job = FileJob(label, cleanup=cleanup)

    def run() -> None:
        try:
            job.outcome = work(job)
        except ImportStopped:
            job.outcome = ("info", "The import was stopped. Nothing was written.")
        except FileRejected as exc:
            job.outcome = ("error", f"Not imported: {exc} Nothing was written.")
        except Exception as exc:  # reported on the page with a log reference, never a trace
            ref = logs.log_exception(log, f"{label} failed", exc)
            job.outcome = (
                "error",
                f"{label} failed; nothing was written. (Reference {ref}: details in the log.)",
            )
        finally:
            if job.cleanup is not None:
                shutil.rmtree(job.cleanup, ignore_errors=True)

    job.thread = threading.Thread(target=run, name="data-file-import", daemon=True)
    job.thread.start()
    return job


def datasets_section() -> None:
    st.markdown(
        "The app downloads nothing itself. Fetch the files from their publishers, then import "
        "them here: give the path of a large file on this computer, or upload a small one."
    )
    with st.expander("Where to get each file, and what is kept", icon=":material/info:"):
        for k in kinds.KINDS:
            st.markdown(
                f"**{md_escape(k.label)}** — {md_escape(k.dataset)}  \n"
                f"Where: {md_escape(k.where)} · size: {md_escape(k.typical_size)}  \n"
                f"Kept: {md_escape(k.kept)}"
            )
        st.caption(
            "Shared patients are patients seen by both providers in time order: a strong hint "
            "of referrals, not proof. CMS's own shared-patient release ends with 2015."
        )


def status_section(engine: Engine) -> None:
    st.subheader("Loaded now")
    loaded = kinds.loaded(engine)
    loaded["Data year"] = [_year(y) for y in loaded["Data year"]]
    loaded["Note"] = loaded["Note"].fillna("")
    st.dataframe(loaded, hide_index=True, width="stretch")
    history = common.import_history(engine)
    st.subheader("Imports")
    if history.empty:
        st.caption("No file imported yet.")
        return
    history["data_year"] = [_year(y) for y in history["data_year"]]
    history["kind"] = [kinds.RECORD_LABELS.get(k, k) for k in history["kind"]]
    st.dataframe(
        history,
        hide_index=True,
        width="stretch",
        column_config={
            "imported_at": st.column_config.DatetimeColumn(
                "Imported (UTC)", format="YYYY-MM-DD HH:mm"
            ),
            "kind": "Kind",
            "file_name": "File",
            "data_year": "Data year",
            "rows_read": st.column_config.NumberColumn("Rows read", format="%d"),
            "rows_kept": st.column_config.NumberColumn("Kept", format="%d"),
            "rows_skipped": st.column_config.NumberColumn("Skipped", format="%d"),
            "details": "Details",
        },
    )


def _year(value: object) -> str:
    """A data year for a table cell: blank, never "nan" or "None"."""
    try:
        return str(int(value))  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return ""


def _label(key: str) -> str:
    return kinds.KINDS_BY_KEY[key].label


def _start_import(engine: Engine, practice: Practice) -> None:
    """Button callback: check the inputs, then start the import in a worker thread."""
    ss = st.session_state
    kind = ss.get("df_kind")
    source = ss.get("df_source")
    year = ss.get(ss.get("df_year_key", ""))
    cleanup: Path | None = None
    try:
        if source == "upload":
            upload = ss.get("df_upload")
            if upload is None:
                raise FileRejected("Choose a file to upload first.")
            cleanup = Path(tempfile.mkdtemp(prefix="atlas_upload_"))
            path = cleanup / Path(upload.name).name
            with open(path, "wb") as out:
                shutil.copyfileobj(upload, out)
            name = upload.name
        else:
            raw = (ss.get("df_path") or "").strip().strip('"')
            if not raw:
                raise FileRejected("Give the path of the file on this computer.")
            path = Path(raw).expanduser()
            if not path.is_file():
                raise FileRejected(f"No file at {raw}.")
            name = path.name
    except (FileRejected, OSError) as exc:
        if cleanup is not None:
            shutil.rmtree(cleanup, ignore_errors=True)
        flash(SLOT, "error", md_escape(str(exc)))
        return
    states = list(ss.get("df_states") or [])
    groups = list(ss.get("df_groups") or [])

    def work(job: FileJob) -> tuple[str, str]:
        def progress(fraction: float, stage: str) -> None:
            job.progress = (fraction, stage)

        report = kinds.run_import(
            engine, kind, path, practice=practice, data_year=int(year) if year else None,
            file_name=name, states=states, groups=groups, progress=progress,
            should_stop=job.cancel.is_set,
        )  # fmt: skip
        return "success", md_escape(report.summary() + " " + "; ".join(report.messages))

    flash(SLOT, "info", f"Importing {md_escape(name)} …")
    ss["datafile_job"] = start_job(f"Importing {name}", work, cleanup)


def _start_geocoding(engine: Engine) -> None:
    def work(job: FileJob) -> tuple[str, str]:
        def progress(fraction: float, stage: str) -> None:
            job.progress = (fraction, stage)

        todo = nppes_file.ungeocoded(engine)
        report = nppes_file.geocode_imported(
            engine, todo, progress=progress, should_stop=job.cancel.is_set
        )
        placed = len(getattr(report, "results", {}))
        notes = " ".join(getattr(report, "messages", []))
        if getattr(report, "stopped", False):
            return "info", f"Geocoding stopped; {placed:,} addresses placed so far are kept."
        return "success", md_escape(f"Placed {placed:,} addresses on the map. {notes}".strip())

    flash(SLOT, "info", "Placing imported providers on the map …")
    st.session_state["datafile_job"] = start_job("Geocoding", work)


def import_section(engine: Engine, practice: Practice) -> None:
    st.subheader("Import a file")
    job: FileJob | None = st.session_state.get("datafile_job")
    if job is not None and job.done:
        st.session_state.pop("datafile_job", None)
        if job.outcome:
            flash(SLOT, *job.outcome)  # type: ignore[arg-type]
        bump_provider_revision()  # the map's providers and signals changed
        clear_card_caches()
        job = None
    show_flash(SLOT)
    if job is not None:
        st.button("Stop import", key="df_stop", on_click=job.cancel.set,
                  disabled=job.cancel.is_set(), icon=":material/stop:")  # fmt: skip
        _progress_fragment()
        return

    with st.container(border=True, key="data_file_form"):
        kind = st.selectbox(
            "Kind of file", [k.key for k in kinds.KINDS], format_func=_label, key="df_kind"
        )
        spec = kinds.KINDS_BY_KEY[kind]
        st.caption(f"{spec.dataset}. {spec.kept}")
        source = st.radio(
            "From", ["path", "upload"], horizontal=True, key="df_source",
            format_func=lambda v: "A path on this computer (large files)" if v == "path"
            else "Upload (small files)",
        )  # fmt: skip
        name = None
        if source == "path":
            raw = st.text_input("Path of the file", key="df_path",
                                placeholder="/data/MUP_PHY_R25_P05_V20_D23_Prov.csv")  # fmt: skip
            if raw.strip():
                path = Path(raw.strip().strip('"')).expanduser()
                name = path.name
                if path.is_file():
                    _disk_note(engine, path)
                else:
                    st.warning(f"No file at {md_escape(raw.strip())}.")
        else:
            upload = st.file_uploader("File", type=["csv", "txt"], key="df_upload")
            name = upload.name if upload is not None else None
        if spec.needs_year:
            guess = common.guess_year(name) if name else None
            # Keyed by the file name, so choosing another file offers that file's year.
            year_key = st.session_state["df_year_key"] = f"df_year:{kind}:{name or ''}"
            st.number_input(
                "Data year", min_value=2000, max_value=2100, value=guess, step=1, key=year_key,
                help="Read from the file name when it carries it (CMS's D23 means 2023).",
                placeholder="e.g. 2023",
            )  # fmt: skip
        if kind == "nppes":
            default_state = [practice.state] if practice.state in US_STATES else []
            st.multiselect("States", US_STATES, default=default_state, key="df_states")
            st.multiselect(
                "Specialty groups", [g.key for g in GROUPS], default=[g.key for g in GROUPS],
                format_func=lambda k: GROUPS_BY_KEY[k].label, key="df_groups",
            )  # fmt: skip
        if kind in ("pairs_cms", "pairs_hop"):
            st.caption(
                f"Pairs are kept for {md_escape(practice.name)}'s area (25 miles), its own NPI "
                f"({md_escape(practice.npi or 'none set')}) and the PT competitors in it."
            )
        st.button("Import", key="df_import", type="primary", on_click=_start_import,
                  args=(engine, practice), icon=":material/upload_file:")  # fmt: skip

    waiting = len(nppes_file.ungeocoded(engine))
    if waiting:
        st.info(
            f"{waiting:,} provider(s) imported from the NPPES file are not on the map yet. "
            "Placing them uses the US Census batch geocoder first, then the ZIP centroid."
        )
        st.button(
            "Place imported providers on the map", key="df_geocode", on_click=_start_geocoding,
            args=(engine,), icon=":material/pin_drop:",
        )  # fmt: skip


def _disk_note(engine: Engine, path: Path) -> None:
    spec = st.session_state.get("df_kind")
    fraction = 0.15 if spec == "medicare_by_provider" else 0.02
    size = path.stat().st_size
    need = common.disk_needed(size, fraction)
    free = shutil.disk_usage(tempfile.gettempdir()).free
    text = (
        f"File size {_mb(size)}. This import needs about {_mb(need)} of free disk space "
        f"({_mb(free)} free)."
    )
    (st.caption if free >= need else st.warning)(text)


def _mb(n: int) -> str:
    return f"{n / 1024**3:.1f} GB" if n >= 1024**3 else f"{n / 1024**2:,.0f} MB"


@st.fragment(run_every=POLL_SECONDS)
def _progress_fragment() -> None:
    """Redraws the progress every second; reruns the whole page once the job has ended."""
    job: FileJob | None = st.session_state.get("datafile_job")
    if job is None:
        return
    if job.done:
        st.rerun()
    fraction, stage = job.progress
    if job.cancel.is_set():
        stage = "Stopping: nothing will be written"
    st.progress(min(1.0, max(0.0, fraction)), text=f"{job.label}: {stage} ({fraction:.0%})")
