"""The audit trail's writer: who changed which record, when, from what to what.

Reading the trail and undoing a removal are in services/audit_trail.py.

One mechanism covers every writer: `install(engine)` (called by `db.make_engine`) hooks the
engine's statement execution. For an INSERT, UPDATE or DELETE on an audited table it
- reads the affected rows before (UPDATE, DELETE) and after (INSERT, UPDATE) the statement,
- checks the current actor's role for each row's practice (services/auth.py) and refuses the
  statement with PermissionDenied before it runs (UPDATE, DELETE) or before its transaction can
  commit (INSERT: the exception rolls the transaction back),
- appends one `audit_log` row per affected record in the same transaction, so the change and
  its record commit or roll back together.
Statements on other tables (the provider and geocode caches, registry pulls) pass untouched,
so background jobs keep writing them. The trail itself is append-only: any UPDATE or DELETE of
`audit_log` is refused by the same hook.

Reads are checked too: a SELECT whose WHERE clause names a practice (`practice_id = X`, or
`practice.id = X`) is refused unless the actor may see that practice, so a user of one practice
cannot read another's records by passing its id to a service.

Every audit row carries the transaction it was written in (`txn`): undoing a delete replays the
whole transaction backwards (a partner's removal also deleted its stage history and detached
its activities), and the undo is itself audited.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.sql import dml, operators, visitors
from sqlalchemy.sql.elements import BinaryExpression, BindParameter

from services import auth, db

log = logging.getLogger(__name__)

#: table -> the role a write to it needs. `named_referrer` is part of the referral log.
AUDITED: dict[str, str] = {
    "practice": auth.OWNER,
    "app_user": auth.OWNER,
    "partner": auth.LIAISON,
    "partner_stage_history": auth.LIAISON,
    "activity": auth.LIAISON,
    "referral": auth.LIAISON,
    "letter_template": auth.LIAISON,
    "named_referrer": auth.LIAISON,
}
#: tables whose rows only an owner may read (the trail and the team).
OWNER_READ = {"audit_log", "app_user"}
UNDOABLE = {"partner", "referral"}
_CHUNK = 500
_RAW_DML = re.compile(r"^\s*(INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+\"?(\w+)\"?", re.IGNORECASE)
_INTERNAL = {"audit_internal": True}


class AuditError(RuntimeError):
    """The trail refused something (a change to itself, an undo that cannot apply)."""


# --- the engine hook ---------------------------------------------------------------------------


@dataclass
class _Pending:
    table: str
    action: str  # insert / update / delete
    before: list[dict[str, Any]]
    max_id: int | None = None  # for inserts whose new ids cannot be returned
    read_ids: bool = False  # the statement was given a RETURNING id for us
    clause: object = None


def install(engine: Engine) -> None:
    """Hook the engine (once); `db.make_engine` calls this for every engine it makes."""
    if sa.event.contains(engine, "before_execute", _before_execute):
        return
    sa.event.listen(engine, "before_execute", _before_execute, retval=True)
    sa.event.listen(engine, "after_execute", _after_execute)
    sa.event.listen(engine, "begin", _on_begin)
    sa.event.listen(engine, "before_cursor_execute", _before_driver_sql)


def _on_begin(conn: Connection) -> None:
    conn.info["audit_txn"] = uuid.uuid4().hex
    conn.info.pop("audit_pending", None)


class _Internal:
    """Runs the trail's own statements on the caller's connection (same transaction) without
    them being checked or audited in turn. (`Connection.execution_options` would change the
    caller's connection for good, so the option goes with each statement.)"""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def execute(self, statement: Any, params: Any = None) -> sa.CursorResult:
        return self.conn.execute(statement, params, execution_options=_INTERNAL)

    def exec_driver_sql(self, statement: str, params: Any = None) -> sa.CursorResult:
        return self.conn.exec_driver_sql(statement, params, execution_options=_INTERNAL)


def _is_internal(conn: Connection, options: dict) -> bool:
    return bool(options.get("audit_internal") or conn.get_execution_options().get("audit_internal"))


def _param_sets(multiparams: Sequence, params: dict) -> list[dict]:
    if multiparams and all(isinstance(m, dict) for m in multiparams):
        return list(multiparams)
    return [params] if params else [{}]


def _before_execute(conn, clause, multiparams, params, options):  # type: ignore[no-untyped-def]
    if _is_internal(conn, options):
        return clause, multiparams, params
    if isinstance(clause, sa.Select):
        _check_read(clause)
        return clause, multiparams, params
    if not isinstance(clause, dml.UpdateBase):
        return clause, multiparams, params
    table = clause.table.name if hasattr(clause.table, "name") else ""
    if table == "audit_log" and not isinstance(clause, dml.Insert):
        raise AuditError("The audit trail is append-only.")
    if table not in AUDITED:
        return clause, multiparams, params
    if isinstance(clause, dml.Insert):
        original = clause  # the after-execute event is given the statement as passed in
        pending = _Pending(table, "insert", [])
        many = len(_param_sets(multiparams, params)) > 1
        sqlite_many = many and conn.dialect.name == "sqlite"
        if clause._returning or clause.select is not None or clause._return_defaults or sqlite_many:
            # SQLite writes one transaction at a time: with its write lock taken, the rows above
            # today's highest id are exactly this statement's, and its executemany stays fast.
            pending.max_id = _max_id_locked(conn, table)
        elif isinstance(clause.table, sa.Table):
            clause = clause.return_defaults(sort_by_parameter_order=True)
        else:  # a bare table() clause knows no primary key: ask for the ids outright
            pending.read_ids = True
            clause = clause.returning(sa.column("id"), sort_by_parameter_order=True)
        _push(conn, original, pending)
        if clause is not original:
            conn.info["audit_pending"][id(clause)] = pending
        return clause, multiparams, params
    action = "update" if isinstance(clause, dml.Update) else "delete"
    full = db.metadata.tables[table]
    before: list[dict[str, Any]] = []
    seen: set[int] = set()
    for ps in _param_sets(multiparams, params):
        query = sa.select(full)
        if clause.whereclause is not None:
            query = query.where(clause.whereclause)
        for row in _Internal(conn).execute(query, ps or None).mappings():
            if row["id"] not in seen:
                seen.add(row["id"])
                before.append(dict(row))
    _check_write(conn, table, action, before)
    _push(conn, clause, _Pending(table, action, before))
    return clause, multiparams, params


def _before_driver_sql(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
    """Plain SQL strings (`exec_driver_sql`) bypass the statement hook above, so they may not
    touch the trail or the audited tables at all."""
    if context is None or context.compiled is not None:
        return
    if context.execution_options.get("audit_internal"):
        return
    match = _RAW_DML.match(statement)
    if match is None:
        return
    table = match.group(2).lower()
    if table == "audit_log" and not match.group(1).upper().startswith("INSERT"):
        raise AuditError("The audit trail is append-only.")
    if table in AUDITED:
        raise AuditError(f"Write {table} through SQLAlchemy Core statements, so it is audited.")


def _push(conn: Connection, clause: object, pending: _Pending) -> None:
    pending.clause = clause
    conn.info.setdefault("audit_pending", {})[id(clause)] = pending


def _after_execute(conn, clause, multiparams, params, options, result):  # type: ignore[no-untyped-def]
    if _is_internal(conn, options):
        return
    waiting = conn.info.get("audit_pending", {})
    pending = waiting.pop(id(clause), None)
    if pending is None:
        return
    waiting.pop(id(pending.clause), None)
    waiting = {k: v for k, v in waiting.items() if v is not pending}
    conn.info["audit_pending"] = waiting
    full = db.metadata.tables[pending.table]
    internal = _Internal(conn)
    if pending.action == "delete":
        _append(conn, pending.table, "delete", [(r, None) for r in pending.before])
        return
    if pending.action == "update":
        ids = [r["id"] for r in pending.before]
        after = {r["id"]: r for r in _rows_by_id(internal, full, ids)}
        _check_write(conn, pending.table, "update", list(after.values()))
        _append(conn, pending.table, "update", [(r, after.get(r["id"])) for r in pending.before])
        return
    if pending.read_ids:
        ids = [row[0] for row in result.all()]
    elif pending.max_id is None:
        ids = [row[0] for row in result.inserted_primary_key_rows]
    else:
        rows = internal.execute(sa.select(full.c.id).where(full.c.id > (pending.max_id or 0)))
        ids = [r[0] for r in rows]
    new_rows = _inserted_rows(full, ids, pending.max_id, result)
    if new_rows is None:
        new_rows = _rows_by_id(internal, full, ids)
    _check_write(conn, pending.table, "insert", new_rows)
    _append(conn, pending.table, "insert", [(None, r) for r in new_rows])


def _inserted_rows(
    table: sa.Table, ids: list[int], max_id: int | None, result: sa.CursorResult
) -> list[dict[str, Any]] | None:
    """The rows a SQLite executemany just inserted, from the values it was given (defaults
    applied) instead of reading them back: with the write lock held since `max_id` was taken,
    SQLite numbered them max_id+1, max_id+2, ... in the order given. None when that cannot be
    shown to hold (then the caller reads the rows back)."""
    if max_id is None or result.context is None or result.context.dialect.name != "sqlite":
        return None
    given = result.context.compiled_parameters
    keys = list(table.c.keys())
    if len(given) != len(ids) or ids != list(range(max_id + 1, max_id + 1 + len(ids))):
        return None
    if any("id" in p and p["id"] is not None for p in given):
        return None
    if any(set(p) - set(keys) for p in given[:1]):
        return None
    return [{**{k: p.get(k) for k in keys}, "id": i} for p, i in zip(given, ids, strict=True)]


def _max_id_locked(conn: Connection, table: str) -> int:
    """The table's highest id, with SQLite's write lock taken first, so the rows above it after
    the insert are exactly this transaction's."""
    internal = _Internal(conn)
    if conn.dialect.name == "sqlite":
        internal.exec_driver_sql(f"UPDATE {table} SET id = id WHERE 0")  # a fixed table name
    return int(
        internal.execute(sa.select(sa.func.max(db.metadata.tables[table].c.id))).scalar() or 0
    )


def _rows_by_id(conn: Connection, table: sa.Table, ids: list[int]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        out += [
            dict(r) for r in conn.execute(sa.select(table).where(table.c.id.in_(chunk))).mappings()
        ]
    order = {i: n for n, i in enumerate(ids)}
    out.sort(key=lambda r: order.get(r["id"], 0))
    return out


def _practice_of(conn: Connection, table: str, rows: list[dict[str, Any]]) -> list[int | None]:
    if table == "practice":
        return [r["id"] for r in rows]
    if table != "partner_stage_history":
        return [r["practice_id"] for r in rows]
    partner_ids = sorted({r["partner_id"] for r in rows})
    p = db.partner
    owner: dict[int, int] = {}
    internal = _Internal(conn)
    for start in range(0, len(partner_ids), _CHUNK):
        chunk = partner_ids[start : start + _CHUNK]
        owner.update(
            internal.execute(sa.select(p.c.id, p.c.practice_id).where(p.c.id.in_(chunk))).all()
        )
    return [owner.get(r["partner_id"]) for r in rows]


def _check_write(conn: Connection, table: str, action: str, rows: list[dict[str, Any]]) -> None:
    actor = auth.current_actor()
    if not rows or actor.is_instance_owner:
        return
    if table == "practice" and action == "insert":
        auth.require(auth.OWNER, None, actor)  # only instance owners create practices
    role = AUDITED[table]
    for practice_id in set(_practice_of(conn, table, rows)):
        auth.require(role, practice_id, actor)


def _check_read(query: sa.Select) -> None:
    where = query.whereclause
    if where is None:
        return
    actor = auth.current_actor()
    if actor.everywhere:
        return
    for element in visitors.iterate(where):
        if not isinstance(element, BinaryExpression):
            continue
        left, right = element.left, element.right
        if not isinstance(right, BindParameter) or not isinstance(left, sa.Column):
            continue
        table = getattr(left.table, "name", None)
        if left.name == "practice_id" or (table == "practice" and left.name == "id"):
            if element.operator not in (operators.eq, operators.in_op):
                continue
            value = right.effective_value
            values = value if isinstance(value, (list, tuple, set)) else [value]
            role = auth.OWNER if table in OWNER_READ else auth.VIEWER
            for practice_id in values:
                if practice_id is not None:
                    auth.require(role, int(practice_id), actor)


class _Encoder:
    """JSON of one row; dates and timestamps as ISO text, each distinct value formatted once
    (a bulk import repeats the same few dates and one timestamp thousands of times)."""

    def __init__(self) -> None:
        # keyed by identity (the rows keep every value alive while one batch is encoded);
        # hashing an aware timestamp costs more than formatting it
        self.cache: dict[int, tuple[object, str]] = {}

    def plain(self, value: object) -> object:
        if isinstance(value, (datetime, date)):
            hit = self.cache.get(id(value))
            if hit is not None and hit[0] is value:
                return hit[1]
            text = value.isoformat()
            self.cache[id(value)] = (value, text)
            return text
        if isinstance(value, Decimal):
            return float(value)
        raise TypeError(f"cannot record a {type(value).__name__} in the audit trail")

    def __call__(self, row: dict[str, Any] | None) -> str | None:
        return None if row is None else json.dumps(row, default=self.plain, sort_keys=True)


def _append(
    conn: Connection,
    table: str,
    action: str,
    pairs: list[tuple[dict[str, Any] | None, dict[str, Any] | None]],
) -> None:
    if not pairs:
        return
    actor = auth.current_actor()
    now = datetime.now(UTC)
    txn = conn.info.get("audit_txn") or uuid.uuid4().hex
    note = conn.info.get("audit_note")
    encode = _Encoder()
    rows_for_practice = [after or before for before, after in pairs]
    practices = _practice_of(conn, table, rows_for_practice)  # type: ignore[arg-type]
    records = [
        {
            "at": now, "actor": actor.email, "practice_id": pid, "table_name": table,
            "record_id": int((after or before)["id"]), "action": action,  # type: ignore[index]
            "before": encode(before), "after": encode(after), "txn": txn, "note": note,
        }
        for (before, after), pid in zip(pairs, practices, strict=True)
    ]  # fmt: skip
    if conn.dialect.name == "sqlite" and len(records) > 1:
        _insert_plain_sqlite(conn, now, records)
    else:
        _Internal(conn).execute(db.audit_log.insert(), records)


_AUDIT_COLUMNS = ("at", "actor", "practice_id", "table_name", "record_id", "action", "before",
                  "after", "txn", "note")  # fmt: skip


def _insert_plain_sqlite(conn: Connection, now: datetime, records: list[dict[str, Any]]) -> None:
    """A batch of audit rows through the driver's own executemany: the values are plain text
    and numbers already, and the one timestamp is written in the text form SQLAlchemy stores
    (and reads back) for a DATETIME on SQLite, so per-value type processing is skipped."""
    at = now.astimezone(UTC).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")
    sql = (
        f"INSERT INTO audit_log ({', '.join(_AUDIT_COLUMNS)}) "
        f"VALUES ({', '.join('?' for _ in _AUDIT_COLUMNS)})"
    )
    rows = [(at, *(r[c] for c in _AUDIT_COLUMNS[1:])) for r in records]
    _Internal(conn).exec_driver_sql(sql, rows)
