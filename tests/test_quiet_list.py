"""Who went quiet, on the pages: listed on Progress and on Targets with the last referral date,
and "Log a visit" logs today's outreach visit to that partner in one click."""

from __future__ import annotations

from datetime import date, timedelta

import sqlalchemy as sa

from services import db, quiet
from services.practices import PracticeInput, create_practice

NPI = "1234567893"


def _quiet_practice(db_url: str) -> tuple[int, int, date]:
    """A practice whose partner sent three a month until 50 days ago, then nothing."""
    engine = db.make_engine(db_url)
    today = date.today()
    practice = create_practice(
        engine, PracticeInput(name="Quiet Street PT", zip="80206", playbook_start=today)
    )
    (b_first, _), _ = quiet.windows(today)
    last = today - timedelta(days=50)
    with engine.begin() as conn:
        conn.execute(
            db.provider.insert().values(
                npi=NPI, entity_type="individual", name="Pat Ortho", data_source="manual"
            )
        )
        partner_id = conn.execute(
            db.partner.insert().values(practice_id=practice.id, npi=NPI, stage="formal")
        ).inserted_primary_key[0]
        day, rows = b_first, []
        while day <= last:
            rows.append(
                {"practice_id": practice.id, "partner_npi": NPI, "direction": "received",
                 "referral_date": day, "status": "evaluated", "visits": 3}
            )  # fmt: skip
            day += timedelta(days=10)
        rows[-1]["referral_date"] = last
        conn.execute(db.referral.insert(), rows)
    engine.dispose()
    return practice.id, partner_id, last


def _visits(db_url: str, partner_id: int) -> list[tuple]:
    engine = db.make_engine(db_url)
    with engine.connect() as conn:
        got = conn.execute(
            sa.select(db.activity.c.kind, db.activity.c.activity_date).where(
                db.activity.c.partner_id == partner_id
            )
        ).all()
    engine.dispose()
    return [tuple(r) for r in got]


def test_progress_lists_who_went_quiet_and_logs_a_visit(app_test, db_url):
    practice_id, partner_id, last = _quiet_practice(db_url)
    at = app_test().run()
    at.session_state["practice_id"] = practice_id
    at.switch_page("pages/progress.py").run()
    assert not at.exception, at.exception
    assert any(m.value == "**Pat Ortho**" for m in at.markdown)
    assert any(m.value == f"last referral {last:%b} {last.day}, {last.year}" for m in at.markdown)
    (button,) = [b for b in at.button if b.label == "Log a visit"]
    button.click().run()
    assert not at.exception, at.exception
    assert _visits(db_url, partner_id) == [("visit", date.today())]
    assert any("Outreach visit to **Pat Ortho** logged" in s.value for s in at.success)


def test_targets_lists_who_went_quiet_too(app_test, db_url):
    practice_id, partner_id, last = _quiet_practice(db_url)
    at = app_test().run()
    at.session_state["practice_id"] = practice_id
    at.switch_page("pages/targets.py").run()
    at.session_state["targets_tab"] = "This week"
    at.run()
    assert not at.exception, at.exception
    assert any(s.value == "Who went quiet" for s in at.subheader)
    assert any(m.value == f"last referral {last:%b} {last.day}, {last.year}" for m in at.markdown)
    next(b for b in at.button if b.label == "Log a visit").click().run()
    assert _visits(db_url, partner_id) == [("visit", date.today())]
