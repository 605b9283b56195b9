"""Outreach cadence: follow-ups due and overdue, each partner's timeline, the week's visits
against the playbook's 2–3, and the playbook's five weekly steps computed from the data.

Everything here reads; writes go through `services.activities.log_activity` (activities) and
`services.partners` (stages). The functions that take frames are pure, so the page reads the
activity log once per run and every list below is a filter of it.

A follow-up is *done* when a later activity is logged for the same partner (the visit or call
that followed up), or, for activities not tied to a partner (an event), a later activity that
is not tied to a partner either. So the way to clear a follow-up is to log what was done.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from services import db, playbook
from services.activities import KIND_LABELS
from services.geo import haversine_mi
from services.playbook import (
    IDENTIFY_PER_WEEK,
    IDENTIFY_RADIUS_MI,
    INTRO_KINDS,
    INTROS_PER_WEEK,
    NETWORKING_PER_MONTH,
    REFERRAL_FOLLOW_UP_DAYS,
    REFERRAL_FOLLOW_UP_KINDS,
)
from services.practices import Practice
from services.specialties import GROUPS_BY_KEY

# The playbook's numbers live in services/playbook/definitions.py, the one home of its definitions.
VISIT_KINDS = playbook.OUTREACH_VISIT_KINDS

ACTIVITY_COLUMNS = [
    "activity_id", "activity_date", "kind", "partner_id", "npi", "partner_name", "staff",
    "notes", "follow_up_due",
]  # fmt: skip


def week_of(day: date) -> tuple[date, date]:
    """Monday and Sunday of the week holding `day`."""
    monday = day - timedelta(days=day.weekday())
    return monday, monday + timedelta(days=6)


def activities_frame(engine: Engine, practice_id: int) -> pd.DataFrame:
    """The practice's activity log with partner names, newest first."""
    a, p, v = db.activity, db.partner, db.provider
    query = (
        sa.select(
            a.c.id.label("activity_id"),
            a.c.activity_date,
            a.c.kind,
            a.c.partner_id,
            p.c.npi,
            v.c.name.label("partner_name"),
            a.c.staff,
            a.c.notes,
            a.c.follow_up_due,
        )
        .select_from(a.outerjoin(p, p.c.id == a.c.partner_id).outerjoin(v, v.c.npi == p.c.npi))
        .where(a.c.practice_id == practice_id)
        .order_by(a.c.activity_date.desc(), a.c.id.desc())
    )
    with engine.connect() as conn:
        df = pd.DataFrame(conn.execute(query).all(), columns=ACTIVITY_COLUMNS)
    df["partner_id"] = df["partner_id"].astype("Int64")
    return df


def _in(df: pd.DataFrame, col: str, first: date, last: date) -> pd.Series:
    values = df[col]
    return values.notna() & values.map(lambda d: d is not None and first <= d <= last)


def open_follow_ups(acts: pd.DataFrame) -> pd.DataFrame:
    """Activities whose follow-up is still owed (see the module docstring for "done")."""
    with_due = acts[acts["follow_up_due"].notna()]
    if with_due.empty:
        return with_due
    key = acts["partner_id"].fillna(-1).astype(int)
    order = list(zip(acts["activity_date"], acts["activity_id"], strict=True))
    latest: dict[int, tuple[date, int]] = {}
    for k, o in zip(key, order, strict=True):
        if k not in latest or o > latest[k]:
            latest[k] = o
    keep = [
        latest[int(k)] == (d, i)
        for k, d, i in zip(
            with_due["partner_id"].fillna(-1).astype(int),
            with_due["activity_date"],
            with_due["activity_id"],
            strict=True,
        )
    ]
    return with_due[keep].sort_values(["follow_up_due", "activity_id"])


def overdue(acts: pd.DataFrame, today: date) -> pd.DataFrame:
    """Open follow-ups whose due date has passed."""
    owed = open_follow_ups(acts)
    return owed[owed["follow_up_due"].map(lambda d: d < today)]


def due_this_week(acts: pd.DataFrame, today: date) -> pd.DataFrame:
    """Open follow-ups due from today to Sunday (the overdue ones are listed separately)."""
    owed = open_follow_ups(acts)
    _, sunday = week_of(today)
    return owed[owed["follow_up_due"].map(lambda d: today <= d <= sunday)]


def visits_in_week(acts: pd.DataFrame, day: date) -> int:
    """Outreach visits (visits and lunches) logged in the week holding `day`."""
    monday, sunday = week_of(day)
    visits = acts[acts["kind"].isin(VISIT_KINDS)]
    return int(_in(visits, "activity_date", monday, sunday).sum())


