"""The Settings form's "Look up NPI" button: prefill the practice from its NPI Registry record.

It is the form's only call to the live registry, so it is kept apart from saving and placing:
its failures (a bad NPI, an unreachable or slow registry, no such provider) never block the
form, they only ask the user to type the name and address instead. The registry's own failures
reach the user as the service's plain sentences; anything unexpected is logged with its
traceback and shown with the log's reference.
"""

from __future__ import annotations

import logging

import streamlit as st

from components import feedback
from components.practice_state import FLASH
from components.text import md_escape
from services.npi import npi_error
from services.npi_registry import RegistryClient, RegistryError

logger = logging.getLogger(__name__)


def lookup_npi() -> None:
    """Prefill the form from the registry's record of the practice's own NPI."""
    npi = str(st.session_state.get("set_npi") or "").strip()
    problem = npi_error(npi)
    if problem:
        feedback.flash(FLASH, "error", f"NPI {md_escape(npi) or '(empty)'}: {problem}.")
        return
    try:
        record = RegistryClient(retries=1, backoff=0.3, timeout=(5, 15)).lookup(npi)
    except RegistryError as exc:  # the registry's failures are already in the app's words
        feedback.flash(FLASH, "warning", f"{exc} Type the name and address instead.")
        return
    except Exception as exc:  # anything else: logged with its traceback, a plain sentence here
        feedback.flash_exception(
            FLASH, logger, "The NPI lookup failed. Type the name and address instead.", exc
        )
        return
    if record is None:
        feedback.flash(FLASH, "warning", f"The NPI Registry has no provider with NPI {npi}.")
        return
    st.session_state["set_name"] = record.name[:200]
    st.session_state["set_address"] = record.address or ""
    st.session_state["set_city"] = (record.city or "").title()
    st.session_state["set_state"] = record.state or ""
    st.session_state["set_zip"] = record.zip or ""
    feedback.flash(
        FLASH,
        "success",
        f"Found **{md_escape(record.name)}** in the NPI Registry; check the details and save.",
    )
