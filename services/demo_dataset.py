"""The demo's story: a synthetic practice in Denver, CO, with its pipeline, outreach and referrals.

A pure function of a fixed seed and the day it is built for, so the same day always gives the
same data (tests pin its figures) and the history always ends "today". It is separate from
writing the rows (services/demo.py) so the story can be built and checked without a database,
and from the provider directory (services/demo_providers.py), whose job is to look plausible
while never passing for real data. The practice is named "(demo)" and flagged `is_demo`.
"""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from services.demo_providers import place_demo_providers
from services.geo import haversine_mi
from services.specialties import GROUPS_BY_KEY
from services.zipcentroids import centroid

DEMO_SEED = 20260601
DEMO_PRACTICE_NAME = "Cherry Creek Physical Therapy (demo)"
DEMO_ZIP = "80206"  # Denver, CO
HISTORY_DAYS = 120  # the demo playbook started about four months ago
QUIET_DAYS = 50  # the demo's partner who went quiet last sent a patient this many days ago

_REASONS = ("Knee", "Shoulder", "Low back", "Neck", "Hip", "Foot & ankle", "Post-op", "Pelvic")
_PAYERS = ("Commercial", "Medicare", "Medicaid", "Workers' comp", "Self-pay")


@dataclass
class DemoDataset:
    practice: dict[str, Any]
    providers: list[dict[str, Any]]
    partners: list[dict[str, Any]]  # with "npi", "stage", "added_at"
    stage_history: list[dict[str, Any]]  # with "npi" instead of partner_id
    activities: list[dict[str, Any]]  # with "npi" (or None) instead of partner_id
    referrals: list[dict[str, Any]]
    meta: dict[str, Any] = field(default_factory=dict)


def _at(day: date, hour: int = 10) -> datetime:
    return datetime.combine(day, time(hour, 0))


