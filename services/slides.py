"""The staff-meeting slides: which exist, how a chosen set is written in the URL, and the
one-line takeaway under each chart.

A slide is a title line, one chart (or one short table) and one sentence a room can read from
the back. The set and order of slides is kept in the page's URL (`?meeting=1&slides=...`), so
the weekly meeting's link can be bookmarked and opens on the same deck.
"""

from __future__ import annotations

import math

import pandas as pd

from services.playbook import day_text

#: Every slide, in the default order: key -> title.
SLIDES: dict[str, str] = {
    "headline": "Where we are",
    "growth": "Partnership growth",
    "referrals_by_month": "Referrals per month",
    "funnel": "Conversion funnel",
    "visits": "Outreach visits per week",
    "top_partners": "Top partners",
    "leakage": "Lost referrals and leakage",
    "quiet": "Who went quiet",
    "loyalty": "Referrer loyalty",
    "roi": "Return on referrals",
}
DEFAULT_SLIDES: tuple[str, ...] = tuple(SLIDES)


def parse_slides(text: str | None) -> list[str]:
    """The slides named in a URL value ("growth,quiet"), in that order, unknown and repeated
    names dropped; the full default deck when nothing usable is named."""
    if not text:
        return list(DEFAULT_SLIDES)
    chosen: list[str] = []
    for name in text.split(","):
        name = name.strip().lower()
        if name in SLIDES and name not in chosen:
            chosen.append(name)
    return chosen or list(DEFAULT_SLIDES)


def slides_param(chosen: list[str]) -> str:
    """The URL value for a chosen deck (the inverse of `parse_slides`)."""
    return ",".join(chosen)


def _plural(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else (many or one + 's')}"


def growth_takeaway(series: pd.DataFrame) -> str:
    known = series.dropna(subset=["targets"])
    if known.empty:
        return "The lines start on the playbook's first day."
    last = known.iloc[-1]
    return (
        f"Week {int(last['week'])}: {int(last['targets'])} on the target list, "
        f"{_plural(int(last['connections']), 'connection')}, "
        f"{_plural(int(last['active']), 'active partner')}."
    )


def referrals_by_month_takeaway(frame: pd.DataFrame) -> str:
    if frame.empty:
        return "No referrals logged in this period yet."
    received = int(frame.loc[frame["direction"] == "received", "referrals"].sum())
    sent = int(frame.loc[frame["direction"] == "sent", "referrals"].sum())
    by_month = frame[frame["direction"] == "received"].groupby("month")["referrals"].sum()
    text = f"{_plural(received, 'referral')} received and {sent} sent in this period"
    if len(by_month):
        month = by_month.idxmax()
        text += f"; the busiest month was {month:%B %Y} ({int(by_month.max())} received)"
    return text + "."


def funnel_takeaway(frame: pd.DataFrame, leaked: int) -> str:
    counts = dict(zip(frame["step"], frame["referrals"], strict=True))
    received = int(counts.get("Received", 0))
    if not received:
        return "No referrals received in this period yet."
    evaluated = int(counts.get("Evaluated", 0))
    return (
        f"{evaluated / received:.0%} of the {received} referrals received were evaluated; "
        f"{leaked / received:.0%} went elsewhere (leakage)."
    )


def visits_takeaway(frame: pd.DataFrame) -> str:
    if frame.empty:
        return "No weeks in this period."
    low, high = int(frame["target_low"].iloc[0]), int(frame["target_high"].iloc[0])
    total = int(frame["visits"].sum())
    met = int((frame["visits"] >= low).sum())
    weeks = len(frame)
    return (
        f"{_plural(total, 'outreach visit')} in {_plural(weeks, 'week')}; "
        f"{met} of {weeks} reached the playbook's {low}–{high} a week."
    )


def top_partners_takeaway(frame: pd.DataFrame) -> str:
    if frame.empty:
        return "No referrals in the last 12 months yet."
    top = frame.iloc[0]
    n = _plural(int(top["referrals"]), "referral")
    return f"{top['name']} exchanged the most: {n} in 12 months."


def leakage_takeaway(frame: pd.DataFrame) -> str:
    if frame.empty:
        return "No referral was lost in this period."
    lost = int(frame["lost"].sum())
    elsewhere = int(frame["went_elsewhere"].sum())
    return f"{_plural(lost, 'referral')} lost in this period; {elsewhere} went elsewhere."


def quiet_takeaway(frame: pd.DataFrame) -> str:
    if frame.empty:
        return "Nobody went quiet: every regular referrer is sending at their usual pace."
    first = frame.iloc[0]
    return (
        f"{_plural(len(frame), 'partner')} went quiet; {first['name']} last sent one on "
        f"{day_text(first['last_referral'], year=True)}."
    )


def loyalty_takeaway(frame: pd.DataFrame) -> str:
    if frame.empty:
        return "No referrals received in this period yet."
    counts = frame["label"].value_counts()
    return (
        f"{_plural(int(counts.get('loyalist', 0)), 'loyalist')}, "
        f"{_plural(int(counts.get('splitter', 0)), 'splitter')} and "
        f"{_plural(int(counts.get('opportunity', 0)), 'opportunity', 'opportunities')} "
        "among the partners who sent referrals."
    )


def percent(value: float | None) -> str:
    """A share as people read it, a dash when there is none."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:.0%}"
