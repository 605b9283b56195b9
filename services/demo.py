"""Demo mode: a synthetic practice in Denver, CO, so a first run has a true story.

Everything is generated from a fixed seed and the day it is built for, so the same day always
gives the same data (tests rely on it) and the history always ends "today". Nothing here is a
real provider:
- NPIs start with 2999, a block CMS has not issued, so a later live pull can never collide
  with a demo provider; they still carry a valid check digit, so validation treats them alike;
- phone numbers are in 555-01xx, reserved for fiction;
- names are drawn from common first and last names.
Demo rows are tagged (`practice.is_demo`, `provider.data_source = 'demo'`) and never shown
with a real practice's data.
"""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from services import db
from services.geo import haversine_mi
from services.npi import make_npi
from services.specialties import GROUPS, GROUPS_BY_KEY
from services.zipcentroids import centroid, zips_within

DEMO_SEED = 20260601
DEMO_PRACTICE_NAME = "Cherry Creek Physical Therapy (demo)"
DEMO_ZIP = "80206"  # Denver, CO
DEMO_RADIUS_MI = 15.0
HISTORY_DAYS = 120  # the demo playbook started about four months ago
QUIET_DAYS = 50  # the demo's partner who went quiet last sent a patient this many days ago

#: providers per specialty group (about 380 in all)
GROUP_COUNTS: dict[str, int] = {
    "ortho": 40, "sports": 20, "pmr": 18, "pain": 18, "neuro": 20, "podiatry": 18,
    "primary": 80, "rheum": 10, "womens": 20, "chiro": 30, "peds": 20, "np_pa": 40,
    "urgent_occ": 10, "athletic": 8, "pt": 25,
}  # fmt: skip

_CREDENTIALS: dict[str, tuple[str, ...]] = {
    "ortho": ("MD", "DO"), "sports": ("MD", "DO"), "pmr": ("MD", "DO"), "pain": ("MD", "DO"),
    "neuro": ("MD", "DO"), "podiatry": ("DPM",), "primary": ("MD", "DO"), "rheum": ("MD",),
    "womens": ("MD", "DO", "NP"), "chiro": ("DC",), "peds": ("MD", "DO"),
    "np_pa": ("NP", "PA-C", "FNP-C"), "urgent_occ": ("MD", "DO"), "athletic": ("ATC", "LAT"),
    "pt": ("PT, DPT", "DPT"),
}  # fmt: skip

_ORG_WORDS: dict[str, tuple[str, ...]] = {
    "ortho": ("Orthopedic Associates", "Bone & Joint Center", "Orthopaedic Specialists"),
    "sports": ("Sports Medicine Clinic", "Sports Health"),
    "pmr": ("Rehabilitation Medicine", "Spine & Rehab"),
    "pain": ("Pain Management Center", "Interventional Pain Institute"),
    "neuro": ("Neurology Associates", "Brain & Spine Institute"),
    "podiatry": ("Foot & Ankle Center", "Podiatry Group"),
    "primary": ("Family Medicine", "Primary Care", "Internal Medicine Partners"),
    "rheum": ("Arthritis & Rheumatology",),
    "womens": ("Women's Health Center", "Pelvic Health Partners"),
    "chiro": ("Chiropractic", "Spine & Wellness"),
    "peds": ("Pediatrics", "Children's Clinic"),
    "np_pa": ("Family Health Clinic",),
    "urgent_occ": ("Urgent Care", "Occupational Health"),
    "athletic": ("Athletic Training Services",),
    "pt": ("Physical Therapy", "Rehab & Performance"),
}
_PLACES = (
    "Front Range", "Cherry Creek", "Highlands", "Mile High", "Platte Valley", "Capitol Hill",
    "Washington Park", "Stapleton", "Lowry", "Belcaro", "Congress Park", "Sloan's Lake",
)  # fmt: skip
_FIRST = (
    "James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda", "David",
    "Elizabeth", "William", "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas", "Sarah",
    "Carlos", "Maria", "Daniel", "Karen", "Anthony", "Lisa", "Priya", "Wei", "Aisha", "Omar",
    "Mei", "Diego", "Hannah", "Noah", "Grace", "Ethan", "Sofia", "Lucas", "Chloe", "Mateo",
)  # fmt: skip
_LAST = (
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez",
    "Martinez", "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor",
    "Moore", "Jackson", "Martin", "Lee", "Perez", "Thompson", "White", "Harris", "Sanchez",
    "Clark", "Ramirez", "Lewis", "Robinson", "Walker", "Young", "Allen", "King", "Wright",
    "Scott", "Nguyen", "Patel", "Kim", "Chen", "Shah", "Okafor", "Novak", "Larsen",
)  # fmt: skip
_STREETS = (
    "Colorado Blvd", "E 1st Ave", "E Colfax Ave", "S University Blvd", "E 6th Ave",
    "Speer Blvd", "E Alameda Ave", "S Broadway", "E 17th Ave", "Leetsdale Dr", "E Evans Ave",
    "W 38th Ave", "Federal Blvd", "E Hampden Ave", "S Monaco Pkwy", "Quebec St", "York St",
)  # fmt: skip
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


