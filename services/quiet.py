"""Who went quiet: partners whose referrals fell well below their own usual rate.

A referrer who used to send three patients a month and has sent none for six weeks is the
relationship most worth a visit this week; a referrer who sends one a quarter is not "quiet"
after six weeks, that is their normal. So each partner is judged against their own past:

- usual rate: referrals they sent us in the BASELINE_DAYS before the recent window, per 30 days;
- recent: referrals they sent us in the last RECENT_DAYS, up to and including the day shown;
- quiet when the usual rate is at least MIN_USUAL_PER_MONTH and the recent count is under
  FALL_SHARE of what the usual rate predicts for the recent window.

The rule is plain Python over the referral frame so the Progress and Targets pages list the
same partners, and its edges are tested.
"""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from services import db

RECENT_DAYS = 45
BASELINE_DAYS = 180
MIN_USUAL_PER_MONTH = 1.0
FALL_SHARE = 0.25

COLUMNS = ["npi", "name", "usual_per_month", "recent", "expected", "last_referral"]


def windows(on: date) -> tuple[tuple[date, date], tuple[date, date]]:
    """(baseline first, baseline last), (recent first, recent last) for the day `on`."""
    recent_first = on - timedelta(days=RECENT_DAYS - 1)
    baseline_last = recent_first - timedelta(days=1)
    baseline_first = baseline_last - timedelta(days=BASELINE_DAYS - 1)
    return (baseline_first, baseline_last), (recent_first, on)


def is_quiet(usual_per_month: float, recent: int) -> bool:
    """The rule itself, for one partner (see the module docstring)."""
    if usual_per_month < MIN_USUAL_PER_MONTH:
        return False
    expected = usual_per_month * RECENT_DAYS / 30
    return recent < FALL_SHARE * expected


def went_quiet(referrals: pd.DataFrame, on: date) -> pd.DataFrame:
    """Partners who went quiet as of `on`, the longest silent first.

    `referrals` needs `npi`, `direction`, `referral_date` and optionally `name`; only referrals
    partners sent us (direction "received") count. Referrals dated after `on` are ignored, so
    the list can be drawn as of a past day.
    """
    if referrals.empty:
        return pd.DataFrame(columns=COLUMNS)
    r = referrals[referrals["direction"] == "received"]
    days = pd.to_datetime(r["referral_date"], errors="coerce", format="mixed")
    (b_first, b_last), (r_first, r_last) = windows(on)
    upto = days <= pd.Timestamp(r_last)
    r, days = r[upto], days[upto]
    if r.empty:
        return pd.DataFrame(columns=COLUMNS)
    in_base = (days >= pd.Timestamp(b_first)) & (days <= pd.Timestamp(b_last))
    in_recent = days >= pd.Timestamp(r_first)
    names = r["name"] if "name" in r else r["npi"]
    frame = pd.DataFrame(
        {
            "npi": r["npi"].to_numpy(),
            "name": names.to_numpy(),
            "base": in_base.to_numpy().astype(int),
            "recent": in_recent.to_numpy().astype(int),
            "day": days.to_numpy(),
        }
    )
    per = frame.groupby("npi", as_index=False, sort=False).agg(
        name=("name", "first"), base=("base", "sum"), recent=("recent", "sum"), last=("day", "max")
    )
    per["usual_per_month"] = per["base"] / (BASELINE_DAYS / 30)
    per["expected"] = per["usual_per_month"] * RECENT_DAYS / 30
    quiet = [
        is_quiet(float(u), int(n))
        for u, n in zip(per["usual_per_month"], per["recent"], strict=True)
    ]
    out = per[quiet].copy()
    out["last_referral"] = pd.to_datetime(out["last"]).dt.date
    out = out.sort_values(["last_referral", "name"], kind="stable")
    return out[COLUMNS].reset_index(drop=True)


def quiet_partners(engine: Engine, practice_id: int, on: date) -> pd.DataFrame:
    """`went_quiet` for one practice, read straight from the database, with each partner's
    partner-list id (None when the referrer is not on the list) so a visit can be logged."""
    r, pv, p = db.referral, db.provider, db.partner
    first = windows(on)[0][0]
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(r.c.partner_npi, r.c.direction, r.c.referral_date, pv.c.name)
            .select_from(r.outerjoin(pv, pv.c.npi == r.c.partner_npi))
            .where(
                r.c.practice_id == practice_id,
                r.c.direction == "received",
                r.c.referral_date >= first,
                r.c.referral_date <= on,
            )
        ).all()
        frame = pd.DataFrame(
            [tuple(row) for row in rows], columns=["npi", "direction", "referral_date", "name"]
        )
        frame["name"] = frame["name"].fillna(frame["npi"])
        out = went_quiet(frame, on)
        ids = dict(
            conn.execute(
                sa.select(p.c.npi, p.c.id).where(
                    p.c.practice_id == practice_id, p.c.npi.in_(out["npi"].tolist())
                )
            ).all()
        )
    out["partner_id"] = out["npi"].map(ids).astype(object).where(out["npi"].isin(ids), None)
    return out


def partner_id_for(engine: Engine, practice_id: int, npi: str) -> int | None:
    """The practice's partner-list id for a provider, or None when it is not on the list."""
    p = db.partner
    with engine.connect() as conn:
        return conn.execute(
            sa.select(p.c.id).where(p.c.practice_id == practice_id, p.c.npi == npi)
        ).scalar()
