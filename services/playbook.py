"""The playbook's definitions, in one place so every page counts the same way.

Phases are counted in days from the practice's playbook start date; a partner's stage is set by
staff; an *active* partnership is derived from the referral log and never typed in.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from services import metrics

if TYPE_CHECKING:
    from services.progress_data import ProgressData

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


# --- metrics, computed from the stage history and the referral log ---------------
#
# They take a `services.progress_data.ProgressData` (frames with day-precision datetimes) and
# count as of the END of a day: a stage change or referral dated d counts on d. A group of
# several locations is counted per location and summed, so a provider who partners with two
# locations is two partnerships, and the targets scale with the number of locations.

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
DEFS = metrics.DEFINITIONS
#: Statuses of a referred patient who came in (counted as a referred patient for ROI).
ARRIVED_STATUSES: frozenset[str] = metrics.ARRIVED_STATUSES
METRIC_NOUNS: dict[str, tuple[str, str]] = {
    "targets": ("provider on the target list", "providers on the target list"),
    "connections": ("connection", "connections"),
    "active": ("active partner", "active partners"),
}
WEEKS = 52
KPI_WINDOW_DAYS = 30
TOP_PARTNERS_DAYS = 365

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


def day_text(day: date, year: bool = False) -> str:
    """The day as "Mar 5" or "Mar 5, 2026" on every platform: strftime's no-padding flag is
    a glibc extension that raises on Windows, so the day is formatted as a number instead."""
    return f"{day:%b} {day.day}" + (f", {day.year}" if year else "")


def week_of(start: date, day: date) -> int:
    """The ordinal playbook week of `day` (days 0–6 are week 1), as the playbook counts weeks."""
    return (day - start).days // 7 + 1


def phase_end_week(phase: Phase) -> int:
    return phase.last_day // 7 + 1


def _ts(day: date) -> pd.Timestamp:
    return pd.Timestamp(day)


def stages_as_of(data: ProgressData, day: date) -> pd.DataFrame:
    """Each partner's stage at the end of `day` (partners added later are absent)."""
    h = data.history
    h = h[h["changed_on"] <= _ts(day)]
    return h.drop_duplicates("partner_id", keep="last")[["partner_id", "practice_id", "to_stage"]]


def target_list_size(data: ProgressData, day: date) -> int:
    """Partners on the list at the end of `day`, at any stage but dropped."""
    return _on_the_list(stages_as_of(data, day))


def connections(data: ProgressData, day: date) -> int:
    """Partners at stage connected or beyond at the end of `day`."""
    return _connected(stages_as_of(data, day))


def _on_the_list(stages: pd.DataFrame) -> int:
    return int((stages["to_stage"] != "dropped").sum())


def _connected(stages: pd.DataFrame) -> int:
    return int(stages["to_stage"].isin(CONNECTED_STAGES).sum())


def active_partnerships(data: ProgressData, day: date) -> int:
    """Partners with a referral exchanged in the ACTIVE_WINDOW_DAYS up to `day` (see is_active)."""
    r = data.referrals
    end = _ts(day)
    first = end - pd.Timedelta(days=ACTIVE_WINDOW_DAYS - 1)
    window = r[(r["referral_date"] >= first) & (r["referral_date"] <= end)]
    return len(window.drop_duplicates(["practice_id", "npi"]))


def counts_as_of(data: ProgressData, day: date) -> dict[str, int]:
    """The three playbook counts as of `day`; the stages are worked out once for both."""
    stages = stages_as_of(data, day)
    return {
        "targets": _on_the_list(stages),
        "connections": _connected(stages),
        "active": active_partnerships(data, day),
    }


