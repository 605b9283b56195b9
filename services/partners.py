"""Partners: the providers on a practice's list and their pipeline stage.

Every stage a partner takes is written to `partner_stage_history` with its date, including the
first, so the pipeline can be counted as of any past date (the growth chart replays it week by
week). Owner, priority and notes are plain edits; a stage change is an edit plus a history row,
in one transaction, so the two can never disagree.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from services import db, playbook
from services.npi import is_valid_npi

MAX_OWNER = 100
MAX_NOTES = 5000
PRIORITIES: tuple[int, ...] = (1, 2, 3)  # 1 = highest
PRIORITY_LABELS: dict[int, str] = {1: "1 · high", 2: "2 · medium", 3: "3 · low"}

_UNSET: object = object()


class PartnerError(ValueError):
    """A partner change was refused; the message is meant for the user."""


class ConfirmationRequired(PartnerError):
    """Removing these partners would erase history; the caller must ask the user first.

    `histories` maps each partner that has history to what removing it would touch, and
    `names` to its display name, so the question can name them."""

    def __init__(
        self,
        message: str,
        histories: dict[int, PartnerHistory] | None = None,
        names: dict[int, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.histories = histories or {}
        self.names = names or {}


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


# --- edits ----------------------------------------------------------------------------------


def _clean_owner(owner: str | None) -> str | None:
    owner = (owner or "").strip()
    if len(owner) > MAX_OWNER:
        raise PartnerError(f"owner: at most {MAX_OWNER} characters")
    return owner or None


def _clean_priority(priority: object) -> int | None:
    if priority is None or (isinstance(priority, float) and pd.isna(priority)):
        return None
    try:
        value = int(priority)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        raise PartnerError(f"priority: '{priority}' is not one of 1, 2, 3") from None
    if value not in PRIORITIES or str(priority).strip() not in {str(value), f"{value}.0"}:
        raise PartnerError(f"priority: '{priority}' is not one of 1, 2, 3")
    return value


def _clean_notes(notes: str | None) -> str | None:
    if notes is not None and len(notes) > MAX_NOTES:
        raise PartnerError(f"notes: at most {MAX_NOTES} characters")
    return notes if (notes or "").strip() else None


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
    _check_stage_and_day(stage, when)
    if owner is not _UNSET:
        values["owner"] = _clean_owner(owner)  # type: ignore[arg-type]
    if priority is not _UNSET:
        values["priority"] = _clean_priority(priority)
    if notes is not _UNSET:
        values["notes"] = _clean_notes(notes)  # type: ignore[arg-type]
    with engine.begin() as conn:
        return _update_in(conn, practice_id, partner_id, stage, values, when, expected_updated_at)


def _check_stage_and_day(stage: str | None, when: datetime) -> None:
    if when.date() > date.today():
        raise PartnerError(f"date: {when.date().isoformat()} is in the future")
    if stage is not None and stage not in playbook.STAGES:
        raise PartnerError(f"stage: '{stage}' is not one of {', '.join(playbook.STAGES)}")


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
    _check_stage_and_day(stage, when)
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


def partner_names(conn: Connection, practice_id: int, partner_ids: Iterable[int]) -> dict[int, str]:
    """partner id → "Name, credential" for the practice's partners among `partner_ids`, so a
    message can say whom it is about."""
    ids = [int(i) for i in partner_ids]
    if not ids:
        return {}
    p, v = db.partner, db.provider
    rows = conn.execute(
        sa.select(p.c.id, v.c.name, v.c.credential)
        .select_from(p.join(v, v.c.npi == p.c.npi))
        .where(p.c.practice_id == practice_id, p.c.id.in_(ids))
    )
    return {r.id: f"{r.name}, {r.credential}" if r.credential else str(r.name) for r in rows}


# --- removal --------------------------------------------------------------------------------


@dataclass(frozen=True)
class PartnerHistory:
    """What removing a partner would touch."""

    stage_changes: int  # beyond the initial "target"
    activities: int
    referrals: int  # these stay in the referral log either way

    @property
    def has_history(self) -> bool:
        return bool(self.stage_changes or self.activities or self.referrals)

    def describe(self) -> str:
        parts = [
            f"{n} {one if n == 1 else many}"
            for n, one, many in (
                (self.stage_changes, "stage change", "stage changes"),
                (self.activities, "activity", "activities"),
                (self.referrals, "referral", "referrals"),
            )
            if n
        ]
        return ", ".join(parts) if parts else "no history"


def partner_history(engine: Engine, practice_id: int, partner_id: int) -> PartnerHistory:
    with engine.connect() as conn:
        return _history_in(conn, practice_id, partner_id)


def _history_in(conn: Connection, practice_id: int, partner_id: int) -> PartnerHistory:
    h, a, r, p = db.partner_stage_history, db.activity, db.referral, db.partner
    npi = conn.execute(
        sa.select(p.c.npi).where(p.c.id == partner_id, p.c.practice_id == practice_id)
    ).scalar()
    if npi is None:
        return PartnerHistory(0, 0, 0)
    changes = conn.execute(
        sa.select(sa.func.count())
        .select_from(h)
        .where(h.c.partner_id == partner_id, h.c.from_stage.is_not(None))
    ).scalar()
    acts = conn.execute(
        sa.select(sa.func.count()).select_from(a).where(a.c.partner_id == partner_id)
    ).scalar()
    refs = conn.execute(
        sa.select(sa.func.count())
        .select_from(r)
        .where(r.c.practice_id == practice_id, r.c.partner_npi == npi)
    ).scalar()
    return PartnerHistory(int(changes or 0), int(acts or 0), int(refs or 0))


def remove_partner(
    engine: Engine, practice_id: int, partner_id: int, confirmed: bool = True
) -> bool:
    """Take a partner off the list. The referral log keeps its rows (they are keyed by NPI);
    activities stay too, detached from the partner. Returns False if it was not there.

    With `confirmed=False` a partner that has history (stage changes, activities, referrals)
    is not removed: ConfirmationRequired is raised so the page can ask first. Removal erases
    the partner's stage history (past pipeline counts change), which is why "dropped" is
    usually the better move.
    """
    return remove_partners(engine, practice_id, [partner_id], confirmed=confirmed) > 0


def remove_partners(
    engine: Engine, practice_id: int, partner_ids: Iterable[int], confirmed: bool = False
) -> int:
    """Take several partners off the list (see remove_partner); return how many went.

    All or nothing, in one transaction: unless `confirmed`, ConfirmationRequired is raised
    before anything is removed when any of them has history, naming those; a database failure
    part-way removes none. Partners not (or no longer) on the list are skipped.
    """
    ids = list(dict.fromkeys(int(i) for i in partner_ids))
    p = db.partner
    with engine.begin() as conn:
        owned = [
            r[0]
            for r in conn.execute(
                sa.select(p.c.id).where(p.c.practice_id == practice_id, p.c.id.in_(ids))
            )
        ]
        if not confirmed:
            histories = {pid: _history_in(conn, practice_id, pid) for pid in owned}
            histories = {pid: h for pid, h in histories.items() if h.has_history}
            if histories:
                names = partner_names(conn, practice_id, histories)
                listed = "; ".join(f"{names[pid]}: {h.describe()}" for pid, h in histories.items())
                raise ConfirmationRequired(
                    f"{len(histories)} of the {len(owned)} selected partner(s) have history "
                    f"({listed}). Removing erases their stage history, so past pipeline counts "
                    "change; referrals stay in the referral log and activities in the activity "
                    "log. Confirm to remove, or move them to Dropped to keep the history.",
                    histories,
                    names,
                )
        if not owned:
            return 0
        conn.execute(
            db.partner_stage_history.delete().where(
                db.partner_stage_history.c.partner_id.in_(owned)
            )
        )
        conn.execute(
            db.activity.update().where(db.activity.c.partner_id.in_(owned)).values(partner_id=None)
        )
        result = conn.execute(p.delete().where(p.c.id.in_(owned), p.c.practice_id == practice_id))
    return int(result.rowcount)


# --- reads ----------------------------------------------------------------------------------


def list_partners(engine: Engine, practice_id: int, today: date | None = None) -> pd.DataFrame:
    """The practice's list joined with provider details, newest first.

    `last_referral` and `active` come from the referral log (a referral exchanged in the 90
    days up to `today`), never from anything typed in.
    """
    today = today or date.today()
    p, v, r = db.partner, db.provider, db.referral
    last_ref = (
        sa.select(r.c.partner_npi.label("npi"), sa.func.max(r.c.referral_date).label("last"))
        .where(r.c.practice_id == practice_id, r.c.referral_date <= today)
        .group_by(r.c.partner_npi)
        .subquery()
    )
    query = (
        sa.select(
            p.c.id.label("partner_id"),
            p.c.npi,
            p.c.stage,
            p.c.owner,
            p.c.priority,
            p.c.notes,
            p.c.added_at,
            p.c.updated_at,
            v.c.name,
            v.c.credential,
            v.c.specialty_group,
            v.c.primary_taxonomy,
            v.c.address,
            v.c.city,
            v.c.state,
            v.c.zip,
            v.c.phone,
            v.c.lat,
            v.c.lon,
            last_ref.c.last.label("last_referral"),
        )
        .select_from(p.join(v, v.c.npi == p.c.npi).outerjoin(last_ref, last_ref.c.npi == p.c.npi))
        .where(p.c.practice_id == practice_id)
        .order_by(p.c.added_at.desc(), p.c.id.desc())
    )
    with engine.connect() as conn:
        result = conn.execute(query)
        df = pd.DataFrame(result.all(), columns=list(result.keys()))
    df["active"] = [
        playbook.is_active(d if isinstance(d, date) else None, today) for d in df["last_referral"]
    ]
    return df


def filter_partners(
    partners: pd.DataFrame,
    groups: Iterable[str] | None = None,
    owners: Iterable[str | None] | None = None,
    stages: Iterable[str] | None = None,
) -> pd.DataFrame:
    """Rows matching every filter given; None means "any". An owner of None or "" matches
    partners nobody owns yet."""
    mask = pd.Series(True, index=partners.index)
    if groups is not None:
        mask &= partners["specialty_group"].isin(list(groups))
    if owners is not None:
        wanted = list(owners)
        unowned = any(o in (None, "") for o in wanted)
        mask &= partners["owner"].isin([o for o in wanted if o]) | (
            unowned & partners["owner"].fillna("").eq("")
        )
    if stages is not None:
        mask &= partners["stage"].isin(list(stages))
    return partners[mask]


def stage_counts(partners: pd.DataFrame) -> dict[str, int]:
    """Partners per stage, every stage present (zero when empty)."""
    counts = partners["stage"].value_counts() if not partners.empty else {}
    return {s: int(counts.get(s, 0)) for s in playbook.STAGES}
