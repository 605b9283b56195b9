"""One way to tell the user what just happened: messages that survive the rerun.

Streamlit callbacks run before the page script, so what they have to say must wait in session
state until the page draws. A message stays until the next action in the same slot replaces or
clears it (a rerun from panning a map or opening a tab does not wipe it). Errors that come from
an unexpected exception are logged with their traceback and the user sees a plain sentence with
the log's reference.

Session-state keys: "flash:<slot>" → (kind, message).
"""

from __future__ import annotations

import logging
from typing import Literal

import streamlit as st

from services import logs

Kind = Literal["success", "info", "warning", "error"]
_PREFIX = "flash:"


def flash(slot: str, kind: Kind, message: str) -> None:
    """Leave `message` for the page to show in `slot` (replacing what was there)."""
    st.session_state[_PREFIX + slot] = (kind, message)


def clear_flash(slot: str) -> None:
    st.session_state.pop(_PREFIX + slot, None)


def peek_flash(slot: str) -> tuple[str, str] | None:
    value = st.session_state.get(_PREFIX + slot)
    return tuple(value) if value else None  # type: ignore[return-value]


def show_flash(slot: str, *, once: bool = False) -> None:
    """Draw the slot's message. It stays for later reruns unless `once` (or a new action)."""
    value = st.session_state.pop(_PREFIX + slot, None) if once else peek_flash(slot)
    if value:
        kind, message = value
        getattr(st, kind)(message)


def flash_exception(
    slot: str, logger: logging.Logger, message: str, exc: BaseException | None = None
) -> str:
    """Log an unexpected failure with its traceback and flash `message` with the reference."""
    ref = logs.log_exception(logger, message, exc)
    flash(slot, "error", f"{message} (Reference {ref}: the details are in the app's log.)")
    return ref
