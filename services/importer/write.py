"""Writing an import plan: all rows in one transaction, or none; each file once.

Every imported file is recorded per practice by the SHA-256 of its bytes, with the date and the
number of referrals it added. Importing the same bytes again is refused with that record
("This file was imported on 2026-11-20, 44 rows.") unless the caller says the user asked to
import it again: a second click or a forgotten upload must not duplicate a whole tracker.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from services import db, logs
from services import referrals as refs
from services.importer.plan import ImportPlan

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrackerFile:
    """An uploaded file as the import record knows it."""

    name: str
    digest: str  # SHA-256 of the bytes, hex

    @classmethod
    def of(cls, name: str, data: bytes) -> TrackerFile:
        return cls(name[:300], file_digest(data))


@dataclass(frozen=True)
class PastImport:
    file_name: str
    row_count: int
    imported_at: datetime  # aware UTC

    @property
    def imported_on(self) -> date:
        """The day of the import on this server's calendar."""
        return self.imported_at.astimezone().date()

    def message(self) -> str:
        return f"This file was imported on {self.imported_on.isoformat()}, {self.row_count:,} rows."


def file_digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def previous_import(
    engine: Engine | Connection, practice_id: int, digest: str
) -> PastImport | None:
    """The latest import of a file with these bytes into the practice's log, if any."""
    t = db.tracker_import
    query = (
        sa.select(t.c.file_name, t.c.row_count, t.c.imported_at)
        .where(t.c.practice_id == practice_id, t.c.content_hash == digest)
        .order_by(t.c.imported_at.desc(), t.c.id.desc())
        .limit(1)
    )
    if isinstance(engine, Connection):
        row = engine.execute(query).first()
    else:
        with engine.connect() as conn:
            row = conn.execute(query).first()
    if row is None:
        return None
    return PastImport(row.file_name, int(row.row_count), db.as_utc(row.imported_at))


def _insert_referrals(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """One executemany for the whole batch through SQLAlchemy's own execution, so every
    database gets its values in the form its driver and the column types expect."""
    if rows:
        conn.execute(db.referral.insert(), rows)


def run_import(
    engine: Engine,
    practice_id: int,
    plan: ImportPlan,
    only_valid: bool = False,
    source: TrackerFile | None = None,
    again: bool = False,
) -> int:
    """Write the plan in one transaction; return how many referrals were added.

    With errors in the plan nothing is written unless `only_valid` is set. Referrers the plan
    marked new are created in the same transaction, so a failure leaves no orphans either.
    With a `source`, the file is recorded in the same transaction, and a file imported before
    is refused (ReferralError with the earlier import's date and rows) unless `again`.
    """
    if plan.errors and not only_valid:
        raise refs.ReferralError(
            f"{len(plan.errors)} problem(s) in {plan.total - plan.valid} row(s): nothing was "
            "imported. Fix the file, or choose to import only the valid rows."
        )
    if not plan.rows:
        return 0
    now = db.utcnow()
    try:
        with engine.begin() as conn:
            past = (
                None
                if source is None or again
                else previous_import(conn, practice_id, source.digest)
            )
            if past is not None:
                raise refs.ReferralError(
                    f"{past.message()} Nothing was imported; tick 'Import it again' if you "
                    "really mean to add its rows a second time."
                )
            created: dict[tuple[str, str], str] = {}
            batch = []
            for row in plan.rows:
                values = dict(row.values)
                if row.new_referrer == "name":
                    assert row.partner_name is not None
                    cache_key = ("name", row.partner_name.lower())
                    if cache_key not in created:
                        created[cache_key] = refs.add_referrer(
                            conn, practice_id, name=row.partner_name
                        )
                    values["partner_npi"] = created[cache_key]
                elif row.new_referrer == "npi":
                    cache_key = ("npi", values["partner_npi"])
                    if cache_key not in created:
                        created[cache_key] = refs.add_referrer(
                            conn, practice_id, npi=values["partner_npi"], name=row.partner_name
                        )
                batch.append(
                    {
                        **values,
                        "practice_id": practice_id,
                        "version": 1,
                        "created_at": now,
                        "updated_at": now,
                    }
                )
            _insert_referrals(conn, batch)
            if source is not None:
                conn.execute(
                    db.tracker_import.insert().values(
                        practice_id=practice_id,
                        content_hash=source.digest,
                        file_name=source.name,
                        row_count=len(batch),
                        imported_at=now,
                    )
                )
    except sa.exc.SQLAlchemyError as exc:
        ref = logs.log_exception(log, "A tracker import was refused by the database", exc)
        raise refs.ReferralError(
            f"Nothing was imported: the database refused it (reference {ref} in the app's log)."
        ) from exc
    return len(batch)
