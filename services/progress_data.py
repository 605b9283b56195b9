"""Loading what the Progress page measures: stage history, referral log and activities.

The metrics in `services/playbook/` are pure functions of the frames loaded here, so they can
be tested on a hand-made dataset and the page can cache one load per data revision. Dates are
loaded as pandas datetimes (day precision) because every metric is a date-window count, and a
vectorized comparison over 50,000 referrals is what keeps the page under a second.

A *group* is every real (non-demo) practice in the database: one database serves one
organisation (a clinic server is shared by its locations), and the demo practice must never mix
with real data, so it is a group of one on its own. This needs no schema change and no setting
that someone could forget to fill in.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from services import db
from services.practices import Practice, list_practices
from services.referrals.store import log_revision


@dataclass(frozen=True)
class ProgressData:
    """Everything the Progress page measures, for one or several locations."""

    practices: tuple[Practice, ...]
    partners: pd.DataFrame  # partner_id, practice_id, npi, stage, added_at, name, group
    history: pd.DataFrame  # partner_id, practice_id, to_stage, changed_on (sorted)
    referrals: pd.DataFrame  # practice_id, npi, direction, referral_date, status, ...
    activities: pd.DataFrame  # practice_id, partner_id, kind, activity_date

    @property
    def practice_ids(self) -> tuple[int, ...]:
        return tuple(p.id for p in self.practices)

    @property
    def locations(self) -> int:
        return len(self.practices)

    @property
    def playbook_start(self) -> date | None:
        """The earliest start among the locations: week 0 of a group's chart."""
        starts = [p.playbook_start for p in self.practices if p.playbook_start is not None]
        return min(starts) if starts else None

    def only(self, practice_id: int) -> ProgressData:
        """The same data narrowed to one location (no second database read)."""
        practices = tuple(p for p in self.practices if p.id == practice_id)

        def keep(df: pd.DataFrame) -> pd.DataFrame:
            return df[df["practice_id"] == practice_id].reset_index(drop=True)

        return ProgressData(
            practices,
            keep(self.partners),
            keep(self.history),
            keep(self.referrals),
            keep(self.activities),
        )


def group_of(engine: Engine, practice_id: int) -> list[Practice]:
    """The locations grouped with `practice_id`: all real practices, or the demo alone."""
    practices = list_practices(engine)
    chosen = next((p for p in practices if p.id == practice_id), None)
    if chosen is None:
        return []
    if chosen.is_demo:
        return [chosen]
    return [p for p in practices if not p.is_demo]


def data_revision(engine: Engine, practice_ids: tuple[int, ...]) -> tuple:
    """A cheap fingerprint of the measured tables, so a cached load is dropped when another
    page logs a referral, an activity or a stage change."""
    ids = list(practice_ids)
    a, p, h = db.activity, db.partner, db.partner_stage_history
    with engine.connect() as conn:
        ref = log_revision(conn, ids)  # the one definition of "the referral log changed"
        act = conn.execute(
            sa.select(sa.func.count(), sa.func.max(a.c.id)).where(a.c.practice_id.in_(ids))
        ).one()
        par = conn.execute(
            sa.select(sa.func.count(), sa.func.max(p.c.updated_at)).where(p.c.practice_id.in_(ids))
        ).one()
        hist = conn.execute(
            sa.select(sa.func.count(), sa.func.max(h.c.id)).where(
                h.c.partner_id.in_(sa.select(p.c.id).where(p.c.practice_id.in_(ids)))
            )
        ).one()
        prac = conn.execute(
            sa.select(sa.func.max(db.practice.c.updated_at)).where(db.practice.c.id.in_(ids))
        ).scalar()
    return (tuple(ref), tuple(act), tuple(par), tuple(hist), str(prac))


def _frame(conn: sa.Connection, query: sa.Select, columns: list[str]) -> pd.DataFrame:
    # Plain tuples: pandas probes SQLAlchemy Row objects attribute by attribute, which cost
    # two seconds on 50,000 referrals.
    rows = conn.execute(query).all()
    if not rows:
        return pd.DataFrame(columns=columns)
    return pd.DataFrame(dict(zip(columns, map(list, zip(*rows, strict=True)), strict=True)))


def _raw(column: sa.ColumnElement) -> sa.ColumnElement:
    """A date column fetched as stored (ISO text on SQLite) for pandas to parse in one
    vectorized pass instead of one Python date object per row."""
    return sa.type_coerce(column, sa.String).label(column.name)


def _days(series: pd.Series) -> pd.Series:
    present = series.dropna()
    if len(present) and isinstance(present.iloc[0], str):
        parsed = pd.to_datetime(series, errors="coerce", format="ISO8601")
    else:
        parsed = pd.to_datetime(series, errors="coerce")
    return parsed.dt.normalize().astype("datetime64[s]")


