"""Outreach: follow-ups due and overdue, timelines, the week's visits and the weekly checklist."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
import sqlalchemy as sa

from services import db, outreach
from services.activities import log_activity
from services.npi import make_npi
from services.partners import add_targets, list_partners, update_partner
from services.practices import get_practice

TODAY = date(2026, 11, 26)  # a Thursday; the week is Mon 23 – Sun 29 November
HOME = (39.7392, -104.9903)
MILE_LAT = 1 / 69.2  # a little under a mile of latitude, so "5 miles" is inside 5


@pytest.fixture
def world(engine):
    """A practice in Denver and eight providers due north at 1..8 miles, plus one competitor
    (physical therapy) at 1 mile and one ortho surgeon with no location."""
    with engine.begin() as conn:
        pid = conn.execute(
            db.practice.insert().values(name="North PT", lat=HOME[0], lon=HOME[1], is_demo=False)
        ).inserted_primary_key[0]
        rows = []
        for i in range(1, 9):
            rows.append({"npi": make_npi(f"1{i:08d}"), "entity_type": "individual",
                         "name": f"Ortho {i}", "specialty_group": "ortho",
                         "primary_taxonomy": "207X00000X", "lat": HOME[0] + i * MILE_LAT,
                         "lon": HOME[1], "data_source": "manual"})  # fmt: skip
        rows.append({"npi": make_npi("200000001"), "entity_type": "individual",
                     "name": "PT 1", "specialty_group": "pt", "primary_taxonomy": "225100000X",
                     "lat": HOME[0] + MILE_LAT, "lon": HOME[1],
                     "data_source": "manual"})  # fmt: skip
        rows.append({"npi": make_npi("200000002"), "entity_type": "individual",
                     "name": "Nowhere", "specialty_group": "ortho", "primary_taxonomy": None,
                     "lat": None, "lon": None, "data_source": "manual"})  # fmt: skip
        conn.execute(db.provider.insert(), rows)
    return engine, get_practice(engine, pid), [r["npi"] for r in rows]


def _ids(engine, pid):
    return {r.npi: r.partner_id for r in list_partners(engine, pid, TODAY).itertuples()}


def _log(engine, pid, kind, day, partner=None, follow=None, notes=None):
    return log_activity(engine, pid, kind, day, partner_id=partner, staff="Alex",
                        follow_up_due=follow, notes=notes, today=TODAY)  # fmt: skip


def test_week_runs_monday_to_sunday():
    assert outreach.week_of(TODAY) == (date(2026, 11, 23), date(2026, 11, 29))
    assert outreach.week_of(date(2026, 11, 23)) == (date(2026, 11, 23), date(2026, 11, 29))
    assert outreach.week_of(date(2026, 11, 29)) == (date(2026, 11, 23), date(2026, 11, 29))


def test_due_this_week_overdue_and_done_follow_ups(world):
    engine, practice, npis = world
    add_targets(engine, practice.id, npis[:3], when=datetime(2026, 11, 1))
    ids = _ids(engine, practice.id)
    a, b, c = (ids[n] for n in npis[:3])
    late = _log(engine, practice.id, "call", date(2026, 11, 10), a, follow=date(2026, 11, 20))
    soon = _log(engine, practice.id, "visit", date(2026, 11, 20), b, follow=date(2026, 11, 28))
    later = _log(engine, practice.id, "letter", date(2026, 11, 20), c, follow=date(2026, 12, 5))
    event = _log(engine, practice.id, "event", date(2026, 11, 2), None, follow=date(2026, 11, 9))
    acts = outreach.activities_frame(engine, practice.id)
    assert list(outreach.overdue(acts, TODAY)["activity_id"]) == [event, late]
    assert list(outreach.due_this_week(acts, TODAY)["activity_id"]) == [soon]
    assert later in set(outreach.open_follow_ups(acts)["activity_id"])
    # logging what followed up clears it; an older back-filled entry does not
    _log(engine, practice.id, "call", date(2026, 11, 1), a)
    acts = outreach.activities_frame(engine, practice.id)
    assert late in set(outreach.overdue(acts, TODAY)["activity_id"])
    _log(engine, practice.id, "visit", date(2026, 11, 25), a)
    _log(engine, practice.id, "event", date(2026, 11, 12), None)
    acts = outreach.activities_frame(engine, practice.id)
    assert outreach.overdue(acts, TODAY).empty
    assert list(outreach.due_this_week(acts, TODAY)["activity_id"]) == [soon]


def test_visits_this_week_count_visits_and_lunches_only(world):
    engine, practice, npis = world
    add_targets(engine, practice.id, npis[:1], when=datetime(2026, 11, 1))
    pid = _ids(engine, practice.id)[npis[0]]
    _log(engine, practice.id, "visit", date(2026, 11, 22), pid)  # Sunday before: last week
    acts = outreach.activities_frame(engine, practice.id)
    assert outreach.visits_in_week(acts, TODAY) == 0
    assert outreach.cadence_status(0) == "below"
    _log(engine, practice.id, "visit", date(2026, 11, 23), pid)
    _log(engine, practice.id, "lunch", date(2026, 11, 24), pid)
    _log(engine, practice.id, "call", date(2026, 11, 24), pid)
    _log(engine, practice.id, "intro_email", date(2026, 11, 25), pid)
    acts = outreach.activities_frame(engine, practice.id)
    assert outreach.visits_in_week(acts, TODAY) == 2
    assert outreach.cadence_status(2) == "on" and outreach.cadence_status(4) == "above"
    weekly = outreach.weekly_visits(acts, TODAY, weeks=3)
    assert list(weekly["week_of"]) == [date(2026, 11, 9), date(2026, 11, 16), date(2026, 11, 23)]
    assert list(weekly["visits"]) == [0, 1, 2]


def test_timeline_merges_stages_activities_and_referrals_newest_first(world):
    engine, practice, npis = world
    add_targets(engine, practice.id, npis[:1], when=datetime(2026, 11, 1, 9))
    pid = _ids(engine, practice.id)[npis[0]]
    _log(engine, practice.id, "intro_email", date(2026, 11, 2), pid, notes="<b>hello</b>")
    update_partner(engine, practice.id, pid, stage="contacted", when=datetime(2026, 11, 2, 17))
    with engine.begin() as conn:
        conn.execute(db.referral.insert().values(
            practice_id=practice.id, partner_npi=npis[0], direction="received",
            referral_date=date(2026, 11, 9), status="scheduled",
            reason_category="Knee"))  # fmt: skip
    tl = outreach.timeline(engine, practice.id, pid)
    assert list(tl["what"]) == [
        "Referral received (Knee, scheduled)",
        "Intro email",
        "Stage: Target → Contacted",
        "Added to the list",
    ]
    assert tl.loc[1, "notes"] == "<b>hello</b>"  # stored as typed; the page shows it as text
    assert outreach.timeline(engine, practice.id, 999_999).empty


def _checklist(engine, practice):
    return {i.key: i for i in outreach.weekly_checklist(engine, practice, TODAY)}


def test_checklist_identify_counts_complementary_providers_within_5_miles_this_week(world):
    engine, practice, npis = world
    # last week's additions do not count
    add_targets(engine, practice.id, npis[:1], when=datetime(2026, 11, 20))
    # this week: 1..7 miles north, the competitor at 1 mile, and one with no location
    add_targets(engine, practice.id, npis[1:], when=datetime(2026, 11, 24))
    item = _checklist(engine, practice)["identify"]
    # ortho at 2, 3, 4, 5 miles count (6, 7, 8 are too far; PT is a competitor; no location)
    assert item.value == 4 and not item.done
    assert item.label == "5 complementary providers within 5 miles identified: 4/5"
    with engine.begin() as conn:  # moving the practice a mile north brings the 6-mile one in
        conn.execute(db.practice.update().values(lat=HOME[0] + MILE_LAT))
    item = _checklist(engine, get_practice(engine, practice.id))["identify"]
    assert item.value == 5 and item.done and item.label.endswith("5/5")


def test_checklist_introductions_tracker_and_networking(world):
    engine, practice, npis = world
    add_targets(engine, practice.id, npis[:3], when=datetime(2026, 10, 1))
    ids = _ids(engine, practice.id)
    items = _checklist(engine, practice)
    assert items["introductions"].value == 0 and not items["introductions"].done
    assert items["tracker"].value == 0 and not items["tracker"].done
    assert items["networking"].value == 0 and not items["networking"].done
    _log(engine, practice.id, "intro_email", date(2026, 11, 23), ids[npis[0]])
    _log(engine, practice.id, "letter", date(2026, 11, 24), ids[npis[0]])  # same partner
    items = _checklist(engine, practice)
    assert items["introductions"].label == "Introductions sent to 2 providers: 1/2"
    assert items["tracker"].done  # two updates this week, nothing overdue
    _log(engine, practice.id, "letter", date(2026, 11, 25), ids[npis[1]])
    _log(engine, practice.id, "call", date(2026, 10, 2), ids[npis[2]], follow=date(2026, 10, 9))
    _log(engine, practice.id, "event", date(2026, 10, 30), None)  # last month: not this one
    items = _checklist(engine, practice)
    assert items["introductions"].done and items["introductions"].value == 2
    assert not items["tracker"].done and "1 overdue follow-up" in items["tracker"].label
    assert items["networking"].value == 0
    _log(engine, practice.id, "event", date(2026, 11, 2), None)
    assert _checklist(engine, practice)["networking"].done


def test_checklist_counts_referrals_received_in_30_days_without_a_follow_up(world):
    engine, practice, npis = world
    add_targets(engine, practice.id, npis[:2], when=datetime(2026, 10, 1))
    ids = _ids(engine, practice.id)

    def refer(npi, day, direction="received", **extra):
        with engine.begin() as conn:
            conn.execute(db.referral.insert().values(
                practice_id=practice.id, partner_npi=npi, direction=direction,
                referral_date=day, status="received", **extra))  # fmt: skip

    refer(npis[0], TODAY - timedelta(days=2))  # owed
    refer(npis[0], TODAY - timedelta(days=29))  # owed (day 30 of the window)
    refer(npis[0], TODAY - timedelta(days=30))  # outside the window
    refer(npis[1], TODAY - timedelta(days=5), thank_you_sent=TODAY)  # marked on the referral
    refer(npis[1], TODAY - timedelta(days=5), direction="sent")  # sent, not received
    refer(npis[2], TODAY - timedelta(days=3))  # not a partner: still owed a thank-you
    item = _checklist(engine, practice)["referral_follow_up"]
    assert item.value == 3 and not item.done
    assert item.label == "Referrals received in the last 30 days without a follow-up: 3"
    # a thank-you logged for the partner after the first referral covers both of theirs
    _log(engine, practice.id, "thank_you", TODAY - timedelta(days=1), ids[npis[0]])
    assert _checklist(engine, practice)["referral_follow_up"].value == 1


def test_activities_export_neutralises_formulas(world):
    from services.exports import to_csv_bytes

    engine, practice, npis = world
    add_targets(engine, practice.id, npis[:1], when=datetime(2026, 11, 1))
    pid = _ids(engine, practice.id)[npis[0]]
    _log(engine, practice.id, "visit", date(2026, 11, 2), pid, notes='=HYPERLINK("http://x")')
    _log(engine, practice.id, "event", date(2026, 11, 3), None, notes="@SUM(1)")
    csv = to_csv_bytes(outreach.activities_export(outreach.activities_frame(engine, practice.id)))
    text = csv.decode("utf-8-sig")
    assert "'=HYPERLINK" in text and "'@SUM(1)" in text
    assert ",=HYPERLINK" not in text and ",@SUM" not in text
    assert "(no partner)" in text and "Ortho 1" in text


def test_activities_frame_is_scoped_to_the_practice(world):
    engine, practice, _ = world
    with engine.begin() as conn:
        other = conn.execute(db.practice.insert().values(name="Other", is_demo=False))
        other_id = other.inserted_primary_key[0]
    _log(engine, other_id, "event", date(2026, 11, 3))
    assert outreach.activities_frame(engine, practice.id).empty
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(db.activity)).scalar() == 1
