"""Referral-potential score (DESIGN §4), 0–100, with its parts kept so the UI can explain it.

    score = 100 × specialty weight × distance decay × volume factor × relationship factor

- specialty weight: the group's weight (orthopaedic surgery 1.0 … athletic trainers 0.3);
  competitors (physical therapy) are shown but not scored.
- distance decay: 0.5 ** (distance / radius) — 1.0 at the door, exactly half at the radius
  edge, and still positive beyond it, so a strong source just outside the circle is not zero.
- volume factor: 1.0 unless a volume signal was imported (Medicare `Tot_Benes`); then
  (benes / 250) ** 0.25 clipped to [0.6, 1.4], so volume nudges the order without swamping
  specialty and distance.
- relationship factor: 1.0 for a provider not yet on the list or still in the pipeline; 0.5
  for an active partner (they already send patients, there is less to gain); 0 for dropped.

The vectorized `score_frame` and the scalar `score_parts` use the same functions below, so the
table's ranking and the card's explanation never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from services.specialties import GROUPS_BY_KEY

ACTIVE_PARTNER_FACTOR = 0.5
DROPPED_FACTOR = 0.0
VOLUME_REFERENCE_BENES = 250.0
VOLUME_CLIP = (0.6, 1.4)


@dataclass(frozen=True)
class ScoreParts:
    specialty_weight: float
    distance_decay: float
    volume_factor: float
    relationship_factor: float
    total: float | None  # None for groups that are shown but not scored
    scored: bool

    def as_rows(self) -> list[tuple[str, str]]:
        """(part, value) pairs for the provider card."""
        return [
            ("Specialty weight", f"{self.specialty_weight:.2f}"),
            ("Distance decay", f"{self.distance_decay:.2f}"),
            ("Volume factor", f"{self.volume_factor:.2f}"),
            ("Relationship factor", f"{self.relationship_factor:.2f}"),
            ("Score (0–100)", "not scored" if self.total is None else f"{self.total:.0f}"),
        ]


def distance_decay(distance_mi: np.ndarray | float, radius_mi: float) -> np.ndarray | float:
    radius = max(float(radius_mi), 0.1)
    return np.power(0.5, np.asarray(distance_mi, dtype=float) / radius)


def volume_factor(tot_benes: np.ndarray | float | None) -> np.ndarray | float:
    if tot_benes is None:
        return 1.0
    benes = np.asarray(tot_benes, dtype=float)
    factor = np.clip(np.power(np.maximum(benes, 0) / VOLUME_REFERENCE_BENES, 0.25), *VOLUME_CLIP)
    return np.where(np.isnan(benes), 1.0, factor)


def relationship_factor(stage: str | None, active: bool) -> float:
    if stage == "dropped":
        return DROPPED_FACTOR
    if active:
        return ACTIVE_PARTNER_FACTOR
    return 1.0


def score_parts(
    group: str | None,
    distance_mi: float,
    radius_mi: float,
    stage: str | None = None,
    active: bool = False,
    tot_benes: float | None = None,
) -> ScoreParts:
    g = GROUPS_BY_KEY.get(group or "")
    weight = g.weight if g else 0.0
    scored = bool(g and g.scored)
    decay = float(distance_decay(distance_mi, radius_mi))
    volume = float(volume_factor(tot_benes))
    rel = relationship_factor(stage, active)
    total = round(100 * weight * decay * volume * rel, 1) if scored else None
    return ScoreParts(weight, decay, volume, rel, total, scored)


def score_frame(df: pd.DataFrame, radius_mi: float) -> np.ndarray:
    """Scores for a frame with columns specialty_group, distance_mi, stage, active (and
    optionally tot_benes); NaN where the group is not scored."""
    weights = df["specialty_group"].map(
        {k: (g.weight if g.scored else np.nan) for k, g in GROUPS_BY_KEY.items()}
    )
    decay = distance_decay(df["distance_mi"].to_numpy(dtype=float), radius_mi)
    volume = volume_factor(df["tot_benes"].to_numpy(dtype=float)) if "tot_benes" in df else 1.0
    stage = df["stage"] if "stage" in df else pd.Series(None, index=df.index, dtype=object)
    active = df["active"].fillna(False).astype(bool) if "active" in df else False
    rel = np.where(
        stage.eq("dropped"), DROPPED_FACTOR, np.where(active, ACTIVE_PARTNER_FACTOR, 1.0)
    )
    return (100 * weights.to_numpy(dtype=float) * decay * volume * rel).round(1)
