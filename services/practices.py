"""Practices (locations): read and pick. Creating real practices arrives with issue 3."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from services import db


@dataclass(frozen=True)
class Practice:
    id: int
    name: str
    address: str | None
    city: str | None
    state: str | None
    zip: str | None
    lat: float | None
    lon: float | None
    playbook_start: date | None
    default_radius_mi: float
    revenue_per_visit: float | None
    is_demo: bool
    npi: str | None = None

    @property
    def located(self) -> bool:
        return self.lat is not None and self.lon is not None

    @property
    def one_line_address(self) -> str:
        parts = [self.address, self.city, " ".join(p for p in (self.state, self.zip) if p)]
        return ", ".join(p for p in parts if p)


def _from_row(row: sa.Row) -> Practice:
    m = row._mapping
    return Practice(
        id=m["id"], name=m["name"], address=m["address"], city=m["city"], state=m["state"],
        zip=m["zip"], lat=m["lat"], lon=m["lon"], playbook_start=m["playbook_start"],
        default_radius_mi=float(m["default_radius_mi"] or 5.0),
        revenue_per_visit=m["revenue_per_visit"], is_demo=bool(m["is_demo"]), npi=m["npi"],
    )  # fmt: skip


def list_practices(engine: Engine) -> list[Practice]:
    """Real practices first (by name), the demo practice last."""
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(db.practice).order_by(db.practice.c.is_demo, db.practice.c.name)
        ).all()
    return [_from_row(r) for r in rows]


def get_practice(engine: Engine, practice_id: int) -> Practice | None:
    with engine.connect() as conn:
        row = conn.execute(sa.select(db.practice).where(db.practice.c.id == practice_id)).first()
    return _from_row(row) if row else None
