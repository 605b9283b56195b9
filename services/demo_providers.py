"""The demo's fictional provider directory: about 380 providers around the demo practice.

Kept apart from the demo's story (services/demo_dataset.py) because this is the part that must
never be mistaken for real NPPES data, and its rules are easiest to check in one place. Nothing
here is a real provider:
- NPIs start with 2999, a block CMS has not issued, so a later live pull can never collide
  with a demo provider; they still carry a valid check digit, so validation treats them alike;
- phone numbers are in 555-01xx, reserved for fiction;
- names are drawn from common first and last names;
- every row carries `data_source = 'demo'`, so it is never shown with a real practice's data.
"""

from __future__ import annotations

import random
from typing import Any

from services.geo import haversine_mi
from services.npi import make_npi
from services.specialties import GROUPS
from services.zipcentroids import zips_within

DEMO_RADIUS_MI = 15.0

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


def place_demo_providers(rng: random.Random, lat0: float, lon0: float) -> list[dict[str, Any]]:
    """GROUP_COUNTS providers within DEMO_RADIUS_MI of (lat0, lon0), as provider rows.

    Draws only from `rng`, in a fixed order, so the caller's seed decides every row; each one
    sits near a real ZIP centroid so the map and ZIP checks treat it like a real address."""
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
