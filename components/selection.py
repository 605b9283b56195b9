"""A table whose row selection belongs to records, not to row positions.

`st.dataframe` reports (and keeps, across reruns) the selected rows by their position. When a
filter, a sort or fresh data reorders the rows under a fixed key, the same positions then point
at other records, and a bulk action would change someone nobody ticked. `id_table` therefore
remembers, next to the widget, the ids its row positions referred to; whenever the rows shown
differ from those, it translates the selection: the same records stay selected where they are
now, records no longer shown drop out of it, and nothing else gets selected.

Session-state keys: `<key>` (the dataframe's own selection state) and `<key>:ids` (the ids, in
row order, that the selection state refers to).
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any

import pandas as pd
import streamlit as st


def _rows(state: Any) -> list[int]:
    try:
        return [int(i) for i in state["selection"]["rows"]]
    except (KeyError, TypeError):
        return []


def carry_selection(
    before: Sequence[Hashable], rows: Sequence[int], now: Sequence[Hashable]
) -> list[int]:
    """Positions in `now` of the records selected at positions `rows` of `before`."""
    picked = {before[i] for i in rows if 0 <= i < len(before)}
    return [i for i, record in enumerate(now) if record in picked]


def id_table(
    frame: pd.DataFrame, ids: Sequence[Hashable], *, key: str, **dataframe_args: Any
) -> list[Hashable]:
    """Draw `frame` as a multi-row selectable table; return the ids of the selected rows.

    `ids[i]` is the record shown in row i. Other keyword arguments go to `st.dataframe`."""
    ids = list(ids)
    ids_key = f"{key}:ids"
    before = st.session_state.get(ids_key)
    state = st.session_state.get(key)
    if before is not None and state is not None and list(before) != ids:
        rows = carry_selection(before, _rows(state), ids)
        st.session_state[key] = {"selection": {"rows": rows, "columns": [], "cells": []}}
    st.session_state[ids_key] = ids
    event = st.dataframe(
        frame, key=key, on_select="rerun", selection_mode="multi-row", **dataframe_args
    )
    return [ids[i] for i in _rows(event) if 0 <= i < len(ids)]
