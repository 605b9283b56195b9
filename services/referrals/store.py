"""The referral store: loading the log, saving a batch of edits, and reporting conflicts.

Saving is optimistic: every edit states the `version` it was read at; an UPDATE or DELETE that
finds another version changes nothing and is reported as a conflict with both values, so two
browser sessions never silently overwrite each other.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from services import db, logs
from services.npi import is_valid_npi
from services.referrals.cells import (
    FIELD_LABELS,
    FIELDS,
    FieldError,
    ReferralError,
    _short,
    is_blank,
    named_id,
    validate_referral,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Conflict:
    ref: Any  # the caller's token for the row
    referral_id: int
    message: str
    #: (field, your value, their value) for every field where the two differ
    differences: tuple[tuple[str, Any, Any], ...] = ()
    current_version: int | None = None
    #: "changed": someone saved the row since it was read; "deleted": someone deleted it;
    #: "delete_refused": this session's delete met someone else's change.
    kind: str = "changed"


@dataclass
class Edit:
    ref: Any
    referral_id: int
    version: int
    values: dict[str, Any]
    label: str = ""


@dataclass
class SaveResult:
    inserted: dict[Any, int] = field(default_factory=dict)  # ref -> new id
    updated: dict[Any, int] = field(default_factory=dict)  # ref -> id
    deleted: dict[Any, int] = field(default_factory=dict)  # ref -> id
    errors: dict[Any, list[FieldError]] = field(default_factory=dict)
    conflicts: list[Conflict] = field(default_factory=list)

    @property
    def saved(self) -> int:
        return len(self.inserted) + len(self.updated) + len(self.deleted)


# --- reading ---------------------------------------------------------------------------------

COLUMNS = ["id", "version", *FIELDS]


def log_revision(engine: Engine | Connection, practice_ids: Iterable[int]) -> tuple:
    """A cheap token of the practices' referral log: it changes whenever any session adds,
    edits, deletes or marks a follow-up on a referral, so a cache or a working copy knows to
    reload. The row count and highest id catch additions and deletions, the newest
    `updated_at` catches edits, and the sum of versions catches a change that keeps
    `updated_at` (every write moves `version`)."""
    r = db.referral
    query = sa.select(
        sa.func.count(), sa.func.max(r.c.id), sa.func.max(r.c.updated_at), sa.func.sum(r.c.version)
    ).where(r.c.practice_id.in_(list(practice_ids)))
    if isinstance(engine, Connection):
        return tuple(engine.execute(query).one())
    with engine.connect() as conn:
        return tuple(conn.execute(query).one())


def load_referrals(engine: Engine | Connection, practice_id: int) -> pd.DataFrame:
    """The practice's referrals, newest first, with `id` and `version` for saving back."""
    r = db.referral
    query = (
        sa.select(*(r.c[c] for c in COLUMNS))
        .where(r.c.practice_id == practice_id)
        .order_by(r.c.referral_date.desc(), r.c.id.desc())
    )
    if isinstance(engine, Connection):
        rows = engine.execute(query).all()
    else:
        with engine.connect() as conn:
            rows = conn.execute(query).all()
    df = pd.DataFrame(rows, columns=COLUMNS)
    if df.empty:
        df = pd.DataFrame({c: pd.Series(dtype=object) for c in COLUMNS})
    df["visits"] = df["visits"].astype("Int64")
    df["id"] = df["id"].astype("Int64")
    df["version"] = df["version"].astype("Int64")
    return df


# --- saving ----------------------------------------------------------------------------------


def _existing_keys(conn: Connection, practice_id: int, keys: Iterable[str]) -> set[str]:
    keys = set(keys)
    npis = [k for k in keys if is_valid_npi(k)]
    named = {named_id(k): k for k in keys if named_id(k) is not None}
    found: set[str] = set()
    for chunk in _chunks(npis, 500):
        found |= {
            r[0]
            for r in conn.execute(sa.select(db.provider.c.npi).where(db.provider.c.npi.in_(chunk)))
        }
    for chunk in _chunks(list(named), 500):
        found |= {
            named[r[0]]
            for r in conn.execute(
                sa.select(db.named_referrer.c.id).where(
                    db.named_referrer.c.practice_id == practice_id,
                    db.named_referrer.c.id.in_(chunk),
                )
            )
        }
    return found


def _chunks(items: list, size: int) -> Iterable[list]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _same(a: object, b: object) -> bool:
    if is_blank(a) and is_blank(b):
        return True
    return a == b


