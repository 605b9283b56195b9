"""Import an existing referral tracker (CSV or Excel .xlsx) into the referral log.

The common tracker is a workbook with a "Sent" and a "Received" sheet and columns such as
date, patient ID, referred-to / referred-by provider, specialty, reason, completed Y/N,
outcome notes, revenue generated and follow-up sent. Import goes in three steps, so nothing is
written until the user has seen what will happen:

1. `read` (`read_tracker`) reads the sheets and drops every column that looks like a patient
   identifier *before* anything else sees it; the drop is reported.
2. `plan` (`suggest_mapping`, `plan_import`) proposes which source column feeds which referral
   field (the user adjusts), validates every row with the editor's rules and resolves partners
   by NPI, else by name.
3. `write` (`run_import`) writes the plan in one transaction: all rows, or, only when the user
   asks, the valid ones. A failure part-way leaves the database as it was.

The names below are re-exported so callers keep writing `importer.<name>`.
"""

from __future__ import annotations

from services.importer.plan import (
    TARGETS,
    ImportPlan,
    PlannedRow,
    _name_key,
    plan_import,
    suggest_mapping,
)
from services.importer.read import (
    MAX_BYTES,
    MAX_ROWS,
    ImportFileError,
    Sheet,
    is_identifier_column,
    read_tracker,
)
from services.importer.write import (
    PastImport,
    TrackerFile,
    file_digest,
    previous_import,
    run_import,
)

__all__ = [
    "MAX_BYTES",
    "MAX_ROWS",
    "TARGETS",
    "ImportFileError",
    "ImportPlan",
    "PastImport",
    "PlannedRow",
    "Sheet",
    "TrackerFile",
    "_name_key",
    "file_digest",
    "is_identifier_column",
    "plan_import",
    "previous_import",
    "read_tracker",
    "run_import",
    "suggest_mapping",
]  # fmt: skip
