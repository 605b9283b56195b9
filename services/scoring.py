"""Referral-potential score, 0–100, with its parts kept so the UI can explain it.

    score = 100 × specialty weight × distance decay × volume factor × procedure factor
                × shared-patient factor × relationship factor

- specialty weight: the group's weight (orthopaedic surgery 1.0 … athletic trainers 0.3);
  competitors (physical therapy) are shown but not scored.
- distance decay: 0.5 ** (distance / radius) — 1.0 at the door, exactly half at the radius
  edge, and still positive beyond it, so a strong source just outside the circle is not zero.
- volume factor: 1.0 unless a volume signal was imported (Medicare `Tot_Benes`); then
  (benes / 250) ** 0.25 clipped to [0.6, 1.4], so volume nudges the order without swamping
  specialty and distance.
- procedure factor (surgeons): 1.0 unless the Medicare "by Provider and Service" file was
  imported and the provider performs PT-generating procedures; then 1 + 0.5 × min(n, 400) / 400,
  so 400 or more such operations a year (over a dozen PT sessions each) add half again.
- shared-patient factor: 1.0 unless shared-patient pairs were imported and the provider shares
  patients with PT practices near us: 1.3 for an *opportunity* (shares with competitors, not
  with us: the leakage to win back), 1.15 for a *splitter*, 0.9 for a *loyalist* (already
  sends us half or more).
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
PROCEDURE_REFERENCE = 400.0
PROCEDURE_MAX_BONUS = 0.5
SHARED_FACTORS: dict[str, float] = {"opportunity": 1.3, "splitter": 1.15, "loyalist": 0.9}
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
    procedure_factor: float = 1.0
    shared_factor: float = 1.0
    # Whether each data-file signal was known for this provider ("no data" otherwise).
    has_volume: bool = False
    has_procedures: bool = False
    has_shared: bool = False

    def as_rows(self) -> list[tuple[str, str]]:
        """(part, value) pairs for the provider card."""
        return [(part, value) for part, value, _ in self.explain()]

    def explain(self, sources: dict[str, str] | None = None) -> list[tuple[str, str, str]]:
        """(part, value, source) rows: a signal not loaded, or unknown for this provider, reads
        "no data" (its factor is then 1.00 and leaves the score as it was). `sources` maps
        "volume", "procedures" and "shared" to a "dataset, year" text."""
        src = sources or {}

        def signal(factor: float, known: bool, key: str) -> tuple[str, str]:
            if known:
                return f"{factor:.2f}", src.get(key, "")
            return "no data", src.get(key, "not loaded") if key in src else "not loaded"

        return [
            ("Specialty weight", f"{self.specialty_weight:.2f}", "specialty group"),
            ("Distance decay", f"{self.distance_decay:.2f}", "distance from the practice"),
            ("Volume factor", *signal(self.volume_factor, self.has_volume, "volume")),
            ("Procedure factor", *signal(self.procedure_factor, self.has_procedures,
                                         "procedures")),
            ("Shared-patient factor", *signal(self.shared_factor, self.has_shared, "shared")),
            ("Relationship factor", f"{self.relationship_factor:.2f}", "your target list"),
            ("Score (0–100)", "not scored" if self.total is None else f"{self.total:.0f}", ""),
        ]  # fmt: skip


def distance_decay(distance_mi: np.ndarray | float, radius_mi: float) -> np.ndarray | float:
    radius = max(float(radius_mi), 0.1)
    return np.power(0.5, np.asarray(distance_mi, dtype=float) / radius)


def volume_factor(tot_benes: np.ndarray | float | None) -> np.ndarray | float:
    if tot_benes is None:
        return 1.0
    benes = np.asarray(tot_benes, dtype=float)
    factor = np.clip(np.power(np.maximum(benes, 0) / VOLUME_REFERENCE_BENES, 0.25), *VOLUME_CLIP)
    return np.where(np.isnan(benes), 1.0, factor)


def _known(value: object) -> bool:
    if value is None:
        return False
    try:
        return not np.isnan(float(value))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False


def procedure_factor(procedures: np.ndarray | float | None) -> np.ndarray | float:
    """1.0 for no data; up to 1 + PROCEDURE_MAX_BONUS for a busy surgeon."""
    if procedures is None:
        return 1.0
    n = np.asarray(procedures, dtype=float)
    bonus = PROCEDURE_MAX_BONUS * np.minimum(np.maximum(n, 0), PROCEDURE_REFERENCE)
    factor = 1.0 + bonus / PROCEDURE_REFERENCE
    return np.where(np.isnan(n), 1.0, factor)


def shared_factor(label: str | None) -> float:
    """The loyalty label from shared patients (None when unknown) as a factor."""
    return SHARED_FACTORS.get(label or "", 1.0)


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
    pt_procedures: float | None = None,
    shared_label: str | None = None,
) -> ScoreParts:
    g = GROUPS_BY_KEY.get(group or "")
    weight = g.weight if g else 0.0
    scored = bool(g and g.scored)
    decay = float(distance_decay(distance_mi, radius_mi))
    volume = float(volume_factor(tot_benes))
    procs = float(procedure_factor(pt_procedures))
    shared = shared_factor(shared_label if isinstance(shared_label, str) else None)
    rel = relationship_factor(stage, active)
    total = round(100 * weight * decay * volume * procs * shared * rel, 1) if scored else None
    return ScoreParts(
        weight, decay, volume, rel, total, scored, procs, shared,
        has_volume=_known(tot_benes), has_procedures=_known(pt_procedures),
        has_shared=isinstance(shared_label, str) and shared_label in SHARED_FACTORS,
    )  # fmt: skip


def score_frame(df: pd.DataFrame, radius_mi: float) -> np.ndarray:
    """Scores for a frame with columns specialty_group, distance_mi, stage, active (and
    optionally tot_benes, pt_procedures, shared_label); NaN where the group is not scored."""
    weights = df["specialty_group"].map(
        {k: (g.weight if g.scored else np.nan) for k, g in GROUPS_BY_KEY.items()}
    )
    decay = distance_decay(df["distance_mi"].to_numpy(dtype=float), radius_mi)
    volume = volume_factor(df["tot_benes"].to_numpy(dtype=float)) if "tot_benes" in df else 1.0
    procs = (
        procedure_factor(df["pt_procedures"].to_numpy(dtype=float))
        if "pt_procedures" in df
        else 1.0
    )
    shared = (
        df["shared_label"].map(SHARED_FACTORS).fillna(1.0).to_numpy(dtype=float)
        if "shared_label" in df
        else 1.0
    )
    stage = df["stage"] if "stage" in df else pd.Series(None, index=df.index, dtype=object)
    active = df["active"].fillna(False).astype(bool) if "active" in df else False
    rel = np.where(
        stage.eq("dropped"), DROPPED_FACTOR, np.where(active, ACTIVE_PARTNER_FACTOR, 1.0)
    )
    total = 100 * weights.to_numpy(dtype=float) * decay * volume * procs * shared * rel
    return np.asarray(total, dtype=float).round(1)