def build_demo_dataset(today: date, seed: int = DEMO_SEED) -> DemoDataset:
    """The whole demo dataset for `today`; a pure function of its arguments."""
    rng = random.Random(seed)
    home = centroid(DEMO_ZIP)
    assert home is not None, "the demo ZIP is in the zipcodes package"
    start = today - timedelta(days=HISTORY_DAYS)
    practice = {
        "name": DEMO_PRACTICE_NAME,
        "npi": None,
        "address": "250 Steele St",
        "city": "Denver",
        "state": "CO",
        "zip": DEMO_ZIP,
        "lat": home.lat,
        "lon": home.lon,
        "geocode_source": "manual",
        "geocode_precision": "address",
        "playbook_start": start,
        "default_radius_mi": 5.0,
        "revenue_per_visit": 110.0,
        "is_demo": True,
    }
    providers = place_demo_providers(rng, home.lat, home.lon)
    for p in providers:
        p["first_seen"] = start
        p["last_seen"] = today

    # The pipeline: the best-placed complementary providers within 5 miles became targets
    # during Research, and some moved on.
    near = sorted(
        (p for p in providers if GROUPS_BY_KEY[p["specialty_group"]].scored),
        key=lambda p: (
            -GROUPS_BY_KEY[p["specialty_group"]].weight
            * 0.5 ** (haversine_mi(home.lat, home.lon, p["lat"], p["lon"]) / 5.0),
            p["npi"],
        ),
    )[:26]
    partners, history, activities, referrals = [], [], [], []
    plan = ["formal"] * 3 + ["connected"] * 7 + ["contacted"] * 6 + ["dropped"] * 2 + ["target"] * 8
    staff = ("Alex (liaison)", "Sam (owner)")
    for p, final in zip(near, plan, strict=True):
        added = start + timedelta(days=rng.randint(0, 12))
        path = ["target"]
        for stage in ("contacted", "connected", "formal"):
            if final in ("target",) or (final == "dropped" and stage != "contacted"):
                break
            path.append(stage)
            if stage == final:
                break
        if final == "dropped":
            path.append("dropped")
        partners.append(
            {
                "npi": p["npi"],
                "stage": path[-1],
                "owner": rng.choice(staff),
                "priority": rng.randint(1, 3),
                "notes": None,
                "added_at": _at(added),
            }
        )
        history.append({"npi": p["npi"], "from_stage": None, "to_stage": "target",
                        "changed_at": _at(added)})  # fmt: skip
        when = connected_on = added
        for prev, nxt in itertools.pairwise(path):
            when = min(today - timedelta(days=1), when + timedelta(days=rng.randint(8, 24)))
            history.append(
                {"npi": p["npi"], "from_stage": prev, "to_stage": nxt, "changed_at": _at(when, 15)}
            )
            kind = {"contacted": "intro_email", "connected": "visit", "formal": "lunch",
                    "dropped": "call"}[nxt]  # fmt: skip
            activities.append(
                {
                    "npi": p["npi"],
                    "kind": kind,
                    "activity_date": when,
                    "staff": rng.choice(staff),
                    "notes": f"Demo: {kind.replace('_', ' ')} with the office.",
                    "follow_up_due": when + timedelta(days=14) if nxt != "dropped" else None,
                }
            )
            if nxt in ("connected", "formal"):
                connected_on = when
        # Connected partners refer patients; formal ones more often.
        if path[-1] in ("connected", "formal"):
            gap = 9 if path[-1] == "formal" else 20
            day = connected_on + timedelta(days=rng.randint(2, gap))
            while day < today:
                referrals.append(_demo_referral(rng, p["npi"], day, today))
                day += timedelta(days=rng.randint(max(2, gap // 2), gap * 2))

    # Weekly visits to targets and contacts, two or three a week after Research.
    visitable = [pt["npi"] for pt in partners if pt["stage"] != "dropped"]
    week = start + timedelta(days=14)
    while week < today:
        for _ in range(rng.choice((1, 2, 2, 3, 3))):
            day = week + timedelta(days=rng.randint(0, 4))
            if day < today:
                activities.append({"npi": rng.choice(visitable), "kind": "visit",
                                   "activity_date": day, "staff": rng.choice(staff),
                                   "notes": "Demo: drop-in visit with brochures.",
                                   "follow_up_due": None})  # fmt: skip
        week += timedelta(days=7)
    for months_ago in (3, 1):
        activities.append({"npi": None, "kind": "event",
                           "activity_date": today - timedelta(days=30 * months_ago + 3),
                           "staff": staff[1], "notes": "Demo: county medical society evening.",
                           "follow_up_due": None})  # fmt: skip
    referrals = _one_went_quiet(referrals, partners, today, seed)
    referrals.sort(key=lambda r: (r["referral_date"], r["partner_npi"]))
    activities.sort(key=lambda a: (a["activity_date"], a["npi"] or ""))
    return DemoDataset(practice, providers, partners, history, activities, referrals,
                       {"seed": seed, "today": today})  # fmt: skip


def _one_went_quiet(
    referrals: list[dict[str, Any]], partners: list[dict[str, Any]], today: date, seed: int
) -> list[dict[str, Any]]:
    """The demo's partner who went quiet, so "Who went quiet" has a real entry to show: the
    first formal partner was a busy referrer from the playbook's first days (one every 5 to 10
    days) and has sent nothing for QUIET_DAYS. It draws from its own random stream, so every
    other demo row is the same as without it."""
    rng = random.Random(seed + 1)
    npi = next(p["npi"] for p in partners if p["stage"] == "formal")
    stop = today - timedelta(days=QUIET_DAYS)
    kept = [r for r in referrals if r["partner_npi"] != npi]
    day = today - timedelta(days=HISTORY_DAYS - rng.randint(1, 4))
    while day <= stop:
        kept.append(_demo_referral(rng, npi, day, today))
        day += timedelta(days=rng.randint(5, 10))
    return kept


def _demo_referral(rng: random.Random, npi: str, day: date, today: date) -> dict[str, Any]:
    age = (today - day).days
    direction = "sent" if rng.random() < 0.15 else "received"
    if age < 5:
        status = rng.choice(("received", "scheduled"))
    elif rng.random() < 0.18:
        status = "lost"
    elif age < 30:
        status = rng.choice(("scheduled", "evaluated", "in_care"))
    else:
        status = rng.choice(("in_care", "discharged", "discharged"))
    lost_reason = (
        rng.choice(("no_show", "declined", "went_elsewhere")) if status == "lost" else None
    )
    first_visit = None
    visits = None
    if status in ("evaluated", "in_care", "discharged"):
        first_visit = min(today, day + timedelta(days=rng.randint(1, 8)))
        visits = {"evaluated": 1, "in_care": rng.randint(2, 8), "discharged": rng.randint(6, 14)}[
            status
        ]
    thank_you = None
    if direction == "received" and age > 3 and rng.random() < 0.8:
        thank_you = min(today, day + timedelta(days=rng.randint(1, 6)))
    outcome = None
    if status == "discharged" and rng.random() < 0.6:
        outcome = min(today, (first_visit or day) + timedelta(days=rng.randint(20, 40)))
    return {
        "partner_npi": npi,
        "direction": direction,
        "referral_date": day,
        "reason_category": rng.choice(_REASONS),
        "payer_category": rng.choice(_PAYERS),
        "status": status,
        "lost_reason": lost_reason,
        "first_visit_date": first_visit,
        "visits": visits,
        "thank_you_sent": thank_you,
        "outcome_note_sent": outcome,
        "notes": None,
    }
