"""Revenue per patient visit is a per-practice setting in Settings, and Progress's return on
referrals prices patient visits with it."""

from __future__ import annotations

from datetime import date, timedelta

from services import db
from services.practices import PracticeInput, create_practice, get_practice


def test_revenue_per_patient_visit_is_set_in_settings_and_used_by_progress(app_test, db_url):
    engine = db.make_engine(db_url)
    practice = create_practice(
        engine,
        PracticeInput(name="Priced PT", address="1600 Market St", city="Denver", state="CO",
                      zip="80202", lat=39.7496, lon=-104.9973, geocode_source="census",
                      geocode_precision="address"),
    )  # fmt: skip
    with engine.begin() as conn:
        conn.execute(
            db.referral.insert().values(
                practice_id=practice.id, partner_npi="1234567893", direction="received",
                referral_date=date.today() - timedelta(days=2), status="evaluated", visits=4,
            )
        )  # fmt: skip
    at = app_test().run()
    at.session_state["practice_id"] = practice.id
    at.switch_page("pages/progress.py").run()
    assert not at.exception, at.exception
    assert any("Revenue per patient visit" in w.value for w in at.warning)

    at.switch_page("pages/settings.py").run()
    assert at.number_input(key="set_rpv").value is None  # not set yet
    at.number_input(key="set_rpv").set_value(120.0)
    at.button(key="set_save").click().run()
    assert not at.exception, at.exception
    assert get_practice(engine, practice.id).revenue_per_visit == 120.0
    engine.dispose()

    at.switch_page("pages/progress.py").run()
    assert not at.exception, at.exception
    tiles = {m.label: m.value for m in at.metric}
    assert tiles["Patient visits"] == "4" and tiles["Estimated revenue"] == "$480"
    assert not any("Revenue per patient visit" in w.value for w in at.warning)
