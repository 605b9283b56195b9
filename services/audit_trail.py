"""Reading the audit trail, and undoing the removal of a partner or a referral.

The trail is written by the engine hook in services/audit.py; this module only reads it (owners
only) and, for an undo, replays a whole removal transaction backwards through ordinary,
audited writes.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from services import auth, db
from services.audit import _INTERNAL, UNDOABLE, AuditError, _Internal

# --- reading the trail -------------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    id: int
    at: datetime  # aware, UTC
    actor: str
    practice_id: int | None
    table_name: str
    record_id: int
    action: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    txn: str
    note: str | None

    @property
    def changed(self) -> list[str]:
        """The fields whose value differs between before and after."""
        keys = set(self.before or {}) | set(self.after or {})
        return sorted(k for k in keys if (self.before or {}).get(k) != (self.after or {}).get(k))

    @property
    def undoable(self) -> bool:
        return self.action == "delete" and self.table_name in UNDOABLE


def _entry(row: sa.RowMapping) -> Entry:
    at = row["at"]
    if at.tzinfo is None:  # SQLite keeps no zone; the app writes UTC only
        at = at.replace(tzinfo=UTC)
    return Entry(
        id=int(row["id"]), at=at.astimezone(UTC), actor=row["actor"],
        practice_id=row["practice_id"], table_name=row["table_name"],
        record_id=int(row["record_id"]), action=row["action"],
        before=json.loads(row["before"]) if row["before"] else None,
        after=json.loads(row["after"]) if row["after"] else None,
        txn=row["txn"], note=row["note"],
    )  # fmt: skip


def history(
    engine: Engine,
    practice_id: int,
    *,
    table: str | None = None,
    record_id: int | None = None,
    actor: str | None = None,
    action: str | None = None,
    since: date | None = None,
    until: date | None = None,
    limit: int = 500,
) -> list[Entry]:
    """The practice's trail, newest first, filtered. Owners only."""
    auth.require(auth.OWNER, practice_id)
    a = db.audit_log
    query = sa.select(a).where(a.c.practice_id == practice_id)
    if table:
        query = query.where(a.c.table_name == table)
    if record_id is not None:
        query = query.where(a.c.record_id == int(record_id))
    if actor:
        query = query.where(a.c.actor == actor)
    if action:
        query = query.where(a.c.action == action)
    if since:
        query = query.where(a.c.at >= datetime(since.year, since.month, since.day, tzinfo=UTC))
    if until:
        end = pd.Timestamp(until) + pd.Timedelta(days=1)
        query = query.where(a.c.at < end.to_pydatetime().replace(tzinfo=UTC))
    query = query.order_by(a.c.id.desc()).limit(limit)
    with engine.connect() as conn:
        return [_entry(r) for r in conn.execute(query).mappings()]


def actors(engine: Engine, practice_id: int) -> list[str]:
    """Everyone who changed something in the practice, for the filter."""
    auth.require(auth.OWNER, practice_id)
    a = db.audit_log
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(a.c.actor)
            .where(a.c.practice_id == practice_id)
            .distinct()
            .order_by(a.c.actor)
        ).all()
    return [r[0] for r in rows]


def entry(engine: Engine, entry_id: int) -> Entry | None:
    a = db.audit_log
    with engine.connect().execution_options(**_INTERNAL) as conn:
        row = conn.execute(sa.select(a).where(a.c.id == entry_id)).mappings().first()
    if row is None:
        return None
    found = _entry(row)
    auth.require(auth.OWNER, found.practice_id)
    return found


# --- undo --------------------------------------------------------------------------------------


def _typed(table: sa.Table, values: dict[str, Any]) -> dict[str, Any]:
    """JSON values back to what the columns take (dates and timestamps were ISO text)."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        if key not in table.c:
            continue
        try:
            column_type = table.c[key].type
            kind = getattr(column_type, "impl_instance", column_type).python_type
        except NotImplementedError:
            kind = object
        if isinstance(value, str) and issubclass(kind, datetime):
            value = datetime.fromisoformat(value)
        elif isinstance(value, str) and issubclass(kind, date):
            value = date.fromisoformat(value)
        out[key] = value
    return out


def undo_delete(engine: Engine, entry_id: int) -> list[Entry]:
    """Undo the deletion recorded by `entry_id` (a partner or a referral): the whole
    transaction that deleted it is replayed backwards, so a partner comes back with its stage
    history and its activities re-attached. Owners only; the restore is audited like any
    write. Returns the entries that were undone. Raises AuditError in plain words when the
    delete cannot be undone (not a delete, already restored, or the record was re-created)."""
    target = entry(engine, entry_id)
    if target is None:
        raise AuditError("That history entry does not exist.")
    auth.require(auth.OWNER, target.practice_id)
    if not target.undoable:
        raise AuditError("Only the removal of a partner or a referral can be undone.")
    a = db.audit_log
    with engine.begin() as conn:
        internal = _Internal(conn)
        rows = internal.execute(
            sa.select(a).where(a.c.txn == target.txn).order_by(a.c.id.desc())
        ).mappings()
        steps = [_entry(r) for r in rows]
        table = db.metadata.tables[target.table_name]
        if internal.execute(sa.select(table.c.id).where(table.c.id == target.record_id)).first():
            raise AuditError(f"This {target.table_name} is already back (it was restored before).")
        conn.info["audit_note"] = f"undo of history entry #{entry_id}"
        try:
            for step in steps:
                _revert(conn, step)
        except sa.exc.IntegrityError as exc:
            raise AuditError(
                "The removed record cannot come back: something now takes its place (for a "
                "partner, the same provider was added again). Remove that one first."
            ) from exc
        finally:
            conn.info.pop("audit_note", None)
    return steps


def _revert(conn: Connection, step: Entry) -> None:
    table = db.metadata.tables[step.table_name]
    if step.action == "delete" and step.before:
        conn.execute(table.insert().values(**_typed(table, step.before)))
    elif step.action == "update" and step.before:
        values = _typed(table, step.before)
        values.pop("id", None)
        conn.execute(table.update().where(table.c.id == step.record_id).values(**values))
    elif step.action == "insert":
        conn.execute(table.delete().where(table.c.id == step.record_id))


def record_counts(entries: Iterable[Entry]) -> dict[str, int]:
    """How many entries per table, for a summary line."""
    counts: dict[str, int] = {}
    for e in entries:
        counts[e.table_name] = counts.get(e.table_name, 0) + 1
    return counts
