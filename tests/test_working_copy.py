"""Unit tests of services.referrals.working_copy: an editor's unsaved changes on top of the store.

Two working copies of the same practice stand for two browser sessions. No Streamlit here: the
grid's deltas are the dicts `st.data_editor` leaves in session state.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from services import db, demo
from services import referrals as refs
from services.referrals.working_copy import WorkingCopy
from services.referrals.working_save import save_summary
from services.referrals.working_view import period_bounds
from tests.conftest import TODAY


@pytest.fixture
def practice_id(demo_engine):
    with demo_engine.connect() as conn:
        return demo.demo_practice_id(conn)


def opened(engine, practice_id) -> WorkingCopy:
    """A working copy as the page holds it after drawing the whole log (no filter)."""
    wc = WorkingCopy.load(engine, practice_id)
    wc.view_tokens = list(wc.filtered_view().index)
    return wc


def row(engine, referral_id):
    with engine.connect() as conn:
        return conn.execute(sa.select(db.referral).where(db.referral.c.id == referral_id)).first()


def count(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(db.referral)).scalar()


def delete_elsewhere(engine, practice_id, token: str) -> int:
    """Another session deletes the row behind `token` and saves."""
    other = opened(engine, practice_id)
    pos = other.view_tokens.index(token)
    other.apply_delta({"deleted_rows": [pos]}, TODAY)
    result = other.save(engine, TODAY)
    assert list(result.deleted.values()) == [int(token[2:])]
    return int(token[2:])


# --- no silent edit loss ----------------------------------------------------------------------


def test_an_edit_to_a_row_deleted_elsewhere_is_kept_as_a_conflict(demo_engine, practice_id):
    mine = opened(demo_engine, practice_id)
    token = mine.view_tokens[0]
    mine.apply_delta({"edited_rows": {0: {"visits": 11, "notes": "moved to PM"}}}, TODAY)
    referral_id = delete_elsewhere(demo_engine, practice_id, token)

    assert mine.sync(demo_engine)  # the log changed: the copy reloads
    assert token in mine.work.index, "the unsaved edit was dropped"
    assert mine.work.at[token, "visits"] == 11 and mine.work.at[token, "notes"] == "moved to PM"
    assert token in mine.dirty and mine.pending == 1
    [conflict] = mine.conflicts
    assert conflict.kind == "deleted" and conflict.ref == token
    assert f"Referral #{referral_id} was deleted in another session" in conflict.message
    # A second reload neither loses it nor doubles the conflict.
    mine.refresh(demo_engine)
    assert token in mine.work.index and len(mine.conflicts) == 1


def test_restore_it_with_my_changes_saves_it_again_as_a_new_referral(demo_engine, practice_id):
    mine = opened(demo_engine, practice_id)
    token = mine.view_tokens[0]
    partner = mine.work.at[token, "partner_npi"]
    mine.apply_delta({"edited_rows": {0: {"visits": 11, "notes": "moved to PM"}}}, TODAY)
    delete_elsewhere(demo_engine, practice_id, token)
    mine.sync(demo_engine)
    before = count(demo_engine)

    mine.restore(token)
    assert not mine.conflicts and mine.pending == 1
    result = mine.save(demo_engine, TODAY)
    assert not result.errors and not result.conflicts
    [new_id] = result.inserted.values()
    assert count(demo_engine) == before + 1
    saved = row(demo_engine, new_id)
    assert (saved.partner_npi, saved.visits, saved.notes) == (partner, 11, "moved to PM")
    assert mine.pending == 0 and f"id{new_id}" in mine.work.index


def test_discard_my_changes_drops_the_row_and_writes_nothing(demo_engine, practice_id):
    mine = opened(demo_engine, practice_id)
    token = mine.view_tokens[0]
    mine.apply_delta({"edited_rows": {0: {"visits": 11}}}, TODAY)
    delete_elsewhere(demo_engine, practice_id, token)
    mine.sync(demo_engine)
    before = count(demo_engine)

    mine.discard(token)
    assert token not in mine.work.index and not mine.conflicts and mine.pending == 0
    result = mine.save(demo_engine, TODAY)
    assert result.saved == 0 and count(demo_engine) == before


def test_a_row_deleted_between_reload_and_save_is_kept_too(demo_engine, practice_id):
    mine = opened(demo_engine, practice_id)
    token = mine.view_tokens[0]
    mine.apply_delta({"edited_rows": {0: {"visits": 12}}}, TODAY)
    delete_elsewhere(demo_engine, practice_id, token)  # no sync: the save finds it gone

    result = mine.save(demo_engine, TODAY)
    assert [c.kind for c in result.conflicts] == ["deleted"]
    assert token in mine.work.index and mine.work.at[token, "visits"] == 12
    assert [c.kind for c in mine.conflicts] == ["deleted"]


def test_use_mine_restores_a_deleted_row_and_overwrites_a_changed_one(demo_engine, practice_id):
    mine = opened(demo_engine, practice_id)
    gone, changed = mine.view_tokens[0], mine.view_tokens[1]
    mine.apply_delta({"edited_rows": {0: {"visits": 21}, 1: {"visits": 22}}}, TODAY)
    theirs = opened(demo_engine, practice_id)
    theirs.apply_delta({"edited_rows": {theirs.view_tokens.index(changed): {"visits": 5}}}, TODAY)
    theirs.save(demo_engine, TODAY)
    delete_elsewhere(demo_engine, practice_id, gone)

    result = mine.save(demo_engine, TODAY)
    assert sorted(c.kind for c in mine.conflicts) == ["changed", "deleted"]
    assert row(demo_engine, int(changed[2:])).visits == 5  # theirs stands for now
    assert not result.updated

    mine.resolve_conflicts(demo_engine, "mine")
    assert not mine.conflicts
    result = mine.save(demo_engine, TODAY)
    assert not result.conflicts and not result.errors
    assert row(demo_engine, int(changed[2:])).visits == 22
    [new_id] = result.inserted.values()
    assert row(demo_engine, new_id).visits == 21


def test_keep_theirs_discards_both_kinds(demo_engine, practice_id):
    mine = opened(demo_engine, practice_id)
    gone, changed = mine.view_tokens[0], mine.view_tokens[1]
    mine.apply_delta({"edited_rows": {0: {"visits": 21}, 1: {"visits": 22}}}, TODAY)
    theirs = opened(demo_engine, practice_id)
    theirs.apply_delta({"edited_rows": {theirs.view_tokens.index(changed): {"visits": 5}}}, TODAY)
    theirs.save(demo_engine, TODAY)
    delete_elsewhere(demo_engine, practice_id, gone)
    mine.save(demo_engine, TODAY)

    mine.resolve_conflicts(demo_engine, "theirs")
    assert not mine.conflicts and mine.pending == 0
    assert gone not in mine.work.index and mine.work.at[changed, "visits"] == 5


def test_use_mine_on_a_refused_delete_deletes_on_the_next_save(demo_engine, practice_id):
    mine = opened(demo_engine, practice_id)
    token = mine.view_tokens[0]
    mine.apply_delta({"deleted_rows": [0]}, TODAY)
    theirs = opened(demo_engine, practice_id)
    theirs.apply_delta({"edited_rows": {theirs.view_tokens.index(token): {"visits": 5}}}, TODAY)
    theirs.save(demo_engine, TODAY)

    mine.save(demo_engine, TODAY)
    assert [c.kind for c in mine.conflicts] == ["delete_refused"]
    assert row(demo_engine, int(token[2:])) is not None
    mine.resolve_conflicts(demo_engine, "mine")
    result = mine.save(demo_engine, TODAY)
    assert list(result.deleted.values()) == [int(token[2:])]
    assert row(demo_engine, int(token[2:])) is None


# --- the rest of the copy's job ---------------------------------------------------------------


def test_another_sessions_save_is_picked_up_and_my_edits_stay_on_top(demo_engine, practice_id):
    mine = opened(demo_engine, practice_id)
    a, b = mine.view_tokens[0], mine.view_tokens[1]
    mine.apply_delta({"edited_rows": {0: {"visits": 3}}}, TODAY)
    assert not mine.sync(demo_engine)  # nothing changed yet
    theirs = opened(demo_engine, practice_id)
    theirs.apply_delta({"edited_rows": {theirs.view_tokens.index(b): {"visits": 9}}}, TODAY)
    theirs.save(demo_engine, TODAY)
    assert mine.sync(demo_engine)
    assert mine.work.at[a, "visits"] == 3 and mine.work.at[b, "visits"] == 9
    assert mine.dirty == {a}


def test_marking_a_follow_up_moves_the_log_revision(demo_engine, practice_id):
    """The one definition of "the log changed" sees a write that keeps `updated_at`."""
    before = refs.log_revision(demo_engine, [practice_id])
    owed = refs.follow_ups_owed(refs.load_referrals(demo_engine, practice_id), TODAY)
    referral_id = int(owed.iloc[0]["id"])
    assert refs.mark_follow_up_done(demo_engine, practice_id, referral_id, owed.iloc[0]["kind"])
    assert refs.log_revision(demo_engine, [practice_id]) != before


def test_added_rows_get_defaults_and_deltas_follow_the_view_not_the_table(demo_engine, practice_id):
    mine = WorkingCopy.load(demo_engine, practice_id)
    sent = mine.filtered_view(directions=["sent"])
    mine.view_tokens = list(sent.index)
    partner = mine.work.at[mine.view_tokens[0], "partner_npi"]
    mine.apply_delta(
        {"edited_rows": {0: {"visits": 4}}, "added_rows": [{"partner_npi": partner}]}, TODAY
    )
    assert mine.work.at[sent.index[0], "visits"] == 4
    new = mine.work.loc["new1"]
    assert (new["referral_date"], new["direction"], new["status"]) == (
        TODAY,
        "received",
        "received",
    )
    # unsaved rows show under any filter
    assert "new1" in mine.filtered_view(directions=["sent"]).index
    result = mine.save(demo_engine, TODAY)
    assert save_summary(result) == "Saved: 1 added, 1 changed."


def test_notes_that_identify_a_patient_are_warned_about_before_saving(demo_engine, practice_id):
    mine = opened(demo_engine, practice_id)
    mine.apply_delta(
        {"edited_rows": {0: {"notes": "Call Jane at 303-555-0199 or jane@example.org"}}}, TODAY
    )
    [(label, warning)] = mine.note_warnings()
    assert label == f"referral #{int(mine.view_tokens[0][2:])}"
    assert "a phone number" in warning and "an email address" in warning
    check = mine.check_messages(mine.view_tokens[:2])
    assert check[0].startswith("unsaved; the notes seem to hold") and check[1] == ""


def test_period_bounds():
    assert period_bounds("Last 30 days", TODAY) == (TODAY - timedelta(days=29), TODAY)
    assert period_bounds("All time", TODAY) == (None, None)
    assert period_bounds("Custom range", TODAY, (TODAY,)) == (TODAY, TODAY)
