"""One definition per number: every figure the app shows about referrals and outreach is
computed here, once, and explained here, once.

Pages used to count the same funnel two ways (a no-show was "scheduled" on one page and not on
another; "leakage" meant every lost referral here and only "went elsewhere" there). Each metric
below is one function plus one plain-words definition in `DEFINITIONS`, which the UI shows as
the metric's help tooltip and `docs/metrics.md` repeats for readers of the code.

The functions take plain pandas columns (status, lost reason, kind, dates), so the Referral log
(rows as saved) and Progress (frames loaded for charts) call the very same code.
"""

from __future__ import annotations

import math
from datetime import date, timedelta

import pandas as pd

#: A partner is active on day d with a referral exchanged (either direction) in the
#: ACTIVE_WINDOW_DAYS up to and including d.
ACTIVE_WINDOW_DAYS = 90
#: Activity kinds that are outreach visits: staff going to see a partner in person.
OUTREACH_VISIT_KINDS: tuple[str, ...] = ("visit", "lunch")
#: The lost reason that is leakage: the patient was referred to us and went elsewhere.
LEAKAGE_REASON = "went_elsewhere"
#: Funnel stages of a received referral, in order, with their labels.
FUNNEL_STAGES: tuple[tuple[str, str], ...] = (
    ("received", "Received"),
    ("scheduled", "Scheduled"),
    ("evaluated", "Evaluated"),
    ("in_care", "In care"),
    ("discharged", "Discharged"),
)
_RANK = {"received": 0, "scheduled": 1, "evaluated": 2, "in_care": 3, "discharged": 4}
#: Statuses of a referred patient who came in (evaluated or beyond): their visits are
#: patient visits and count for the return on referrals.
ARRIVED_STATUSES: frozenset[str] = frozenset({"evaluated", "in_care", "discharged"})
#: Loyalty labels of a sending partner and the share that makes a loyalist.
LOYALIST_SHARE = 0.5
LOYALTY_LABELS: tuple[str, ...] = ("loyalist", "splitter", "opportunity")

#: Each metric's one definition, in plain words, shown as its help tooltip.
DEFINITIONS: dict[str, str] = {
    "received": "Referrals a partner sent to us, dated in the period, whatever happened next "
    "(lost ones included).",
    "scheduled": "Received referrals that got an appointment: status scheduled or beyond, plus "
    "no-shows (they had an appointment to miss).",
    "evaluated": "Received referrals whose patient came in for the evaluation (status evaluated, "
    "in care or discharged).",
    "in_care": "Received referrals whose patient is in care or was discharged.",
    "discharged": "Received referrals whose patient finished care (discharged).",
    "conversion": "Conversion: evaluated ÷ received, for referrals received in the period.",
    "lost": "Received referrals marked lost, for any reason (no-show, declined, went "
    "elsewhere, insurance, other).",
    "leakage": "Leakage: received referrals lost because the patient went elsewhere, as a "
    "share of all received in the period. No-shows and declines are lost, not leaked.",
    "active": f"Active partner: a provider with at least one referral exchanged (received or "
    f"sent) in the {ACTIVE_WINDOW_DAYS} days up to the day shown. Derived from the referral "
    "log, never typed in.",
    "outreach_visits": "Outreach visits: staff visits and lunches with a partner, from the "
    "activity log (not patients' treatment visits).",
    "patient_visits": "Patient visits: treatment visits of referred patients who came in "
    "(evaluated or beyond), as entered on their referral (not outreach visits).",
    "follow_up_owed": "Follow-up owed: a received referral from the last 30 days with no "
    "thank-you sent, or an evaluated or discharged one with no outcome note to the referrer.",
    "quiet": "Went quiet: a partner who used to send at least one referral a month and has "
    "sent under a quarter of their usual number in the last 45 days.",
    "loyalty": "Loyalty: the share of a partner's referrals to us whose patient did not go "
    "elsewhere. Loyalist: 50% or more; splitter: some but under 50%; opportunity: none.",
}


def funnel_reached(status: pd.Series, lost_reason: pd.Series) -> pd.DataFrame:
    """Which funnel stages each received referral reached (one boolean column per stage).

    A lost referral reached `received`; a lost no-show also reached `scheduled`. Unknown
    statuses reach nothing, so a typo never inflates a stage.
    """
    status = status.reset_index(drop=True)
    lost_reason = lost_reason.reset_index(drop=True)
    lost = status == "lost"
    rank = status.map(_RANK).astype(float)
    rank = rank.where(~lost, 0.0)
    rank = rank.where(~(lost & (lost_reason == "no_show")), 1.0)
    return pd.DataFrame({key: (rank >= i).to_numpy() for i, (key, _) in enumerate(FUNNEL_STAGES)})


def received_only(referrals: pd.DataFrame) -> pd.DataFrame:
    """Referrals partners sent to us: the funnel, leakage and loyalty count only these."""
    return referrals[referrals["direction"] == "received"]