def weekly_series(data: ProgressData, today: date, start: date | None = None) -> pd.DataFrame:
    """Target-list size, connections and active partnerships as of each week 0–52.

    Week w is measured at the end of day start + 7w, with the same definitions as
    `counts_as_of` (a test holds them equal). Weeks after `today` have no value (NaN): the
    chart must not draw a future it cannot know. Computed in one pass over the sorted history
    and by slicing sorted referral days, since 53 full as-of counts over 50,000 referrals
    would take most of the page's time budget.
    """
    start = start or data.playbook_start
    cols = ["week", "as_of", "targets", "connections", "active"]
    if start is None:
        return pd.DataFrame(columns=cols)
    h = data.history
    h_days = _day_numbers(h["changed_on"])
    h_partner, _ = pd.factorize(h["partner_id"])
    stage_code = {s: i for i, s in enumerate(STAGES)}
    h_stage = h["to_stage"].map(stage_code).fillna(-1).astype(int).to_numpy()
    state = np.full(len(set(h_partner.tolist())), -2)  # -2: not on the list yet
    connected = np.array([s in CONNECTED_STAGES for s in STAGES] + [False])
    dropped = stage_code["dropped"]

    r = data.referrals
    pair = r.groupby(["practice_id", "npi"], sort=False).ngroup().to_numpy()
    r_days = _day_numbers(r["referral_date"])
    order = np.argsort(r_days, kind="stable")
    r_days, pair = r_days[order], pair[order]

    rows, applied = [], 0
    for week in range(WEEKS + 1):
        on = start + timedelta(days=7 * week)
        if on > today:
            rows.append((week, on, math.nan, math.nan, math.nan))
            continue
        day = (on - _EPOCH).days
        upto = int(np.searchsorted(h_days, day, side="right"))
        for i in range(applied, upto):
            state[h_partner[i]] = h_stage[i]
        applied = upto
        listed = state[state != -2]
        lo = int(np.searchsorted(r_days, day - ACTIVE_WINDOW_DAYS + 1, side="left"))
        hi = int(np.searchsorted(r_days, day, side="right"))
        rows.append(
            (
                week,
                on,
                float(np.count_nonzero(listed != dropped)),
                float(np.count_nonzero(connected[listed])),
                float(np.unique(pair[lo:hi]).size),
            )
        )
    return pd.DataFrame(rows, columns=cols)


_EPOCH = date(1970, 1, 1)


def _day_numbers(series: pd.Series) -> np.ndarray:
    """Days since 1970 as integers (the frames hold day-precision datetimes)."""
    return series.to_numpy(dtype="datetime64[D]").astype(np.int64)


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


def _range(df: pd.DataFrame, col: str, first: date, last: date) -> pd.DataFrame:
    return df[(df[col] >= _ts(first)) & (df[col] <= _ts(last))]


def referrals_by_month(data: ProgressData, first: date, last: date) -> pd.DataFrame:
    """Referrals per calendar month, by direction and specialty group of the partner."""
    r = _range(data.referrals, "referral_date", first, last)
    cols = ["month", "direction", "group", "referrals"]
    if r.empty:
        return pd.DataFrame(columns=cols)
    out = (
        r.assign(
            month=r["referral_date"].dt.to_period("M").dt.start_time.dt.date,
            group=r["group"].astype(object).fillna("unknown"),
        )
        .groupby(["month", "direction", "group"], as_index=False)
        .size()
        .rename(columns={"size": "referrals"})
    )
    return out[cols].sort_values(["month", "direction", "group"]).reset_index(drop=True)


def conversion_funnel(data: ProgressData, first: date, last: date) -> pd.DataFrame:
    """Received referrals in the range reaching each stage, by `metrics.funnel_counts` (a lost
    referral counts as received, a no-show also as scheduled)."""
    counts = metrics.funnel_counts(_range(data.referrals, "referral_date", first, last))
    total = counts["received"]
    rows = [
        {"step": label, "referrals": counts[key], "share": metrics.share(counts[key], total)}
        for key, label in metrics.FUNNEL_STAGES
    ]
    return pd.DataFrame(rows, columns=["step", "referrals", "share"])


def _week_start(day: date) -> date:
    return day - timedelta(days=day.weekday())


