"""The playbook's definitions (DESIGN §1), in one place so every page counts the same way.

Phases are counted in days from the practice's playbook start date; a partner's stage is set by
staff; an *active* partnership is derived from the referral log and never typed in.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

STAGES: tuple[str, ...] = ("target", "contacted", "connected", "formal", "dropped")
STAGE_LABELS: dict[str, str] = {
    "target": "Target",
    "contacted": "Contacted",
    "connected": "Connected",
    "formal": "Formal",
    "dropped": "Dropped",
}
#: Stages that count as a "connection" (they responded or met us, or more).
CONNECTED_STAGES: frozenset[str] = frozenset({"connected", "formal"})
#: A partner is active on day d with a referral exchanged in the ACTIVE_WINDOW_DAYS up to d.
ACTIVE_WINDOW_DAYS = 90
#: Outreach cadence target, visits per week.
VISITS_PER_WEEK = (2, 3)


@dataclass(frozen=True)
class Phase:
    key: str
    label: str
    first_day: int  # days from the playbook start, inclusive
    last_day: int  # inclusive
    metric: str  # "targets", "connections" or "active"
    target_low: int
    target_high: int


PHASES: tuple[Phase, ...] = (
    Phase("research", "Research", 0, 13, "targets", 15, 20),
    Phase("outreach", "Outreach", 14, 41, "connections", 5, 10),
    Phase("activation", "Activation", 42, 90, "active", 3, 5),
    Phase("growth", "Growth", 91, 182, "active", 10, 15),
    Phase("maturity", "Maturity", 183, 365, "active", 15, 25),
)


def phase_on(start: date, day: date) -> Phase | None:
    """The phase `day` falls in, or None before the start or after day 365."""
    offset = (day - start).days
    for phase in PHASES:
        if phase.first_day <= offset <= phase.last_day:
            return phase
    return None


def is_active(last_referral: date | None, on: date) -> bool:
    """Active on `on`: a referral exchanged in the 90 days up to and including `on`."""
    if last_referral is None or last_referral > on:
        return False
    return (on - last_referral) < timedelta(days=ACTIVE_WINDOW_DAYS)