def in_period(
    referrals: pd.DataFrame, first: date | None, last: date | None, column: str = "referral_date"
) -> pd.DataFrame:
    """Rows dated `first`..`last` inclusive (either end open when None); dates held as `date`
    objects, text or datetimes alike."""
    if first is None and last is None:
        return referrals
    days = pd.to_datetime(referrals[column], errors="coerce", format="mixed")
    keep = pd.Series(True, index=referrals.index)
    if first is not None:
        keep &= days >= pd.Timestamp(first)
    if last is not None:
        keep &= days <= pd.Timestamp(last)
    return referrals[keep]


def funnel_counts(referrals: pd.DataFrame) -> dict[str, int]:
    """Received referrals reaching each funnel stage (pass the referrals of one period)."""
    received = received_only(referrals)
    reached = funnel_reached(received["status"], received["lost_reason"])
    return {key: int(reached[key].sum()) for key, _ in FUNNEL_STAGES}


def share(part: int, whole: int) -> float:
    """part ÷ whole, NaN when there is nothing to divide (shown as a dash, never as 0%)."""
    return part / whole if whole else math.nan


def conversion_rate(referrals: pd.DataFrame) -> float:
    """Evaluated ÷ received."""
    counts = funnel_counts(referrals)
    return share(counts["evaluated"], counts["received"])


def lost_count(referrals: pd.DataFrame) -> int:
    received = received_only(referrals)
    return int((received["status"] == "lost").sum())


def is_leaked(status: pd.Series, lost_reason: pd.Series) -> pd.Series:
    """Lost because the patient went elsewhere."""
    return (status == "lost") & (lost_reason == LEAKAGE_REASON)


def leakage(referrals: pd.DataFrame) -> tuple[int, float]:
    """(referrals leaked, leakage rate) of the received referrals given."""
    received = received_only(referrals)
    leaked = int(is_leaked(received["status"], received["lost_reason"]).sum())
    return leaked, share(leaked, len(received))


def is_outreach_visit(kind: pd.Series) -> pd.Series:
    return kind.isin(OUTREACH_VISIT_KINDS)


def outreach_visits(activities: pd.DataFrame) -> pd.DataFrame:
    """The activity rows that are outreach visits."""
    return activities[is_outreach_visit(activities["kind"])]


def arrived(referrals: pd.DataFrame) -> pd.DataFrame:
    """Received referrals whose patient came in (evaluated or beyond)."""
    received = received_only(referrals)
    return received[received["status"].isin(ARRIVED_STATUSES)]


def patient_visits(referrals: pd.DataFrame) -> int:
    """Treatment visits of referred patients who came in."""
    visits = pd.to_numeric(arrived(referrals)["visits"], errors="coerce").fillna(0)
    return int(visits.sum())


def is_active(last_referral: date | None, on: date) -> bool:
    """Active on `on`: a referral exchanged in the ACTIVE_WINDOW_DAYS up to and including `on`."""
    if last_referral is None or last_referral > on:
        return False
    return (on - last_referral) < timedelta(days=ACTIVE_WINDOW_DAYS)


def active_window(on: date) -> tuple[date, date]:
    """The first and last day a referral makes a partner active on `on`."""
    return on - timedelta(days=ACTIVE_WINDOW_DAYS - 1), on


def loyalty_share(received: int, went_elsewhere: int) -> float | None:
    """The share of a partner's referrals to us that we kept; None with no referrals."""
    if received <= 0:
        return None
    return (received - went_elsewhere) / received


def loyalty_label(share: float | None) -> str:
    """Referral-intelligence wording for a sender: *loyalist* sends us 50% or more of the
    patients it refers our way, *splitter* some, *opportunity* none (or none known yet)."""
    if share is None or (isinstance(share, float) and math.isnan(share)) or share <= 0:
        return "opportunity"
    if share >= LOYALIST_SHARE:
        return "loyalist"
    return "splitter"


def loyalty_table(referrals: pd.DataFrame) -> pd.DataFrame:
    """Per sending partner: referrals received, those that went elsewhere, the share kept and
    its label; most referrals first. Pass one period's referrals (with `npi` and `name`)."""
    cols = ["npi", "name", "received", "went_elsewhere", "kept_share", "label"]
    received = received_only(referrals)
    if received.empty:
        return pd.DataFrame(columns=cols)
    frame = pd.DataFrame(
        {
            "npi": received["npi"].to_numpy(),
            "name": received["name"].to_numpy(),
            "received": 1,
            "went_elsewhere": is_leaked(received["status"], received["lost_reason"])
            .astype(int)
            .to_numpy(),
        }
    )
    out = frame.groupby("npi", as_index=False, sort=False).agg(
        name=("name", "first"),
        received=("received", "sum"),
        went_elsewhere=("went_elsewhere", "sum"),
    )
    out["kept_share"] = [
        loyalty_share(int(r), int(w))
        for r, w in zip(out["received"], out["went_elsewhere"], strict=True)
    ]
    out["label"] = out["kept_share"].map(loyalty_label)
    out = out.sort_values(["received", "name"], ascending=[False, True], kind="stable")
    return out[cols].reset_index(drop=True)
