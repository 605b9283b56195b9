"""AppTest of the Referral log page: edits through the editor's session state reach the
database; a second session's conflicting save is refused with both values; follow-ups, import
and filters work on the real app (app.py around the page)."""

from __future__ import annotations

import sqlalchemy as sa

from components.session import get_engine
from services import db
from services import referrals as refs


def open_log(app_test):
    at = app_test().run()
    at.switch_page("pages/referrals.py").run()
    assert not at.exception, at.exception
    return at


def editor(at):
    return at.data_editor[0]


def edit(at, delta):
    key = editor(at).key
    at.session_state[key] = {"edited_rows": {}, "added_rows": [], "deleted_rows": [], **delta}
    at.run()
    assert not at.exception, at.exception


def table_with(at, column: str):
    """The first st.dataframe (not the editor) having `column` (display tables carry no key)."""
    for df in at.dataframe:
        if not (df.key or "").startswith("ref_editor") and column in df.value.columns:
            return df.value
    raise AssertionError(f"no table with a {column!r} column")


def row_of(referral_id: int):
    with get_engine().connect() as conn:
        return conn.execute(sa.select(db.referral).where(db.referral.c.id == referral_id)).first()


def referral_count() -> int:
    with get_engine().connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(db.referral)).scalar()


def test_the_page_says_why_there_is_no_patient_column(app_test):
    at = open_log(app_test)
    assert [t.value for t in at.title] == ["Referral log"]
    assert "No patient identifiers" in at.caption[0].value
    columns = list(editor(at).value.columns)
    assert not [c for c in columns if "patient" in c or "name" in c or "dob" in c]
    assert len(editor(at).value) == 45  # the demo practice's referrals


def test_add_edit_and_delete_through_the_editor_reach_the_database(app_test):
    at = open_log(app_test)
    table = editor(at).value
    first_id, third_id = int(table.iloc[0]["ref"][1:]), int(table.iloc[2]["ref"][1:])
    partner = table.iloc[0]["partner_npi"]
    n = referral_count()
    edit(
        at,
        {
            "edited_rows": {0: {"status": "scheduled", "visits": 3, "notes": "=1+1"}},
            "added_rows": [
                {"partner_npi": partner, "referral_date": "2026-11-20", "reason_category": "Knee"}
            ],
            "deleted_rows": [2],
        },
    )
    # Applied to the working table, not yet written; a rerun keeps them.
    assert row_of(first_id).visits is None
    at.run()
    assert at.button(key="ref_save").label == "Save 3 change(s)"
    at.button(key="ref_save").click().run()
    assert not at.exception, at.exception
    assert "Saved: 1 added, 1 changed, 1 deleted." in [s.value for s in at.success]
    saved = row_of(first_id)
    assert (saved.status, saved.visits, saved.notes, saved.version) == ("scheduled", 3, "=1+1", 2)
    assert row_of(third_id) is None
    assert referral_count() == n  # one added, one deleted
    with get_engine().connect() as conn:
        new = conn.execute(
            sa.select(db.referral).where(db.referral.c.reason_category == "Knee")
            .order_by(db.referral.c.id.desc())
        ).first()  # fmt: skip
    assert new.partner_npi == partner and str(new.referral_date) == "2026-11-20"
    assert new.direction == "received" and new.status == "received"  # the row's defaults
    assert "new" not in list(editor(at).value["ref"])  # the saved row now has its number


def test_an_invalid_row_is_reported_and_the_valid_edits_are_kept(app_test):
    at = open_log(app_test)
    table = editor(at).value
    first_id = int(table.iloc[0]["ref"][1:])
    partner = table.iloc[0]["partner_npi"]
    n = referral_count()
    edit(
        at,
        {
            "edited_rows": {0: {"visits": 2}, 1: {"status": "lost"}},  # lost needs a reason
            "added_rows": [{"partner_npi": partner, "visits": -4, "referral_date": "2026-11-21"}],
        },
    )
    at.button(key="ref_save").click().run()
    assert not at.exception, at.exception
    assert row_of(first_id).visits == 2
    assert referral_count() == n
    errors = table_with(at, "problem")
    assert set(errors["field"]) == {"lost reason", "visits"}
    assert {"new row 1", f"referral #{int(table.iloc[1]['ref'][1:])}"} == set(errors["row"])
    # The failed rows stay in the grid with their edits and messages, even after a rerun.
    at.run()
    grid = editor(at).value
    assert "visits: cannot be negative" in " ".join(grid["check"])
    assert grid.iloc[1]["status"] == "lost"
    assert at.button(key="ref_save").label == "Save 2 change(s)"


