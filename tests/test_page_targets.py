"""AppTest: the Targets page lists the practice's targets and removes them."""

from __future__ import annotations

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


# --- issue 4: the pipeline, activities, the week, letters, the planner ----------------------

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