def load_progress_data(engine: Engine, practices: list[Practice]) -> ProgressData:
    """Read the partners, stage history, referrals and activities of `practices`."""
    ids = [p.id for p in practices]
    p, h, r, a, pv = db.partner, db.partner_stage_history, db.referral, db.activity, db.provider
    with engine.connect() as conn:
        partners = _frame(
            conn,
            sa.select(
                p.c.id, p.c.practice_id, p.c.npi, p.c.stage, _raw(p.c.added_at), pv.c.name,
                pv.c.specialty_group,
            )
            .select_from(p.outerjoin(pv, pv.c.npi == p.c.npi))
            .where(p.c.practice_id.in_(ids)),
            ["partner_id", "practice_id", "npi", "stage", "added_at", "name", "group"],
        )  # fmt: skip
        history = _frame(
            conn,
            sa.select(h.c.id, h.c.partner_id, p.c.practice_id, h.c.to_stage, _raw(h.c.changed_at))
            .select_from(h.join(p, p.c.id == h.c.partner_id))
            .where(p.c.practice_id.in_(ids)),
            ["id", "partner_id", "practice_id", "to_stage", "changed_at"],
        )
        referrals = _frame(
            conn,
            sa.select(
                r.c.practice_id, r.c.partner_npi, r.c.direction, _raw(r.c.referral_date),
                r.c.status, r.c.lost_reason, _raw(r.c.first_visit_date), r.c.visits,
            ).where(r.c.practice_id.in_(ids)),
            ["practice_id", "npi", "direction", "referral_date", "status", "lost_reason",
             "first_visit_date", "visits"],
        )  # fmt: skip
        activities = _frame(
            conn,
            sa.select(a.c.practice_id, a.c.partner_id, a.c.kind, _raw(a.c.activity_date)).where(
                a.c.practice_id.in_(ids)
            ),
            ["practice_id", "partner_id", "kind", "activity_date"],
        )
        # Referral partners are named from the registry table even when no partner row remains.
        npis = sorted(set(referrals["npi"].dropna()))
        names = _frame(
            conn,
            sa.select(pv.c.npi, pv.c.name, pv.c.specialty_group).where(pv.c.npi.in_(npis)),
            ["npi", "name", "group"],
        )
    return build_progress_data(practices, partners, history, referrals, activities, names)


def build_progress_data(
    practices: list[Practice],
    partners: pd.DataFrame,
    history: pd.DataFrame,
    referrals: pd.DataFrame,
    activities: pd.DataFrame,
    names: pd.DataFrame | None = None,
) -> ProgressData:
    """Normalise raw rows into the frames the metrics expect (tests build data through this).

    A partner with no stage history (rows written before history was kept) counts from the day
    it was added, at its current stage, rather than vanishing from every as-of count.
    """
    partners = partners.copy()
    for col, default in (("name", None), ("group", None), ("added_at", None)):
        if col not in partners:
            partners[col] = default
    partners["added_at"] = _days(partners["added_at"])

    history = history.copy()
    if "id" not in history:
        history["id"] = range(len(history))
    history["changed_on"] = _days(history["changed_at"])
    missing = partners[~partners["partner_id"].isin(history["partner_id"])]
    if len(missing):
        history = pd.concat(
            [
                history,
                pd.DataFrame(
                    {
                        "id": -1,
                        "partner_id": missing["partner_id"].to_numpy(),
                        "practice_id": missing["practice_id"].to_numpy(),
                        "to_stage": missing["stage"].to_numpy(),
                        "changed_on": missing["added_at"].to_numpy(),
                    }
                ),
            ],
            ignore_index=True,
        )
    history = history.sort_values(["changed_on", "id"], kind="stable")[
        ["partner_id", "practice_id", "to_stage", "changed_on"]
    ].reset_index(drop=True)

    referrals = referrals.copy()
    for col in ("status", "lost_reason", "first_visit_date", "visits"):
        if col not in referrals:
            referrals[col] = None
    referrals["referral_date"] = _days(referrals["referral_date"])
    referrals["first_visit_date"] = _days(referrals["first_visit_date"])
    referrals["visits"] = pd.to_numeric(referrals["visits"], errors="coerce").fillna(0)
    lookup = names if names is not None else partners[["npi", "name", "group"]]
    lookup = lookup.drop_duplicates("npi").set_index("npi")
    referrals["name"] = referrals["npi"].map(lookup["name"]).astype(object).fillna(referrals["npi"])
    referrals["group"] = referrals["npi"].map(lookup["group"])

    activities = activities.copy()
    activities["activity_date"] = _days(activities["activity_date"])
    return ProgressData(
        tuple(practices),
        partners.reset_index(drop=True),
        history,
        referrals.reset_index(drop=True),
        activities.reset_index(drop=True),
    )
