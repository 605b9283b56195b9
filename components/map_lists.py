"""The map page's lists below the map: the suggested target list under review, and the table
of providers in the radius with its ticks. Both add through `add_providers`, in one
transaction each.

Session-state keys: "map_chosen" (NPIs ticked in the table), "map_suggested" (the suggestion
under review), "map_show_all", "flash:map".
"""

from __future__ import annotations

import hashlib
import logging

import pandas as pd
import streamlit as st
from sqlalchemy.engine import Engine

from components import feedback
from components.shell import can_write, writable
from services.map_table import names_for, table_frame
from services.partners import PartnerError, add_targets
from services.practices import Practice
from services.suggest import MINIMUM, PER_GROUP, suggest_targets

logger = logging.getLogger(__name__)
SLOT = "map"
TABLE_ROWS = 1000  # the table lists at most this many, best first


def add_providers(engine: Engine, practice_id: int, npis: list[str], names: str = "") -> None:
    """Add providers to the target list in one transaction (all or none)."""
    try:
        added = add_targets(engine, practice_id, npis)
    except PartnerError as exc:
        feedback.flash(SLOT, "error", f"Nothing was added: {exc}")
        return
    except Exception as exc:  # the database went away, say: a sentence, and the log
        feedback.flash_exception(SLOT, logger, "Nothing was added: the database failed.", exc)
        return
    st.session_state.pop("map_chosen", None)
    st.session_state.pop("map_suggested", None)
    if not added:
        feedback.flash(SLOT, "info", "Already on your target list.")
    elif len(added) == 1 and names:
        feedback.flash(SLOT, "success", f"Added {names} to your targets.")
    else:
        feedback.flash(SLOT, "success", f"Added {len(added)} providers to your targets.")


# ---- suggested target list -------------------------------------------------------------------


def _digest(npis: list[str]) -> str:
    return hashlib.sha1(",".join(npis).encode()).hexdigest()[:12]


def _start_review(npis: list[str]) -> None:
    st.session_state["map_suggested"] = npis
    feedback.clear_flash(SLOT)


def _discard_review() -> None:
    st.session_state.pop("map_suggested", None)


def suggestion_section(engine: Engine, practice: Practice, near: pd.DataFrame) -> None:
    """One button proposes a first target list; the user unticks any and adds the rest.
    A read-only user is not offered it (adding is all it is for)."""
    if not can_write():
        return
    proposal = suggest_targets(near)
    review = [n for n in st.session_state.get("map_suggested", []) if n in set(near["npi"])]
    on_list = set(near.loc[near["on_list"], "npi"])
    review = [n for n in review if n not in on_list]
    if not review:
        c1, c2 = st.columns([3, 1], vertical_alignment="center")
        c1.markdown(
            "**Build a first target list:** up to 20 providers in the radius, best score "
            f"first, at most {PER_GROUP} from one specialty group, none already on your list."
        )
        c2.button(
            "Suggest a target list",
            key="suggest_btn",
            on_click=_start_review,
            args=(proposal,),
            disabled=not proposal,
            help=None if proposal else "Every scored provider in the radius is on your list.",
        )
        return
    with st.container(border=True, key="suggestions"):
        st.markdown(f"**Suggested targets: {len(review)} providers.** Untick any you don't want.")
        if len(review) < MINIMUM:
            st.caption(
                f"Fewer than {MINIMUM} qualify: widen the radius or add specialty groups for more."
            )
        frame = near.set_index("npi").loc[review].reset_index()
        table = table_frame(frame.assign(on_list=False))
        table.insert(0, "add", True)
        edited = st.data_editor(
            table[["add", "name", "group", "specialty", "distance_mi", "score", "city"]],
            key=f"suggest_editor:{_digest(review)}",
            hide_index=True,
            disabled=["name", "group", "specialty", "distance_mi", "score", "city"],
            column_config=_column_config(),
            height=min(38 + 35 * len(review), 420),
        )
        keep = [n for n, on in zip(review, edited["add"].tolist(), strict=True) if on]
        names = names_for(near, keep)
        c1, c2 = st.columns([1, 1])
        c1.button(
            f"Add {len(keep)} suggested to targets",
            key="add_suggested",
            type="primary",
            disabled=not keep,
            on_click=add_providers,
            args=(engine, practice.id, keep),
            help=f"Adds {names}." if names else None,
        )
        c2.button("Discard the suggestion", key="discard_suggested", on_click=_discard_review)
        if names:
            st.caption(f"Will add {names}.")


