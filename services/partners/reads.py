"""Reading a practice's partners: the list the Targets page and the map show, its filters and
stage counts, and the display names messages use.

Kept apart from the writes because these only read: the list frame is what every view works
from (the map's status colours, the pipeline table, the stage metrics), and `last_referral` and
`active` in it come from the referral log, never from anything typed in.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from services import db, playbook


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
