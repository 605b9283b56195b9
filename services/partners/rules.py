"""What a partner's fields may hold, and the error a refused partner change raises.

Kept apart from the code that writes, so the edit form's limits (the owner and notes lengths,
the priority choices and their labels) and the checks every write goes through are one set of
values, and every partner module raises the one PartnerError the pages catch. Everything here
is checked before a transaction opens, so a refused change writes nothing.
"""

from __future__ import annotations

from datetime import date, datetime

import pandas as pd

from services import playbook

MAX_OWNER = 100
MAX_NOTES = 5000
PRIORITIES: tuple[int, ...] = (1, 2, 3)  # 1 = highest
PRIORITY_LABELS: dict[int, str] = {1: "1 · high", 2: "2 · medium", 3: "3 · low"}


class PartnerError(ValueError):
    """A partner change was refused; the message is meant for the user."""


def clean_owner(owner: str | None) -> str | None:
    owner = (owner or "").strip()
    if len(owner) > MAX_OWNER:
        raise PartnerError(f"owner: at most {MAX_OWNER} characters")
    return owner or None


def clean_priority(priority: object) -> int | None:
    if priority is None or (isinstance(priority, float) and pd.isna(priority)):
        return None
    try:
        value = int(priority)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        raise PartnerError(f"priority: '{priority}' is not one of 1, 2, 3") from None
    if value not in PRIORITIES or str(priority).strip() not in {str(value), f"{value}.0"}:
        raise PartnerError(f"priority: '{priority}' is not one of 1, 2, 3")
    return value


def clean_notes(notes: str | None) -> str | None:
    if notes is not None and len(notes) > MAX_NOTES:
        raise PartnerError(f"notes: at most {MAX_NOTES} characters")
    return notes if (notes or "").strip() else None


def check_stage_and_day(stage: str | None, when: datetime) -> None:
    if when.date() > date.today():
        raise PartnerError(f"date: {when.date().isoformat()} is in the future")
    if stage is not None and stage not in playbook.STAGES:
        raise PartnerError(f"stage: '{stage}' is not one of {', '.join(playbook.STAGES)}")