def test_edits_survive_a_page_change(app_test):
    at = open_log(app_test)
    edit(at, {"edited_rows": {0: {"visits": 6}}})
    at.switch_page("pages/targets.py").run()
    at.switch_page("pages/referrals.py").run()
    assert editor(at).value.iloc[0]["visits"] == 6
    assert at.button(key="ref_save").label == "Save 1 change(s)"


def test_two_sessions_editing_the_same_referral_do_not_overwrite_each_other(app_test):
    alice = open_log(app_test)
    bob = open_log(app_test)
    referral_id = int(editor(alice).value.iloc[0]["ref"][1:])
    edit(bob, {"edited_rows": {0: {"visits": 7}}})  # Bob edits first, saves later
    edit(alice, {"edited_rows": {0: {"visits": 5}}})
    alice.button(key="ref_save").click().run()
    assert row_of(referral_id).visits == 5

    bob.button(key="ref_save").click().run()
    assert not bob.exception, bob.exception
    messages = [e.value for e in bob.error]
    assert any(
        f"Referral #{referral_id} was changed in another session" in m
        and "visits: yours '7', theirs '5'" in m
        for m in messages
    ), messages
    assert row_of(referral_id).visits == 5  # Alice's save stands
    assert row_of(referral_id).version == 2

    # Bob decides: his value wins on the next save, stated knowingly.
    bob.button(key="ref_keep_mine").click().run()
    bob.button(key="ref_save").click().run()
    assert not bob.error
    assert (row_of(referral_id).visits, row_of(referral_id).version) == (7, 3)


def test_keep_theirs_drops_this_sessions_edit(app_test):
    alice = open_log(app_test)
    bob = open_log(app_test)
    referral_id = int(editor(alice).value.iloc[0]["ref"][1:])
    edit(bob, {"edited_rows": {0: {"visits": 7}}})
    edit(alice, {"edited_rows": {0: {"visits": 5}}})
    alice.button(key="ref_save").click().run()
    bob.button(key="ref_save").click().run()
    bob.button(key="ref_keep_theirs").click().run()
    assert editor(bob).value.iloc[0]["visits"] == 5
    assert at_save_disabled(bob)
    assert row_of(referral_id).visits == 5


def at_save_disabled(at) -> bool:
    return at.button(key="ref_save").disabled


def test_another_sessions_save_shows_up_without_a_reload(app_test):
    alice = open_log(app_test)
    bob = open_log(app_test)
    edit(alice, {"edited_rows": {0: {"visits": 9}}})
    alice.button(key="ref_save").click().run()
    bob.run()
    assert editor(bob).value.iloc[0]["visits"] == 9


def test_marking_a_follow_up_done_logs_it(app_test):
    at = open_log(app_test)
    buttons = [b for b in at.button if b.key and b.key.startswith("ref_done:thank_you:")]
    assert buttons
    referral_id = int(buttons[0].key.rsplit(":", 1)[1])
    buttons[0].click().run()
    assert not at.exception, at.exception
    assert row_of(referral_id).thank_you_sent is not None
    with get_engine().connect() as conn:
        kinds = (
            conn.execute(
                sa.select(db.activity.c.kind).where(
                    db.activity.c.notes.contains(f"(#{referral_id})")
                )
            )
            .scalars()
            .all()
        )
    assert kinds == ["thank_you"]
    assert f"ref_done:thank_you:{referral_id}" not in [b.key for b in at.button]
    assert any("marked sent and logged" in s.value for s in at.success)


