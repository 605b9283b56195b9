"""Storage: the schema (SQLAlchemy Core), the engine, and in-place schema upgrades.

Every table of the data model (described in docs/data-model.md) is defined here, even those
later pages fill, so that one module owns the data model and its migrations. SQLite is the
default; any SQLAlchemy URL works.

Schema versions: the `schema_version` table holds one row per applied step. `MIGRATIONS` maps
each version to the function that brings a database from the previous version to it; `upgrade`
runs the missing steps in order, each in its own transaction, so a failed step leaves the
database at the last good version instead of half-migrated.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from services import config

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


# --- migrations -----------------------------------------------------------------------------


def _migrate_to_1(conn: Connection) -> None:
    """Version 1: the initial schema (a pre-versioned database gets what it lacks)."""
    for table in V1_TABLES:
        metadata.tables[table].create(conn, checkfirst=True)


def _migrate_to_2(conn: Connection) -> None:
    """Version 2: practices can save their own letter templates."""
    letter_template.create(conn, checkfirst=True)


def _migrate_to_4(conn: Connection) -> None:
    """Version 4: the providers found by each area search, for "new since"."""
    npi_pull_provider.create(conn, checkfirst=True)


def _migrate_to_5(conn: Connection) -> None:
    """Version 5: referrers known only by name, for the referral log."""
    named_referrer.create(conn, checkfirst=True)


def _migrate_to_6(conn: Connection) -> None:
    """Version 6: the record of each tracker file imported into the referral log."""
    tracker_import.create(conn, checkfirst=True)


def _migrate_to_7(conn: Connection) -> None:
    """Version 7: imported public data files (Medicare volumes, PT-generating procedures,
    shared-patient pairs) and the record of each import."""
    for table in (medicare_volume, procedure_volume, shared_patient_pair, data_file_import):
        table.create(conn, checkfirst=True)


def _migrate_to_8(conn: Connection) -> None:
    """Version 8: users with per-practice roles, and the audit trail."""
    app_user.create(conn, checkfirst=True)
    audit_log.create(conn, checkfirst=True)


def _migrate_to_9(conn: Connection) -> None:
    """Version 9: on SQLite, the tables that imports fill in bulk (PT-generating procedures and
    shared-patient pairs) keep their rows in primary-key order (WITHOUT ROWID): one B-tree to
    write instead of a row table plus its key index. Their rows are copied over."""
    if conn.dialect.name != "sqlite":
        return
    for table in (procedure_volume, shared_patient_pair):
        sql = conn.exec_driver_sql(
            "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table.name,)
        ).scalar()
        if sql is None or "WITHOUT ROWID" in sql.upper():
            table.create(conn, checkfirst=True)
            continue
        old = f"{table.name}_before_v9"
        conn.exec_driver_sql(f"ALTER TABLE {table.name} RENAME TO {old}")
        for index in table.indexes:  # they moved with the renamed table; their names are needed
            conn.exec_driver_sql(f"DROP INDEX IF EXISTS {index.name}")
        table.create(conn)
        cols = ", ".join(c.name for c in table.columns)
        conn.exec_driver_sql(f"INSERT INTO {table.name} ({cols}) SELECT {cols} FROM {old}")
        conn.exec_driver_sql(f"DROP TABLE {old}")


V1_TABLES = (
    "practice", "provider", "geocode_cache", "partner", "partner_stage_history", "activity",
    "referral", "npi_pull",
)  # fmt: skip

#: version -> step bringing a database from the version before to this one. Append a step for
#: every schema change (new table: `create(checkfirst=True)`; new column: ALTER TABLE), never
#: edit an old one; tests/test_db.py upgrades a frozen version-1 database and compares the
#: result with a fresh one, so a change without its step fails there.
MIGRATIONS: dict[int, Callable[[Connection], None]] = {
    1: _migrate_to_1,
    2: _migrate_to_2,
    4: _migrate_to_4,
    5: _migrate_to_5,
    6: _migrate_to_6,
    7: _migrate_to_7,
    8: _migrate_to_8,
    9: _migrate_to_9,
}


def latest_version() -> int:
    return max(MIGRATIONS)


def current_version(conn: Connection) -> int:
    if not sa.inspect(conn).has_table("schema_version"):
        return 0
    return conn.execute(sa.select(sa.func.max(schema_version.c.version))).scalar() or 0


def upgrade(engine: Engine) -> int:
    """Bring the database to the latest schema version in place; return that version.

    A new, empty database is created at the latest version directly. An existing one runs the
    missing steps in order; each step commits with its version row, so an interrupted upgrade
    resumes from the last completed step and never leaves data half-migrated.
    """
    with engine.begin() as conn:
        existing = set(sa.inspect(conn).get_table_names())
        if not existing - {"schema_version"}:
            metadata.create_all(conn)
            conn.execute(
                schema_version.insert().values(version=latest_version(), applied_at=utcnow())
            )
            return latest_version()
        schema_version.create(conn, checkfirst=True)
        version = current_version(conn)
    if version > latest_version():
        raise StorageError(
            f"The database is at schema version {version}, newer than this app "
            f"(version {latest_version()}). Update Referral Atlas before opening it."
        )
    for target in sorted(v for v in MIGRATIONS if v > version):
        with engine.begin() as conn:
            MIGRATIONS[target](conn)
            conn.execute(schema_version.insert().values(version=target, applied_at=utcnow()))
        version = target
    return version


# --- engine ---------------------------------------------------------------------------------


#: How long a SQLite writer waits for another's lock before "database is locked". SQLite's
#: lock is not a queue: waiters poll, so under many concurrent writers on a busy machine one can
#: be passed over for seconds (5 s was exceeded in the 20-session load benchmark); a save that
#: waits is better than one that fails.
SQLITE_BUSY_TIMEOUT_S = 30


def _sqlite_pragmas(dbapi_conn: sqlite3.Connection, _record: object) -> None:
    """WAL lets readers work while a writer commits; the busy timeout makes a second writer
    wait instead of failing at once with "database is locked"."""
    cur = dbapi_conn.cursor()
    cur.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_S * 1000}")
    cur.execute("PRAGMA journal_mode = WAL")
    cur.execute("PRAGMA foreign_keys = ON")
    cur.close()


def make_engine(url: str | None = None) -> Engine:
    """Create the engine for `url` (default: the configured URL), schema upgraded and checked.

    Raises StorageError with a readable message when the file is unreadable or not a database.
    """
    url = url or config.database_url()
    sa_url = sa.engine.make_url(url)
    is_sqlite = sa_url.get_backend_name() == "sqlite"
    if is_sqlite and sa_url.database and sa_url.database != ":memory:":
        path = Path(sa_url.database)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageError(f"Cannot create the data folder {path.parent}: {exc}") from exc
    engine = sa.create_engine(
        url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S} if is_sqlite else {}
    )
    if is_sqlite:
        sa.event.listen(engine, "connect", _sqlite_pragmas)
    try:
        upgrade(engine)
    except StorageError:
        engine.dispose()
        raise
    except (sa.exc.DBAPIError, OSError) as exc:
        engine.dispose()
        where = sa_url.render_as_string(hide_password=True)
        detail = str(getattr(exc, "orig", exc)) or type(exc).__name__
        raise StorageError(
            f"Cannot open the database at {where}: {detail}. If it is a file, check that it is "
            "readable and is a Referral Atlas database; move it aside to start afresh."
        ) from exc
    from services import audit  # audit imports this module; the hook needs the tables above

    audit.install(engine)  # roles checked and every change to a practice's records audited
    return engine
