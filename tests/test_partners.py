"""Partners: stage changes with their dates, edits, filters, counts as of a past date, removal."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pandas as pd
import pytest
import sqlalchemy as sa

from services import db, demo
from services import partners as partners_mod
from services.partners import (
    ConfirmationRequired,
    PartnerError,
    add_targets,
    filter_partners,
    list_partners,
    partner_history,
    remove_partner,
    remove_partners,
    set_stage,
    stage_counts,
    update_partner,
)
from services.playbook import STAGES, stages_as_of
from services.practices import get_practice
from services.progress_data import load_progress_data
from tests.conftest import TODAY


def stage_counts_as_of(engine, practice_id, day):
    """How many partners were in each stage at the end of `day`, replayed from the stage
    history the way the progress charts replay it."""
    data = load_progress_data(engine, [get_practice(engine, practice_id)])
    stages = stages_as_of(data, day)["to_stage"]
    return {s: int((stages == s).sum()) for s in STAGES}


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


# --- bulk writes are all or nothing ---------------------------------------------------------


@pytest.fixture
def fail_on(monkeypatch):
    """Make the database fail on the n-th statement that starts with `prefix` (a real failure
    part-way through a transaction, raised where the driver would raise it)."""
    from contextlib import contextmanager

    @contextmanager
    def armed(engine, prefix, n):
        seen = []

        def check(conn, cursor, statement, parameters, context, executemany):
            if statement.lstrip().upper().startswith(prefix):
                seen.append(statement)
                if len(seen) == n:
                    raise sa.exc.OperationalError(statement, parameters, Exception("disk full"))

        sa.event.listen(engine, "before_cursor_execute", check)
        try:
            yield seen
        finally:
            sa.event.remove(engine, "before_cursor_execute", check)

    return armed


def _stages(engine, pid):
    return dict(list_partners(engine, pid, TODAY).set_index("partner_id")["stage"])


def test_a_bulk_move_that_fails_part_way_moves_nobody(fresh, fail_on):
    engine, pid, ids, _ = fresh
    before, history = _stages(engine, pid), [_history(engine, i) for i in ids]
    with fail_on(engine, "UPDATE PARTNER", 2), pytest.raises(sa.exc.OperationalError):
        set_stage(engine, pid, ids, "contacted", when=datetime(2026, 11, 20))
    assert _stages(engine, pid) == before
    assert [_history(engine, i) for i in ids] == history  # no orphan history row either


def test_a_refused_bulk_move_names_the_partner_and_moves_nobody(fresh):
    engine, pid, (a, b), _ = fresh
    update_partner(engine, pid, b, stage="contacted", when=datetime(2026, 11, 15))
    with pytest.raises(PartnerError, match=r"before the previous one.*Nothing was moved") as err:
        set_stage(engine, pid, [a, b], "connected", when=datetime(2026, 11, 10))
    with engine.connect() as conn:
        name_b = partners_mod.partner_names(conn, pid, [b])[b]
    assert str(err.value).startswith(name_b)
    assert _stages(engine, pid) == {a: "target", b: "contacted"}


def test_bulk_removal_asks_once_naming_those_with_history_then_removes_all(fresh):
    engine, pid, (a, b), _ = fresh
    update_partner(engine, pid, a, stage="contacted", when=datetime(2026, 11, 2))
    with pytest.raises(ConfirmationRequired) as err:
        remove_partners(engine, pid, [a, b])
    assert set(err.value.histories) == {a}
    assert err.value.names[a] in str(err.value) and "1 of the 2 selected" in str(err.value)
    assert set(_stages(engine, pid)) == {a, b}  # nothing removed while asking
    assert remove_partners(engine, pid, [a, b], confirmed=True) == 2
    assert _stages(engine, pid) == {}


def test_a_bulk_removal_that_fails_part_way_removes_nobody(fresh, fail_on):
    engine, pid, (a, b), _ = fresh
    update_partner(engine, pid, a, stage="contacted", when=datetime(2026, 11, 2))
    history = _history(engine, a)
    with fail_on(engine, "DELETE FROM PARTNER ", 1), pytest.raises(sa.exc.OperationalError):
        remove_partners(engine, pid, [a, b], confirmed=True)
    assert set(_stages(engine, pid)) == {a, b}
    assert _history(engine, a) == history  # its stage history was not erased


def test_adding_several_targets_that_fails_part_way_adds_none(fresh, fail_on):
    engine, pid, _, _ = fresh
    with engine.connect() as conn:
        npis = [r[0] for r in conn.execute(sa.select(db.provider.c.npi).offset(5).limit(3))]
    before = _stages(engine, pid)
    with fail_on(engine, "INSERT INTO PARTNER ", 2), pytest.raises(sa.exc.OperationalError):
        add_targets(engine, pid, npis)
    assert _stages(engine, pid) == before
    assert sorted(add_targets(engine, pid, npis)) == sorted(npis)  # and works once it can


# --- one clock policy -----------------------------------------------------------------------


@pytest.fixture
def far_from_utc(monkeypatch):
    """Run in a practice seven hours behind UTC, so local and UTC clocks differ."""
    import time as time_mod

    monkeypatch.setenv("TZ", "America/Denver")
    time_mod.tzset()
    yield
    monkeypatch.undo()
    time_mod.tzset()


def test_partner_timestamps_follow_one_clock_on_insert_and_update(fresh, far_from_utc):
    from datetime import UTC

    engine, pid, _, _ = fresh
    with engine.connect() as conn:
        npi = conn.execute(sa.select(db.provider.c.npi).offset(9).limit(1)).scalar()
    add_targets(engine, pid, [npi])
    row = list_partners(engine, pid, TODAY).set_index("npi").loc[npi]
    inserted, now = row["updated_at"], datetime.now(UTC)
    # bookkeeping: aware UTC, on insert as on update
    assert inserted.tzinfo is not None and abs(now - inserted) < timedelta(minutes=1)
    # business date: the practice's local wall-clock time
    assert abs(row["added_at"] - datetime.now()) < timedelta(minutes=1)
    assert abs(row["added_at"] - now.replace(tzinfo=None)) > timedelta(hours=6)
    update_partner(engine, pid, int(row["partner_id"]), owner="Sam", expected_updated_at=inserted)
    updated = list_partners(engine, pid, TODAY).set_index("npi").loc[npi, "updated_at"]
    assert updated.tzinfo is not None and inserted < updated < now + timedelta(minutes=1)
    # the token read back still guards against a stale editor
    with pytest.raises(PartnerError, match="changed by someone else"):
        update_partner(engine, pid, int(row["partner_id"]), owner="Alex",
                       expected_updated_at=inserted)  # fmt: skip
    update_partner(engine, pid, int(row["partner_id"]), owner="Alex", expected_updated_at=updated)


def test_bookkeeping_timestamps_are_stored_in_utc_whatever_zone_they_come_in(engine):
    from datetime import UTC, timezone

    denver = timezone(timedelta(hours=-7))
    when = datetime(2026, 11, 28, 18, 30, tzinfo=denver)  # 01:30 UTC the next day
    with engine.begin() as conn:
        pid = conn.execute(
            db.practice.insert().values(name="Clock PT", is_demo=False, created_at=when,
                                        updated_at=datetime(2026, 11, 29, 1, 30))  # naive: UTC
        ).inserted_primary_key[0]  # fmt: skip
        row = conn.execute(sa.select(db.practice).where(db.practice.c.id == pid)).one()
        raw = conn.execute(
            sa.text("SELECT created_at FROM practice WHERE id = :id"), {"id": pid}
        ).scalar()
    assert row.created_at == datetime(2026, 11, 29, 1, 30, tzinfo=UTC) == row.updated_at
    assert row.created_at.tzinfo is not None
    assert str(raw).startswith("2026-11-29 01:30")  # the stored wall time is UTC's
    assert db.as_utc(None) is None