def test_conversion_tab_shows_the_funnel_and_leakage(app_test):
    at = open_log(app_test)
    labels = [m.label for m in at.metric]
    assert "Leaked (went elsewhere)" in labels and "Median days to first visit" in labels
    received = next(m for m in at.metric if m.label == "Received")
    assert int(received.value) == 36  # the demo's received referrals
    spec = at.get("plotly_chart")[0].proto.spec
    assert '"funnel"' in spec
    per_partner = table_with(at, "evaluated_rate")
    assert per_partner["received"].sum() == 36


def test_filters_narrow_the_grid(app_test):
    at = open_log(app_test)
    at.multiselect(key="ref_f_dir").set_value(["sent"]).run()
    grid = editor(at).value
    assert 0 < len(grid) < 45 and set(grid["direction"]) == {"sent"}
    at.multiselect(key="ref_f_status").set_value(["lost"]).run()
    assert set(editor(at).value["status"]) <= {"lost"}


def test_an_edit_under_a_filter_lands_on_the_row_shown(app_test):
    at = open_log(app_test)
    at.multiselect(key="ref_f_dir").set_value(["sent"]).run()
    shown = editor(at).value
    target_id = int(shown.iloc[1]["ref"][1:])
    edit(at, {"edited_rows": {1: {"visits": 11}}})
    at.button(key="ref_save").click().run()
    assert row_of(target_id).visits == 11


def test_import_with_bad_rows_writes_nothing_until_valid_rows_are_accepted(app_test):
    at = open_log(app_test)
    n = referral_count()
    csv = (
        b"Date,Patient Name,Referred by,Reason,Visits\n"
        b"2026-11-20,Jane Roe,Alpha Clinic,Knee,2\n"
        b"31/02/2026,John Roe,Beta Clinic,Hip,\n"
        b"2026-11-21,Ann Roe,Gamma Clinic,Neck,-1\n"
    )
    at.session_state["ref_import_file"] = ("tracker.csv", csv)
    at.run()
    assert not at.exception, at.exception
    assert any("Patient Name" in w.value for w in at.warning)
    report = table_with(at, "problem")
    assert list(report["field"]) == ["date", "visits"]
    at.button(key="ref_import_go").click().run()
    assert any("nothing was imported" in e.value for e in at.error)
    assert referral_count() == n
    at.checkbox(key="ref_import_only_valid").check().run()
    at.button(key="ref_import_go").click().run()
    assert not at.exception, at.exception
    assert referral_count() == n + 1
    assert any("Imported 1 referrals." in s.value for s in at.success)


def test_a_binary_file_named_csv_is_refused_on_the_page(app_test):
    at = open_log(app_test)
    at.session_state["ref_import_file"] = ("photo.csv", bytes(range(256)) * 10)
    at.run()
    assert not at.exception, at.exception
    assert any("cannot be imported" in e.value for e in at.error)


def test_adding_a_referrer_by_name_makes_it_pickable(app_test):
    at = open_log(app_test)
    at.text_input(key="ref_new_name").input("Dr. Ana Ruiz")
    at.button[[b.label for b in at.button].index("Add referrer")].click().run()
    assert not at.exception, at.exception
    with get_engine().connect() as conn:
        rid = conn.execute(sa.select(db.named_referrer.c.id)).scalar()
    options = at.selectbox(key="ref_f_partner").options
    assert any("Dr. Ana Ruiz · no NPI" in o for o in options)
    edit(at, {"added_rows": [{"partner_npi": refs.named_key(rid), "referral_date": "2026-11-25"}]})
    at.button(key="ref_save").click().run()
    with get_engine().connect() as conn:
        assert (
            conn.execute(
                sa.select(sa.func.count()).where(db.referral.c.partner_npi == refs.named_key(rid))
            ).scalar()
            == 1
        )


def test_bad_input_in_the_grid_is_refused_without_a_crash_or_a_partial_write(app_test):
    at = open_log(app_test)
    table = editor(at).value
    ids = [int(r[1:]) for r in table["ref"].iloc[:4]]
    before = [row_of(i) for i in ids]
    edit(
        at,
        {
            "edited_rows": {
                0: {"referral_date": "31/02/2026"},
                1: {"visits": -1},
                2: {"status": "teleported"},
                3: {"notes": "n" * 100_000},
            }
        },
    )
    at.button(key="ref_save").click().run()
    assert not at.exception, at.exception
    assert [row_of(i) for i in ids] == before  # nothing written, versions unchanged
    problems = table_with(at, "problem")
    assert list(problems["field"]) == ["date", "visits", "status", "notes"]
    assert "100,000" in problems["problem"].iloc[3]


