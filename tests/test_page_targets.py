"""AppTest: the Targets page lists the practice's targets and removes them."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from components.session import get_engine
from services import db


def test_targets_page_lists_and_removes_targets(app_test):
    at = app_test().run()
    at.switch_page("pages/targets.py").run()
    assert not at.exception, at.exception
    assert [t.value for t in at.title] == ["Targets"]
    table = at.dataframe[0].value
    assert len(table) == 26  # the demo practice's partners
    practice_id = at.session_state["practice_id"]

    first_id = int(table.iloc[0]["partner_id"])
    at.session_state["targets_table"] = {"selection": {"rows": [0], "columns": [], "cells": []}}
    at.run()
    at.button(key="remove_selected").click().run()
    assert not at.exception, at.exception
    with get_engine().connect() as conn:
        ids = {r[0] for r in conn.execute(sa.select(db.partner.c.id).where(
            db.partner.c.practice_id == practice_id))}  # fmt: skip
        referrals = conn.execute(sa.select(sa.func.count()).select_from(db.referral)).scalar()
    assert first_id not in ids
    assert len(ids) == 25
    assert referrals > 0  # the referral log is untouched
    assert len(at.dataframe[0].value) == 25


# --- the pipeline, activities, the week, letters, the planner -------------------------------

from datetime import date, timedelta  # noqa: E402

from services import outreach, partners  # noqa: E402


def _open(app_test):
    at = app_test().run()
    at.switch_page("pages/targets.py").run()
    assert not at.exception, at.exception
    return at


def _tab(at, label):
    """Open a tab (they are lazy: only the open one runs)."""
    at.session_state["targets_tab"] = label
    at.run()
    assert not at.exception, at.exception
    return at


def _first_target(at):
    """A demo partner at stage Target, opened in the editor."""
    practice_id = at.session_state["practice_id"]
    df = partners.list_partners(get_engine(), practice_id)
    pid = int(df[df["stage"] == "target"]["partner_id"].iloc[0])
    at.selectbox(key="_w_partner").set_value(pid).run()
    assert not at.exception, at.exception
    return practice_id, pid


def _history(pid):
    h = db.partner_stage_history
    with get_engine().connect() as conn:
        return [
            (r.from_stage, r.to_stage, r.changed_at.date())
            for r in conn.execute(
                sa.select(h).where(h.c.partner_id == pid).order_by(h.c.changed_at, h.c.id)
            )
        ]


def test_stage_changes_are_saved_with_their_dates_and_an_activity_is_logged(app_test):
    at = _open(app_test)
    practice_id, pid = _first_target(at)
    assert at.metric[0].label == "Target"
    targets_before = int(at.metric[0].value)

    three_days_ago = date.today() - timedelta(days=3)
    at.selectbox(key=f"pf:stage:{pid}").set_value("contacted")
    at.date_input(key=f"pf:day:{pid}").set_value(three_days_ago)
    at.text_input(key=f"pf:owner:{pid}").set_value("Robin")
    at.button(key=f"save_partner:{pid}").click().run()
    assert not at.exception, at.exception
    assert [s.value for s in at.success] == ["Saved. Stage moved to Contacted."]
    assert int(at.metric[0].value) == targets_before - 1
    # a second change, dated two days ago
    two_days_ago = date.today() - timedelta(days=2)
    at.selectbox(key=f"pf:stage:{pid}").set_value("connected")
    at.date_input(key=f"pf:day:{pid}").set_value(two_days_ago)
    at.button(key=f"save_partner:{pid}").click().run()
    assert not at.exception, at.exception
    hist = _history(pid)
    assert [(f, t) for f, t, _ in hist[-2:]] == [
        ("target", "contacted"),
        ("contacted", "connected"),
    ]
    assert hist[-1][2] == two_days_ago
    row = partners.list_partners(get_engine(), practice_id).set_index("partner_id").loc[pid]
    assert (row["stage"], row["owner"]) == ("connected", "Robin")

    # log a visit with HTML in its notes: the week's count moves and the notes show as text
    visits_before = outreach.visits_in_week(outreach.activities_frame(get_engine(), practice_id),
                                            date.today())  # fmt: skip
    at.selectbox(key=f"af:p{pid}:kind").set_value("visit")
    at.text_area(key=f"af:p{pid}:notes").set_value("<b>Met</b> the <script>x</script> office")
    at.button(key=f"log_activity:p{pid}").click().run()
    assert not at.exception, at.exception
    assert "Visit logged." in [s.value for s in at.success]
    timeline = "\n".join(m.value for m in at.markdown if "Visit" in m.value)
    assert r"\<b\>Met\</b\>" in timeline and "<b>" not in timeline
    _tab(at, "This week")
    week = next(m for m in at.metric if m.label.startswith("Outreach visits this week"))
    assert week.value == f"{visits_before + 1} of 2–3"
    with get_engine().connect() as conn:
        act = conn.execute(sa.select(db.activity).order_by(db.activity.c.id.desc())).first()
    assert (act.kind, act.partner_id, act.activity_date) == ("visit", pid, date.today())
    assert act.notes == "<b>Met</b> the <script>x</script> office"  # stored as typed


def test_a_completed_activity_dated_in_the_future_is_refused_with_a_message(app_test):
    at = _open(app_test)
    _tab(at, "Activities")
    with get_engine().connect() as conn:
        before = conn.execute(sa.select(sa.func.count()).select_from(db.activity)).scalar()
    at.selectbox(key="af:any:kind").set_value("event")
    at.date_input(key="af:any:day").set_value(date.today() + timedelta(days=3))
    at.button(key="log_activity:any").click().run()
    assert not at.exception, at.exception
    assert len(at.error) == 1 and "in the future" in at.error[0].value
    with get_engine().connect() as conn:
        after = conn.execute(sa.select(sa.func.count()).select_from(db.activity)).scalar()
    assert after == before
    # the same event dated today is logged, with no partner
    at.date_input(key="af:any:day").set_value(date.today())
    at.button(key="log_activity:any").click().run()
    with get_engine().connect() as conn:
        act = conn.execute(sa.select(db.activity).order_by(db.activity.c.id.desc())).first()
    assert (act.kind, act.partner_id) == ("event", None)
    _tab(at, "This week")
    [networking] = [m.value for m in at.markdown if "Networking activity this month" in m.value]
    assert "check_circle" in networking and networking.endswith("1/1")


def test_a_stale_editor_does_not_overwrite_another_sessions_change(app_test):
    at = _open(app_test)
    practice_id, pid = _first_target(at)
    partners.update_partner(get_engine(), practice_id, pid, owner="Someone else")
    at.text_input(key=f"pf:owner:{pid}").set_value("Me")
    at.button(key=f"save_partner:{pid}").click().run()
    assert any("changed by someone else" in e.value for e in at.error)
    row = partners.list_partners(get_engine(), practice_id).set_index("partner_id").loc[pid]
    assert row["owner"] == "Someone else"


def test_removing_a_partner_with_history_asks_first_and_keeps_the_referral_log(app_test):
    at = _open(app_test)
    practice_id = at.session_state["practice_id"]
    table = at.dataframe[0].value
    formal = table.index[table["stage"] == "Formal"][0]
    pid = int(table.loc[formal, "partner_id"])
    npi = table.loc[formal, "npi"]
    r = db.referral

    def referrals():
        with get_engine().connect() as conn:
            return conn.execute(sa.select(sa.func.count()).select_from(r).where(
                r.c.practice_id == practice_id, r.c.partner_npi == npi)).scalar()  # fmt: skip

    refs = referrals()
    assert refs > 0
    at.session_state["targets_table"] = {"selection": {"rows": [int(formal)], "columns": [],
                                                       "cells": []}}  # fmt: skip
    at.run()
    assert at.selectbox(key="_w_partner").value == pid  # one row selected opens it below
    at.button(key="remove_selected").click().run()
    assert not at.exception, at.exception
    assert pid in set(at.dataframe[0].value["partner_id"])  # not removed yet
    assert any("have history" in w.value and "referral" in w.value for w in at.warning)
    at.button(key="confirm_remove").click().run()
    assert not at.exception, at.exception
    assert pid not in set(at.dataframe[0].value["partner_id"])
    assert referrals() == refs  # the referral log is intact


def test_filters_by_stage_owner_and_group(app_test):
    at = _open(app_test)
    assert len(at.dataframe[0].value) == 26
    at.multiselect(key="_w_f_stages").set_value(["formal", "connected"]).run()
    assert set(at.dataframe[0].value["stage"]) == {"Formal", "Connected"}
    assert len(at.dataframe[0].value) == 10
    at.multiselect(key="_w_f_owners").set_value(["Alex (liaison)"]).run()
    shown = at.dataframe[0].value
    assert 0 < len(shown) < 10 and set(shown["owner"]) == {"Alex (liaison)"}
    assert [int(m.value) for m in at.metric[:5]] == [8, 6, 7, 3, 2]  # counts stay whole-list


def test_letters_report_unknown_placeholders_and_render_for_a_selection(app_test):
    at = _open(app_test)
    _tab(at, "Letters")
    practice_id = at.session_state["practice_id"]
    ids = list(partners.list_partners(get_engine(), practice_id)["partner_id"][:2])
    at.multiselect(key="_w_letter_partners").set_value([int(i) for i in ids]).run()
    assert not at.exception, at.exception
    assert "Dear " in at.get("text")[0].value
    assert {d.proto.label for d in at.get("download_button")} >= {"Download .docx",
                                                                    "Download text"}  # fmt: skip
    at.button(key="log_letters").click().run()
    assert "Logged 2 letter activities." in [s.value for s in at.success]

    tkey = "letter_template:intro:0"
    at.text_area(key=tkey).set_value("Dear {partner}, from {clinic_name}").run()
    assert any("{clinic_name}" in e.value for e in at.error)
    at.button(key="save_template").click().run()
    assert any("Template not saved" in e.value and "{clinic_name}" in e.value for e in at.error)
    from services import letters

    assert (
        letters.get_template(get_engine(), practice_id, "intro")
        == (letters.DEFAULT_TEMPLATES["intro"])
    )
    at.text_area(key=tkey).set_value("Hello {partner}, {staff} of {practice}").run()
    at.button(key="save_template").click().run()
    assert letters.get_template(get_engine(), practice_id, "intro").startswith("Hello {partner}")
    assert at.get("text")[0].value.startswith("Hello ")


def test_visit_planner_orders_stops_and_links_to_google_maps(app_test):
    at = _open(app_test)
    _tab(at, "Visit planner")
    practice_id = at.session_state["practice_id"]
    df = partners.list_partners(get_engine(), practice_id)
    ids = [int(i) for i in df[df["stage"] != "dropped"]["partner_id"][:4]]
    at.multiselect(key="_w_route_stops").set_value(ids).run()
    assert not at.exception, at.exception
    route = next(d.value for d in at.dataframe if "Miles from previous" in d.value.columns)
    assert list(route["Stop"]) == [1, 2, 3, 4] and len(set(route["Partner"])) == 4
    total = next(m for m in at.metric if m.label == "Total distance")
    assert float(total.value.split()[0]) >= route["Miles from previous"].sum() - 0.2
    link = at.get("link_button")[0].proto
    assert link.label == "Open in Google Maps"
    assert link.url.startswith("https://www.google.com/maps/dir/?api=1&origin=")
    assert link.url.count("|") == 3  # four stops as waypoints, back to the practice


def test_exports_are_offered_for_targets_and_activities(app_test):
    at = _open(app_test)
    assert "Download target list (CSV)" in {d.proto.label for d in at.get("download_button")}
    _tab(at, "Activities")
    assert "Download activities (CSV)" in {d.proto.label for d in at.get("download_button")}
    # only the open tab ran: the pipeline's table is not drawn
    assert "Download target list (CSV)" not in {d.proto.label for d in at.get("download_button")}


def test_target_list_export_neutralises_spreadsheet_formulas(demo_engine):
    from services.exports import to_csv_bytes
    from services.targets_view import targets_export
    from tests.conftest import TODAY

    with demo_engine.connect() as conn:
        practice_id = conn.execute(sa.select(db.practice.c.id)).scalar()
    df = partners.list_partners(demo_engine, practice_id, TODAY)
    pid = int(df["partner_id"].iloc[0])
    partners.update_partner(demo_engine, practice_id, pid, owner="=cmd|' /C calc'!A0",
                            notes='+HYPERLINK("http://evil")')  # fmt: skip
    df = partners.list_partners(demo_engine, practice_id, TODAY)
    text = to_csv_bytes(targets_export(df)).decode("utf-8-sig")
    assert text.splitlines()[0].startswith("NPI,Stage,Name,Specialty group,Active,Priority,Owner")
    assert "'=cmd|" in text and "'+HYPERLINK" in text
    assert ",=cmd" not in text and ",+HYPERLINK" not in text
    assert len(text.splitlines()) == 27  # header + every partner


# --- a selection belongs to partners, not to row positions ----------------------------------


def _select(at, rows):
    at.session_state["targets_table"] = {"selection": {"rows": rows, "columns": [], "cells": []}}
    at.run()
    assert not at.exception, at.exception


def _selected_ids(at):
    shown = at.dataframe[0].value
    rows = at.session_state["targets_table"]["selection"]["rows"]
    return [int(shown.iloc[i]["partner_id"]) for i in rows]


def test_a_tick_stays_on_its_partner_when_the_stage_filter_changes(app_test):
    at = _open(app_test)
    table = at.dataframe[0].value
    row = int(table.index[table["stage"] == "Connected"][1])  # not the first Connected row
    pid, name = int(table.loc[row, "partner_id"]), table.loc[row, "name"]
    _select(at, [row])
    assert at.button(key="move_selected").label == f"Move 1 selected: {name}"
    assert at.selectbox(key="_w_partner").value == pid

    at.multiselect(key="_w_f_stages").set_value(["connected"]).run()
    assert not at.exception, at.exception
    shown = at.dataframe[0].value
    assert set(shown["stage"]) == {"Connected"}
    assert int(shown.index[shown["partner_id"] == pid][0]) != row  # it is on another row now
    assert _selected_ids(at) == [pid]  # the tick moved with its partner, to its new row
    assert at.button(key="move_selected").label == f"Move 1 selected: {name}"
    assert at.button(key="remove_selected").label == f"Remove 1 selected: {name}"
    assert at.selectbox(key="_w_partner").value == pid  # the editor stays on it too

    before = partners.list_partners(get_engine(), at.session_state["practice_id"])
    at.selectbox(key="_w_bulk_stage").set_value("formal")
    at.button(key="move_selected").click().run()
    assert not at.exception, at.exception
    assert [s.value for s in at.success] == [f"Moved 1 to Formal: {name}."]
    after = partners.list_partners(get_engine(), at.session_state["practice_id"])
    changed = after.merge(before, on="partner_id").query("stage_x != stage_y")["partner_id"]
    assert list(changed) == [pid]  # nobody else moved


def test_a_selection_leaves_partners_the_filter_hides_and_never_picks_up_others(app_test):
    at = _open(app_test)
    table = at.dataframe[0].value
    formal = int(table.index[table["stage"] == "Formal"][0])
    target = int(table.index[table["stage"] == "Target"][0])
    keep = int(table.loc[formal, "partner_id"])
    _select(at, [target, formal])
    assert at.button(key="move_selected").label.startswith("Move 2 selected: ")
    at.multiselect(key="_w_f_stages").set_value(["formal"]).run()
    assert _selected_ids(at) == [keep]
    assert at.button(key="move_selected").label == f"Move 1 selected: {table.loc[formal, 'name']}"
    at.multiselect(key="_w_f_stages").set_value([]).run()  # all stages again
    assert _selected_ids(at) == [keep]  # the hidden one is not silently re-ticked


def test_a_tick_stays_on_its_partner_when_new_data_reorders_the_table(app_test):
    at = _open(app_test)
    practice_id = at.session_state["practice_id"]
    table = at.dataframe[0].value
    last = len(table) - 1
    pid, name = int(table.loc[last, "partner_id"]), table.loc[last, "name"]
    _select(at, [last])
    # another session adds targets: they sort in ahead of the selected row
    with get_engine().connect() as conn:
        free = [r[0] for r in conn.execute(
            sa.select(db.provider.c.npi).where(db.provider.c.npi.not_in(
                sa.select(db.partner.c.npi).where(db.partner.c.practice_id == practice_id)
            )).limit(2))]  # fmt: skip
    partners.add_targets(get_engine(), practice_id, free)
    at.run()
    assert not at.exception, at.exception
    assert len(at.dataframe[0].value) == len(table) + 2
    assert _selected_ids(at) == [pid]
    assert at.button(key="move_selected").label == f"Move 1 selected: {name}"


def test_a_bulk_move_that_the_database_refuses_part_way_moves_nobody_and_says_so(app_test):
    at = _open(app_test)
    practice_id = at.session_state["practice_id"]
    table = at.dataframe[0].value
    rows = [int(i) for i in table.index[table["stage"] == "Target"][:3]]
    names = [table.loc[i, "name"] for i in rows]
    _select(at, rows)
    assert at.button(key="move_selected").label == f"Move 3 selected: {', '.join(names)}"
    before = partners.list_partners(get_engine(), practice_id)[["partner_id", "stage"]]
    seen = []

    def fail_second_update(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("UPDATE PARTNER"):
            seen.append(statement)
            if len(seen) == 2:
                raise sa.exc.OperationalError(statement, parameters, Exception("disk I/O error"))

    sa.event.listen(get_engine(), "before_cursor_execute", fail_second_update)
    try:
        at.selectbox(key="_w_bulk_stage").set_value("contacted")
        at.button(key="move_selected").click().run()
    finally:
        sa.event.remove(get_engine(), "before_cursor_execute", fail_second_update)
    assert not at.exception, at.exception
    [error] = [e.value for e in at.error]
    assert "Not saved" in error and "Nobody was moved" in error and "Reference" in error
    assert "disk I/O" not in error  # the driver's text goes to the log, not to the user
    after = partners.list_partners(get_engine(), practice_id)[["partner_id", "stage"]]
    assert after.sort_values("partner_id").equals(before.sort_values("partner_id"))


def test_a_removal_question_names_the_partners_and_lapses_when_the_selection_changes(app_test):
    at = _open(app_test)
    table = at.dataframe[0].value
    formal = [int(i) for i in table.index[table["stage"] == "Formal"][:2]]
    names = [table.loc[i, "name"] for i in formal]
    _select(at, formal)
    at.button(key="remove_selected").click().run()
    assert not at.exception, at.exception
    [question] = [w.value for w in at.warning if "have history" in w.value]
    assert all(n in question for n in names) and "2 of the 2 selected" in question
    assert at.button(key="confirm_remove").label == f"Yes, remove 2: {', '.join(names)}"
    _select(at, formal[:1])  # the selection changed: the question no longer applies
    assert not [w for w in at.warning if "have history" in w.value]
    with pytest.raises(KeyError):
        at.button(key="confirm_remove")
    assert len(at.dataframe[0].value) == len(table)  # nothing was removed
