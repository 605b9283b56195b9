"""Procedures that generate physical-therapy referrals: the HCPCS/CPT codes kept from the
Medicare "by Provider and Service" file, each with a plain label.

After each of these operations the patient is normally sent to post-operative PT (a total knee
replacement is typically followed by about a dozen PT sessions), so a surgeon's yearly count of
them is the most direct public measure of how many patients they could send. The list is the
project's to refine: add a code here and the next import keeps it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Procedure:
    code: str
    label: str  # plural, as the card reads: "96 knee replacements"
    region: str


PT_PROCEDURES: tuple[Procedure, ...] = (
    Procedure("27447", "knee replacements", "knee"),
    Procedure("27446", "partial knee replacements", "knee"),
    Procedure("27130", "hip replacements", "hip"),
    Procedure("27236", "hip fracture repairs", "hip"),
    Procedure("29880", "knee arthroscopies (both menisci)", "knee"),
    Procedure("29881", "knee arthroscopies (meniscectomy)", "knee"),
    Procedure("29888", "ACL reconstructions", "knee"),
    Procedure("23412", "rotator cuff repairs (open)", "shoulder"),
    Procedure("29827", "rotator cuff repairs (arthroscopic)", "shoulder"),
    Procedure("23472", "shoulder replacements", "shoulder"),
    Procedure("23473", "shoulder replacement revisions", "shoulder"),
    Procedure("22551", "cervical fusions", "spine"),
    Procedure("22612", "lumbar fusions", "spine"),
    Procedure("22630", "lumbar interbody fusions", "spine"),
    Procedure("63030", "lumbar discectomies", "spine"),
    Procedure("63047", "lumbar decompressions", "spine"),
    Procedure("64721", "carpal tunnel releases", "hand"),
    Procedure("25607", "wrist fracture repairs", "hand"),
    Procedure("27814", "ankle fracture repairs", "foot & ankle"),
    Procedure("28296", "bunion corrections", "foot & ankle"),
)

PROCEDURES_BY_CODE: dict[str, Procedure] = {p.code: p for p in PT_PROCEDURES}


def procedure_codes() -> list[str]:
    return [p.code for p in PT_PROCEDURES]


def procedure_label(code: str) -> str:
    proc = PROCEDURES_BY_CODE.get(code)
    return proc.label if proc else f"procedures {code}"