def test_partner_and_date_range_filters(app_test):
    from datetime import date

    at = open_log(app_test)
    partner = editor(at).value["partner_npi"].iloc[0]
    at.selectbox(key="ref_f_partner").set_value(partner).run()
    grid = editor(at).value
    assert len(grid) > 1 and set(grid["partner_npi"]) == {partner}
    at.selectbox(key="ref_f_partner").set_value(None).run()
    at.selectbox(key="ref_f_period").set_value("Custom range").run()
    at.date_input(key="ref_f_range").set_value((date(2026, 11, 1), date(2026, 11, 15))).run()
    assert not at.exception, at.exception
    dates = editor(at).value["referral_date"].dt.date
    assert len(dates) > 0
    assert dates.min() >= date(2026, 11, 1) and dates.max() <= date(2026, 11, 15)


# --- no silent edit loss -----------------------------------------------------------------------


def delete_in_another_session(app_test, referral_id: int) -> None:
    other = open_log(app_test)
    pos = [int(r[1:]) for r in editor(other).value["ref"]].index(referral_id)
    edit(other, {"deleted_rows": [pos]})
    other.button(key="ref_save").click().run()
    assert row_of(referral_id) is None


def test_an_edit_to_a_row_deleted_elsewhere_is_kept_and_can_be_restored(app_test):
    at = open_log(app_test)
    referral_id = int(editor(at).value.iloc[0]["ref"][1:])
    edit(at, {"edited_rows": {0: {"visits": 17, "notes": "keep me"}}})
    delete_in_another_session(app_test, referral_id)
    n = referral_count()

    at.run()
    assert not at.exception, at.exception
    assert any(
        f"Referral #{referral_id} was deleted in another session" in e.value for e in at.error
    )
    grid = editor(at).value
    kept = grid[grid["notes"] == "keep me"]
    assert len(kept) == 1 and int(kept["visits"].iloc[0]) == 17
    at.button(key=f"ref_restore:id{referral_id}").click().run()
    assert not at.error
    at.button(key="ref_save").click().run()
    assert not at.exception, at.exception
    assert referral_count() == n + 1
    with get_engine().connect() as conn:
        restored = conn.execute(
            sa.select(db.referral).where(db.referral.c.notes == "keep me")
        ).first()
    assert restored is not None and restored.visits == 17


def test_discard_my_changes_drops_an_edit_to_a_deleted_row(app_test):
    at = open_log(app_test)
    referral_id = int(editor(at).value.iloc[0]["ref"][1:])
    edit(at, {"edited_rows": {0: {"visits": 17}}})
    delete_in_another_session(app_test, referral_id)
    n = referral_count()
    at.run()
    at.button(key=f"ref_discard_mine:id{referral_id}").click().run()
    assert not at.error and at_save_disabled(at)
    assert f"#{referral_id}" not in list(editor(at).value["ref"])
    assert referral_count() == n


def test_use_mine_after_a_deletion_keeps_my_edit(app_test):
    at = open_log(app_test)
    referral_id = int(editor(at).value.iloc[0]["ref"][1:])
    edit(at, {"edited_rows": {0: {"notes": "mine wins"}}})
    delete_in_another_session(app_test, referral_id)
    at.run()
    at.button(key="ref_keep_mine").click().run()
    at.button(key="ref_save").click().run()
    assert not at.exception and not at.error
    with get_engine().connect() as conn:
        notes = conn.execute(sa.select(db.referral.c.notes)).scalars().all()
    assert "mine wins" in notes


def test_a_note_with_a_phone_number_is_warned_about_before_saving(app_test):
    at = open_log(app_test)
    edit(at, {"edited_rows": {0: {"notes": "call the patient at 303-555-0199"}}})
    assert any("a phone number" in w.value and "Before you save" in w.value for w in at.warning)
    assert "a phone number" in editor(at).value.iloc[0]["check"]