def weekly_visits(acts: pd.DataFrame, today: date, weeks: int = 8) -> pd.DataFrame:
    """Visits per week for the last `weeks` weeks, this week last (for a small chart)."""
    monday, _ = week_of(today)
    starts = [monday - timedelta(weeks=w) for w in range(weeks - 1, -1, -1)]
    return pd.DataFrame({"week_of": starts, "visits": [visits_in_week(acts, s) for s in starts]})


def cadence_status(visits: int) -> str:
    """ "below", "on" or "above" the playbook's 2–3 visits a week."""
    low, high = playbook.VISITS_PER_WEEK
    if visits < low:
        return "below"
    return "on" if visits <= high else "above"


# --- timeline -------------------------------------------------------------------------------


def timeline(engine: Engine, practice_id: int, partner_id: int) -> pd.DataFrame:
    """One partner's story, newest first: stage changes, activities and referrals together."""
    p, h, a, r = db.partner, db.partner_stage_history, db.activity, db.referral
    rows: list[dict[str, object]] = []
    with engine.connect() as conn:
        npi = conn.execute(
            sa.select(p.c.npi).where(p.c.id == partner_id, p.c.practice_id == practice_id)
        ).scalar()
        if npi is None:
            return pd.DataFrame(columns=["date", "what", "staff", "notes", "order"])
        for ch in conn.execute(
            sa.select(h).where(h.c.partner_id == partner_id).order_by(h.c.changed_at, h.c.id)
        ):
            to = playbook.STAGE_LABELS.get(ch.to_stage, ch.to_stage)
            what = (
                "Added to the list"
                if ch.from_stage is None
                else f"Stage: {playbook.STAGE_LABELS.get(ch.from_stage, ch.from_stage)} → {to}"
            )
            rows.append({"date": ch.changed_at.date(), "what": what, "staff": None,
                         "notes": None, "order": (ch.changed_at.date(), 0, ch.id)})  # fmt: skip
        for act in conn.execute(
            sa.select(a).where(a.c.partner_id == partner_id, a.c.practice_id == practice_id)
        ):
            what = KIND_LABELS.get(act.kind, act.kind)
            if act.follow_up_due:
                what += f" (follow up by {act.follow_up_due.isoformat()})"
            rows.append({"date": act.activity_date, "what": what, "staff": act.staff,
                         "notes": act.notes, "order": (act.activity_date, 1, act.id)})  # fmt: skip
        for ref in conn.execute(
            sa.select(r).where(r.c.practice_id == practice_id, r.c.partner_npi == npi)
        ):
            verb = "Referral received" if ref.direction == "received" else "Referral sent"
            detail = ", ".join(x for x in (ref.reason_category, ref.status) if x)
            rows.append({"date": ref.referral_date, "what": f"{verb} ({detail})",
                         "staff": None, "notes": ref.notes,
                         "order": (ref.referral_date, 2, ref.id)})  # fmt: skip
    df = pd.DataFrame(rows, columns=["date", "what", "staff", "notes", "order"])
    return df.sort_values("order", ascending=False).reset_index(drop=True)


# --- the weekly checklist -------------------------------------------------------------------


@dataclass(frozen=True)
class ChecklistItem:
    key: str
    label: str  # what the playbook asks, with the count, e.g. "… identified: 3/5"
    value: int
    target: int
    done: bool
    detail: str = ""


def _referrals_without_follow_up(
    engine: Engine, practice_id: int, acts: pd.DataFrame, today: date
) -> int:
    """Referrals received in the last 30 days with no thank-you or close-the-loop note: neither
    marked on the referral nor logged as an activity for that partner since it arrived."""
    r = db.referral
    since = today - timedelta(days=REFERRAL_FOLLOW_UP_DAYS - 1)
    with engine.connect() as conn:
        refs = conn.execute(
            sa.select(r.c.partner_npi, r.c.referral_date).where(
                r.c.practice_id == practice_id,
                r.c.direction == "received",
                r.c.referral_date >= since,
                r.c.referral_date <= today,
                r.c.thank_you_sent.is_(None),
                r.c.outcome_note_sent.is_(None),
            )
        ).all()
    notes = acts[acts["kind"].isin(REFERRAL_FOLLOW_UP_KINDS) & acts["npi"].notna()]
    last_note: dict[str, date] = {}
    for npi, day in zip(notes["npi"], notes["activity_date"], strict=True):
        last_note[npi] = max(day, last_note.get(npi, day))
    return sum(1 for npi, day in refs if last_note.get(npi, date.min) < day)


