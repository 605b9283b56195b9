"""Partners: the providers on a practice's list and their pipeline stage.

Every stage a partner takes is written to `partner_stage_history` with its date, including the
first, so the pipeline can be counted as of any past date (the growth chart replays it week by
week). Owner, priority and notes are plain edits; a stage change is an edit plus a history row,
in one transaction, so the two can never disagree.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

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
    """Removing this partner would erase history; the caller must ask the user first."""


def add_targets(
    engine: Engine, practice_id: int, npis: Iterable[str], when: datetime | None = None
) -> list[str]:
    """Put providers on the target list; return the NPIs that were newly added.

    Adding a provider already on the list is a no-op, so a double click or a rerun cannot
    create a second partner (the unique constraint backs this up under concurrency).
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
                    added_at=when,
                    updated_at=when,
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
    if when.date() > date.today():
        raise PartnerError(f"date: {when.date().isoformat()} is in the future")
    if stage is not None and stage not in playbook.STAGES:
        raise PartnerError(f"stage: '{stage}' is not one of {', '.join(playbook.STAGES)}")
    if owner is not _UNSET:
        values["owner"] = _clean_owner(owner)  # type: ignore[arg-type]
    if priority is not _UNSET:
        values["priority"] = _clean_priority(priority)
    if notes is not _UNSET:
        values["notes"] = _clean_notes(notes)  # type: ignore[arg-type]
    p = db.partner
    with engine.begin() as conn:
        row = conn.execute(
            sa.select(p.c.stage, p.c.added_at, p.c.updated_at).where(
                p.c.id == partner_id, p.c.practice_id == practice_id
            )
        ).first()
        if row is None:
            raise PartnerError("This partner is no longer on the list (removed elsewhere?).")
        if expected_updated_at is not None and row.updated_at != expected_updated_at:
            raise PartnerError(
                "This partner was changed by someone else since you opened it; your change was "
                "not saved. Reload to see theirs, then try again."
            )
        moved = stage is not None and stage != row.stage
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
            # updated_at doubles as the version token, so it must move on every save.
            floor_ts = (row.updated_at or when) + timedelta(microseconds=1)
            values["updated_at"] = max(db.utcnow(), floor_ts)
            conn.execute(p.update().where(p.c.id == partner_id).values(**values))
    return moved


def set_stage(
    engine: Engine, practice_id: int, partner_ids: Iterable[int], stage: str,
    when: datetime | None = None,
) -> int:  # fmt: skip
    """Move several partners to one stage (bulk action); return how many moved."""
    return sum(
        update_partner(engine, practice_id, pid, stage=stage, when=when) for pid in partner_ids
    )


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
    h, a, r, p = db.partner_stage_history, db.activity, db.referral, db.partner
    with engine.connect() as conn:
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
    if not confirmed:
        history = partner_history(engine, practice_id, partner_id)
        if history.has_history:
            raise ConfirmationRequired(
                f"This partner has history ({history.describe()}). Removing erases its stage "
                "history; referrals stay in the referral log. Confirm to remove, or move it to "
                "Dropped instead."
            )
    with engine.begin() as conn:
        owned = conn.execute(
            sa.select(db.partner.c.id).where(
                db.partner.c.id == partner_id, db.partner.c.practice_id == practice_id
            )
        ).scalar()
        if owned is None:
            return False
        conn.execute(
            db.partner_stage_history.delete().where(
                db.partner_stage_history.c.partner_id == partner_id
            )
        )
        conn.execute(
            db.activity.update()
            .where(db.activity.c.partner_id == partner_id)
            .values(partner_id=None)
        )
        result = conn.execute(
            db.partner.delete().where(
                db.partner.c.id == partner_id, db.partner.c.practice_id == practice_id
            )
        )
    return result.rowcount > 0


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


def stage_history_frame(engine: Engine, practice_id: int) -> pd.DataFrame:
    """Every stage change of the practice's partners, oldest first."""
    h, p = db.partner_stage_history, db.partner
    query = (
        sa.select(h.c.partner_id, h.c.from_stage, h.c.to_stage, h.c.changed_at)
        .select_from(h.join(p, p.c.id == h.c.partner_id))
        .where(p.c.practice_id == practice_id)
        .order_by(h.c.changed_at, h.c.id)
    )
    with engine.connect() as conn:
        result = conn.execute(query)
        return pd.DataFrame(result.all(), columns=list(result.keys()))


def stages_as_of(history: pd.DataFrame, day: date) -> pd.Series:
    """partner_id → the stage it was in at the end of `day` (partners added later are absent)."""
    if history.empty:
        return pd.Series(dtype=object)
    cutoff = datetime.combine(day, time.max)
    upto = history[pd.to_datetime(history["changed_at"]) <= cutoff]
    return upto.groupby("partner_id", sort=True)["to_stage"].last()


def stage_counts_as_of(engine: Engine, practice_id: int, day: date) -> dict[str, int]:
    """How many partners were in each stage at the end of `day`, replayed from the history."""
    stages = stages_as_of(stage_history_frame(engine, practice_id), day)
    return {s: int((stages == s).sum()) for s in playbook.STAGES}
