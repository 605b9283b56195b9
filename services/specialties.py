"""Specialty groups: the filter a user sees, each a set of NUCC taxonomy codes.

Specialties are always labelled from this table, never from the registry's `desc` text, whose
format drifts. A code maps to a group by exact code first, then by the longest matching prefix
rule (such as `207X*`), so a specific code listed in one group is never captured by a broader
prefix of another.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class SpecialtyGroup:
    key: str
    label: str
    codes: tuple[str, ...]
    prefixes: tuple[str, ...]  # "207X" stands for the rule 207X*
    weight: float  # starting weight of the referral-potential score
    color: str  # marker colour on the map (colour-blind-safe palette where possible)
    scored: bool = True  # competitors are shown, not scored


GROUPS: tuple[SpecialtyGroup, ...] = (
    SpecialtyGroup(
        "ortho",
        "Orthopaedic surgery",
        ("207X00000X", "207XX0005X", "207XS0117X", "207XS0106X", "207XX0004X"),
        ("207X",),
        1.0,
        "#1f77b4",
    ),
    SpecialtyGroup(
        "sports",
        "Sports medicine",
        ("207QS0010X", "207RS0010X", "2081S0010X", "2080S0010X", "207PS0010X", "204C00000X"),
        (),
        0.9,
        "#ff7f0e",
    ),
    SpecialtyGroup(
        "pmr",
        "Physical medicine & rehab",
        ("208100000X", "2081P2900X", "2081P0004X", "2081P0301X"),
        (),
        0.8,
        "#2ca02c",
    ),
    SpecialtyGroup(
        "pain",
        "Pain medicine",
        ("208VP0000X", "208VP0014X", "207LP2900X", "2084P2900X", "261QP3300X"),
        (),
        0.6,
        "#d62728",
    ),
    SpecialtyGroup(
        "neuro",
        "Neurology & neurosurgery",
        ("2084N0400X", "2084N0402X", "2084V0102X", "207T00000X"),
        (),
        0.6,
        "#9467bd",
    ),
    SpecialtyGroup(
        "podiatry",
        "Podiatry",
        ("213E00000X", "213ES0103X", "213ES0131X", "213ES0000X"),
        (),
        0.6,
        "#8c564b",
    ),
    SpecialtyGroup(
        "primary",
        "Primary care",
        ("207Q00000X", "207R00000X", "208D00000X", "207QG0300X", "207RG0300X", "261QP2300X"),
        (),
        0.5,
        "#e377c2",
    ),
    SpecialtyGroup("rheum", "Rheumatology", ("207RR0500X",), (), 0.5, "#bcbd22"),
    SpecialtyGroup(
        "womens",
        "Women's & pelvic health",
        ("207V00000X", "207VG0400X", "207VF0040X", "2088F0040X", "363LW0102X"),
        (),
        0.4,
        "#17becf",
    ),
    SpecialtyGroup(
        "chiro",
        "Chiropractic",
        ("111N00000X", "111NX0800X", "111NR0400X", "111NS0005X"),
        (),
        0.4,
        "#7f7f7f",
    ),
    SpecialtyGroup(
        "peds",
        "Pediatrics",
        ("208000000X", "2080P0006X", "2080P0008X"),
        (),
        0.3,
        "#aec7e8",
    ),
    SpecialtyGroup(
        "np_pa",
        "Nurse practitioners & PAs",
        ("363LF0000X", "363LP2300X", "363A00000X", "363AM0700X"),
        (),
        0.3,
        "#ffbb78",
    ),
    SpecialtyGroup(
        "urgent_occ",
        "Urgent care & occupational medicine",
        ("261QU0200X", "2083X0100X"),
        (),
        0.4,
        "#98df8a",
    ),
    SpecialtyGroup("athletic", "Athletic trainers", ("2255A2300X",), (), 0.3, "#c5b0d5"),
    SpecialtyGroup(
        "pt",
        "Physical therapy (competitors)",
        ("225100000X", "261QP2000X"),
        ("2251",),
        0.0,
        "#444444",
        scored=False,
    ),
)

GROUPS_BY_KEY: dict[str, SpecialtyGroup] = {g.key: g for g in GROUPS}
UNKNOWN_LABEL = "Other"

_EXACT: dict[str, str] = {code: g.key for g in GROUPS for code in g.codes}
# Longest prefix first, so a more specific rule wins over a broader one.
_PREFIXES: tuple[tuple[str, str], ...] = tuple(
    sorted(((p, g.key) for g in GROUPS for p in g.prefixes), key=lambda pk: -len(pk[0]))
)

#: NUCC v25.1 classification and specialization of every code named above. Used for labels
#: and for the registry's `taxonomy_description` parameter, which takes one of these texts.
NUCC_TEXT: dict[str, tuple[str, str]] = {
    "207X00000X": ("Orthopaedic Surgery", ""),
    "207XX0005X": ("Orthopaedic Surgery", "Sports Medicine"),
    "207XS0117X": ("Orthopaedic Surgery", "Orthopaedic Surgery of the Spine"),
    "207XS0106X": ("Orthopaedic Surgery", "Hand Surgery"),
    "207XX0004X": ("Orthopaedic Surgery", "Foot and Ankle Surgery"),
    "207XS0114X": ("Orthopaedic Surgery", "Adult Reconstructive Orthopaedic Surgery"),
    "207XX0801X": ("Orthopaedic Surgery", "Orthopaedic Trauma"),
    "207XP3100X": ("Orthopaedic Surgery", "Pediatric Orthopaedic Surgery"),
    "207QS0010X": ("Family Medicine", "Sports Medicine"),
    "207RS0010X": ("Internal Medicine", "Sports Medicine"),
    "2081S0010X": ("Physical Medicine & Rehabilitation", "Sports Medicine"),
    "2080S0010X": ("Pediatrics", "Sports Medicine"),
    "207PS0010X": ("Emergency Medicine", "Sports Medicine"),
    "204C00000X": ("Neuromusculoskeletal Medicine, Sports Medicine", ""),
    "208100000X": ("Physical Medicine & Rehabilitation", ""),
    "2081P2900X": ("Physical Medicine & Rehabilitation", "Pain Medicine"),
    "2081P0004X": ("Physical Medicine & Rehabilitation", "Spinal Cord Injury Medicine"),
    "2081P0301X": ("Physical Medicine & Rehabilitation", "Brain Injury Medicine"),
    "208VP0000X": ("Pain Medicine", "Pain Medicine"),
    "208VP0014X": ("Pain Medicine", "Interventional Pain Medicine"),
    "207LP2900X": ("Anesthesiology", "Pain Medicine"),
    "2084P2900X": ("Psychiatry & Neurology", "Pain Medicine"),
    "261QP3300X": ("Clinic/Center", "Pain"),
    "2084N0400X": ("Psychiatry & Neurology", "Neurology"),
    "2084N0402X": (
        "Psychiatry & Neurology",
        "Neurology with Special Qualifications in Child Neurology",
    ),
    "2084V0102X": ("Psychiatry & Neurology", "Vascular Neurology"),
    "207T00000X": ("Neurological Surgery", ""),
    "213E00000X": ("Podiatrist", ""),
    "213ES0103X": ("Podiatrist", "Foot & Ankle Surgery"),
    "213ES0131X": ("Podiatrist", "Foot Surgery"),
    "213ES0000X": ("Podiatrist", "Sports Medicine"),
    "207Q00000X": ("Family Medicine", ""),
    "207R00000X": ("Internal Medicine", ""),
    "208D00000X": ("General Practice", ""),
    "207QG0300X": ("Family Medicine", "Geriatric Medicine"),
    "207RG0300X": ("Internal Medicine", "Geriatric Medicine"),
    "261QP2300X": ("Clinic/Center", "Primary Care"),
    "207RR0500X": ("Internal Medicine", "Rheumatology"),
    "207V00000X": ("Obstetrics & Gynecology", ""),
    "207VG0400X": ("Obstetrics & Gynecology", "Gynecology"),
    "207VF0040X": ("Obstetrics & Gynecology", "Urogynecology and Reconstructive Pelvic Surgery"),
    "2088F0040X": ("Urology", "Urogynecology and Reconstructive Pelvic Surgery"),
    "363LW0102X": ("Nurse Practitioner", "Women's Health"),
    "111N00000X": ("Chiropractor", ""),
    "111NX0800X": ("Chiropractor", "Orthopedic"),
    "111NR0400X": ("Chiropractor", "Rehabilitation"),
    "111NS0005X": ("Chiropractor", "Sports Physician"),
    "208000000X": ("Pediatrics", ""),
    "2080P0006X": ("Pediatrics", "Developmental - Behavioral Pediatrics"),
    "2080P0008X": ("Pediatrics", "Neurodevelopmental Disabilities"),
    "363LF0000X": ("Nurse Practitioner", "Family"),
    "363LP2300X": ("Nurse Practitioner", "Primary Care"),
    "363A00000X": ("Physician Assistant", ""),
    "363AM0700X": ("Physician Assistant", "Medical"),
    "261QU0200X": ("Clinic/Center", "Urgent Care"),
    "2083X0100X": ("Preventive Medicine", "Occupational Medicine"),
    "2255A2300X": ("Specialist/Technologist", "Athletic Trainer"),
    "225100000X": ("Physical Therapist", ""),
    "261QP2000X": ("Clinic/Center", "Physical Therapy"),
    "2251S0007X": ("Physical Therapist", "Sports"),
    "2251X0800X": ("Physical Therapist", "Orthopedic"),
}


def normalize_code(code: str | None) -> str:
    return (code or "").strip().upper()


def group_for_code(code: str | None) -> str | None:
    """The group key of one NUCC code, or None when the code is in no group."""
    code = normalize_code(code)
    if not code:
        return None
    if code in _EXACT:
        return _EXACT[code]
    for prefix, key in _PREFIXES:
        if code.startswith(prefix):
            return key
    return None


def group_for_codes(primary: str | None, others: Iterable[str] = ()) -> str | None:
    """The group of a provider: its primary taxonomy's group, else the first other that has one.

    A family physician whose primary code is 207Q00000X but who also holds a sports-medicine
    code is still filed under primary care: the primary code is how they present themselves.
    """
    group = group_for_code(primary)
    if group:
        return group
    for code in others:
        group = group_for_code(code)
        if group:
            return group
    return None


def group_label(key: str | None) -> str:
    group = GROUPS_BY_KEY.get(key or "")
    return group.label if group else UNKNOWN_LABEL


def group_color(key: str | None) -> str:
    group = GROUPS_BY_KEY.get(key or "")
    return group.color if group else "#999999"


def specialty_label(code: str | None) -> str:
    """A readable specialty for a code, from our own table; the code itself when unknown."""
    code = normalize_code(code)
    text = NUCC_TEXT.get(code)
    if not text:
        return code or "Unknown specialty"
    classification, specialization = text
    return f"{classification} — {specialization}" if specialization else classification


def scored_group_keys() -> list[str]:
    """Groups a practice would court as referral sources (competitors excluded)."""
    return [g.key for g in GROUPS if g.scored]
