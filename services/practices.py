"""Practices (locations): read and pick; create, edit and delete real ones.

The demo practice is managed by services/demo.py only: every writer here refuses it, so a
real practice and the synthetic one never share a row.
"""

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
    geocode_source: str | None = None
    geocode_precision: str | None = None

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
        geocode_source=m["geocode_source"], geocode_precision=m["geocode_precision"],
    )  # fmt: skip


def list_practices(engine: Engine) -> list[Practice]:
    """The practices the current user may see (services/auth.py): real ones first (by name),
    the demo practice last."""
    from services import auth

    query = sa.select(db.practice).order_by(db.practice.c.is_demo, db.practice.c.name)
    visible = auth.visible_practice_ids()
    if visible is not None:
        query = query.where(db.practice.c.id.in_(sorted(visible)))
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    return [_from_row(r) for r in rows]


def get_practice(engine: Engine, practice_id: int) -> Practice | None:
    with engine.connect() as conn:
        row = conn.execute(sa.select(db.practice).where(db.practice.c.id == practice_id)).first()
    return _from_row(row) if row else None


# --- real practices: create, update, delete ----------------------------------------------


class PracticeError(ValueError):
    """A practice change was refused; `problems` name each field that is wrong."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("; ".join(problems))


@dataclass
class PracticeInput:
    """What the Settings form collects; validated by `validate_practice` before any write."""

    name: str
    address: str | None = None
    city: str | None = None
    state: str | None = None
    zip: str | None = None
    npi: str | None = None
    lat: float | None = None
    lon: float | None = None
    geocode_source: str | None = None
    geocode_precision: str | None = None
    playbook_start: date | None = None
    default_radius_mi: float = 5.0
    revenue_per_visit: float | None = None


def _blank(value: object) -> str | None:
    text = str(value).strip() if value is not None else ""
    return text or None


def validate_practice(data: PracticeInput) -> PracticeInput:
    """A cleaned copy of `data`, or PracticeError listing every problem at once."""
    from services.geo import radius_error
    from services.npi import npi_error
    from services.zipcentroids import zip5

    problems: list[str] = []
    name = _blank(data.name)
    if not name:
        problems.append("Name: a practice needs a name.")
    elif len(name) > 200:
        problems.append("Name: at most 200 characters.")
    npi = _blank(data.npi)
    if npi and npi_error(npi):
        problems.append(f"NPI: {npi_error(npi)}.")
    state = _blank(data.state)
    if state:
        state = state.upper()
        if len(state) != 2 or not state.isalpha():
            problems.append("State: use the two-letter code, such as CO.")
    zip_raw = _blank(data.zip)
    zip_code = None
    if zip_raw:
        digits = zip_raw.replace("-", "")
        if not digits.isdigit() or len(digits) not in (5, 9):
            problems.append("ZIP: five digits (or ZIP+4).")
        else:
            zip_code = zip5(digits)
    address, city = _blank(data.address), _blank(data.city)
    if address and len(address) > 300:
        problems.append("Address: at most 300 characters.")
    located = data.lat is not None and data.lon is not None
    if not (zip_code or (address and city and state)) and not problems and not located:
        problems.append("Address: give a street address with city and state, or a ZIP.")
    if (data.lat is None) != (data.lon is None):
        problems.append("Location: give both latitude and longitude.")
    if data.lat is not None and not -90 <= float(data.lat) <= 90:
        problems.append("Latitude: between -90 and 90.")
    if data.lon is not None and not -180 <= float(data.lon) <= 180:
        problems.append("Longitude: between -180 and 180.")
    radius_problem = radius_error(data.default_radius_mi)
    if radius_problem:
        problems.append(f"Default radius: {radius_problem}.")
    if data.playbook_start is not None and not isinstance(data.playbook_start, date):
        problems.append("Playbook start: not a date.")
    rpv = data.revenue_per_visit
    if rpv is not None and (not isinstance(rpv, int | float) or rpv < 0):
        problems.append("Revenue per visit: a number of dollars, zero or more.")
    if problems:
        raise PracticeError(problems)
    return PracticeInput(
        name=name or "", address=address, city=city, state=state, zip=zip_code, npi=npi,
        lat=None if data.lat is None else float(data.lat),
        lon=None if data.lon is None else float(data.lon),
        geocode_source=data.geocode_source if data.lat is not None else None,
        geocode_precision=data.geocode_precision if data.lat is not None else None,
        playbook_start=data.playbook_start, default_radius_mi=float(data.default_radius_mi),
        revenue_per_visit=None if rpv is None else float(rpv),
    )  # fmt: skip


def _values(clean: PracticeInput) -> dict:
    return {
        "name": clean.name, "npi": clean.npi, "address": clean.address, "city": clean.city,
        "state": clean.state, "zip": clean.zip, "lat": clean.lat, "lon": clean.lon,
        "geocode_source": clean.geocode_source, "geocode_precision": clean.geocode_precision,
        "playbook_start": clean.playbook_start, "default_radius_mi": clean.default_radius_mi,
        "revenue_per_visit": clean.revenue_per_visit,
    }  # fmt: skip


def create_practice(engine: Engine, data: PracticeInput) -> Practice:
    """Validate and insert a real (never demo) practice."""
    clean = validate_practice(data)
    now = db.utcnow()
    with engine.begin() as conn:
        new_id = conn.execute(
            db.practice.insert().values(
                **{**_values(clean), "playbook_start": clean.playbook_start or date.today()},
                is_demo=False,
                created_at=now,
                updated_at=now,
            )
        ).inserted_primary_key[0]
    practice = get_practice(engine, int(new_id))
    assert practice is not None
    return practice


def update_practice(engine: Engine, practice_id: int, data: PracticeInput) -> Practice:
    """Validate and save changes to a real practice; the demo practice is refused."""
    clean = validate_practice(data)
    with engine.begin() as conn:
        row = conn.execute(
            sa.select(db.practice.c.is_demo).where(db.practice.c.id == practice_id)
        ).first()
        if row is None:
            raise PracticeError(["This practice no longer exists."])
        if row.is_demo:
            raise PracticeError(["The demo practice cannot be edited; reset it from the sidebar."])
        conn.execute(
            db.practice.update()
            .where(db.practice.c.id == practice_id)
            .values(**_values(clean), updated_at=db.utcnow())
        )
    practice = get_practice(engine, practice_id)
    assert practice is not None
    return practice


def delete_practice(engine: Engine, practice_id: int) -> bool:
    """Delete a real practice with its partners, activities, referrals and searches (the
    foreign keys cascade); providers stay, they are shared public data. False if absent."""
    with engine.begin() as conn:
        row = conn.execute(
            sa.select(db.practice.c.is_demo).where(db.practice.c.id == practice_id)
        ).first()
        if row is None:
            return False
        if row.is_demo:
            raise PracticeError(["The demo practice cannot be deleted; reset it from the sidebar."])
        conn.execute(db.practice.delete().where(db.practice.c.id == practice_id))
    return True
