"""Demo mode: deterministic, complete, idempotent, resettable, and never mixed with real data."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import sqlalchemy as sa

from services import db, demo, demo_dataset, demo_providers, quiet
from services.geo import haversine_mi
from services.npi import is_valid_npi
from services.partners import add_targets
from services.practices import Practice, list_practices
from services.providers import load_providers
from services.specialties import GROUPS
from services.zipcentroids import centroid
from tests.conftest import TODAY


def _counts(engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {
            t.name: conn.execute(sa.select(sa.func.count()).select_from(t)).scalar()
            for t in (db.practice, db.provider, db.partner, db.partner_stage_history,
                      db.activity, db.referral)
        }  # fmt: skip


def test_same_day_gives_the_same_dataset_and_another_day_only_shifts_dates():
    a, b = demo_dataset.build_demo_dataset(TODAY), demo_dataset.build_demo_dataset(TODAY)
    assert a == b
    later = demo_dataset.build_demo_dataset(TODAY + timedelta(days=10))
    assert [p["npi"] for p in later.providers] == [p["npi"] for p in a.providers]
    assert later.practice["playbook_start"] == a.practice["playbook_start"] + timedelta(days=10)


def test_demo_has_300_plus_providers_in_every_group_within_15_miles_of_a_real_zip():
    data = demo_dataset.build_demo_dataset(TODAY)
    home = (data.practice["lat"], data.practice["lon"])
    assert len(data.providers) >= 300
    assert {p["specialty_group"] for p in data.providers} == {g.key for g in GROUPS}
    for p in data.providers:
        assert is_valid_npi(p["npi"]) and p["npi"].startswith("2999")
        assert haversine_mi(*home, p["lat"], p["lon"]) <= demo_providers.DEMO_RADIUS_MI
        zc = centroid(p["zip"])
        assert zc is not None and haversine_mi(zc.lat, zc.lon, p["lat"], p["lon"]) < 3
        assert p["phone"].startswith("303-555-01")
    assert len({p["npi"] for p in data.providers}) == len(data.providers)


def test_demo_history_spans_months_and_ends_by_today():
    data = demo_dataset.build_demo_dataset(TODAY)
    assert data.practice["playbook_start"] <= TODAY - timedelta(days=90)
    assert len(data.partners) >= 20 and len(data.referrals) >= 20 and len(data.activities) >= 20
    assert {p["stage"] for p in data.partners} == {"target", "contacted", "connected", "formal",
                                                   "dropped"}  # fmt: skip
    assert max(r["referral_date"] for r in data.referrals) < TODAY
    assert all(a["activity_date"] <= TODAY for a in data.activities)
    assert {r["direction"] for r in data.referrals} == {"received", "sent"}


def test_seeding_is_idempotent(engine):
    first = demo.ensure_demo(engine, TODAY)
    counts = _counts(engine)
    assert counts["provider"] >= 300 and counts["referral"] > 0
    assert demo.ensure_demo(engine, TODAY) == first
    assert _counts(engine) == counts


def test_reset_restores_the_demo_and_drops_user_changes(demo_engine):
    practice_id = demo.ensure_demo(demo_engine, TODAY)
    before = _counts(demo_engine)
    with demo_engine.connect() as conn:
        free = conn.execute(
            sa.select(db.provider.c.npi)
            .where(~db.provider.c.npi.in_(sa.select(db.partner.c.npi)))
            .limit(1)
        ).scalar()
    add_targets(demo_engine, practice_id, [free])
    assert _counts(demo_engine)["partner"] == before["partner"] + 1
    new_id = demo.reset_demo(demo_engine, TODAY)
    assert _counts(demo_engine) == before
    assert [p.id for p in list_practices(demo_engine)] == [new_id]


def test_a_real_practice_never_sees_demo_providers(demo_engine):
    with demo_engine.begin() as conn:
        conn.execute(
            db.provider.insert().values(
                npi="1234567893",
                entity_type="individual",
                name="Real Doc",
                lat=39.73,
                lon=-104.95,
                data_source="npi_api",
                specialty_group="ortho",
            )
        )
    real = Practice(1000, "Real PT", None, None, None, None, 39.73, -104.95, date(2026, 1, 1),
                    5.0, None, False)  # fmt: skip
    demo_practice = next(p for p in list_practices(demo_engine) if p.is_demo)
    assert load_providers(demo_engine, real)["npi"].tolist() == ["1234567893"]
    assert "1234567893" not in set(load_providers(demo_engine, demo_practice)["npi"])


def test_one_busy_demo_partner_went_quiet_about_50_days_ago():
    data = demo_dataset.build_demo_dataset(TODAY)
    frame = pd.DataFrame(data.referrals).rename(columns={"partner_npi": "npi"})
    listed = quiet.went_quiet(frame, TODAY)
    assert len(listed) == 1, listed
    row = listed.iloc[0]
    assert row["recent"] == 0 and row["usual_per_month"] >= quiet.MIN_USUAL_PER_MONTH
    assert 45 <= (TODAY - row["last_referral"]).days <= 55
    stage = {p["npi"]: p["stage"] for p in data.partners}
    assert stage[row["npi"]] == "formal"  # an existing partner, not a stranger
    # every other partner still sends: nobody else is listed a week earlier either
    assert len(quiet.went_quiet(frame, TODAY - timedelta(days=7))) <= 1
