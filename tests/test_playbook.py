"""Every Progress metric against numbers worked out by hand on a small dataset.

The dataset (days are counted from START, a Monday):
- P1 target d0 → contacted d10 → connected d20 → formal d50
- P2 target d2 → contacted d14 → dropped d30
- P3 target d13 → connected d41
- P4 target d14
- P5 added d5 at stage contacted, with no stage history (older rows): counts from d5
Referrals: P3 received d45 (lost, went elsewhere); P1 received d60 (discharged, 10 visits);
P1 sent d70; X (a provider never on the list) received d95 (scheduled); P3 received d100
(in care, 4 visits).
Activities: visit d14, lunch d15, call d16, visit d22, event d30.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pandas as pd
import pytest

from services import playbook as pb
from services.practices import Practice
from services.progress_data import build_progress_data, group_of, load_progress_data
from tests.conftest import TODAY

START = date(2026, 1, 5)
P1, P2, P3, P4, P5, X = (f"100000000{i}" for i in range(1, 7))


def d(n: int) -> date:
    return START + timedelta(days=n)


def at(n: int, hour: int = 15) -> datetime:
    return datetime.combine(d(n), time(hour))


def practice(pid: int = 1, start: date | None = START, rate: float | None = 100.0) -> Practice:
    return Practice(
        id=pid, name=f"Location {pid}", address=None, city=None, state=None, zip=None, lat=None,
        lon=None, playbook_start=start, default_radius_mi=5.0, revenue_per_visit=rate,
        is_demo=False,
    )  # fmt: skip


PARTNERS = pd.DataFrame(
    [
        (1, 1, P1, "formal", at(0), "Alice Ortho", "ortho"),
        (2, 1, P2, "dropped", at(2), "Carl Chiro", "chiro"),
        (3, 1, P3, "connected", at(13), "Bob Sports", "sports"),
        (4, 1, P4, "target", at(14), "Dana Primary", "primary"),
        (5, 1, P5, "contacted", at(5), "Eve Neuro", "neuro"),
    ],
    columns=["partner_id", "practice_id", "npi", "stage", "added_at", "name", "group"],
)
HISTORY = pd.DataFrame(
    [
        (1, 1, "target", at(0)), (1, 1, "contacted", at(10)), (1, 1, "connected", at(20)),
        (1, 1, "formal", at(50)), (2, 1, "target", at(2)), (2, 1, "contacted", at(14)),
        (2, 1, "dropped", at(30)), (3, 1, "target", at(13)), (3, 1, "connected", at(41)),
        (4, 1, "target", at(14)),
    ],
    columns=["partner_id", "practice_id", "to_stage", "changed_at"],
)  # fmt: skip
REFERRALS = pd.DataFrame(
    [
        (1, P3, "received", d(45), "lost", "went_elsewhere", None, None),
        (1, P1, "received", d(60), "discharged", None, d(62), 10),
        (1, P1, "sent", d(70), "received", None, None, None),
        (1, X, "received", d(95), "scheduled", None, None, None),
        (1, P3, "received", d(100), "in_care", None, d(103), 4),
    ],
    columns=["practice_id", "npi", "direction", "referral_date", "status", "lost_reason",
             "first_visit_date", "visits"],
)  # fmt: skip
ACTIVITIES = pd.DataFrame(
    [(1, 1, "visit", d(14)), (1, 1, "lunch", d(15)), (1, 2, "call", d(16)),
     (1, 3, "visit", d(22)), (1, None, "event", d(30))],
    columns=["practice_id", "partner_id", "kind", "activity_date"],
)  # fmt: skip


@pytest.fixture
def data():
    return build_progress_data([practice()], PARTNERS, HISTORY, REFERRALS, ACTIVITIES)


def empty(start: date | None = START, rate: float | None = 100.0):
    return build_progress_data(
        [practice(start=start, rate=rate)],
        PARTNERS.iloc[0:0],
        HISTORY.iloc[0:0],
        REFERRALS.iloc[0:0],
        ACTIVITIES.iloc[0:0],
    )


# --- as-of counts ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "expected"),
    [(-1, 0), (0, 1), (4, 2), (5, 3), (12, 3), (13, 4), (14, 5), (29, 5), (30, 4), (400, 4)],
)
def test_target_list_size_as_of(data, day, expected):
    assert pb.target_list_size(data, d(day)) == expected


@pytest.mark.parametrize(("day", "expected"), [(19, 0), (20, 1), (40, 1), (41, 2), (50, 2)])
def test_connections_as_of_count_connected_and_formal(data, day, expected):
    assert pb.connections(data, d(day)) == expected


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (44, 0), (45, 1), (60, 2), (95, 3), (159, 3),  # P1's last referral d70: active to d159
        (160, 2), (184, 2), (185, 1),  # X (d95) leaves on d185
        (189, 1), (190, 0),  # P3 (d100) leaves on d190
    ],
)  # fmt: skip
def test_active_partnerships_use_the_90_day_window(data, day, expected):
    assert pb.active_partnerships(data, d(day)) == expected


def test_active_window_agrees_with_is_active():
    last = d(70)
    assert pb.is_active(last, d(70 + pb.ACTIVE_WINDOW_DAYS - 1))
    assert not pb.is_active(last, d(70 + pb.ACTIVE_WINDOW_DAYS))
    assert not pb.is_active(last, d(69))  # a referral after the day does not count yet


def test_a_stage_change_counts_from_its_own_day(data):
    assert pb.stages_as_of(data, d(49)).set_index("partner_id")["to_stage"][1] == "connected"
    assert pb.stages_as_of(data, d(50)).set_index("partner_id")["to_stage"][1] == "formal"


# --- weekly series --------------------------------------------------------------------------


def test_weekly_series_runs_over_weeks_0_to_52_and_stops_at_today(data):
    series = pb.weekly_series(data, d(100))
    assert series["week"].tolist() == list(range(53))
    assert series["as_of"].iloc[3] == d(21)
    known = series[series["as_of"] <= d(100)]
    assert len(known) == 15  # weeks 0..14 (day 98)
    assert series.iloc[15:][["targets", "connections", "active"]].isna().all().all()
    week = series.set_index("week")
    assert week.loc[0, "targets"] == 1
    assert week.loc[2, "targets"] == 5  # d14: P1, P2, P3, P4, P5
    assert week.loc[6, "connections"] == 2  # d42
    assert week.loc[9, "active"] == 2  # d63: P3 (d45) and P1 (d60)


def test_weekly_series_matches_as_of_counts_every_week(data):
    series = pb.weekly_series(data, d(400))
    for row in series.itertuples():
        assert pb.counts_as_of(data, row.as_of) == {
            "targets": row.targets,
            "connections": row.connections,
            "active": row.active,
        }


def test_weekly_series_matches_as_of_counts_on_the_demo(demo_engine):
    pid = group_of(demo_engine, 1)[0].id
    demo = load_progress_data(demo_engine, group_of(demo_engine, pid))
    series = pb.weekly_series(demo, TODAY)
    assert series["targets"].max() > 15 and series["active"].dropna().iloc[-1] > 0
    for row in series.dropna().itertuples():
        assert pb.counts_as_of(demo, row.as_of)["active"] == row.active
        assert pb.counts_as_of(demo, row.as_of)["connections"] == row.connections


# --- phases and the headline ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "phase"),
    [
        (0, "research"), (13, "research"), (14, "outreach"), (41, "outreach"),
        (42, "activation"), (90, "activation"), (91, "growth"), (182, "growth"),
        (183, "maturity"), (365, "maturity"), (366, None), (-1, None),
    ],
)  # fmt: skip
def test_phase_boundaries(day, phase):
    found = pb.phase_on(START, d(day))
    assert (found.key if found else None) == phase


@pytest.mark.parametrize(
    ("day", "text"),
    [
        (0, "Week 1 of the Research phase: 1 of 15–20 providers on the target list so far, "
            "2 weeks to go"),
        (7, "Week 2 of the Research phase: 3 of 15–20 providers on the target list so far, "
            "1 week to go"),
        (13, "Week 2 of the Research phase: 4 of 15–20 providers on the target list so far, "
             "last day of the phase"),
        (14, "Week 1 of the Outreach phase: 0 of 5–10 connections so far, 4 weeks to go"),
        (41, "Week 4 of the Outreach phase: 2 of 5–10 connections so far, last day of the phase"),
        (42, "Week 1 of the Activation phase: 0 of 3–5 active partners so far, 7 weeks to go"),
        (60, "Week 3 of the Activation phase: 2 of 3–5 active partners so far, 5 weeks to go"),
        (86, "Week 7 of the Activation phase: 2 of 3–5 active partners so far, 5 days to go"),
        (90, "Week 7 of the Activation phase: 2 of 3–5 active partners so far, "
             "last day of the phase"),
        (91, "Week 1 of the Growth phase: 2 of 10–15 active partners so far, 14 weeks to go"),
        (182, "Week 14 of the Growth phase: 2 of 10–15 active partners so far, "
              "last day of the phase"),
        (183, "Week 1 of the Maturity phase: 2 of 15–25 active partners so far, 27 weeks to go"),
        (365, "Week 27 of the Maturity phase: 0 of 15–25 active partners so far, "
              "last day of the phase"),
        (366, "Playbook year complete: 0 active partners; the Maturity target was 15–25 "
              "— 15 short"),
    ],
)  # fmt: skip
def test_headline_at_phase_boundaries(data, day, text):
    assert pb.headline(data, d(day)) == text


def test_headline_on_target_and_above_target():
    rows = [(1, f"20000000{i:02d}", "received", d(50), "received", None, None, None)
            for i in range(7)]  # fmt: skip
    refs = pd.DataFrame(rows, columns=REFERRALS.columns)
    many = build_progress_data([practice()], PARTNERS, HISTORY, refs, ACTIVITIES)
    assert pb.headline(many, d(60)).endswith("7 active partners, target 3–5 — "
                                             "2 above target, 5 weeks to go")  # fmt: skip
    few = build_progress_data([practice()], PARTNERS, HISTORY, refs.iloc[:4], ACTIVITIES)
    assert pb.headline(few, d(60)).endswith("— on target, 5 weeks to go")
    one = build_progress_data([practice()], PARTNERS, HISTORY, refs.iloc[:1], ACTIVITIES)
    assert "1 of 3–5 active partners so far" in pb.headline(one, d(60))


def test_a_playbook_start_in_the_future():
    future = empty(start=d(10))
    assert pb.headline(future, d(0)) == (
        "The playbook starts on Jan 15, 2026 (in 10 days): Research begins then, aiming for "
        "15–20 providers on the target list."
    )
    series = pb.weekly_series(future, d(0))
    assert len(series) == 53 and series["active"].isna().all()
    assert pb.phase_on(d(10), d(0)) is None


def test_a_practice_with_no_data():
    none = empty()
    assert pb.counts_as_of(none, d(60)) == {"targets": 0, "connections": 0, "active": 0}
    series = pb.weekly_series(none, d(60))
    assert series.dropna()[["targets", "connections", "active"]].eq(0).all().all()
    assert len(series.dropna()) == 9
    assert pb.headline(none, d(60)).endswith("0 of 3–5 active partners so far, 5 weeks to go")
    assert all(k.value == 0 and k.delta == 0 for k in pb.kpis(none, d(60)))
    assert pb.referrals_by_month(none, d(0), d(60)).empty
    assert pb.conversion_funnel(none, d(0), d(60))["referrals"].eq(0).all()
    assert pb.outreach_visits_by_week(none, d(0), d(13))["visits"].tolist() == [0, 0]
    assert pb.top_partners(none, d(60)).empty
    assert pb.leakage_by_partner(none, d(0), d(60)).empty
    assert pb.roi(none, d(0), d(60)) == pb.Roi(0, 0, 0.0, ())


def test_no_playbook_start_date():
    none = empty(start=None)
    assert "No playbook start date" in pb.headline(none, d(0))
    assert pb.weekly_series(none, d(0)).empty


# --- the other charts' numbers --------------------------------------------------------------


def test_referrals_by_month_by_direction_and_group(data):
    got = pb.referrals_by_month(data, d(0), d(200))
    assert [tuple(r) for r in got.itertuples(index=False)] == [
        (date(2026, 2, 1), "received", "sports", 1),
        (date(2026, 3, 1), "received", "ortho", 1),
        (date(2026, 3, 1), "sent", "ortho", 1),
        (date(2026, 4, 1), "received", "sports", 1),
        (date(2026, 4, 1), "received", "unknown", 1),  # X is in no provider row
    ]
    assert pb.referrals_by_month(data, d(61), d(94))["referrals"].sum() == 1  # the sent one


def test_conversion_funnel(data):
    funnel = pb.conversion_funnel(data, d(0), d(200))
    assert funnel["step"].tolist() == ["Received", "Scheduled", "Evaluated", "In care",
                                       "Discharged"]  # fmt: skip
    assert funnel["referrals"].tolist() == [4, 3, 2, 2, 1]
    assert funnel["share"].iloc[1] == pytest.approx(0.75)


def test_outreach_visits_per_week_count_visits_and_lunches(data):
    weeks = pb.outreach_visits_by_week(data, d(14), d(27))
    assert weeks["week_of"].tolist() == [d(14), d(21)]
    assert weeks["visits"].tolist() == [2, 1]  # the call and the event do not count
    assert weeks[["target_low", "target_high"]].iloc[0].tolist() == [2, 3]


def test_top_partners_over_12_months_with_trend(data):
    top = pb.top_partners(data, d(250))
    assert top["npi"].tolist() == [P1, P3, X]
    assert top["referrals"].tolist() == [2, 2, 1]
    # the halves split at d68: P1 had d60 before and d70 after
    assert top["last_6_months"].tolist() == [1, 1, 1]
    assert top["previous_6_months"].tolist() == [1, 1, 0]
    assert top["trend"].tolist() == [0, 0, 1]
    assert top["name"].tolist() == ["Alice Ortho", "Bob Sports", X]
    # 12 months = 365 days up to and including the as-of day
    assert pb.top_partners(data, d(424)).set_index("npi")["referrals"][P1] == 2
    assert pb.top_partners(data, d(425)).set_index("npi")["referrals"][P1] == 1
    assert set(pb.top_partners(data, d(435))["npi"]) == {P3, X}  # d70 left the 12 months


def test_leakage_by_partner(data):
    leak = pb.leakage_by_partner(data, d(0), d(200))
    assert leak["npi"].tolist() == [P3]
    row = leak.iloc[0]
    assert (row["received"], row["lost"], row["went_elsewhere"]) == (2, 1, 1)
    assert row["leakage_rate"] == pytest.approx(0.5)


def test_roi_from_revenue_per_visit(data):
    assert pb.roi(data, d(0), d(200)) == pb.Roi(2, 14, 1400.0, ())
    assert pb.roi(data, d(0), d(99)) == pb.Roi(1, 10, 1000.0, ())
    unpriced = build_progress_data([practice(rate=None)], PARTNERS, HISTORY, REFERRALS, ACTIVITIES)
    assert pb.roi(unpriced, d(0), d(200)) == pb.Roi(2, 14, None, ("Location 1",))


def test_kpis_against_the_previous_30_days(data):
    got = {k.key: (k.value, k.previous, k.delta) for k in pb.kpis(data, d(100))}
    assert got == {
        "active": (3, 2, 1),  # d100: P1, P3, X; d70: P1, P3
        "connections": (2, 2, 0),
        "targets": (4, 4, 0),
        "received": (2, 2, 0),  # d71–d100: X, P3; d41–d70: P3, P1
        "sent": (0, 1, -1),
        "visits": (0, 0, 0),
    }
    early = {k.key: (k.value, k.previous) for k in pb.kpis(data, d(29))}
    assert early["visits"] == (3, 0)


# --- several locations ----------------------------------------------------------------------


def two_locations():
    partners = pd.concat(
        [PARTNERS, pd.DataFrame([(6, 2, P1, "connected", at(3), "Alice Ortho", "ortho")],
                                columns=PARTNERS.columns)]
    )  # fmt: skip
    history = pd.concat(
        [HISTORY, pd.DataFrame([(6, 2, "target", at(3)), (6, 2, "connected", at(8))],
                               columns=HISTORY.columns)]
    )  # fmt: skip
    referrals = pd.concat(
        [REFERRALS, pd.DataFrame([(2, P1, "received", d(60), "evaluated", None, d(61), 2)],
                                 columns=REFERRALS.columns)]
    )  # fmt: skip
    return build_progress_data(
        [practice(1), practice(2, rate=50.0)], partners, history, referrals, ACTIVITIES
    )


def test_a_group_counts_each_location_and_the_total():
    group = two_locations()
    assert group.locations == 2
    # the same provider partnering with two locations is two partnerships
    assert pb.active_partnerships(group, d(60)) == 3
    assert pb.active_partnerships(group.only(2), d(60)) == 1
    assert pb.connections(group, d(20)) == 2
    assert pb.headline(group, d(60)) == (
        "All 2 locations — Week 3 of the Activation phase: 3 of 6–10 active partners so far, "
        "5 weeks to go"
    )
    assert pb.roi(group, d(0), d(200)) == pb.Roi(3, 16, 14 * 100.0 + 2 * 50.0, ())
    summary = pb.location_summary(group, d(60))
    assert summary["location"].tolist() == ["Location 1", "Location 2", "Total (2 locations)"]
    assert summary["active_partnerships"].tolist() == [2, 1, 3]
    assert pb.outreach_visits_by_week(group, d(14), d(20))["target_low"].tolist() == [4]


def test_group_is_all_real_practices_and_the_demo_alone(demo_engine):
    import sqlalchemy as sa

    from services import db

    with demo_engine.begin() as conn:
        for name in ("Downtown PT", "Uptown PT"):
            conn.execute(db.practice.insert().values(name=name, is_demo=False))
        ids = dict(conn.execute(sa.select(db.practice.c.name, db.practice.c.id)).all())
    demo_id = next(v for k, v in ids.items() if "(demo)" in k)
    assert [p.id for p in group_of(demo_engine, demo_id)] == [demo_id]
    assert [p.name for p in group_of(demo_engine, ids["Uptown PT"])] == ["Downtown PT",
                                                                         "Uptown PT"]  # fmt: skip
    assert group_of(demo_engine, 9999) == []


def test_context_figures_name_a_source_or_say_the_playbook_states_them():
    shown = [pb.context_source(source) for _text, source in pb.CONTEXT_FIGURES]
    assert shown[:2] == ["source: Accenture Health", "source: MGMA"]
    assert shown[2:] == ["the playbook's own statement"] * 3
    assert not any("not named" in s for s in shown)


def test_day_text_is_portable():
    assert pb.day_text(date(2026, 3, 5)) == "Mar 5"
    assert pb.day_text(date(2026, 12, 25), year=True) == "Dec 25, 2026"


def test_no_platform_specific_strftime_codes_anywhere():
    """strftime's no-padding flags (a percent, a dash, a letter) are glibc-only and raise on
    Windows."""
    import pathlib
    import re

    root = pathlib.Path(__file__).resolve().parents[1]
    offenders = [
        str(path.relative_to(root))
        for folder in ("app.py", "pages", "components", "services", "benchmarks", "tests")
        for path in ([root / folder] if folder.endswith(".py") else (root / folder).rglob("*.py"))
        if re.search(r"%[-#][a-zA-Z]", path.read_text(encoding="utf-8"))
    ]
    assert offenders == []


def test_the_funnel_counts_a_no_show_as_scheduled_like_the_referral_log(data):
    no_show = pd.DataFrame(
        [(1, P1, "received", d(5), "lost", "no_show", None, 0)], columns=REFERRALS.columns
    )
    one = build_progress_data([practice()], PARTNERS, HISTORY, no_show, ACTIVITIES)
    assert pb.conversion_funnel(one, d(0), d(10))["referrals"].tolist() == [1, 1, 0, 0, 0]
