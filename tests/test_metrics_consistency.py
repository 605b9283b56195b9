"""The Referral log and Progress agree: for the same practice and period, the funnel stages,
conversion, lost and leakage counts are the same, on the demo and on a generated data set, in
the services and on the two pages."""

from __future__ import annotations

import random
from datetime import date, timedelta

import pytest

from services import db, metrics
from services import playbook as pb
from services import referrals as refs
from services.practices import PracticeInput, create_practice, list_practices
from services.progress_data import group_of, load_progress_data

STAGES = ["received", "scheduled", "evaluated", "discharged"]
STATUSES = ["received", "scheduled", "evaluated", "in_care", "discharged", "lost"]
REASONS = ["no_show", "declined", "went_elsewhere", "insurance", "other", None]


def _both(engine, practice_id: int, first: date, last: date) -> tuple[dict, dict]:
    """What each page computes: (Referral log overall, Progress figures) for one period."""
    saved = refs.load_referrals(engine, practice_id)
    overall, _per_partner, _reasons = refs.conversion(metrics.in_period(saved, first, last))
    group = group_of(engine, practice_id)
    data = load_progress_data(engine, [p for p in group if p.id == practice_id])
    funnel = pb.conversion_funnel(data, first, last).set_index("step")["referrals"]
    period = metrics.in_period(data.referrals, first, last)
    leaked, rate = metrics.leakage(period)
    progress = {
        "received": int(funnel["Received"]),
        "scheduled": int(funnel["Scheduled"]),
        "evaluated": int(funnel["Evaluated"]),
        "discharged": int(funnel["Discharged"]),
        "lost": metrics.lost_count(period),
        "leaked": leaked,
        "leakage_rate": rate,
    }
    return overall, progress


def _assert_agree(overall: dict, progress: dict) -> None:
    for key in (*STAGES, "lost", "leaked"):
        assert overall[key] == progress[key], key
    if overall["received"]:
        assert overall["leakage_rate"] == pytest.approx(progress["leakage_rate"])


def test_the_demo_agrees_across_the_pages(demo_engine):
    demo = next(p for p in list_practices(demo_engine) if p.is_demo)
    for first, last in [
        (date(2000, 1, 1), date(2100, 1, 1)),  # everything, as the Referral log shows it
        (date(2026, 9, 1), date(2026, 10, 31)),
        (date(2026, 11, 1), date(2026, 11, 27)),
    ]:
        overall, progress = _both(demo_engine, demo.id, first, last)
        _assert_agree(overall, progress)
    overall, _ = _both(demo_engine, demo.id, date(2000, 1, 1), date(2100, 1, 1))
    assert overall["received"] > 20 and overall["lost"] > 0  # the demo exercises the funnel


def test_a_generated_data_set_agrees_across_the_pages(engine):
    rng = random.Random(7)
    practice = create_practice(engine, PracticeInput(name="Generated PT", zip="80206"))
    start = date(2026, 1, 1)
    rows = []
    for _ in range(600):
        status = rng.choice(STATUSES)
        rows.append(
            {
                "practice_id": practice.id,
                "partner_npi": f"1{rng.randrange(40):09d}",
                "direction": rng.choice(["received", "received", "sent"]),
                "referral_date": start + timedelta(days=rng.randrange(300)),
                "status": status,
                "lost_reason": rng.choice(REASONS) if status == "lost" else None,
                "visits": rng.randrange(12),
            }
        )
    with engine.begin() as conn:
        conn.execute(db.referral.insert(), rows)
    for first, last in [
        (start, start + timedelta(days=299)),
        (start + timedelta(days=30), start + timedelta(days=120)),
        (start + timedelta(days=200), start + timedelta(days=200)),
    ]:
        overall, progress = _both(engine, practice.id, first, last)
        _assert_agree(overall, progress)
    overall, _ = _both(engine, practice.id, start, start + timedelta(days=299))
    assert overall["received"] > 300 and 0 < overall["leaked"] < overall["lost"]


def _value(at, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def test_the_two_pages_show_the_same_numbers(app_test):
    """The Referral log (all referrals) and Progress over a period covering them all."""
    at = app_test().run()
    at.switch_page("pages/referrals.py").run()
    assert not at.exception, at.exception
    log_received = int(_value(at, "Received"))
    log_evaluated = int(_value(at, "Evaluated"))
    log_leaked = int(_value(at, "Leaked (went elsewhere)"))
    leaked_tile = next(m for m in at.metric if m.label == "Leaked (went elsewhere)")
    assert leaked_tile.help == metrics.DEFINITIONS["leakage"]  # the one definition, on both pages

    at.switch_page("pages/progress.py").run()
    today = date.today()
    at.date_input(key="_w_progress_range").set_value((today - timedelta(days=364), today)).run()
    assert not at.exception, at.exception
    assert int(_value(at, "Received")) == log_received
    assert _value(at, "Conversion (evaluated)").startswith(f"{log_evaluated} (")
    assert _value(at, "Leakage (went elsewhere)").startswith(f"{log_leaked} (")
    share = f"{log_leaked / log_received:.0%}"
    assert _value(at, "Leakage (went elsewhere)") == f"{log_leaked} ({share})"