def save_changes(
    engine: Engine,
    practice_id: int,
    added: Iterable[tuple[Any, str, Mapping[str, Any]]] = (),
    edited: Iterable[Edit] = (),
    deleted: Iterable[tuple[Any, int, int]] = (),
    today: date | None = None,
) -> SaveResult:
    """Save a batch of editor changes in one transaction; return what was saved and what not.

    `added` is (ref, row label, values); `deleted` is (ref, id, version read). Each row is
    validated first; a valid row is saved whole, an invalid one is reported with its row,
    field and message and written not at all. Edits and deletes state the version they read:
    if someone saved the row since, nothing is written for it and a Conflict shows both
    values. A database failure rolls the whole batch back and raises ReferralError.
    """
    today = today or date.today()
    result = SaveResult()
    valid_added: list[tuple[Any, str, dict[str, Any]]] = []
    valid_edits: list[tuple[Edit, dict[str, Any]]] = []
    for ref, label, values in added:
        clean, errors = validate_referral(values, label, today)
        if errors:
            result.errors[ref] = errors
        else:
            valid_added.append((ref, label, clean))
    for edit in edited:
        label = edit.label or f"referral #{edit.referral_id}"
        clean, errors = validate_referral(edit.values, label, today)
        if errors:
            result.errors[edit.ref] = errors
        else:
            valid_edits.append((edit, clean))
    deletes = list(deleted)
    r = db.referral
    now = db.utcnow()
    try:
        with engine.begin() as conn:
            known = _existing_keys(
                conn,
                practice_id,
                [c["partner_npi"] for _, _, c in valid_added]
                + [c["partner_npi"] for _, c in valid_edits],
            )

            def unknown(ref: Any, label: str, key: str) -> bool:
                if key in known:
                    return False
                result.errors[ref] = [
                    FieldError(
                        label,
                        "partner",
                        f"{key} is not a known provider; add it as a referrer first",
                    )
                ]
                return True

            for ref, label, clean in valid_added:
                if unknown(ref, label, clean["partner_npi"]):
                    continue
                new_id = conn.execute(
                    r.insert().values(
                        practice_id=practice_id, version=1, created_at=now, updated_at=now, **clean
                    )
                ).inserted_primary_key[0]
                result.inserted[ref] = int(new_id)
            for edit, clean in valid_edits:
                label = edit.label or f"referral #{edit.referral_id}"
                if unknown(edit.ref, label, clean["partner_npi"]):
                    continue
                done = conn.execute(
                    r.update()
                    .where(
                        r.c.id == edit.referral_id,
                        r.c.practice_id == practice_id,
                        r.c.version == edit.version,
                    )
                    .values(version=r.c.version + 1, updated_at=now, **clean)
                ).rowcount
                if done:
                    result.updated[edit.ref] = edit.referral_id
                else:
                    result.conflicts.append(
                        _conflict(conn, practice_id, edit.ref, edit.referral_id, clean)
                    )
            for ref, referral_id, version in deletes:
                done = conn.execute(
                    r.delete().where(
                        r.c.id == referral_id,
                        r.c.practice_id == practice_id,
                        r.c.version == version,
                    )
                ).rowcount
                if done:
                    result.deleted[ref] = referral_id
                    continue
                current = _current(conn, practice_id, referral_id)
                if current is None:  # someone else deleted it already: the wish is fulfilled
                    result.deleted[ref] = referral_id
                else:
                    result.conflicts.append(
                        Conflict(
                            ref,
                            referral_id,
                            f"Referral #{referral_id} was changed in another session since you "
                            "loaded it, so it was not deleted. Check its new values, then delete "
                            "it again if you still want to.",
                            current_version=int(current["version"]),
                            kind="delete_refused",
                        )
                    )
    except sa.exc.SQLAlchemyError as exc:
        ref = logs.log_exception(log, "Saving referral log changes was refused", exc)
        raise ReferralError(
            f"Nothing was saved: the database refused the change (reference {ref} in the "
            "app's log)."
        ) from exc
    return result


def _current(conn: Connection, practice_id: int, referral_id: int) -> dict[str, Any] | None:
    row = conn.execute(
        sa.select(db.referral).where(
            db.referral.c.id == referral_id, db.referral.c.practice_id == practice_id
        )
    ).first()
    return dict(row._mapping) if row is not None else None


def _conflict(
    conn: Connection, practice_id: int, ref: Any, referral_id: int, mine: Mapping[str, Any]
) -> Conflict:
    current = _current(conn, practice_id, referral_id)
    if current is None:
        return Conflict(
            ref,
            referral_id,
            f"Referral #{referral_id} was deleted in another session, so your edit was not saved.",
            kind="deleted",
        )
    diffs = tuple(
        (FIELD_LABELS[f], mine.get(f), current.get(f))
        for f in FIELDS
        if not _same(mine.get(f), current.get(f))
    )
    shown = "; ".join(f"{f}: yours {_show(a)}, theirs {_show(b)}" for f, a, b in diffs)
    return Conflict(
        ref,
        referral_id,
        f"Referral #{referral_id} was changed in another session since you loaded it; your "
        f"edit was not saved. {shown or 'The values now match yours.'}",
        diffs,
        int(current["version"]),
    )


def _show(value: object) -> str:
    if is_blank(value):
        return "(empty)"
    if isinstance(value, date):
        return value.isoformat()
    return f"'{_short(str(value))}'"
