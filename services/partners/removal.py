"""Taking partners off the list, and what that would erase.

Kept apart from the pipeline moves because removal is the one change that destroys history:
a partner's stage history goes with it (so past pipeline counts change), its activities are
detached, and only its referrals stay (the referral log is keyed by NPI). So removal first
counts what it would touch and, unless the user has confirmed, refuses with
ConfirmationRequired naming those partners, which is why "dropped" is usually the better move.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from services import db
from services.partners.reads import partner_names
from services.partners.rules import PartnerError


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
