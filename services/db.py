"""Storage, as the rest of the app reaches it: `from services import db`, then `db.partner`,
`db.make_engine(...)`, `db.utcnow()`, `db.StorageError`.

Three modules do the work, each with one job, and this one gathers their public names so callers
need not know which holds what:

- services/schema.py: the tables (SQLAlchemy Core), the UTC timestamp column type, the clock
  helpers and `StorageError`;
- services/migrations.py: schema versions and the in-place upgrade (`MIGRATIONS`, `upgrade`);
- services/db_engine.py: opening a database (`make_engine`, SQLite's settings).

SQLite is the default; any SQLAlchemy URL works. A new table is defined in services/schema.py,
gets its step in services/migrations.py, and is named here so that `db.<table>` reaches it.
"""

from __future__ import annotations

from services.db_engine import SQLITE_BUSY_TIMEOUT_S, make_engine
from services.migrations import MIGRATIONS, current_version, latest_version, upgrade
from services.schema import (
    StorageError,
    UTCDateTime,
    activity,
    app_user,
    as_utc,
    audit_log,
    data_file_import,
    geocode_cache,
    letter_template,
    localnow,
    medicare_volume,
    metadata,
    named_referrer,
    npi_pull,
    npi_pull_provider,
    partner,
    partner_stage_history,
    practice,
    procedure_volume,
    provider,
    referral,
    schema_version,
    shared_patient_pair,
    tracker_import,
    utcnow,
)

__all__ = [
    "MIGRATIONS",
    "SQLITE_BUSY_TIMEOUT_S",
    "StorageError",
    "UTCDateTime",
    "activity",
    "app_user",
    "as_utc",
    "audit_log",
    "current_version",
    "data_file_import",
    "geocode_cache",
    "latest_version",
    "letter_template",
    "localnow",
    "make_engine",
    "medicare_volume",
    "metadata",
    "named_referrer",
    "npi_pull",
    "npi_pull_provider",
    "partner",
    "partner_stage_history",
    "practice",
    "procedure_volume",
    "provider",
    "referral",
    "schema_version",
    "shared_patient_pair",
    "tracker_import",
    "upgrade",
    "utcnow",
]