def outreach_visits_by_week(data: ProgressData, first: date, last: date) -> pd.DataFrame:
    """Outreach visits per calendar week (Monday first), with the playbook's band.

    Every week of the range is listed, zero included: an empty week is what the chart must show.
    """
    a = _range(data.activities, "activity_date", first, last)
    a = metrics.outreach_visits(a)
    weeks = pd.Series(a["activity_date"].dt.date.map(_week_start), dtype=object)
    counts = weeks.value_counts()
    n = data.locations
    rows = []
    week = _week_start(first)
    while week <= last:
        rows.append(
            {
                "week_of": week,
                "visits": int(counts.get(week, 0)),
                "target_low": VISITS_PER_WEEK[0] * n,
                "target_high": VISITS_PER_WEEK[1] * n,
            }
        )
        week += timedelta(days=7)
    return pd.DataFrame(rows, columns=["week_of", "visits", "target_low", "target_high"])


def top_partners(data: ProgressData, today: date, n: int = 10) -> pd.DataFrame:
    """The partners with most referrals (both directions) over the 12 months up to `today`.

    Trend: referrals in the last six months minus the six before, so a partner coasting on an
    old burst shows a fall even while it still tops the list.
    """
    first = today - timedelta(days=TOP_PARTNERS_DAYS - 1)
    r = _range(data.referrals, "referral_date", first, today)
    cols = ["npi", "name", "group", "referrals", "last_6_months", "previous_6_months", "trend"]
    if r.empty:
        return pd.DataFrame(columns=cols)
    half = _ts(today - timedelta(days=TOP_PARTNERS_DAYS // 2))
    out = (
        r.assign(recent=r["referral_date"] > half)
        .groupby("npi", as_index=False)
        .agg(
            name=("name", "first"),
            group=("group", "first"),
            referrals=("npi", "size"),
            last_6_months=("recent", "sum"),
        )
    )
    out["last_6_months"] = out["last_6_months"].astype(int)
    out["previous_6_months"] = out["referrals"] - out["last_6_months"]
    out["trend"] = out["last_6_months"] - out["previous_6_months"]
    out = out.sort_values(["referrals", "name"], ascending=[False, True]).head(n)
    return out[cols].reset_index(drop=True)


def leakage_by_partner(data: ProgressData, first: date, last: date, n: int = 15) -> pd.DataFrame:
    """Referrals received that never became our patients (status lost), by partner and reason."""
    r = _range(data.referrals, "referral_date", first, last)
    r = r[r["direction"] == "received"]
    cols = ["npi", "name", "received", "lost", "leakage_rate", "no_show", "declined",
            "went_elsewhere", "other"]  # fmt: skip
    if r.empty:
        return pd.DataFrame(columns=cols)
    lost = r["status"] == "lost"
    reason = r["lost_reason"].where(
        r["lost_reason"].isin(["no_show", "declined", "went_elsewhere"]), "other"
    )
    frame = pd.DataFrame(
        {
            "npi": r["npi"],
            "name": r["name"],
            "received": 1,
            "lost": lost.astype(int),
            **{k: (lost & (reason == k)).astype(int) for k in cols[5:]},
        }
    )
    out = frame.groupby("npi", as_index=False).agg(
        name=("name", "first"), **{c: (c, "sum") for c in ["received", "lost", *cols[5:]]}
    )
    out = out[out["lost"] > 0]
    # Leakage is "went elsewhere" only (metrics.DEFINITIONS["leakage"]); the bars show every
    # lost reason, so a no-show problem is not mistaken for a loyalty problem.
    out["leakage_rate"] = out["went_elsewhere"] / out["received"]
    out = out.sort_values(["lost", "leakage_rate", "name"], ascending=[False, False, True])
    return out[cols].head(n).reset_index(drop=True)


@dataclass(frozen=True)
class Roi:
    referred_patients: int
    visits: int  # patient visits (metrics.patient_visits), not outreach visits
    revenue: float | None  # None when no location has a revenue per visit set
    missing_rate: tuple[str, ...]  # locations without a revenue per visit


def roi(data: ProgressData, first: date, last: date) -> Roi:
    """Referred patients who came in, their visits, and the revenue at each location's rate."""
    r = metrics.arrived(_range(data.referrals, "referral_date", first, last))
    visits_by_practice = r.groupby("practice_id")["visits"].sum()
    revenue = 0.0
    priced = False
    for p in data.practices:
        if p.revenue_per_visit is not None:
            priced = True
            revenue += float(visits_by_practice.get(p.id, 0)) * float(p.revenue_per_visit)
    missing = tuple(p.name for p in data.practices if p.revenue_per_visit is None)
    return Roi(len(r), metrics.patient_visits(r), revenue if priced else None, missing)


@dataclass(frozen=True)
class Kpi:
    key: str
    label: str
    value: int
    previous: int
    help: str = ""  # the metric's one definition, shown as its tooltip

    @property
    def delta(self) -> int:
        return self.value - self.previous


def _count_in(df: pd.DataFrame, col: str, first: date, last: date) -> int:
    return len(_range(df, col, first, last))


def kpis(data: ProgressData, today: date) -> list[Kpi]:
    """Headline numbers as of `today`, each with its value 30 days earlier (or the previous
    30-day window, for counts of events)."""
    before = today - timedelta(days=KPI_WINDOW_DAYS)
    now, then = counts_as_of(data, today), counts_as_of(data, before)
    w = KPI_WINDOW_DAYS
    cur = (today - timedelta(days=w - 1), today)
    prev = (today - timedelta(days=2 * w - 1), before)
    r = data.referrals
    received = r[r["direction"] == "received"]
    sent = r[r["direction"] == "sent"]
    visits = metrics.outreach_visits(data.activities)

    def both(df: pd.DataFrame, col: str) -> tuple[int, int]:
        return _count_in(df, col, *cur), _count_in(df, col, *prev)

    return [
        Kpi("active", "Active partners", now["active"], then["active"], DEFS["active"]),
        Kpi(
            "connections",
            "Connections",
            now["connections"],
            then["connections"],
            "Partners at stage connected (they responded or met us) or formal.",
        ),
        Kpi(
            "targets",
            "Target list",
            now["targets"],
            then["targets"],
            "Partners on the list at any stage but dropped.",
        ),
        Kpi(
            "received",
            "Received, 30 days",
            *both(received, "referral_date"),
            DEFS["received"].replace("in the period", "in the last 30 days"),
        ),
        Kpi(
            "sent",
            "Sent, 30 days",
            *both(sent, "referral_date"),
            "Referrals we sent to a partner, dated in the last 30 days.",
        ),
        Kpi(
            "visits",
            "Outreach visits, 30 days",
            *both(visits, "activity_date"),
            DEFS["outreach_visits"],
        ),
    ]


def location_summary(data: ProgressData, today: date) -> pd.DataFrame:
    """One row per location and a total row: what a group owner compares across sites."""
    rows = []
    for p in data.practices:
        one = data.only(p.id)
        phase = phase_on(p.playbook_start, today) if p.playbook_start else None
        rows.append(_summary_row(one, today, p.name, phase.label if phase else "—"))
    if data.locations > 1:
        rows.append(_summary_row(data, today, f"Total ({data.locations} locations)", ""))
    return pd.DataFrame(rows)


def _summary_row(data: ProgressData, today: date, name: str, phase: str) -> dict[str, object]:
    counts = counts_as_of(data, today)
    received = data.referrals[data.referrals["direction"] == "received"]
    first = today - timedelta(days=KPI_WINDOW_DAYS - 1)
    return {
        "location": name,
        "phase": phase,
        "active_partnerships": counts["active"],
        "connections": counts["connections"],
        "target_list": counts["targets"],
        "referrals_received_30d": _count_in(received, "referral_date", first, today),
    }
