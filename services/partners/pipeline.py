"""Moving partners through the pipeline: putting providers on the list, changing a partner's
stage or its owner, priority and notes, and moving several at once.

Every stage a partner takes is written to `partner_stage_history` with its date, including the
first "target", in the same transaction as the change itself, so the list and its history can
never disagree and the pipeline can be replayed as of any past date. This module is the only
writer of that history besides removal, which erases it.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from services import db
from services.npi import is_valid_npi
from services.partners.reads import partner_names
from services.partners.rules import (
    PartnerError,
    check_stage_and_day,
    clean_notes,
    clean_owner,
    clean_priority,
)

_UNSET: object = object()


def add_targets(
    engine: Engine, practice_id: int, npis: Iterable[str], when: datetime | None = None
) -> list[str]:
    """Put providers on the target list; return the NPIs that were newly added.

    Adding a provider already on the list is a no-op, so a double click or a rerun cannot
    create a second partner (the unique constraint backs this up under concurrency). All of
    them are added in one transaction: when one insert fails, none is added.
    """
    when = when or db.localnow()
    wanted = list(dict.fromkeys(str(n).strip() for n in npis))
    bad = [n for n in wanted if not is_valid_npi(n)]
    if bad:
        raise PartnerError(f"Not a valid NPI: {', '.join(bad)}")
    if not wanted:
        return []
    added: list[str] = []
    with engine.begin() as conn:
        known = {
            r[0]
            for r in conn.execute(sa.select(db.provider.c.npi).where(db.provider.c.npi.in_(wanted)))
        }
        missing = [n for n in wanted if n not in known]
        if missing:
            raise PartnerError(f"Unknown provider NPI: {', '.join(missing)}")
        on_list = {
            r[0]
            for r in conn.execute(
                sa.select(db.partner.c.npi).where(
                    db.partner.c.practice_id == practice_id, db.partner.c.npi.in_(wanted)
                )
            )
        }
        for npi in wanted:
            if npi in on_list:
                continue
            partner_id = conn.execute(
                db.partner.insert().values(
                    practice_id=practice_id,
                    npi=npi,
                    stage="target",
                    added_at=when,  # business date: local wall-clock time
                    updated_at=db.utcnow(),  # bookkeeping (the version token): UTC
                )
            ).inserted_primary_key[0]
            conn.execute(
                db.partner_stage_history.insert().values(
                    partner_id=partner_id, from_stage=None, to_stage="target", changed_at=when
                )
            )
            added.append(npi)
    return added


def update_partner(
    engine: Engine,
    practice_id: int,
    partner_id: int,
    *,
    stage: str | None = None,
    owner: object = _UNSET,
    priority: object = _UNSET,
    notes: object = _UNSET,
    when: datetime | None = None,
    expected_updated_at: datetime | None = None,
) -> bool:
    """Change a partner's stage, owner, priority and/or notes; return True if the stage moved.

    Only the fields passed are touched. Everything is validated before anything is written.
    A stage change also writes a history row dated `when` (default now), so a stage entered
    last Tuesday can be recorded as such. `expected_updated_at` is the partner's `updated_at`
    as the caller read it: when someone else saved the partner since, the change is refused
    instead of silently overwriting theirs.
    """
    when = when or db.localnow()
    values: dict[str, object] = {}
    check_stage_and_day(stage, when)
    if owner is not _UNSET:
        values["owner"] = clean_owner(owner)  # type: ignore[arg-type]
    if priority is not _UNSET:
        values["priority"] = clean_priority(priority)
    if notes is not _UNSET:
        values["notes"] = clean_notes(notes)  # type: ignore[arg-type]
    with engine.begin() as conn:
        return _update_in(conn, practice_id, partner_id, stage, values, when, expected_updated_at)


def _update_in(
    conn: Connection,
    practice_id: int,
    partner_id: int,
    stage: str | None,
    values: dict[str, object],
    when: datetime,
    expected_updated_at: datetime | None = None,
) -> bool:
    """One partner's change inside the caller's transaction (see update_partner)."""
    p = db.partner
    row = conn.execute(
        sa.select(p.c.stage, p.c.added_at, p.c.updated_at).where(
            p.c.id == partner_id, p.c.practice_id == practice_id
        )
    ).first()
    if row is None:
        raise PartnerError("This partner is no longer on the list (removed elsewhere?).")
    if expected_updated_at is not None and row.updated_at != db.as_utc(expected_updated_at):
        raise PartnerError(
            "This partner was changed by someone else since you opened it; your change was "
            "not saved. Reload to see theirs, then try again."
        )
    moved = stage is not None and stage != row.stage
    values = dict(values)
    if moved:
        last = conn.execute(
            sa.select(sa.func.max(db.partner_stage_history.c.changed_at)).where(
                db.partner_stage_history.c.partner_id == partner_id
            )
        ).scalar()
        floor = last or row.added_at
        if floor is not None and when < floor:
            raise PartnerError(
                f"date: the stage change cannot be dated before the previous one "
                f"({floor.date().isoformat()})"
            )
        values["stage"] = stage
        conn.execute(
            db.partner_stage_history.insert().values(
                partner_id=partner_id, from_stage=row.stage, to_stage=stage, changed_at=when
            )
        )
    if values:
        # updated_at doubles as the version token, so it must move on every save; it is a
        # bookkeeping timestamp, so it is UTC like the value it replaces.
        now = db.utcnow()
        floor_ts = (row.updated_at or now) + timedelta(microseconds=1)
        values["updated_at"] = max(now, floor_ts)
        conn.execute(p.update().where(p.c.id == partner_id).values(**values))
    return moved


def set_stage(
    engine: Engine, practice_id: int, partner_ids: Iterable[int], stage: str,
    when: datetime | None = None,
) -> int:  # fmt: skip
    """Move several partners to one stage (bulk action); return how many moved.

    All or nothing: every move happens in one transaction, so when one is refused (a partner
    removed elsewhere, a date before its last change) or the database fails part-way, none
    moved. The refusal names the partner it is about.
    """
    when = when or db.localnow()
    check_stage_and_day(stage, when)
    ids = list(dict.fromkeys(int(i) for i in partner_ids))
    moved = 0
    with engine.begin() as conn:
        names = partner_names(conn, practice_id, ids)
        for pid in ids:
            try:
                moved += _update_in(conn, practice_id, pid, stage, {}, when)
            except PartnerError as exc:
                who = names.get(pid, "A selected partner")
                raise PartnerError(f"{who}: {exc} Nothing was moved.") from exc
    return moved
