"""Partners: stage changes with their dates, edits, filters, counts as of a past date, removal."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pandas as pd
import pytest
import sqlalchemy as sa

from services import db, demo
from services.partners import (
    ConfirmationRequired,
    PartnerError,
    add_targets,
    filter_partners,
    list_partners,
    partner_history,
    remove_partner,
    set_stage,
    stage_counts,
    stage_counts_as_of,
    update_partner,
)
from tests.conftest import TODAY


@pytest.fixture
def fresh(demo_engine):
    """A demo database plus a real practice with two providers added on 1 Nov."""
    with demo_engine.begin() as conn:
        pid = conn.execute(
            db.practice.insert().values(name="Real PT", lat=39.72, lon=-104.95, is_demo=False)
        ).inserted_primary_key[0]
        npis = [r[0] for r in conn.execute(sa.select(db.provider.c.npi).limit(2))]
    add_targets(demo_engine, pid, npis, when=datetime(2026, 11, 1, 9))
    ids = dict((r.npi, r.partner_id) for r in list_partners(demo_engine, pid, TODAY).itertuples())
    return demo_engine, pid, [ids[n] for n in npis], npis


def _history(engine, partner_id):
    h = db.partner_stage_history
    with engine.connect() as conn:
        return [
            (r.from_stage, r.to_stage, r.changed_at)
            for r in conn.execute(
                sa.select(h).where(h.c.partner_id == partner_id).order_by(h.c.changed_at, h.c.id)
            )
        ]


def test_every_stage_change_is_recorded_with_its_date(fresh):
    engine, pid, (a, _b), _ = fresh
    assert update_partner(engine, pid, a, stage="contacted", when=datetime(2026, 11, 3, 10))
    assert update_partner(engine, pid, a, stage="connected", when=datetime(2026, 11, 10, 16))
    # the same stage again is not a change and adds no row
    assert not update_partner(engine, pid, a, stage="connected", when=datetime(2026, 11, 11))
    assert _history(engine, a) == [
        (None, "target", datetime(2026, 11, 1, 9)),
        ("target", "contacted", datetime(2026, 11, 3, 10)),
        ("contacted", "connected", datetime(2026, 11, 10, 16)),
    ]
    assert list_partners(engine, pid, TODAY).set_index("partner_id").loc[a, "stage"] == "connected"


def test_stage_counts_as_of_a_past_date_replay_the_history(fresh):
    engine, pid, (a, b), _ = fresh
    update_partner(engine, pid, a, stage="contacted", when=datetime(2026, 11, 3, 10))
    update_partner(engine, pid, a, stage="connected", when=datetime(2026, 11, 10, 16))
    update_partner(engine, pid, b, stage="dropped", when=datetime(2026, 11, 12, 8))
    zero = dict.fromkeys(("target", "contacted", "connected", "formal", "dropped"), 0)
    assert stage_counts_as_of(engine, pid, date(2026, 10, 31)) == zero  # nothing added yet
    assert stage_counts_as_of(engine, pid, date(2026, 11, 1)) == {**zero, "target": 2}
    # a change made at 10:00 on the 3rd counts for the whole of the 3rd
    assert stage_counts_as_of(engine, pid, date(2026, 11, 3)) == {
        **zero, "target": 1, "contacted": 1}  # fmt: skip
    assert stage_counts_as_of(engine, pid, date(2026, 11, 9)) == {
        **zero, "target": 1, "contacted": 1}  # fmt: skip
    assert stage_counts_as_of(engine, pid, TODAY) == {**zero, "connected": 1, "dropped": 1}
    assert stage_counts(list_partners(engine, pid, TODAY)) == stage_counts_as_of(engine, pid, TODAY)


def test_demo_counts_today_match_the_list_and_differ_in_the_past(demo_engine):
    with demo_engine.connect() as conn:
        pid = demo.demo_practice_id(conn)
    today = stage_counts_as_of(demo_engine, pid, TODAY)
    assert today == stage_counts(list_partners(demo_engine, pid, TODAY))
    assert today["formal"] == 3 and today["dropped"] == 2
    early = stage_counts_as_of(demo_engine, pid, TODAY.replace(month=8, day=1))
    assert early["formal"] == 0 and sum(early.values()) < sum(today.values())


def test_a_stage_change_cannot_be_dated_before_the_previous_one(fresh):
    engine, pid, (a, _), _ = fresh
    update_partner(engine, pid, a, stage="contacted", when=datetime(2026, 11, 5))
    with pytest.raises(PartnerError, match="before the previous one"):
        update_partner(engine, pid, a, stage="connected", when=datetime(2026, 11, 4))
    assert _history(engine, a)[-1][1] == "contacted"


def test_owner_priority_and_notes_are_validated_then_saved(fresh):
    engine, pid, (a, _), _ = fresh
    html = '<script>alert("x")</script> <b>bold</b>'
    update_partner(engine, pid, a, owner="  Alex  ", priority=1, notes=html)
    row = list_partners(engine, pid, TODAY).set_index("partner_id").loc[a]
    assert (row["owner"], row["priority"], row["notes"]) == ("Alex", 1, html)
    assert row["stage"] == "target"  # untouched
    with pytest.raises(PartnerError, match="priority"):
        update_partner(engine, pid, a, priority=7)
    with pytest.raises(PartnerError, match="priority"):
        update_partner(engine, pid, a, priority="high")
    with pytest.raises(PartnerError, match="stage"):
        update_partner(engine, pid, a, stage="married")
    with pytest.raises(PartnerError, match="owner"):
        update_partner(engine, pid, a, owner="x" * 101)
    # nothing was written by the refused calls
    row = list_partners(engine, pid, TODAY).set_index("partner_id").loc[a]
    assert (row["owner"], row["priority"], row["stage"]) == ("Alex", 1, "target")
    update_partner(engine, pid, a, owner="", priority=None, notes="  ")
    row = list_partners(engine, pid, TODAY).set_index("partner_id").loc[a]
    assert row["owner"] is None and row["notes"] is None and pd.isna(row["priority"])


def test_a_stale_edit_is_refused_instead_of_overwriting(fresh):
    engine, pid, (a, _), _ = fresh
    seen = list_partners(engine, pid, TODAY).set_index("partner_id").loc[a, "updated_at"]
    update_partner(engine, pid, a, owner="Sam", expected_updated_at=seen)  # first save wins
    with pytest.raises(PartnerError, match="changed by someone else"):
        update_partner(engine, pid, a, owner="Alex", expected_updated_at=seen)
    assert list_partners(engine, pid, TODAY).set_index("partner_id").loc[a, "owner"] == "Sam"


def test_another_practices_partner_cannot_be_edited_or_removed(fresh, demo_engine):
    engine, pid, (a, _), _ = fresh
    with demo_engine.connect() as conn:
        demo_id = demo.demo_practice_id(conn)
    with pytest.raises(PartnerError, match="no longer on the list"):
        update_partner(engine, demo_id, a, stage="formal")
    assert remove_partner(engine, demo_id, a) is False
    assert a in set(list_partners(engine, pid, TODAY)["partner_id"])


def test_bulk_stage_change(fresh):
    engine, pid, ids, _ = fresh
    assert set_stage(engine, pid, ids, "contacted", when=datetime(2026, 11, 20)) == 2
    assert stage_counts(list_partners(engine, pid, TODAY))["contacted"] == 2


def test_filters_by_group_owner_and_stage(demo_engine):
    with demo_engine.connect() as conn:
        pid = demo.demo_practice_id(conn)
    df = list_partners(demo_engine, pid, TODAY)
    assert len(filter_partners(df)) == len(df)
    group = df["specialty_group"].iloc[0]
    only = filter_partners(df, groups=[group])
    assert len(only) == (df["specialty_group"] == group).sum() and len(only) < len(df)
    alex = filter_partners(df, owners=["Alex (liaison)"])
    assert set(alex["owner"]) == {"Alex (liaison)"} and 0 < len(alex) < len(df)
    both = filter_partners(df, owners=["Alex (liaison)"], stages=["connected", "formal"])
    assert set(both["stage"]) <= {"connected", "formal"} and len(both) <= len(alex)
    assert filter_partners(df, stages=[]).empty
    assert filter_partners(df, owners=[None]).empty  # every demo partner has an owner


def test_active_comes_from_the_referral_log(fresh):
    engine, pid, (a, b), npis = fresh
    with engine.begin() as conn:
        conn.execute(db.referral.insert().values(
            practice_id=pid, partner_npi=npis[0], direction="received",
            referral_date=date(2026, 9, 1), status="received"))  # fmt: skip
    df = list_partners(engine, pid, TODAY).set_index("partner_id")
    assert bool(df.loc[a, "active"]) and not bool(df.loc[b, "active"])
    # 90 days later it is no longer active
    later = list_partners(engine, pid, date(2026, 12, 1)).set_index("partner_id")
    assert not bool(later.loc[a, "active"])


def test_removal_with_history_needs_confirmation_and_keeps_the_referral_log(fresh):
    engine, pid, (a, b), npis = fresh
    with engine.begin() as conn:
        conn.execute(db.referral.insert().values(
            practice_id=pid, partner_npi=npis[0], direction="received",
            referral_date=date(2026, 11, 2), status="received"))  # fmt: skip
    update_partner(engine, pid, a, stage="contacted", when=datetime(2026, 11, 2))
    hist = partner_history(engine, pid, a)
    assert (hist.stage_changes, hist.referrals) == (1, 1) and hist.has_history
    with pytest.raises(ConfirmationRequired, match="1 stage change, 1 referral"):
        remove_partner(engine, pid, a, confirmed=False)
    assert a in set(list_partners(engine, pid, TODAY)["partner_id"])
    # a partner with no history goes without asking
    assert not partner_history(engine, pid, b).has_history
    assert remove_partner(engine, pid, b, confirmed=False)
    assert remove_partner(engine, pid, a, confirmed=True)
    r, h = db.referral, db.partner_stage_history
    with engine.connect() as conn:
        refs = conn.execute(
            sa.select(sa.func.count())
            .select_from(r)
            .where(r.c.practice_id == pid, r.c.partner_npi == npis[0])
        ).scalar()
        left = conn.execute(
            sa.select(sa.func.count()).select_from(h).where(h.c.partner_id == a)
        ).scalar()
    assert refs == 1 and left == 0
    assert list_partners(engine, pid, TODAY).empty


def test_a_stage_change_dated_in_the_future_is_refused(fresh):
    engine, pid, (a, _), _ = fresh
    future = datetime.combine(date.today() + timedelta(days=2), datetime.min.time())
    with pytest.raises(PartnerError, match="in the future"):
        update_partner(engine, pid, a, stage="contacted", when=future)
    assert len(_history(engine, a)) == 1