# --- import once -------------------------------------------------------------------------------

TRACKER = b"Date,Referred by,Reason\n2026-11-20,Alpha Clinic,Knee\n2026-11-21,Beta Clinic,Hip\n"


def test_a_tracker_is_imported_once_unless_asked_again(app_test):
    at = open_log(app_test)
    n = referral_count()
    at.session_state["ref_import_file"] = ("tracker.csv", TRACKER)
    at.run()
    at.button(key="ref_import_go").click().run()
    assert not at.exception, at.exception
    assert referral_count() == n + 2
    assert any("Imported 2 referrals." in s.value for s in at.success)
    # The uploader gets a new key (so it is empty) and the file is gone: no second click.
    assert at.session_state["ref_upload_seq"] == 1
    assert "ref_import_file" not in at.session_state
    assert not [b for b in at.button if b.key == "ref_import_go"]

    at.session_state["ref_import_file"] = ("tracker again.csv", TRACKER)  # same bytes
    at.run()
    from datetime import date

    notice = f"This file was imported on {date.today().isoformat()}, 2 rows."
    assert any(notice in w.value for w in at.warning)
    assert at.button(key="ref_import_go").disabled
    at.checkbox(key="ref_import_again").check().run()
    at.button(key="ref_import_go").click().run()
    assert referral_count() == n + 4


def test_reading_and_planning_run_once_per_file(app_test, monkeypatch):
    from services import importer

    calls = {"read": 0, "plan": 0}
    read, plan = importer.read_tracker, importer.plan_import

    def counted_read(*a, **k):
        calls["read"] += 1
        return read(*a, **k)

    def counted_plan(*a, **k):
        calls["plan"] += 1
        return plan(*a, **k)

    monkeypatch.setattr(importer, "read_tracker", counted_read)
    monkeypatch.setattr(importer, "plan_import", counted_plan)
    at = open_log(app_test)
    at.session_state["ref_import_file"] = ("tracker.csv", TRACKER)
    at.run()
    at.run()
    at.selectbox(key="ref_f_period").set_value("Last 30 days").run()
    assert calls == {"read": 1, "plan": 1}
    at.selectbox(key="ref_map:0:notes").set_value("Reason").run()  # a new mapping
    assert calls == {"read": 1, "plan": 2}


def test_a_utf16_tracker_is_read_on_the_page(app_test):
    at = open_log(app_test)
    text = "Date\tReferred by\tReason\n2026-11-20\tAlpha Clinic\tKnee\n"
    at.session_state["ref_import_file"] = ("unicode.txt", b"\xff\xfe" + text.encode("utf-16-le"))
    at.run()
    assert not at.exception and not at.error
    assert at.button(key="ref_import_go") is not None
    assert any("1 of 1 rows are valid" in m.value for m in at.markdown)


def test_a_malformed_csv_shows_a_sentence_not_library_text(app_test):
    at = open_log(app_test)
    data = b'Date,Referred by\n2026-11-20,"Alpha Clinic\n' + b"2026-11-21,Beta Clinic\n" * 20_000
    at.session_state["ref_import_file"] = ("broken.csv", data)
    at.run()
    assert not at.exception, at.exception
    [error] = [e.value for e in at.error]
    assert "This file is not a CSV or Excel file we can read" in error
    assert "tokenizing" not in error and "C error" not in error


def test_an_unexpected_failure_while_checking_rows_is_logged_with_a_reference(
    app_test, monkeypatch, caplog
):
    from services import importer

    def broken(*a, **k):
        raise RuntimeError("boom inside the planner")

    monkeypatch.setattr(importer, "plan_import", broken)
    at = open_log(app_test)
    at.session_state["ref_import_file"] = ("tracker.csv", TRACKER)
    at.run()
    assert not at.exception, at.exception
    [error] = [e.value for e in at.error]
    assert "could not be checked" in error and "reference" in error and "boom" not in error
    logged = [r for r in caplog.records if "Checking a tracker" in r.getMessage()]
    assert logged and logged[0].exc_info is not None
    assert error.split("reference ")[1].split(" ")[0] in logged[0].getMessage()
