"""The playbook's definitions: stages, phases and their targets, the outreach cadence, the
weekly actions and the context figures with their sources.

Kept apart from the code that counts, so each number the playbook sets lives in one place and
the counts, the headline, the charts and the Targets page all read the same one. Nothing here
reads data. Phases are counted in days from the practice's playbook start date; a partner's
stage is set by staff; an *active* partnership is derived from the referral log and never typed
in.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from services import metrics

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
#: A partner is active on day d with a referral exchanged in the ACTIVE_WINDOW_DAYS up to d
#: (defined once, in `services.metrics`).
ACTIVE_WINDOW_DAYS = metrics.ACTIVE_WINDOW_DAYS
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


#: Active on `on`: a referral exchanged in the 90 days up to and including `on`.
is_active = metrics.is_active

#: Activity kinds that are in-person outreach visits (the 2–3 a week cadence counts them).
OUTREACH_VISIT_KINDS: tuple[str, ...] = metrics.OUTREACH_VISIT_KINDS
#: Activity kinds that introduce the practice to a provider.
INTRO_KINDS: tuple[str, ...] = ("intro_email", "letter")
#: Activity kinds that follow up a referral received.
REFERRAL_FOLLOW_UP_KINDS: tuple[str, ...] = ("thank_you", "loop_close")
# The playbook's weekly actions: identify 5 complementary providers within 5 miles,
# send introductions to 2, schedule one networking activity a month, follow up within 30 days
# on every referral received.
IDENTIFY_PER_WEEK = 5
IDENTIFY_RADIUS_MI = 5.0
INTROS_PER_WEEK = 2
NETWORKING_PER_MONTH = 1
REFERRAL_FOLLOW_UP_DAYS = 30
#: Statuses of a referred patient who came in (counted as a referred patient for ROI).
ARRIVED_STATUSES: frozenset[str] = metrics.ARRIVED_STATUSES
METRIC_NOUNS: dict[str, tuple[str, str]] = {
    "targets": ("provider on the target list", "providers on the target list"),
    "connections": ("connection", "connections"),
    "active": ("active partner", "active partners"),
}

#: How a context figure with no outside source is labelled: the playbook states it itself.
PLAYBOOK_STATEMENT = "the playbook's own statement"
#: The playbook's context figures, each with the source the playbook gives for it, or labelled
#: as the playbook's own statement where it gives none (no source is invented).
CONTEXT_FIGURES: tuple[tuple[str, str], ...] = (
    ("Referred patients have 30% higher lifetime value", "Accenture Health"),
    ("Referral patients cost 60–70% less to acquire than paid advertising", "MGMA"),
    ("55–65% of referrals leak out of network", PLAYBOOK_STATEMENT),
    ("Practices that actively build networks see 29% more new patients", PLAYBOOK_STATEMENT),
    ("37% of practices have no referral tracking", PLAYBOOK_STATEMENT),
)


def context_source(source: str) -> str:
    """The attribution as shown: "source: MGMA", or "the playbook's own statement"."""
    return source if source == PLAYBOOK_STATEMENT else f"source: {source}"


def week_of(start: date, day: date) -> int:
    """The ordinal playbook week of `day` (days 0–6 are week 1), as the playbook counts weeks."""
    return (day - start).days // 7 + 1


def phase_end_week(phase: Phase) -> int:
    return phase.last_day // 7 + 1
