"""AppTest: the Progress page, in normal and staff-meeting mode, for one location and a group."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta

import sqlalchemy as sa

from services import db, metrics, slides
from services import playbook as pb
from services.practices import PracticeInput, create_practice
from services.progress_data import group_of, load_progress_data


def _open(app_test):
    at = app_test().run()
    at.switch_page("pages/progress.py").run()
    assert not at.exception, at.exception
    return at


def _specs(at) -> list[dict]:
    return [json.loads(c.proto.spec) for c in at.get("plotly_chart")]


def test_progress_page_shows_the_playbook_bands_and_actual_lines(app_test, db_url):
    at = _open(app_test)
    assert [t.value for t in at.title] == ["Progress"]
    engine = db.make_engine(db_url)
    data = load_progress_data(engine, group_of(engine, at.session_state["practice_id"]))
    today = date.today()
    assert f"#### {pb.headline(data, today)}" in [m.value for m in at.markdown]

    kpis = {m.label: (m.value, m.delta) for m in at.metric}
    for k in pb.kpis(data, today):
        # no arrow (no delta at all) for no change
        assert kpis[k.label] == (str(k.value), f"{k.delta:+d}" if k.delta else "")

    specs = _specs(at)
    assert len(specs) == 6
    growth = specs[0]
    shapes = growth["layout"]["shapes"]
    assert [s["name"] for s in shapes if s["name"].startswith("phase:")] == [
        "phase:research", "phase:outreach", "phase:activation", "phase:growth", "phase:maturity"
    ]  # fmt: skip
    assert next(s for s in shapes if s["name"] == "today")["x0"] == (
        (today - data.playbook_start).days / 7
    )
    boxes = [t for t in growth["data"] if "phase" in (t.get("meta") or {})]
    assert [(b["meta"]["low"], b["meta"]["high"]) for b in boxes] == [
        (15, 20), (5, 10), (3, 5), (10, 15), (15, 25)
    ]  # fmt: skip
    lines = {t["meta"]["metric"]: t for t in growth["data"] if "phase" not in (t.get("meta") or {})}
    series = pb.weekly_series(data, today)
    for metric in ("targets", "connections", "active"):
        known = [y for y in lines[metric]["y"] if y is not None]
        assert known == series[metric].dropna().tolist()
    assert len(known) == (today - data.playbook_start).days // 7 + 1

    titles = [s["layout"]["title"]["text"] for s in specs]
    assert titles[1] == "Referrals per month, by specialty group"
    assert titles[2].startswith("Conversion funnel")
    labels = [b.label for b in at.get("download_button")]
    assert "Download report (HTML)" in labels
    assert sum(label.startswith("CSV: ") for label in labels) == 6
    assert any("source: MGMA" in m.value for m in at.markdown)
    assert any("the playbook's own statement" in m.value for m in at.markdown)
    assert not any("source not named" in m.value for m in at.markdown)
    # one definition per number: each funnel tile carries its definition as its tooltip
    tiles = {m.label: m for m in at.metric}
    leak = tiles["Leakage (went elsewhere)"]
    assert leak.help.startswith(metrics.DEFINITIONS["leakage"])
    if leak.delta:  # inverse colours: more leakage is red, less is green
        assert leak.proto.color == (0 if leak.delta.startswith("+") else 1), leak.delta
    assert tiles["Scheduled"].help == metrics.DEFINITIONS["scheduled"]
    assert tiles["Patient visits"].help == metrics.DEFINITIONS["patient_visits"]
    assert "Outreach visits, 30 days" in tiles and "Visits" not in tiles
    assert at.multiselect(key="_w_progress_slides").value == list(slides.DEFAULT_SLIDES)


def test_staff_meeting_mode_is_a_slide_show_without_editing(app_test):
    at = _open(app_test)
    at.button(key="progress_meeting_on").click().run()
    assert not at.exception, at.exception
    assert not at.get("download_button") and not at.get("data_editor")
    # the controls are hidden; a small exit link and the slide arrows stay
    # (the sidebar's practice picker is still in the page, hidden by the meeting's style)
    assert [w.key for w in at.selectbox] == ["_w_practice"]
    assert not at.date_input and not at.multiselect
    assert any('[data-testid="stSidebar"]' in m.value for m in at.markdown)
    keys = [b.key for b in at.button if b.key and b.key.startswith("progress_")]
    assert keys == ["progress_prev", "progress_next", "progress_exit", "progress_pageup",
                    "progress_pagedown"]  # fmt: skip
    assert at.query_params["meeting"] == "1" and at.query_params["slide"] == "1"
    assert len(at.metric) == 6 and not at.get("plotly_chart")  # slide 1: where we are
    assert any(m.value.startswith("Week ") for m in at.markdown)  # the headline
    seen = []
    for _ in range(6):
        at.button(key="progress_next").click().run()
        assert not at.exception, at.exception
        (spec,) = _specs(at)
        seen.append(spec["data"][0].get("type"))
        assert spec["layout"]["font"]["size"] == 20  # projector type
        assert "height" not in spec["layout"]  # the slide's height follows the window
    assert at.query_params["slide"] == "7"
    at.button(key="progress_next").click().run()  # who went quiet
    assert any("went quiet" in m.value for m in at.markdown)
    at.button(key="progress_next").click().run()  # loyalty
    at.button(key="progress_next").click().run()  # return
    assert any(m.value.startswith("- Referred patients have 30%") for m in at.markdown)
    at.button(key="progress_pagedown").click().run()  # wraps to the first slide
    assert len(at.metric) == 6
    at.button(key="progress_pageup").click().run()
    assert not at.get("plotly_chart") and at.session_state["progress_slide"] == 9
    at.button(key="progress_exit").click().run()
    assert at.selectbox(key="_w_progress_scope") and "meeting" not in at.query_params


def test_the_meeting_deck_and_slide_come_from_the_url(app_test):
    at = app_test()
    at.query_params.update({"meeting": "1", "slides": "quiet,growth,bogus", "slide": "2"})
    at.run()
    at.switch_page("pages/progress.py").run()
    assert not at.exception, at.exception
    assert any("Partnership growth** · 2 / 2" in m.value for m in at.markdown)
    assert len(_specs(at)) == 1
    at.button(key="progress_next").click().run()
    assert any("Who went quiet** · 1 / 2" in m.value for m in at.markdown)


def test_the_slide_picker_keeps_the_deck_in_the_url(app_test):
    at = _open(app_test)
    at.multiselect(key="_w_progress_slides").set_value(["growth", "quiet"]).run()
    assert not at.exception, at.exception
    assert at.query_params["slides"] == "growth,quiet"
    at.button(key="progress_meeting_on").click().run()
    assert any("Partnership growth** · 1 / 2" in m.value for m in at.markdown)


def test_date_range_sets_the_as_of_day(app_test):
    at = _open(app_test)
    today = date.today()
    chosen = (today - timedelta(days=60), today - timedelta(days=30))
    at.date_input(key="_w_progress_range").set_value(chosen).run()
    assert not at.exception, at.exception
    growth = _specs(at)[0]
    marker = [a for a in growth["layout"]["annotations"] if a.get("name") == "today"]
    assert marker[0]["text"] == f"as of {pb.day_text(today - timedelta(days=30))}"
    visits = _specs(at)[3]
    weeks = [x for t in visits["data"] if t["type"] == "bar" for x in t["x"]]
    assert len(weeks) in (5, 6)  # the weeks touching a 31-day range


def test_a_group_sees_each_location_and_the_total(app_test, db_url):
    engine = db.make_engine(db_url)
    start = date.today() - timedelta(days=70)
    npi = "1234567893"
    with engine.begin() as conn:
        ids = []
        for name in ("Downtown PT", "Uptown PT"):
            row = db.practice.insert().values(
                name=name, is_demo=False, playbook_start=start, revenue_per_visit=100.0
            )
            ids.append(conn.execute(row).inserted_primary_key[0])
        conn.execute(
            db.provider.insert().values(
                npi=npi, entity_type="individual", name="Pat Ortho", data_source="manual"
            )
        )
        for pid in ids:
            row = db.partner.insert().values(practice_id=pid, npi=npi, stage="connected")
            partner = conn.execute(row).inserted_primary_key[0]
            changed = datetime.combine(start, datetime.min.time())
            conn.execute(
                db.partner_stage_history.insert().values(
                    partner_id=partner, to_stage="connected", changed_at=changed
                )
            )
            conn.execute(
                db.referral.insert().values(
                    practice_id=pid,
                    partner_npi=npi,
                    direction="received",
                    status="evaluated",
                    referral_date=date.today() - timedelta(days=3),
                    visits=1,
                )
            )
    engine.dispose()

    at = _open(app_test)
    assert at.session_state["practice_id"] == ids[0]  # real practices come first
    scope = at.selectbox(key="_w_progress_scope")
    assert scope.options == ["All 2 locations (total)", "Downtown PT", "Uptown PT"]
    scope.select(0).run()
    assert not at.exception, at.exception
    growth = _specs(at)[0]
    assert growth["layout"]["title"]["text"].endswith("all 2 locations")
    boxes = [t["meta"]["low"] for t in growth["data"] if "phase" in (t.get("meta") or {})]
    assert boxes == [30, 10, 6, 20, 30]
    table = at.dataframe[0].value
    assert table["location"].tolist() == ["Downtown PT", "Uptown PT", "Total (2 locations)"]
    assert table["active_partnerships"].tolist() == [1, 1, 2]
    assert any(
        m.value.startswith(
            "#### All 2 locations — Week 5 of the Activation phase: 2 of 6–10 active partners"
        )
        for m in at.markdown
    )
    at.selectbox(key="_w_progress_scope").select(2).run()
    assert _specs(at)[0]["layout"]["title"]["text"] == "Partnership growth against the playbook"
    # one location: no per-location table
    assert not [t for t in at.dataframe if "location" in t.value.columns]


def test_demo_stays_a_group_of_one(app_test, db_url):
    at = _open(app_test)
    assert at.selectbox(key="_w_progress_scope").options == ["Cherry Creek Physical Therapy (demo)"]
    assert not [t for t in at.dataframe if "location" in t.value.columns]
    with db.make_engine(db_url).connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(db.practice)).scalar() == 1


def test_a_new_referral_shows_on_the_next_rerun(app_test, db_url):
    """The page caches its data per revision; logging a referral elsewhere must invalidate it."""
    at = _open(app_test)
    before = {m.label: int(m.value) for m in at.metric if m.label.endswith("30 days")}
    engine = db.make_engine(db_url)
    with engine.begin() as conn:
        conn.execute(
            db.referral.insert().values(
                practice_id=at.session_state["practice_id"], partner_npi="1234567893",
                direction="received", referral_date=date.today(), status="received",
            )
        )  # fmt: skip
    engine.dispose()
    at.run()
    after = {m.label: int(m.value) for m in at.metric if m.label.endswith("30 days")}
    assert after["Received, 30 days"] == before["Received, 30 days"] + 1
    assert after["Sent, 30 days"] == before["Sent, 30 days"]


def test_meeting_link_opens_in_staff_meeting_mode(app_test):
    at = app_test()
    at.query_params["meeting"] = "1"
    at.run()
    at.switch_page("pages/progress.py").run()
    assert not at.exception, at.exception
    assert at.button(key="progress_next") and at.button(key="progress_exit")
    assert not at.get("download_button") and not at.date_input


def test_a_practice_created_today(app_test, db_url):
    """Day one: the period shows four weeks, the headline counts toward the Research target,
    no chart has a time-of-day axis and each empty chart says what will appear."""
    engine = db.make_engine(db_url)
    new = create_practice(engine, PracticeInput(name="New Street PT", zip="80206"))
    engine.dispose()
    today = date.today()
    assert new.playbook_start == today  # defaults to the day the practice was created
    at = app_test().run()
    at.session_state["practice_id"] = new.id
    at.switch_page("pages/progress.py").run()
    assert not at.exception, at.exception
    assert at.date_input(key="_w_progress_range").value == (today - timedelta(days=27), today)
    assert any(c.value.startswith("Period: ") and "(28 days)" in c.value for c in at.caption)
    assert (
        "#### Week 1 of the Research phase: 0 of 15–20 providers on the target list so far, "
        "2 weeks to go"
    ) in [m.value for m in at.markdown]
    specs = _specs(at)
    for spec in specs:
        for name, axis in spec["layout"].items():
            if name.startswith("xaxis"):
                assert axis.get("type") != "date", (spec["layout"].get("title"), name)
                assert ":" not in str(axis.get("tickformat", ""))
    visits = specs[3]
    weeks = [x for t in visits["data"] if t["type"] == "bar" for x in t["x"]]
    assert len(weeks) >= 4 and all(":" not in str(w) for w in weeks)
    notes = " ".join(a["text"] for spec in specs for a in spec["layout"].get("annotations", []))
    assert "appear here" in notes and "No outreach visits logged yet" in notes
    assert any("Revenue per patient visit" in w.value for w in at.warning)


def test_more_leakage_than_the_period_before_is_red(app_test, db_url):
    engine = db.make_engine(db_url)
    today = date.today()
    new = create_practice(engine, PracticeInput(name="Leaky PT", zip="80206"))
    rows = [(30, "evaluated", None), (25, "evaluated", None),  # the period before: 0%
            (10, "evaluated", None), (5, "lost", "went_elsewhere")]  # this period: 50%  # fmt: skip
    with engine.begin() as conn:
        for days_ago, status, reason in rows:
            conn.execute(
                db.referral.insert().values(
                    practice_id=new.id, partner_npi="1234567893", direction="received",
                    referral_date=today - timedelta(days=days_ago), status=status,
                    lost_reason=reason,
                )
            )  # fmt: skip
    engine.dispose()
    at = app_test().run()
    at.session_state["practice_id"] = new.id
    at.switch_page("pages/progress.py").run()
    at.date_input(key="_w_progress_range").set_value((today - timedelta(days=19), today)).run()
    assert not at.exception, at.exception
    leak = next(m for m in at.metric if m.label == "Leakage (went elsewhere)")
    assert (leak.value, leak.delta) == ("1 (50%)", "+50 pts")
    assert leak.proto.color == 0  # red: more leakage is bad news
    at.date_input(key="_w_progress_range").set_value((today - timedelta(days=4), today)).run()
    leak = next(m for m in at.metric if m.label == "Leakage (went elsewhere)")
    assert (leak.value, leak.delta) == ("0 (–)", "")  # nothing received: no rate, no arrow
