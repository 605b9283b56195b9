"""The referral log: one row per referral received or sent, never a patient.

The package is cut by job:
- `cells`: the row's vocabulary, reading typed cells, validation;
- `store`: loading the log, saving a batch of edits, conflicts between sessions, the log's
  revision token;
- `referrers`: who a referral can name, adding a referrer, the export frame;
- `follow_ups`: thank-yous and outcome notes owed, marking them sent;
- `conversion`: the funnel and leakage of received referrals;
- `working_copy`: an editor's unsaved changes on top of the store, with `working_conflicts`,
  `working_save`, `working_checks` and `working_view` for its reloads and conflicts, saving,
  warnings and views.

The names below are re-exported so callers keep writing `referrals.<name>`.
"""

from __future__ import annotations

from services.exports import to_xlsx_bytes
from services.referrals.cells import (
    DIRECTIONS,
    EARLIEST,
    FIELD_LABELS,
    FIELDS,
    FUNNEL,
    LEAKAGE_REASON,
    LOST_REASONS,
    MAX_CATEGORY,
    MAX_NOTES,
    MAX_VISITS,
    NAMED_PREFIX,
    PAYER_CATEGORIES,
    REASON_CATEGORIES,
    STATUS_LABELS,
    STATUSES,
    FieldError,
    ReferralError,
    _npi_problem,
    _parse_date_text,
    as_datetime,
    is_blank,
    named_id,
    named_key,
    parse_date,
    parse_int,
    validate_referral,
)
from services.referrals.conversion import conversion
from services.referrals.follow_ups import (
    OUTCOME_NOTE_STATUSES,
    THANK_YOU_WINDOW_DAYS,
    follow_ups_owed,
    mark_follow_up_done,
)
from services.referrals.referrers import add_referrer, export_frame, referrer_directory
from services.referrals.store import (
    COLUMNS,
    Conflict,
    Edit,
    SaveResult,
    load_referrals,
    log_revision,
    save_changes,
)

__all__ = [
    "COLUMNS", "DIRECTIONS", "EARLIEST", "FIELDS", "FIELD_LABELS", "FUNNEL", "LEAKAGE_REASON",
    "LOST_REASONS", "MAX_CATEGORY", "MAX_NOTES", "MAX_VISITS", "NAMED_PREFIX",
    "OUTCOME_NOTE_STATUSES", "PAYER_CATEGORIES", "REASON_CATEGORIES", "STATUSES",
    "STATUS_LABELS", "THANK_YOU_WINDOW_DAYS", "Conflict", "Edit", "FieldError", "ReferralError",
    "SaveResult", "_npi_problem", "_parse_date_text", "add_referrer", "as_datetime",
    "conversion", "export_frame", "follow_ups_owed", "is_blank", "load_referrals", "log_revision",
    "mark_follow_up_done", "named_id", "named_key", "parse_date", "parse_int",
    "referrer_directory", "save_changes", "to_xlsx_bytes", "validate_referral",
]  # fmt: skip
