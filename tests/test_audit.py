"""The audit trail: a row for every kind of write, append-only, and undo for deletes."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pandas as pd
import pytest
import sqlalchemy as sa

from services import activities, audit, audit_trail, auth, db, letters, partners, practices
from services import referrals as refs
from tests.conftest import TODAY

A = db.audit_log


def trail(engine, table: str | None = None) -> list[sa.RowMapping]:
    query = sa.select(A).order_by(A.c.id)
    if table:
        query = query.where(A.c.table_name == table)
    with engine.connect() as conn:
        return list(conn.execute(query).mappings())


def last(engine, table: str) -> sa.RowMapping:
    rows = trail(engine, table)
    assert rows, f"no audit row for {table}"
    return rows[-1]


@pytest.fixture
def clinic(demo_engine):
    """A real practice with two partners (one with an activity), acting as its owner."""
    practice = practices.create_practice(
        demo_engine, practices.PracticeInput(name="Real PT", zip="80203", lat=39.73, lon=-104.98)
    )
    with demo_engine.connect() as conn:
        npis = [r[0] for r in conn.execute(sa.select(db.provider.c.npi).limit(3))]
    partners.add_targets(demo_engine, practice.id, npis[:2], when=datetime(2026, 11, 1, 9))
    frame = partners.list_partners(demo_engine, practice.id, TODAY)
    ids = dict(zip(frame["npi"], frame["partner_id"], strict=True))
    return demo_engine, practice.id, [int(ids[n]) for n in npis[:2]], npis


def test_practice_writes_are_audited_with_before_and_after(demo_engine):
    with auth.acting_as(auth.Actor("boss@clinic.test", everywhere=auth.OWNER)):
        p = practices.create_practice(
            demo_engine, practices.PracticeInput(name="North", zip="80203")
        )
        practices.update_practice(
            demo_engine, p.id, practices.PracticeInput(name="North PT", zip="80203")
        )
        practices.delete_practice(demo_engine, p.id)
    rows = [r for r in trail(demo_engine, "practice") if r["record_id"] == p.id]
    assert [r["action"] for r in rows] == ["insert", "update", "delete"]
    assert all(r["actor"] == "boss@clinic.test" and r["practice_id"] == p.id for r in rows)
    assert rows[0]["before"] is None and json.loads(rows[0]["after"])["name"] == "North"
    assert json.loads(rows[1]["before"])["name"] == "North"
    assert json.loads(rows[1]["after"])["name"] == "North PT"
    assert json.loads(rows[2]["before"])["name"] == "North PT" and rows[2]["after"] is None
    assert len({r["txn"] for r in rows}) == 3  # one transaction each


def test_partner_and_stage_history_writes_are_audited(clinic):
    engine, pid, (first, second), _ = clinic
    added = [r for r in trail(engine, "partner") if r["practice_id"] == pid]
    assert {r["record_id"] for r in added} == {first, second}
    assert all(r["action"] == "insert" for r in added)
    history = [r for r in trail(engine, "partner_stage_history") if r["practice_id"] == pid]
    assert len(history) == 2 and {json.loads(r["after"])["partner_id"] for r in history} == {
        first,
        second,
    }
    partners.set_stage(engine, pid, [first], "contacted", when=datetime(2026, 11, 5, 9))
    update = last(engine, "partner")
    assert update["action"] == "update" and update["record_id"] == first
    assert json.loads(update["before"])["stage"] == "target"
    assert json.loads(update["after"])["stage"] == "contacted"
    change = last(engine, "partner_stage_history")
    assert change["action"] == "insert" and change["practice_id"] == pid
    assert json.loads(change["after"])["to_stage"] == "contacted"
    assert change["txn"] == update["txn"]  # the move and its history row are one change


def test_activity_letter_template_and_user_writes_are_audited(clinic):
    engine, pid, (first, _), _ = clinic
    activity_id = activities.log_activity(
        engine, pid, "visit", TODAY, partner_id=first, staff="Sam", today=TODAY
    )
    row = last(engine, "activity")
    assert (row["action"], row["record_id"], row["practice_id"]) == ("insert", activity_id, pid)
    assert json.loads(row["after"])["staff"] == "Sam"

    letters.save_template(engine, pid, "intro", "Dear {partner}, hello.")
    letters.save_template(engine, pid, "intro", "Dear {partner}, hello again.")
    letters.reset_template(engine, pid, "intro")
    rows = [r for r in trail(engine, "letter_template") if r["practice_id"] == pid]
    assert [r["action"] for r in rows] == ["insert", "update", "delete"]
    assert json.loads(rows[1]["after"])["body"].endswith("hello again.")

    auth.set_role(engine, pid, "Liz@Clinic.test", auth.LIAISON)
    auth.set_role(engine, pid, "liz@clinic.test", auth.VIEWER)
    auth.remove_member(engine, pid, "liz@clinic.test")
    rows = trail(engine, "app_user")
    assert [r["action"] for r in rows] == ["insert", "update", "delete"]
    assert json.loads(rows[0]["after"])["email"] == "liz@clinic.test"
    assert json.loads(rows[1]["before"])["role"] == "liaison"
    assert json.loads(rows[1]["after"])["role"] == "viewer"


def test_referral_insert_edit_delete_are_audited(demo_engine):
    with demo_engine.connect() as conn:
        pid = conn.execute(sa.select(db.practice.c.id).where(db.practice.c.is_demo)).scalar()
    frame = refs.load_referrals(demo_engine, pid)
    first, second = frame.iloc[0], frame.iloc[1]
    values = {f: first[f] for f in refs.FIELDS}
    new = {**values, "referral_date": TODAY - timedelta(days=2), "notes": "new one"}
    result = refs.save_changes(
        demo_engine, pid,
        added=[("a", "new row", new)],
        edited=[refs.Edit("e", int(first["id"]), int(first["version"]), {**values, "visits": 7})],
        deleted=[("d", int(second["id"]), int(second["version"]))],
        today=TODAY,
    )  # fmt: skip
    assert result.errors == {} and result.conflicts == []
    rows = trail(demo_engine, "referral")[-3:]
    by_action = {r["action"]: r for r in rows}
    assert by_action["insert"]["record_id"] == result.inserted["a"]
    assert json.loads(by_action["insert"]["after"])["notes"] == "new one"
    assert json.loads(by_action["update"]["after"])["visits"] == 7
    assert json.loads(by_action["update"]["after"])["version"] == int(first["version"]) + 1
    assert by_action["delete"]["record_id"] == int(second["id"])
    assert by_action["delete"]["after"] is None
    assert len({r["txn"] for r in rows}) == 1


def test_a_referrer_known_only_by_name_is_audited_and_viewers_cannot_add_one(clinic):
    engine, pid, _, _ = clinic
    viewer = auth.Actor("val@clinic.test", {pid: auth.VIEWER})
    with auth.acting_as(viewer), pytest.raises(auth.PermissionDenied):
        refs.add_referrer(engine, pid, name="Dr Forged")
    key = refs.add_referrer(engine, pid, name="Dr Wells")
    row = last(engine, "named_referrer")
    assert (row["action"], row["practice_id"]) == ("insert", pid)
    assert json.loads(row["after"])["name"] == "Dr Wells" and key.endswith(str(row["record_id"]))
    assert all(
        json.loads(r["after"])["name"] != "Dr Forged" for r in trail(engine, "named_referrer")
    )


def test_a_bulk_import_writes_one_audit_row_per_referral(demo_engine):
    from services import importer

    with demo_engine.connect() as conn:
        pid = conn.execute(sa.select(db.practice.c.id).where(db.practice.c.is_demo)).scalar()
        npi = conn.execute(
            sa.select(db.partner.c.npi).where(db.partner.c.practice_id == pid).limit(1)
        ).scalar()
    lines = ["Date,Referring NPI,Diagnosis"] + [
        f"{(TODAY - timedelta(days=i % 30)).isoformat()},{npi},Knee" for i in range(120)
    ]
    sheets = importer.read_tracker("\n".join(lines).encode(), "t.csv")
    mappings = {s.name: importer.suggest_mapping(list(s.frame.columns)) for s in sheets}
    plan = importer.plan_import(
        demo_engine, pid, sheets, mappings, {s.name: "received" for s in sheets}, scope_demo=True
    )
    before = len(trail(demo_engine, "referral"))
    assert importer.run_import(demo_engine, pid, plan) == 120
    rows = trail(demo_engine, "referral")[before:]
    assert len(rows) == 120 and {r["action"] for r in rows} == {"insert"}
    with demo_engine.connect() as conn:
        stored = {
            r[0]
            for r in conn.execute(
                sa.select(db.referral.c.id).where(db.referral.c.practice_id == pid)
            )
        }
    assert {r["record_id"] for r in rows} <= stored
    assert {json.loads(r["after"])["partner_npi"] for r in rows} == {npi}
    # each "after" is the row exactly as stored (dates, defaults and all)
    with demo_engine.connect() as conn:
        r = db.referral
        ids = [row["record_id"] for row in rows]
        as_stored = {
            m["id"]: json.loads(audit._Encoder()(dict(m)))
            for m in conn.execute(sa.select(r).where(r.c.id.in_(ids))).mappings()
        }
    assert all(json.loads(row["after"]) == as_stored[row["record_id"]] for row in rows)
    newest = audit_trail.history(demo_engine, pid, table="referral", limit=120)
    assert {e.record_id for e in newest} == set(ids)
    assert all(abs(e.at - datetime.now(UTC)) < timedelta(minutes=5) for e in newest)


def test_audit_time_is_utc_and_read_back_aware(clinic):
    engine, pid, (first, _), _ = clinic
    start = datetime.now(UTC) - timedelta(seconds=5)
    partners.update_partner(engine, pid, first, notes="call Tuesdays")
    entries = audit_trail.history(engine, pid, table="partner", record_id=first)
    assert entries[0].action == "update" and entries[0].changed[-1] in ("notes", "updated_at")
    assert "notes" in entries[0].changed
    assert entries[0].at.tzinfo is not None and entries[0].at.utcoffset() == timedelta(0)
    assert start <= entries[0].at <= datetime.now(UTC) + timedelta(seconds=5)


def test_a_rolled_back_write_leaves_no_audit_row(clinic):
    engine, _pid, (first, _), _ = clinic
    n = len(trail(engine))
    with pytest.raises(RuntimeError), engine.begin() as conn:
        conn.execute(db.partner.update().where(db.partner.c.id == first).values(notes="x"))
        raise RuntimeError("boom")
    assert len(trail(engine)) == n


def test_the_trail_is_append_only(clinic):
    engine, _pid, _, _ = clinic
    assert trail(engine)
    for statement in (A.update().values(actor="someone else"), A.delete()):
        with pytest.raises(audit.AuditError), engine.begin() as conn:
            conn.execute(statement)
    for sql in ("UPDATE audit_log SET actor = 'x'", "DELETE FROM audit_log"):
        with pytest.raises(audit.AuditError), engine.begin() as conn:
            conn.exec_driver_sql(sql)
    assert all(r["actor"] != "x" for r in trail(engine))
    # raw SQL that would skip the trail on an audited table is refused too
    with pytest.raises(audit.AuditError), engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM partner")


def test_history_filters_by_table_record_actor_action_and_dates(clinic):
    engine, pid, (first, second), _ = clinic
    with auth.acting_as(auth.Actor("ann@clinic.test", {pid: auth.LIAISON})):
        partners.update_partner(engine, pid, second, notes="Ann's note")
    everything = audit_trail.history(engine, pid)
    assert [e.id for e in everything] == sorted((e.id for e in everything), reverse=True)
    assert {e.table_name for e in everything} >= {"practice", "partner", "partner_stage_history"}
    by_ann = audit_trail.history(engine, pid, actor="ann@clinic.test")
    assert [(e.table_name, e.record_id, e.action) for e in by_ann] == [
        ("partner", second, "update")
    ]
    assert audit_trail.history(engine, pid, table="partner", record_id=first, action="delete") == []
    assert audit_trail.history(engine, pid, since=TODAY + timedelta(days=3650)) == []
    assert len(audit_trail.history(engine, pid, until=date.today())) == len(everything)
    assert "ann@clinic.test" in audit_trail.actors(engine, pid)


def test_undo_a_partner_removal_restores_history_and_activities(clinic):
    engine, pid, (first, _), npis = clinic
    partners.set_stage(engine, pid, [first], "contacted", when=datetime(2026, 11, 5, 9))
    activity_id = activities.log_activity(
        engine, pid, "visit", TODAY, partner_id=first, today=TODAY
    )
    h = db.partner_stage_history
    with engine.connect() as conn:
        history_before = conn.execute(
            sa.select(h).where(h.c.partner_id == first).order_by(h.c.id)
        ).all()
    assert partners.remove_partner(engine, pid, first, confirmed=True)
    removal = audit_trail.history(engine, pid, table="partner", record_id=first, action="delete")[0]
    assert removal.undoable

    undone = audit_trail.undo_delete(engine, removal.id)
    assert {s.table_name for s in undone} == {"partner", "partner_stage_history", "activity"}
    with engine.connect() as conn:
        back = conn.execute(sa.select(db.partner).where(db.partner.c.id == first)).mappings().one()
        history_after = conn.execute(
            sa.select(h).where(h.c.partner_id == first).order_by(h.c.id)
        ).all()
        link = conn.execute(
            sa.select(db.activity.c.partner_id).where(db.activity.c.id == activity_id)
        ).scalar()
    assert back["stage"] == "contacted" and back["npi"] == npis[0]
    assert history_after == history_before
    assert link == first
    restored = audit_trail.history(engine, pid, table="partner", record_id=first, action="insert")
    assert restored and restored[0].note == f"undo of history entry #{removal.id}"
    with pytest.raises(audit.AuditError, match="already back"):
        audit_trail.undo_delete(engine, removal.id)


def test_undo_a_referral_deletion(demo_engine):
    with demo_engine.connect() as conn:
        pid = conn.execute(sa.select(db.practice.c.id).where(db.practice.c.is_demo)).scalar()
    row = refs.load_referrals(demo_engine, pid).iloc[0]
    refs.save_changes(
        demo_engine, pid, deleted=[("d", int(row["id"]), int(row["version"]))], today=TODAY
    )
    entry = audit_trail.history(demo_engine, pid, table="referral", action="delete")[0]
    audit_trail.undo_delete(demo_engine, entry.id)
    again = refs.load_referrals(demo_engine, pid).set_index("id").loc[int(row["id"])]
    for f in ("partner_npi", "referral_date", "status", "visits", "version"):
        same = (
            pd.isna(again[f]) if pd.isna(row[f]) else (not pd.isna(again[f]) and again[f] == row[f])
        )
        assert same, f


def test_only_deletes_of_partners_and_referrals_can_be_undone(clinic):
    engine, pid, (first, _), _ = clinic
    partners.update_partner(engine, pid, first, notes="n")
    update = audit_trail.history(engine, pid, table="partner", action="update")[0]
    with pytest.raises(audit.AuditError, match="Only the removal"):
        audit_trail.undo_delete(engine, update.id)


def test_undo_is_refused_when_the_provider_was_added_again(clinic):
    engine, pid, (first, _), npis = clinic
    partners.remove_partner(engine, pid, first, confirmed=True)
    removal = audit_trail.history(engine, pid, table="partner", action="delete")[0]
    partners.add_targets(engine, pid, [npis[0]])
    with pytest.raises(audit.AuditError, match="added again"):
        audit_trail.undo_delete(engine, removal.id)
    assert len(partners.list_partners(engine, pid, TODAY)) == 2  # nothing half-restored


def test_the_history_page_shows_one_records_history_from_the_url(app_test):
    from components.session import get_engine

    at = app_test().run()
    pid = at.session_state["practice_id"]
    engine = get_engine()
    first = int(partners.list_partners(engine, pid, TODAY)["partner_id"].iloc[0])
    partners.update_partner(engine, pid, first, notes="Lunch visits only")
    partners.remove_partner(engine, pid, first, confirmed=True)
    at.query_params["table"] = "partner"
    at.query_params["record"] = str(first)
    at.switch_page("pages/history.py").run()
    assert not at.exception, at.exception
    shown = at.dataframe[0].value
    assert list(shown["Action"]) == ["removed", "changed", "added"]
    assert set(shown["Record"].str.startswith(f"Partner #{first} ")) == {True}
    assert "notes: — → Lunch visits only" in list(shown["Change"])
    at.selectbox(key="hist_action").select("delete").run()
    assert list(at.dataframe[0].value["Action"]) == ["removed"]