def _place_providers(rng: random.Random, lat0: float, lon0: float) -> list[dict[str, Any]]:
    zips = [(c, d) for c, d in zips_within(lat0, lon0, DEMO_RADIUS_MI) if c.kind == "STANDARD"]
    # Nearer ZIPs are denser, as clinics cluster near the centre of a metro.
    zip_weights = [1.0 / (1.0 + d / 4.0) for _, d in zips]
    providers: list[dict[str, Any]] = []
    seq = 0
    for group in GROUPS:
        for _ in range(GROUP_COUNTS[group.key]):
            seq += 1
            npi = make_npi(f"2999{seq:05d}")
            zc = rng.choices([c for c, _ in zips], weights=zip_weights, k=1)[0]
            approximate = rng.random() < 0.1
            for _attempt in range(20):
                lat = zc.lat + (0 if approximate else rng.gauss(0, 0.008))
                lon = zc.lon + (0 if approximate else rng.gauss(0, 0.010))
                if haversine_mi(lat0, lon0, lat, lon) <= DEMO_RADIUS_MI:
                    break
            else:
                lat, lon, approximate = zc.lat, zc.lon, True
            is_org = rng.random() < 0.25
            if is_org:
                name = f"{rng.choice(_PLACES)} {rng.choice(_ORG_WORDS[group.key])}"
                credential = None
            else:
                name = f"{rng.choice(_FIRST)} {rng.choice(_LAST)}"
                credential = rng.choice(_CREDENTIALS[group.key])
            codes = list(group.codes)
            primary = rng.choice(codes)
            extra = [c for c in codes if c != primary and rng.random() < 0.15]
            providers.append(
                {
                    "npi": npi,
                    "entity_type": "organization" if is_org else "individual",
                    "name": name,
                    "credential": credential,
                    "primary_taxonomy": primary,
                    "taxonomy_codes": " ".join([primary, *extra]),
                    "specialty_group": group.key,
                    "address": f"{rng.randint(100, 9899)} {rng.choice(_STREETS)}",
                    "city": zc.city.title(),
                    "state": zc.state,
                    "zip": zc.zip_code,
                    "phone": f"303-555-01{rng.randint(0, 99):02d}",
                    "lat": round(lat, 6),
                    "lon": round(lon, 6),
                    "geocode_source": "zip_centroid" if approximate else "manual",
                    "geocode_precision": "zip" if approximate else "address",
                    "data_source": "demo",
                }
            )
    return providers


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
    providers = _place_providers(rng, home.lat, home.lon)
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


# --- seeding --------------------------------------------------------------------------------


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
