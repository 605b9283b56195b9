"""The sentence at the top of Progress (and of the printed report): where the practice stands
against the current phase, in words, and the day format every page and report shares.

Separate from the counts because it is wording, not arithmetic: it picks the phase, asks
`counts` for the one number that phase is judged by, and says how far off the target it is and
how long is left.
"""

from __future__ import annotations

import math
from datetime import date
from typing import TYPE_CHECKING

from services.playbook.counts import counts_as_of
from services.playbook.definitions import METRIC_NOUNS, PHASES, phase_on

if TYPE_CHECKING:
    from services.progress_data import ProgressData


def day_text(day: date, year: bool = False) -> str:
    """The day as "Mar 5" or "Mar 5, 2026" on every platform: strftime's no-padding flag is
    a glibc extension that raises on Windows, so the day is formatted as a number instead."""
    return f"{day:%b} {day.day}" + (f", {day.year}" if year else "")


def _plural(n: int, metric: str) -> str:
    one, many = METRIC_NOUNS[metric]
    return f"{n} {one if n == 1 else many}"


def headline(data: ProgressData, today: date, start: date | None = None) -> str:
    """One sentence for the top of the page: where we stand against the current phase."""
    start = start or data.playbook_start
    n = data.locations
    where = f"All {n} locations — " if n > 1 else ""
    if start is None:
        return "No playbook start date is set: set it in Settings to track progress."
    if today < start:
        days = (start - today).days
        return (
            f"{where}The playbook starts on {day_text(start, year=True)} (in {days} day"
            f"{'' if days == 1 else 's'}): Research begins then, aiming for "
            f"{PHASES[0].target_low * n}–{PHASES[0].target_high * n} providers on the target list."
        )
    phase = phase_on(start, today)
    if phase is None:  # past day 365: judge against the last phase's target
        last = PHASES[-1]
        value = counts_as_of(data, today)[last.metric]
        low, high = last.target_low * n, last.target_high * n
        return (
            f"{where}Playbook year complete: {_plural(value, last.metric)}; the Maturity target "
            f"was {low}–{high} — {_gap(value, low, high)}"
        )
    value = counts_as_of(data, today)[phase.metric]
    low, high = phase.target_low * n, phase.target_high * n
    offset = (today - start).days
    phase_week = (offset - phase.first_day) // 7 + 1
    noun = METRIC_NOUNS[phase.metric][1]
    left = _time_left(phase.last_day - offset + 1)
    if value < low:
        where_we_are = f"{value} of {low}–{high} {noun} so far, {left}"
    else:
        where_we_are = f"{value} {noun}, target {low}–{high} — {_gap(value, low, high)}, {left}"
    return f"{where}Week {phase_week} of the {phase.label} phase: {where_we_are}"


def _time_left(days: int) -> str:
    """Days left in the phase, today included, as a person would say it."""
    if days <= 1:
        return "last day of the phase"
    if days < 7:
        return f"{days} days to go"
    weeks = math.ceil(days / 7)
    return f"{weeks} week{'' if weeks == 1 else 's'} to go"


def _gap(value: int, low: int, high: int) -> str:
    if value < low:
        return f"{low - value} short"
    if value > high:
        return f"{value - high} above target"
    return "on target"
