"""AppTest: the Progress page, in normal and staff-meeting mode, for one location and a group."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta

import sqlalchemy as sa

from services import db
from services import playbook as pb
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
        assert kpis[k.label] == (str(k.value), f"{k.delta:+d}")

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


def test_staff_meeting_mode_is_a_slide_show_without_editing(app_test):
    at = _open(app_test)
    at.toggle(key="_w_progress_meeting").set_value(True).run()
    assert not at.exception, at.exception
    assert not at.get("download_button") and not at.get("data_editor")
    assert any('[data-testid="stSidebar"]' in m.value for m in at.markdown)
    assert [b.label for b in at.button if b.key and b.key.startswith("progress_")] == [
        "◀ Previous", "Next ▶"
    ]  # fmt: skip
    assert len(at.metric) == 6 and not at.get("plotly_chart")  # slide 1: where we are
    seen = []
    for _ in range(6):
        at.button(key="progress_next").click().run()
        assert not at.exception, at.exception
        (spec,) = _specs(at)
        seen.append(spec["layout"]["title"]["text"])
        assert spec["layout"]["font"]["size"] == 20  # projector type
    assert seen[0] == "Partnership growth against the playbook"
    assert seen[-1].startswith("Leakage by partner")
    at.button(key="progress_next").click().run()
    assert any(m.value.startswith("- Referred patients have 30%") for m in at.markdown)
    at.button(key="progress_next").click().run()  # wraps to the first slide
    assert len(at.metric) == 6
    at.button(key="progress_prev").click().run()
    assert not at.get("plotly_chart") and at.session_state["progress_slide"] == 7


def test_date_range_sets_the_as_of_day(app_test):
    at = _open(app_test)
    today = date.today()
    chosen = (today - timedelta(days=60), today - timedelta(days=30))
    at.date_input(key="_w_progress_range").set_value(chosen).run()
    assert not at.exception, at.exception
    growth = _specs(at)[0]
    marker = [a for a in growth["layout"]["annotations"] if a.get("name") == "today"]
    assert marker[0]["text"] == f"as of {today - timedelta(days=30):%b %-d}"
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
        m.value.startswith("#### All 2 locations — Activation, week 11: 2 active partners;")
        for m in at.markdown
    )
    at.selectbox(key="_w_progress_scope").select(2).run()
    assert _specs(at)[0]["layout"]["title"]["text"] == "Partnership growth against the playbook"
    assert not at.dataframe  # one location: no per-location table


def test_demo_stays_a_group_of_one(app_test, db_url):
    at = _open(app_test)
    assert at.selectbox(key="_w_progress_scope").options == ["Cherry Creek Physical Therapy (demo)"]
    assert not at.dataframe
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
    assert at.toggle(key="_w_progress_meeting").value is True
    assert at.button(key="progress_next") and not at.get("download_button")