def weekly_checklist(
    engine: Engine,
    practice: Practice,
    today: date,
    acts: pd.DataFrame | None = None,
) -> list[ChecklistItem]:
    """The playbook's five weekly actions, each measured from the data for the week of `today`:
    identify 5 complementary providers within 5 miles, send introductions to 2, keep the
    tracker, one networking activity a month, follow up every referral received within 30 days.
    """
    acts = activities_frame(engine, practice.id) if acts is None else acts
    monday, sunday = week_of(today)
    end = min(sunday, today)
    h, p, v = db.partner_stage_history, db.partner, db.provider
    with engine.connect() as conn:
        changes = conn.execute(
            sa.select(h.c.from_stage, h.c.changed_at, v.c.specialty_group, v.c.lat, v.c.lon)
            .select_from(h.join(p, p.c.id == h.c.partner_id).join(v, v.c.npi == p.c.npi))
            .where(p.c.practice_id == practice.id)
        ).all()
    this_week = [c for c in changes if monday <= c.changed_at.date() <= end]

    # 1. identify: partners added this week, complementary (scored) and within 5 miles
    def near(c: sa.Row) -> bool:
        if not practice.located or c.lat is None or c.lon is None:
            return False
        return haversine_mi(practice.lat, practice.lon, c.lat, c.lon) <= IDENTIFY_RADIUS_MI

    group = GROUPS_BY_KEY.get
    identified = sum(
        1
        for c in this_week
        if c.from_stage is None and group(c.specialty_group or "") is not None
        and group(c.specialty_group).scored and near(c)  # type: ignore[union-attr]
    )  # fmt: skip
    items = [
        ChecklistItem(
            "identify",
            f"{IDENTIFY_PER_WEEK} complementary providers within {IDENTIFY_RADIUS_MI:g} miles "
            f"identified: {min(identified, IDENTIFY_PER_WEEK)}/{IDENTIFY_PER_WEEK}",
            identified,
            IDENTIFY_PER_WEEK,
            identified >= IDENTIFY_PER_WEEK,
            "" if practice.located else "The practice has no location, so distance is unknown.",
        )
    ]

    # 2. introductions to two providers this week
    week_acts = acts[_in(acts, "activity_date", monday, end)]
    intros = week_acts[week_acts["kind"].isin(INTRO_KINDS) & week_acts["partner_id"].notna()]
    n_intro = int(intros["partner_id"].nunique())
    items.append(
        ChecklistItem(
            "introductions",
            f"Introductions sent to {INTROS_PER_WEEK} providers: "
            f"{min(n_intro, INTROS_PER_WEEK)}/{INTROS_PER_WEEK}",
            n_intro,
            INTROS_PER_WEEK,
            n_intro >= INTROS_PER_WEEK,
            "Intro emails and letters logged this week.",
        )
    )

    # 3. the tracker is kept: something logged this week and no follow-up overdue
    updates = len(week_acts) + len(this_week)
    n_overdue = len(overdue(acts, today))
    items.append(
        ChecklistItem(
            "tracker",
            f"Tracker kept up to date: {updates} update{'s' if updates != 1 else ''} this week, "
            f"{n_overdue} overdue follow-up{'s' if n_overdue != 1 else ''}",
            updates,
            1,
            updates >= 1 and n_overdue == 0,
            "Done when something was logged this week and no follow-up is overdue.",
        )
    )

    # 4. one networking activity (an event) this calendar month
    month_start = today.replace(day=1)
    events = int(_in(acts[acts["kind"] == "event"], "activity_date", month_start, today).sum())
    items.append(
        ChecklistItem(
            "networking",
            f"Networking activity this month: {min(events, NETWORKING_PER_MONTH)}/"
            f"{NETWORKING_PER_MONTH}",
            events,
            NETWORKING_PER_MONTH,
            events >= NETWORKING_PER_MONTH,
            "Events such as a medical society evening, logged for this calendar month.",
        )
    )

    # 5. every referral received in the last 30 days followed up
    owed = _referrals_without_follow_up(engine, practice.id, acts, today)
    items.append(
        ChecklistItem(
            "referral_follow_up",
            f"Referrals received in the last {REFERRAL_FOLLOW_UP_DAYS} days without a "
            f"follow-up: {owed}",
            owed,
            0,
            owed == 0,
            "A thank-you or close-the-loop note, marked on the referral or logged as an "
            "activity for that partner.",
        )
    )
    return items


# --- exports --------------------------------------------------------------------------------


def activities_export(acts: pd.DataFrame) -> pd.DataFrame:
    """The activity log as people read it in a spreadsheet (labels, not codes)."""
    return pd.DataFrame(
        {
            "Date": acts["activity_date"],
            "Kind": acts["kind"].map(lambda k: KIND_LABELS.get(k, k)),
            "Partner": acts["partner_name"].fillna("(no partner)"),
            "NPI": acts["npi"],
            "Staff": acts["staff"],
            "Notes": acts["notes"],
            "Follow-up due": acts["follow_up_due"],
        }
    )
