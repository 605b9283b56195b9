"""Partners: the providers on a practice's list and their pipeline stage.

Issue 2 needs adding and removing targets; the full pipeline (stage changes, owners,
priorities) grows here with issue 4. Every stage a partner takes is written to
`partner_stage_history`, including the first, so metrics can be computed as of any date.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from services import db
from services.npi import is_valid_npi


class PartnerError(ValueError):
    """A partner change was refused; the message is meant for the user."""


def add_targets(
    engine: Engine, practice_id: int, npis: Iterable[str], when: datetime | None = None
) -> list[str]:
    """Put providers on the target list; return the NPIs that were newly added.

    Adding a provider already on the list is a no-op, so a double click or a rerun cannot
    create a second partner (the unique constraint backs this up under concurrency).
    """
    when = when or db.utcnow()
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


def remove_partner(engine: Engine, practice_id: int, partner_id: int) -> bool:
    """Take a partner off the list. The referral log keeps its rows (they are keyed by NPI);
    activities stay too, detached from the partner. Returns False if it was not there."""
    with engine.begin() as conn:
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


def list_partners(engine: Engine, practice_id: int) -> pd.DataFrame:
    """The practice's list joined with provider details, newest first."""
    p, v = db.partner, db.provider
    query = (
        sa.select(
            p.c.id.label("partner_id"),
            p.c.npi,
            p.c.stage,
            p.c.owner,
            p.c.priority,
            p.c.added_at,
            v.c.name,
            v.c.credential,
            v.c.specialty_group,
            v.c.primary_taxonomy,
            v.c.address,
            v.c.city,
            v.c.state,
            v.c.zip,
            v.c.phone,
        )
        .select_from(p.join(v, v.c.npi == p.c.npi))
        .where(p.c.practice_id == practice_id)
        .order_by(p.c.added_at.desc(), p.c.id.desc())
    )
    with engine.connect() as conn:
        result = conn.execute(query)
        return pd.DataFrame(result.all(), columns=list(result.keys()))
