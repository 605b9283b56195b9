"""Writing an import plan: all rows in one transaction, or none."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from services import db
from services import referrals as refs
from services.importer.plan import ImportPlan


def _insert_referrals(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """One executemany for the whole batch through SQLAlchemy's own execution, so every
    database gets its values in the form its driver and the column types expect."""
    if rows:
        conn.execute(db.referral.insert(), rows)


def run_import(engine: Engine, practice_id: int, plan: ImportPlan, only_valid: bool = False) -> int:
    """Write the plan in one transaction; return how many referrals were added.

    With errors in the plan nothing is written unless `only_valid` is set. Referrers the plan
    marked new are created in the same transaction, so a failure leaves no orphans either.
    """
    if plan.errors and not only_valid:
        raise refs.ReferralError(
            f"{len(plan.errors)} problem(s) in {plan.total - plan.valid} row(s): nothing was "
            "imported. Fix the file, or choose to import only the valid rows."
        )
    if not plan.rows:
        return 0
    now = db.utcnow()
    try:
        with engine.begin() as conn:
            created: dict[tuple[str, str], str] = {}
            batch = []
            for row in plan.rows:
                values = dict(row.values)
                if row.new_referrer == "name":
                    assert row.partner_name is not None
                    cache_key = ("name", row.partner_name.lower())
                    if cache_key not in created:
                        created[cache_key] = refs.add_referrer(
                            conn, practice_id, name=row.partner_name
                        )
                    values["partner_npi"] = created[cache_key]
                elif row.new_referrer == "npi":
                    cache_key = ("npi", values["partner_npi"])
                    if cache_key not in created:
                        created[cache_key] = refs.add_referrer(
                            conn, practice_id, npi=values["partner_npi"], name=row.partner_name
                        )
                batch.append(
                    {
                        **values,
                        "practice_id": practice_id,
                        "version": 1,
                        "created_at": now,
                        "updated_at": now,
                    }
                )
            _insert_referrals(conn, batch)
    except sa.exc.SQLAlchemyError as exc:
        detail = str(getattr(exc, "orig", exc))[:200]
        raise refs.ReferralError(
            f"Nothing was imported: the database refused it ({detail})."
        ) from exc
    return len(batch)
