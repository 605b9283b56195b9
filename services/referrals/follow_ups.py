"""Follow-ups owed to referrers: thank-yous and outcome notes, and recording them as sent."""

from __future__ import annotations

from datetime import date

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from services import activities, db, playbook
from services.referrals.cells import ReferralError, as_datetime

#: A received referral is owed a thank-you while it is younger than this many days.
THANK_YOU_WINDOW_DAYS = playbook.REFERRAL_FOLLOW_UP_DAYS
OUTCOME_NOTE_STATUSES: frozenset[str] = frozenset({"evaluated", "discharged"})


def follow_ups_owed(referrals: pd.DataFrame, today: date) -> pd.DataFrame:
    """What the practice owes its referrers, oldest first.

    - `thank_you`: a received referral dated in the THANK_YOU_WINDOW_DAYS up to and including
      today (age 0..29 days) with no thank-you sent. Older ones are past the playbook's 30-day
      follow-up and no longer nag.
    - `loop_close`: a received referral that is evaluated or discharged with no outcome note
      sent to the referrer (closing the loop is what makes a referrer send the next one).
    """
    cols = ["kind", "id", "version", "partner_npi", "referral_date", "status", "age_days"]
    if referrals.empty:
        return pd.DataFrame(columns=cols)
    df = referrals[referrals["direction"] == "received"]
    dates = as_datetime(df["referral_date"])
    age = (pd.Timestamp(today) - dates).dt.days
    thank = df[(age >= 0) & (age < THANK_YOU_WINDOW_DAYS) & df["thank_you_sent"].isna()]
    loop = df[df["status"].isin(OUTCOME_NOTE_STATUSES) & df["outcome_note_sent"].isna()]
    out = pd.concat(
        [thank.assign(kind="thank_you"), loop.assign(kind="loop_close")], ignore_index=True
    )
    out["age_days"] = (pd.Timestamp(today) - as_datetime(out["referral_date"])).dt.days
    return out[cols].sort_values(["referral_date", "id"], kind="stable").reset_index(drop=True)


def mark_follow_up_done(
    engine: Engine,
    practice_id: int,
    referral_id: int,
    kind: str,
    on: date | None = None,
    staff: str | None = None,
) -> bool:
    """Record a thank-you (`thank_you`) or outcome note (`loop_close`) as sent, and log the
    activity, in one transaction. Returns False (and logs nothing) when it was already recorded,
    e.g. by another session a moment ago, so a double click cannot log two activities."""
    on = on or date.today()
    column = {"thank_you": "thank_you_sent", "loop_close": "outcome_note_sent"}.get(kind)
    if column is None:
        raise ReferralError(f"'{kind}' is not a follow-up kind")
    r = db.referral
    with engine.begin() as conn:
        row = conn.execute(
            sa.select(r.c.partner_npi, r.c.referral_date).where(
                r.c.id == referral_id, r.c.practice_id == practice_id
            )
        ).first()
        if row is None:
            raise ReferralError(f"Referral #{referral_id} no longer exists.")
        done = conn.execute(
            r.update()
            .where(r.c.id == referral_id, r.c.practice_id == practice_id, r.c[column].is_(None))
            .values({column: max(on, row.referral_date), "version": r.c.version + 1})
        ).rowcount
        if not done:
            return False
        partner_id = conn.execute(
            sa.select(db.partner.c.id).where(
                db.partner.c.practice_id == practice_id, db.partner.c.npi == row.partner_npi
            )
        ).scalar()
        what = "Thank-you" if kind == "thank_you" else "Outcome note"
        activities.log_activity(
            conn,
            practice_id,
            kind,
            on,
            partner_id=partner_id,
            staff=staff,
            notes=f"{what} for the referral of {row.referral_date.isoformat()} (#{referral_id}).",
            today=on,
        )
    return True
