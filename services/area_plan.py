"""What an area search asks the NPI Registry: which ZIP codes, times which taxonomy texts.

The registry has no radius parameter, so a search around a practice is many small ones: every
ZIP whose centroid lies within the radius plus a margin (a ZIP's area reaches past its
centroid), times every taxonomy text the chosen specialty groups need. Planning is pure (no
network, no database), so it is kept apart from running the queries and storing the results.
"""

from __future__ import annotations

from collections.abc import Iterable

from services.specialties import GROUPS_BY_KEY, NUCC_TEXT
from services.zipcentroids import zips_within

#: ZIP kinds where a provider can practise (a PO-box-only ZIP has no practice locations).
_LOCATION_ZIP_KINDS = {"STANDARD", "UNIQUE"}


def margin_mi(radius_mi: float) -> float:
    """How far past the radius a ZIP centroid may lie and still be searched: a ZIP is a few
    miles across in a city, so its centroid can be outside while part of it is inside."""
    return max(1.0, 0.2 * radius_mi)


def search_zips(lat: float, lon: float, radius_mi: float) -> list[str]:
    """ZIP codes to query, nearest first."""
    return [
        z.zip_code
        for z, _ in zips_within(lat, lon, radius_mi + margin_mi(radius_mi))
        if z.kind in _LOCATION_ZIP_KINDS
    ]


def taxonomy_descriptions(group_keys: Iterable[str]) -> list[str]:
    """The registry texts that find every code of the groups, as few as possible.

    A group holding a classification's bare code (207X00000X "Orthopaedic Surgery") queries
    (or its self-named general code, 208VP0000X "Pain Medicine") queries the classification,
    which matches all its specializations; otherwise each code's
    specialization is queried ("Sports Medicine" for 207QS0010X). Texts with a comma are
    skipped: the registry matches nothing with them.
    """
    texts: list[str] = []
    for key in group_keys:
        group = GROUPS_BY_KEY.get(key)
        if group is None:
            continue
        # A classification's general code: bare ("Chiropractor", "") or self-named ("Pain
        # Medicine", "Pain Medicine").
        bare = {
            NUCC_TEXT[c][0]
            for c in group.codes
            if c in NUCC_TEXT and NUCC_TEXT[c][1] in ("", NUCC_TEXT[c][0])
        }
        for code in group.codes:
            classification, specialization = NUCC_TEXT.get(code, ("", ""))
            text = (
                classification if classification in bare or not specialization else specialization
            )
            if text and "," not in text and text not in texts:
                texts.append(text)
    return texts