# ---- the table -------------------------------------------------------------------------------


def _column_config() -> dict:
    return {
        "add": st.column_config.CheckboxColumn("Add", width="small"),
        "npi": st.column_config.TextColumn("NPI", width=110),
        "name": st.column_config.TextColumn("Name", width="medium"),
        "group": "Group",
        "specialty": "Specialty",
        "distance_mi": st.column_config.NumberColumn("Distance (mi)", format="%.1f"),
        "score": st.column_config.ProgressColumn(
            "Score", min_value=0, max_value=100, format="%.0f"
        ),
        "stage": st.column_config.TextColumn("On list"),
        "new_since": st.column_config.TextColumn("New"),
        "city": "City",
        "phone": "Phone",
    }


def table_key(practice_id: int, npis: list[str]) -> str:
    """The table widget's key names the rows it shows: when the rows change (a filter, a sort
    of the data, an add), the widget is a new one, and the ticks are rebuilt from the NPIs in
    "map_chosen", so a tick can never slide onto another provider's row."""
    return f"near_table:{practice_id}:{_digest(npis)}"


def provider_table(engine: Engine, practice: Practice, near: pd.DataFrame) -> None:
    st.subheader("Providers in the radius, best first")
    off_list = int((~near["on_list"]).sum())
    show_all = st.toggle(
        f"Also show the {len(near) - off_list} already on your list",
        key="map_show_all",
        disabled=off_list == len(near),
    )
    table = table_frame(near, show_all=show_all)
    if len(table) > TABLE_ROWS:
        # A dense metro has thousands in the radius: a grid that long helps nobody and slows
        # the page (the map beside it draws them all).
        st.caption(
            f"Showing the best {TABLE_ROWS:,} of {len(table):,}: narrow the radius or the "
            "specialty groups to list the others."
        )
        table = table.head(TABLE_ROWS)
    npis = table["npi"].tolist()
    if "new_since" in near.columns and near["new_since"].astype(bool).any():
        columns = list(table.columns)
    else:
        columns = [c for c in table.columns if c != "new_since"]
    if not writable():  # read-only: the same rows, no ticks and no add button
        st.dataframe(table[columns], hide_index=True, column_config=_column_config(), height=380)
        return
    chosen = [n for n in st.session_state.get("map_chosen", []) if n in set(npis)]
    table.insert(0, "add", table["npi"].isin(chosen))
    columns = ["add", *columns]
    edited = st.data_editor(
        table[columns],
        key=table_key(practice.id, npis),
        hide_index=True,
        disabled=[c for c in columns if c != "add"],
        column_config=_column_config(),
        height=380,
    )
    ticked = [n for n, on in zip(npis, edited["add"].tolist(), strict=True) if on]
    st.session_state["map_chosen"] = ticked
    on_list = set(near.loc[near["on_list"], "npi"])
    to_add = [n for n in ticked if n not in on_list]
    names = names_for(near, to_add)
    st.button(
        f"Add {len(to_add)} selected to targets" if to_add else "Add selected to targets",
        disabled=not to_add,
        on_click=add_providers,
        args=(engine, practice.id, to_add),
        key="add_selected",
        help=f"Adds {names}." if names else "Tick providers in the table first.",
    )
    if names:
        st.caption(f"Will add {names}.")
