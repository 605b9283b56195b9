"""The data model: every table (SQLAlchemy Core), the timestamp column type and clock helpers
its defaults use, and the error storage raises.

Every table of the data model (described in docs/data-model.md) is defined here, even those
later pages fill, so that one module owns the data model. It is separate from the in-place
upgrades (services/migrations.py) and from opening a database (services/db_engine.py) because
those import the tables; the rest of the app reaches all three through `services.db`.
A new table or column needs its step in services/migrations.py.
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa

metadata = sa.MetaData()


def utcnow() -> datetime:
    """Timezone-aware UTC, for bookkeeping timestamps (created/updated, version tokens,
    imported-at, audit). The clock policy is in docs/clock-policy.md."""
    return datetime.now(UTC)


def localnow() -> datetime:
    """Naive local time, for business dates staff reason about by the calendar (when a
    partner was added, when a stage changed): they are compared with local dates such as
    "today", so a change made at 8 pm must not land on tomorrow's date as UTC would.
    The clock policy is in docs/clock-policy.md."""
    return datetime.now().replace(microsecond=0)


def as_utc(value: datetime | None) -> datetime | None:
    """A bookkeeping timestamp as aware UTC: naive values (what SQLite, and a PostgreSQL
    `timestamp` column, hand back) are UTC wall time by the clock policy; aware ones are
    converted. The one place a stored bookkeeping timestamp is normalised."""
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


class UTCDateTime(sa.types.TypeDecorator):
    """A bookkeeping timestamp column: stored as UTC wall time in a plain DATETIME /
    `timestamp` column (so no database's session time zone can shift it), read back aware.
    Writes accept aware datetimes (converted to UTC) or naive ones (taken as UTC)."""

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: object) -> datetime | None:
        utc = as_utc(value)
        return None if utc is None else utc.replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: object) -> datetime | None:
        return as_utc(value)


schema_version = sa.Table(
    "schema_version",
    metadata,
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("applied_at", UTCDateTime, nullable=False, default=utcnow),
)

practice = sa.Table(
    "practice",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("npi", sa.String(10)),
    sa.Column("address", sa.String(300)),
    sa.Column("city", sa.String(100)),
    sa.Column("state", sa.String(2)),
    sa.Column("zip", sa.String(10)),
    sa.Column("lat", sa.Float),
    sa.Column("lon", sa.Float),
    sa.Column("geocode_source", sa.String(20)),
    sa.Column("geocode_precision", sa.String(20)),
    sa.Column("playbook_start", sa.Date),
    sa.Column("default_radius_mi", sa.Float, nullable=False, default=5.0),
    sa.Column("revenue_per_visit", sa.Float),
    # Demo data never mixes with a real practice's: the flag scopes providers and history.
    sa.Column("is_demo", sa.Boolean, nullable=False, default=False),
    sa.Column("created_at", UTCDateTime, nullable=False, default=utcnow),
    sa.Column("updated_at", UTCDateTime, nullable=False, default=utcnow, onupdate=utcnow),
)

provider = sa.Table(
    "provider",
    metadata,
    sa.Column("npi", sa.String(10), primary_key=True),
    sa.Column("entity_type", sa.String(12), nullable=False),  # individual / organization
    sa.Column("name", sa.String(300), nullable=False),
    sa.Column("credential", sa.String(100)),
    sa.Column("primary_taxonomy", sa.String(10)),
    sa.Column("taxonomy_codes", sa.String(200)),  # space-separated, primary first
    sa.Column("specialty_group", sa.String(40)),
    sa.Column("address", sa.String(300)),
    sa.Column("city", sa.String(100)),
    sa.Column("state", sa.String(2)),
    sa.Column("zip", sa.String(10)),
    sa.Column("phone", sa.String(30)),
    sa.Column("lat", sa.Float),
    sa.Column("lon", sa.Float),
    sa.Column("geocode_source", sa.String(20)),
    sa.Column("geocode_precision", sa.String(20)),
    sa.Column("data_source", sa.String(20), nullable=False),  # npi_api/nppes_file/demo/manual
    sa.Column("first_seen", sa.Date),
    sa.Column("last_seen", sa.Date),
    sa.Column("nppes_last_updated", sa.Date),
    sa.Index("ix_provider_lat_lon", "lat", "lon"),
    sa.Index("ix_provider_source", "data_source"),
)

geocode_cache = sa.Table(
    "geocode_cache",
    metadata,
    sa.Column("address_key", sa.String(400), primary_key=True),
    sa.Column("lat", sa.Float),
    sa.Column("lon", sa.Float),
    sa.Column("source", sa.String(20), nullable=False),  # census/nominatim/zip_centroid/manual
    sa.Column("precision", sa.String(20), nullable=False),  # address/street/zip
    sa.Column("geocoded_at", UTCDateTime, nullable=False, default=utcnow),
)

partner = sa.Table(
    "partner",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column(
        "practice_id", sa.Integer, sa.ForeignKey("practice.id", ondelete="CASCADE"), nullable=False
    ),
    sa.Column("npi", sa.String(10), sa.ForeignKey("provider.npi"), nullable=False),
    sa.Column("stage", sa.String(12), nullable=False, default="target"),
    sa.Column("owner", sa.String(100)),
    sa.Column("priority", sa.Integer),
    sa.Column("notes", sa.Text),
    sa.Column("added_at", sa.DateTime, nullable=False, default=localnow),
    sa.Column("updated_at", UTCDateTime, nullable=False, default=utcnow, onupdate=utcnow),
    # Adding the same provider twice must not create two partners.
    sa.UniqueConstraint("practice_id", "npi", name="uq_partner_practice_npi"),
)

partner_stage_history = sa.Table(
    "partner_stage_history",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column(
        "partner_id", sa.Integer, sa.ForeignKey("partner.id", ondelete="CASCADE"), nullable=False
    ),
    sa.Column("from_stage", sa.String(12)),
    sa.Column("to_stage", sa.String(12), nullable=False),
    sa.Column("changed_at", sa.DateTime, nullable=False, default=localnow),
    sa.Index("ix_stage_history_partner", "partner_id", "changed_at"),
)

activity = sa.Table(
    "activity",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column(
        "practice_id", sa.Integer, sa.ForeignKey("practice.id", ondelete="CASCADE"), nullable=False
    ),
    # Optional: events such as a medical-society evening are not tied to one partner.
    sa.Column("partner_id", sa.Integer, sa.ForeignKey("partner.id", ondelete="SET NULL")),
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("activity_date", sa.Date, nullable=False),
    sa.Column("staff", sa.String(100)),
    sa.Column("notes", sa.Text),
    sa.Column("follow_up_due", sa.Date),
    sa.Column("created_at", UTCDateTime, nullable=False, default=utcnow),
    sa.Index("ix_activity_practice_date", "practice_id", "activity_date"),
)

# No patient name, date of birth, MRN or any other identifier is stored, by design.
referral = sa.Table(
    "referral",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column(
        "practice_id", sa.Integer, sa.ForeignKey("practice.id", ondelete="CASCADE"), nullable=False
    ),
    # Referrals outlive partners: the log keeps the NPI even if the partner row is removed.
    sa.Column("partner_npi", sa.String(10), nullable=False),
    sa.Column("direction", sa.String(10), nullable=False),  # received / sent
    sa.Column("referral_date", sa.Date, nullable=False),
    sa.Column("reason_category", sa.String(60)),
    sa.Column("payer_category", sa.String(60)),
    sa.Column("status", sa.String(12), nullable=False, default="received"),
    sa.Column("lost_reason", sa.String(30)),
    sa.Column("first_visit_date", sa.Date),
    sa.Column("visits", sa.Integer),
    sa.Column("thank_you_sent", sa.Date),
    sa.Column("outcome_note_sent", sa.Date),
    sa.Column("notes", sa.Text),
    # Optimistic concurrency: a save states the version it read (the referral log's conflict check).
    sa.Column("version", sa.Integer, nullable=False, default=1),
    sa.Column("created_at", UTCDateTime, nullable=False, default=utcnow),
    sa.Column("updated_at", UTCDateTime, nullable=False, default=utcnow, onupdate=utcnow),
    sa.Index("ix_referral_practice_date", "practice_id", "referral_date"),
    sa.Index("ix_referral_partner", "practice_id", "partner_npi"),
)

npi_pull = sa.Table(
    "npi_pull",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("practice_id", sa.Integer, sa.ForeignKey("practice.id", ondelete="CASCADE")),
    sa.Column("pulled_at", UTCDateTime, nullable=False, default=utcnow),
    sa.Column("params", sa.Text, nullable=False),  # JSON of the search criteria
    sa.Column("found", sa.Integer, nullable=False, default=0),
    sa.Column("new", sa.Integer, nullable=False, default=0),
)

# Which providers each area search found: "new since the previous pull" is exact
# membership, not a guess from dates, so a same-day refresh still marks what appeared.
npi_pull_provider = sa.Table(
    "npi_pull_provider",
    metadata,
    sa.Column(
        "pull_id", sa.Integer, sa.ForeignKey("npi_pull.id", ondelete="CASCADE"), primary_key=True
    ),
    sa.Column("npi", sa.String(10), primary_key=True),
)

# Letter templates a practice edited; a kind without a row uses the built-in default.
letter_template = sa.Table(
    "letter_template",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column(
        "practice_id", sa.Integer, sa.ForeignKey("practice.id", ondelete="CASCADE"), nullable=False
    ),
    sa.Column("kind", sa.String(20), nullable=False),  # intro / thank_you
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False, default=utcnow, onupdate=utcnow),
    sa.UniqueConstraint("practice_id", "kind", name="uq_letter_template_practice_kind"),
)

# A referrer known only by name: the referral log stores `named_key(id)`, "R" + 9
# digits, in `referral.partner_npi`, which no NPI can equal (see services/referrals.py).
named_referrer = sa.Table(
    "named_referrer",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column(
        "practice_id", sa.Integer, sa.ForeignKey("practice.id", ondelete="CASCADE"), nullable=False
    ),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False, default=utcnow),
    sa.UniqueConstraint("practice_id", "name", name="uq_named_referrer_practice_name"),
)

# One row per tracker file imported into a practice's referral log, keyed by the file's
# content hash, so the same file is not imported twice by accident.
tracker_import = sa.Table(
    "tracker_import",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column(
        "practice_id", sa.Integer, sa.ForeignKey("practice.id", ondelete="CASCADE"), nullable=False
    ),
    sa.Column("content_hash", sa.String(64), nullable=False),  # SHA-256 of the file's bytes
    sa.Column("file_name", sa.String(300), nullable=False),
    sa.Column("row_count", sa.Integer, nullable=False),
    sa.Column("imported_at", UTCDateTime, nullable=False, default=utcnow),
    sa.Index("ix_tracker_import_hash", "practice_id", "content_hash"),
)


# Imported public data files: per-NPI signals for the referral-potential score. Each row keeps
# its data year; a newer year's import replaces the older year's values.
medicare_volume = sa.Table(
    "medicare_volume",
    metadata,
    sa.Column("npi", sa.String(10), primary_key=True),
    sa.Column("data_year", sa.Integer, nullable=False),
    sa.Column("tot_benes", sa.Integer),  # NULL = suppressed or missing ("no data"), never 0
    sa.Column("tot_srvcs", sa.Float),
    sa.Column("provider_type", sa.String(100)),  # the Medicare specialty
)

# PT-generating procedures (see services/datafiles/procedures.py), per NPI and code.
procedure_volume = sa.Table(
    "procedure_volume",
    metadata,
    sa.Column("npi", sa.String(10), primary_key=True),
    sa.Column("hcpcs_cd", sa.String(10), primary_key=True),
    sa.Column("data_year", sa.Integer, nullable=False),
    sa.Column("tot_srvcs", sa.Float),
    sa.Column("tot_benes", sa.Integer),
    sqlite_with_rowid=False,
)

# Shared-patient pairs, kept only where one side matters to a practice; npi_from saw the
# patients first. Shared patients in time order, not proven referrals.
shared_patient_pair = sa.Table(
    "shared_patient_pair",
    metadata,
    sa.Column("npi_from", sa.String(10), primary_key=True),
    sa.Column("npi_to", sa.String(10), primary_key=True),
    sa.Column("data_year", sa.Integer, nullable=False),
    sa.Column("source", sa.String(20), nullable=False),  # cms_shared_patients / hop_teaming
    sa.Column("patient_count", sa.Integer),
    sa.Column("transaction_count", sa.Integer),
    sa.Index("ix_shared_pair_to", "npi_to"),
    sqlite_with_rowid=False,
)

# One row per data-file import: what was read, kept and skipped, and why.
data_file_import = sa.Table(
    "data_file_import",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("kind", sa.String(30), nullable=False),
    sa.Column("file_name", sa.String(300), nullable=False),
    sa.Column("data_year", sa.Integer),
    sa.Column("rows_read", sa.Integer, nullable=False, default=0),
    sa.Column("rows_kept", sa.Integer, nullable=False, default=0),
    sa.Column("rows_skipped", sa.Integer, nullable=False, default=0),
    sa.Column("details", sa.Text),
    sa.Column("practice_id", sa.Integer, sa.ForeignKey("practice.id", ondelete="SET NULL")),
    sa.Column("imported_at", UTCDateTime, nullable=False, default=utcnow),
)


# Who may do what in which practice (see services/auth.py); instance owners come from settings.
app_user = sa.Table(
    "app_user",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column(
        "practice_id", sa.Integer, sa.ForeignKey("practice.id", ondelete="CASCADE"), nullable=False
    ),
    sa.Column("email", sa.String(254), nullable=False),  # lower-cased
    sa.Column("role", sa.String(10), nullable=False),  # owner / liaison / viewer
    sa.Column("created_at", UTCDateTime, nullable=False, default=utcnow),
    sa.UniqueConstraint("practice_id", "email", name="uq_app_user_practice_email"),
    sa.Index("ix_app_user_email", "email"),
)

# The audit trail (services/audit.py), append-only. No foreign keys: it outlives what it
# describes. `before`/`after` are JSON; `txn` groups the rows one transaction wrote.
audit_log = sa.Table(
    "audit_log",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Column("actor", sa.String(254), nullable=False),
    sa.Column("practice_id", sa.Integer),
    sa.Column("table_name", sa.String(40), nullable=False),
    sa.Column("record_id", sa.Integer, nullable=False),
    sa.Column("action", sa.String(10), nullable=False),  # insert / update / delete
    sa.Column("before", sa.Text),
    sa.Column("after", sa.Text),
    sa.Column("txn", sa.String(32), nullable=False),
    sa.Column("note", sa.String(200)),
    sa.Index("ix_audit_record", "table_name", "record_id"),
    sa.Index("ix_audit_practice", "practice_id", "id"),
)


class StorageError(RuntimeError):
    """The database cannot be opened or used; the message is meant for the user."""
