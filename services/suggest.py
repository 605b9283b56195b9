"""The suggested target list: the research phase's "target list of 15–20 providers".

The rule, in one place so the map's button and its tests agree:
- candidates are the providers in the current filter (radius and specialty groups) that are
  not on the practice's list in any stage, dropped included, and have a score (competitors are
  shown on the map but never scored, so never suggested);
- they are taken best score first (ties: nearer first, then NPI, so the list is stable);
- at most `per_group` from one specialty group, so the list spreads across referral sources
  instead of filling up with the single highest-weighted specialty;
- at most `size` providers. Fewer come back when fewer qualify; the page says so.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

import pandas as pd

SIZE = 20
MINIMUM = 15
PER_GROUP = 5


def suggest_targets(
    near: pd.DataFrame,
    *,
    size: int = SIZE,
    per_group: int = PER_GROUP,
    exclude: Iterable[str] = (),
) -> list[str]:
    """The NPIs to propose, in the order to show them.

    `near` is the map's frame (npi, specialty_group, score, distance_mi, on_list); `exclude`
    holds further NPIs to leave out (those the user already turned down in this review).
    """
    if size <= 0 or per_group <= 0 or near.empty:
        return []
    excluded = {str(n) for n in exclude}
    pool = near.loc[
        ~near["on_list"].astype(bool)
        & near["score"].notna()
        & ~near["npi"].astype(str).isin(excluded),
        ["npi", "specialty_group", "score", "distance_mi"],
    ]
    pool = pool.assign(npi=pool["npi"].astype(str)).sort_values(
        ["score", "distance_mi", "npi"], ascending=[False, True, True], kind="mergesort"
    )
    taken: Counter[str] = Counter()
    chosen: list[str] = []
    for npi, group in zip(pool["npi"].tolist(), pool["specialty_group"].tolist(), strict=True):
        if taken[group] >= per_group:
            continue
        taken[group] += 1
        chosen.append(npi)
        if len(chosen) >= size:
            break
    return chosen
