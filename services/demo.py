"""Demo mode: seed the demo practice into the database once, and reset it on request.

The rows come from services/demo_dataset.py (the story) and services/demo_providers.py (the
fictional directory); this module only writes and deletes them, each in one transaction, so a
half-seeded demo can never be left behind. Demo rows are tagged (`practice.is_demo`,
`provider.data_source = 'demo'`), which is what keeps them apart from a real practice's data
and lets a reset delete exactly them.
"""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from services import db
from services.demo_dataset import DemoDataset, build_demo_dataset


def demo_practice_id(conn: Connection) -> int | None:
    return conn.execute(
        sa.select(db.practice.c.id).where(db.practice.c.is_demo.is_(True)).limit(1)
    ).scalar()


def ensure_demo(engine: Engine, today: date | None = None) -> int:
    """Seed the demo practice once; return its id. A second call changes nothing."""
    today = today or date.today()
    with engine.begin() as conn:
        existing = demo_practice_id(conn)
        if existing is not None:
            return existing
        return _seed(conn, build_demo_dataset(today))


def reset_demo(engine: Engine, today: date | None = None) -> int:
    """Delete every demo row and seed afresh, in one transaction; return the new practice id."""
    today = today or date.today()
    with engine.begin() as conn:
        _delete_demo(conn)
        return _seed(conn, build_demo_dataset(today))


def _delete_demo(conn: Connection) -> None:
    ids = [r[0] for r in conn.execute(sa.select(db.practice.c.id).where(db.practice.c.is_demo))]
    if ids:
        partner_ids = sa.select(db.partner.c.id).where(db.partner.c.practice_id.in_(ids))
        conn.execute(
            db.partner_stage_history.delete().where(
                db.partner_stage_history.c.partner_id.in_(partner_ids)
            )
        )
        for table in (db.activity, db.referral, db.npi_pull, db.partner):
            conn.execute(table.delete().where(table.c.practice_id.in_(ids)))
        conn.execute(db.practice.delete().where(db.practice.c.id.in_(ids)))
    conn.execute(db.provider.delete().where(db.provider.c.data_source == "demo"))


def _seed(conn: Connection, data: DemoDataset) -> int:
    now = db.utcnow()
    practice_id = conn.execute(
        db.practice.insert().values(**data.practice, created_at=now, updated_at=now)
    ).inserted_primary_key[0]
    present = {
        r[0]
        for r in conn.execute(
            sa.select(db.provider.c.npi).where(db.provider.c.data_source == "demo")
        )
    }
    new_providers = [p for p in data.providers if p["npi"] not in present]
    if new_providers:
        conn.execute(db.provider.insert(), new_providers)
    partner_ids: dict[str, int] = {}
    for p in data.partners:
        pid = conn.execute(
            db.partner.insert().values(practice_id=practice_id, updated_at=now, **p)
        ).inserted_primary_key[0]
        partner_ids[p["npi"]] = pid
    conn.execute(
        db.partner_stage_history.insert(),
        [
            {
                "partner_id": partner_ids[h["npi"]],
                "from_stage": h["from_stage"],
                "to_stage": h["to_stage"],
                "changed_at": h["changed_at"],
            }
            for h in data.stage_history
        ],
    )
    conn.execute(
        db.activity.insert(),
        [
            {
                **{k: v for k, v in a.items() if k != "npi"},
                "practice_id": practice_id,
                "partner_id": partner_ids.get(a["npi"]) if a["npi"] else None,
            }
            for a in data.activities
        ],
    )
    if data.referrals:
        conn.execute(
            db.referral.insert(), [{**r, "practice_id": practice_id} for r in data.referrals]
        )
    return int(practice_id)
