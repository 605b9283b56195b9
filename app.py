"""Referral Atlas: entry point. Page config, the shared sidebar, and navigation over pages/.

This script runs around every page, so what every page needs (the engine, the demo seed, the
practice picker, the demo badge) is done once here.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from components import access, assets, backup_view
from components.session import bump_provider_revision, get_engine
from components.text import md_escape
from services import auth, config, demo, logs
from services.db import StorageError
from services.practices import list_practices

# The icon is a local file: a ":material/…:" page icon is fetched from Google's font CDN.
ICON = Path(__file__).parent / "components" / "icon.svg"
st.set_page_config(page_title="Referral Atlas", page_icon=str(ICON), layout="wide")
logs.configure()  # once per process: stderr and data/logs/referral_atlas.log

if secrets_problem := config.secrets_problem():  # the demo still runs, on the defaults
    st.error(
        f"**The settings file is broken.** {md_escape(secrets_problem)} Its settings are "
        "ignored until it is fixed, so the app uses its defaults (the local database)."
    )


@st.cache_resource(show_spinner=False)
def _static_assets_ready() -> bool:
    assets.ensure_static_assets()
    return True


_static_assets_ready()

try:
    # With sign-in configured, an unauthenticated request sees the sign-in page and stops here.
    actor = access.sign_in_gate(get_engine)
    engine = get_engine()
    backup_view.run_daily_backup(engine)  # SQLite: at most once a day, into data/backups/
    if "demo_seeded" not in st.session_state:
        with auth.acting_as(auth.SYSTEM):  # the shared demo is seeded by the app, not a user
            demo.ensure_demo(engine)
        st.session_state["demo_seeded"] = True
    practices = list_practices(engine)
except StorageError as exc:
    st.error(f"**The database could not be opened.** {exc}")
    st.stop()

by_id = {p.id: p for p in practices}
if st.session_state.get("practice_id") not in by_id:
    st.session_state["practice_id"] = practices[0].id if practices else None

with st.sidebar:
    st.markdown("### Referral Atlas")
    if practices:
        chosen = st.selectbox(
            "Practice",
            options=list(by_id),
            index=list(by_id).index(st.session_state["practice_id"]),
            format_func=lambda pid: by_id[pid].name,
            key="_w_practice",
        )
        st.session_state["practice_id"] = chosen
    access.user_badge(st.session_state["practice_id"])

practice = by_id.get(st.session_state["practice_id"])

pages = [
    st.Page("pages/map.py", title="Provider map", icon=":material/map:", default=True),
    st.Page("pages/targets.py", title="Targets", icon=":material/checklist:"),
    st.Page("pages/referrals.py", title="Referral log", icon=":material/swap_horiz:"),
    st.Page("pages/progress.py", title="Progress", icon=":material/trending_up:"),
    st.Page("pages/settings.py", title="Settings", icon=":material/settings:"),
    st.Page("pages/data_files.py", title="Data files", icon=":material/dataset:"),
]
if actor.can(auth.OWNER, st.session_state["practice_id"]):  # the owner's own pages
    pages += [
        st.Page("pages/team.py", title="Team", icon=":material/group:"),
        st.Page("pages/history.py", title="History", icon=":material/history:"),
    ]
nav = st.navigation(pages)

if practice is not None and practice.is_demo:
    st.sidebar.info(
        "**Demo data.** A synthetic practice in Denver, CO, with made-up providers, partners "
        "and referrals. Nothing here is a real provider.",
        icon=":material/science:",
    )
if practice is not None and practice.is_demo and actor.can(auth.OWNER, practice.id):
    with st.sidebar.popover("Reset demo data"):
        st.write("Deletes the demo practice's targets, activities and referrals, then reseeds.")
        if st.button("Reset demo", key="reset_demo", type="primary"):
            new_id = demo.reset_demo(engine)
            st.session_state["practice_id"] = new_id
            st.session_state.pop("selected_npi", None)
            bump_provider_revision()
            st.rerun()
# Streamlit leaves 6rem above every page; on a 768 px laptop that pushes the map below the fold.
st.html("<style>[data-testid='stMainBlockContainer'] {padding-top: 3rem;}</style>")
if practice is not None and practice.is_demo:
    st.markdown(
        '<div data-testid="demo-badge" style="display:inline-block;padding:2px 10px;'
        "border-radius:12px;background:#FEF3C7;color:#92400E;font-weight:600;"
        'font-size:0.85rem">DEMO DATA · synthetic, not real providers</div>',
        unsafe_allow_html=True,
    )

try:
    nav.run()
except auth.PermissionDenied as exc:  # a write the user's role does not allow
    access.refused(exc)
