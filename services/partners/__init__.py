"""Partners: the providers on a practice's list and their pipeline stage.

Every stage a partner takes is written to `partner_stage_history` with its date, including the
first, so the pipeline can be counted as of any past date (the growth chart replays it week by
week). Owner, priority and notes are plain edits; a stage change is an edit plus a history row,
in one transaction, so the two can never disagree. The work is split by job:

- `rules`: what a field may hold (lengths, priorities and their labels) and `PartnerError`.
- `pipeline`: adding targets, editing a partner, moving one or several to a stage.
- `removal`: taking partners off the list, and asking first when that would erase history.
- `reads`: the list the views show, its filters and stage counts, and display names.

The names below are re-exported so callers keep writing `partners.<name>`.
"""

from __future__ import annotations

from services.partners.pipeline import add_targets, set_stage, update_partner
from services.partners.reads import filter_partners, list_partners, partner_names, stage_counts
from services.partners.removal import (
    ConfirmationRequired,
    PartnerHistory,
    partner_history,
    remove_partner,
    remove_partners,
)
from services.partners.rules import (
    MAX_NOTES,
    MAX_OWNER,
    PRIORITIES,
    PRIORITY_LABELS,
    PartnerError,
)

__all__ = [
    "MAX_NOTES",
    "MAX_OWNER",
    "PRIORITIES",
    "PRIORITY_LABELS",
    "ConfirmationRequired",
    "PartnerError",
    "PartnerHistory",
    "add_targets",
    "filter_partners",
    "list_partners",
    "partner_history",
    "partner_names",
    "remove_partner",
    "remove_partners",
    "set_stage",
    "stage_counts",
    "update_partner",
]
