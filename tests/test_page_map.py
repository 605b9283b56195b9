"""AppTest: the map page inside the real app (app.py runs around it)."""

from __future__ import annotations

import json
import time

import sqlalchemy as sa

from components.map_lists import table_key
from components.session import get_engine
from services import db


def _map_component(at):
    comps = at.get("component_instance")
    assert comps, "st_folium did not render"
    return comps[0]


def _args(comp) -> dict:
    return json.loads(comp.proto.json_args)


def _partner_npis(practice_id: int) -> list[str]:
    with get_engine().connect() as conn:
        return [
            r[0]
            for r in conn.execute(
                sa.select(db.partner.c.npi).where(db.partner.c.practice_id == practice_id)
            )
        ]


def test_map_page_draws_practice_radius_and_providers(app_test):
    at = app_test().run()
    assert not at.exception, at.exception
    args = _args(_map_component(at))
    # every asset is local: nothing is fetched from a CDN
    assert args["js_links"] and all(link.startswith("/app/static/") for link in args["js_links"])
    assert all(link.startswith("/app/static/") for link in args["css_links"])
    # the provider layer and the radius circle travel as the in-place-updated feature group
    assert '"npi":["2999' in args["feature_group"]
    assert "L.circle(" in args["feature_group"]
    assert args["returned_objects"] == ["last_active_drawing", "last_object_clicked_count"]
    # the table lists providers inside the default 5-mile radius, best first
    table = at.dataframe[0].value
    assert len(table) > 50
    assert (table["distance_mi"] <= 5.0).all()
    scores = table["score"].dropna().tolist()
    assert scores == sorted(scores, reverse=True)
    assert any("DEMO DATA" in m.value for m in at.markdown)


def test_marker_click_then_add_to_targets_creates_partner(app_test):
    at = app_test().run()
    practice_id = at.session_state["practice_id"]
    table = at.dataframe[0].value
    npi = table.loc[table["stage"] == "", "npi"].iloc[0]
    before = _partner_npis(practice_id)
    assert npi not in before

    comp = _map_component(at)
    at.session_state[comp.key] = {
        "last_active_drawing": {"type": "Feature", "properties": {"npi": npi}},
        "last_object_clicked_count": 1,
    }
    at.run()
    assert at.session_state["selected_npi"] == npi
    button = at.button(key="add_to_targets")
    assert button.label == "Add to targets"
    button.click().run()
    assert not at.exception, at.exception
    after = _partner_npis(practice_id)
    assert after.count(npi) == 1
    assert len(after) == len(before) + 1
    # the map and the table show it as on the list, in the same run
    assert any("On your list" in s.value for s in at.success)
    assert npi not in at.dataframe[0].value["npi"].tolist()  # off-list providers only...
    at.toggle(key="map_show_all").set_value(True).run()  # ...unless all are asked for
    table = at.dataframe[0].value
    assert table.loc[table["npi"] == npi, "stage"].iloc[0] == "target"
    assert table["stage"].tolist().index("target") > 0  # on-list rows come after the others
    # adding again (a second click on the map) creates nothing twice
    at.session_state[comp.key] = {
        "last_active_drawing": {"type": "Feature", "properties": {"npi": npi}},
        "last_object_clicked_count": 2,
    }
    at.run()
    assert not [b for b in at.button if b.key == "add_to_targets"]  # the card says "on your list"
    assert _partner_npis(practice_id).count(npi) == 1


EVIL = "<script>alert('x')</script>Dr Evil"


def test_provider_name_with_html_shows_as_text_everywhere(app_test, db_url):
    from services import demo
    from services.npi import make_npi

    engine = db.make_engine(db_url)
    demo.ensure_demo(engine)
    with engine.begin() as conn:
        conn.execute(
            db.provider.insert().values(
                npi=make_npi("299999999"),
                entity_type="individual",
                name=EVIL,
                specialty_group="ortho",
                primary_taxonomy="207X00000X",
                lat=39.7335,
                lon=-104.9520,
                data_source="demo",
                geocode_precision="address",
            )
        )
    engine.dispose()
    at = app_test().run()
    assert not at.exception, at.exception
    table = at.dataframe[0].value
    assert EVIL in table["name"].tolist()  # st.dataframe shows the literal text
    args = _args(_map_component(at))
    assert "<script>alert" not in args["feature_group"]
    assert "lt;script\\u0026gt;alert" in args["feature_group"].replace("&", "\\u0026")


def test_bad_radius_in_the_address_is_ignored_with_a_warning(app_test):
    at = app_test()
    at.query_params["radius"] = "DROP TABLE"
    at.run()
    assert not at.exception, at.exception
    assert at.session_state["map_radius_mi"] == 5.0
    assert any("not a number" in w.value for w in at.warning)

    at = app_test()
    at.query_params["radius"] = "1e308"
    at.run()
    assert not at.exception
    assert at.session_state["map_radius_mi"] == 25.0
    assert (at.dataframe[0].value["distance_mi"] <= 25).all()


def test_good_radius_in_the_address_sets_the_slider(app_test):
    at = app_test()
    at.query_params["radius"] = "3"
    at.run()
    assert at.slider(key="_w_radius").value == 3.0
    assert (at.dataframe[0].value["distance_mi"] <= 3).all()


def test_garbage_radius_and_groups_in_state_cannot_crash_the_page(app_test):
    at = app_test().run()
    at.session_state["map_radius_mi"] = "huge"
    at.session_state["map_groups"] = 42
    at.run()
    assert not at.exception, at.exception
    assert at.slider(key="_w_radius").value == 5.0
    at.session_state["map_radius_mi"] = -40
    at.session_state["map_groups"] = ["ortho", "<bogus>"]
    at.run()
    assert not at.exception
    assert at.slider(key="_w_radius").value == 1.0
    assert set(at.dataframe[0].value["group"]) <= {"Orthopaedic surgery"}


def test_radius_slider_and_specialty_filter_narrow_the_table(app_test):
    at = app_test().run()
    wide = len(at.dataframe[0].value)
    at.slider(key="_w_radius").set_value(2.0).run()
    narrow = at.dataframe[0].value
    assert len(narrow) < wide and (narrow["distance_mi"] <= 2.0).all()
    at.multiselect(key="_w_groups").set_value(["chiro"]).run()
    assert set(at.dataframe[0].value["group"]) == {"Chiropractic"}
    # the filters survive a trip to another page and back
    at.switch_page("pages/targets.py").run()
    at.switch_page("pages/map.py").run()
    assert at.slider(key="_w_radius").value == 2.0
    assert at.multiselect(key="_w_groups").value == ["chiro"]


def test_selecting_rows_in_the_table_adds_them_all(app_test):
    at = app_test().run()
    practice_id = at.session_state["practice_id"]
    table = at.dataframe[0].value
    free = table.index[table["stage"] == ""][:3].tolist()
    npis = table.loc[free, "npi"].tolist()
    at.session_state[table_key(practice_id, table["npi"].tolist())] = {
        "edited_rows": {i: {"add": True} for i in free},
        "added_rows": [],
        "deleted_rows": [],
    }
    at.run()
    assert at.button(key="add_selected").label == "Add 3 selected to targets"
    assert any("Will add" in c.value for c in at.caption)
    at.button(key="add_selected").click().run()
    assert not at.exception, at.exception
    assert set(npis) <= set(_partner_npis(practice_id))
    assert any("Added 3" in s.value for s in at.success)


def test_corrupt_database_gives_a_clear_message_not_a_stack_trace(app_test, tmp_path, monkeypatch):
    # A corrupt file is a SQLite matter, so this test uses a SQLite file on both runs.
    bad = tmp_path / "corrupt.db"
    bad.write_bytes(b"\x00garbage" * 500)
    monkeypatch.setenv("REFERRAL_ATLAS_DB_URL", f"sqlite:///{bad}")  # over app_test's URL
    at = app_test().run()
    assert not at.exception, at.exception
    assert any("could not be opened" in e.value for e in at.error)


def test_suggested_list_review_untick_and_add_in_one_action(app_test):
    at = app_test().run()
    practice_id = at.session_state["practice_id"]
    before = set(_partner_npis(practice_id))
    at.button(key="suggest_btn").click().run()
    assert not at.exception, at.exception
    proposal = at.session_state["map_suggested"]
    assert 15 <= len(proposal) <= 20 and not set(proposal) & before
    editor_key = next(k for k in at.session_state if str(k).startswith("suggest_editor:"))
    at.session_state[editor_key] = {
        "edited_rows": {0: {"add": False}}, "added_rows": [], "deleted_rows": []
    }  # fmt: skip
    at.run()
    button = at.button(key="add_suggested")
    assert button.label == f"Add {len(proposal) - 1} suggested to targets"
    button.click().run()
    assert not at.exception, at.exception
    added = set(_partner_npis(practice_id)) - before
    assert added == set(proposal[1:])  # all but the unticked one, in one action
    assert any(f"Added {len(proposal) - 1} providers" in s.value for s in at.success)
    assert "map_suggested" not in at.session_state


def test_add_failure_adds_nobody_and_says_so(app_test, monkeypatch):
    from services import partners

    at = app_test().run()
    practice_id = at.session_state["practice_id"]
    before = _partner_npis(practice_id)
    at.button(key="suggest_btn").click().run()

    def broken(*args, **kwargs):
        raise partners.PartnerError("Unknown provider NPI: 1234567893")

    monkeypatch.setattr("components.map_lists.add_targets", broken)
    at.button(key="add_suggested").click().run()
    assert not at.exception, at.exception
    assert _partner_npis(practice_id) == before
    assert any("Nothing was added" in e.value for e in at.error)


def test_demo_invites_the_owner_to_start_with_their_own_practice(app_test):
    at = app_test().run()
    assert at.button(key="start_own").label == "Start with your own practice"
    at.button(key="start_own").click().run()
    assert not at.exception, at.exception
    assert at.session_state["setup_from_map"] is True
    assert any(t.value == "Settings" for t in at.title)


def test_a_new_practice_opens_on_the_map_with_the_search_started(app_test, monkeypatch):
    from services.practices import PracticeInput, create_practice
    from tests.fake_services import FakeServices, synthetic_area

    with FakeServices() as fake:
        for key, value in fake.env().items():
            monkeypatch.setenv(key, value)
        fake.npi.results = synthetic_area(["80206"], ["207X00000X"], per_pair=2)
        at = app_test()
        p = create_practice(
            get_engine(),
            PracticeInput(name="New PT", zip="80206", lat=39.7326, lon=-104.9530,
                          default_radius_mi=2.0, geocode_source="manual"),
        )  # fmt: skip
        at.session_state["practice_id"] = p.id
        at.session_state["map_groups"] = ["ortho"]
        at.run()
        # no search yet: one sentence says what to do next, and no empty table is drawn
        assert any("press **Search the NPI Registry**" in m.value for m in at.markdown)
        assert len(at.dataframe) == 0
        # what the practice set-up leaves when it was reached from the map's invitation
        at.session_state["map_autostart"] = p.id
        at.run()
        assert not at.exception, at.exception
        assert "live_job" in at.session_state  # the registry search has started by itself
        deadline = time.monotonic() + 60
        while "live_job" in at.session_state:
            assert time.monotonic() < deadline
            time.sleep(0.3)
            at.run()
        assert fake.npi.requests
        assert any(s.value.startswith("Found ") for s in at.success)
        assert len(at.dataframe[0].value) >= 1


def test_map_flash_stays_until_the_next_action(app_test):
    at = app_test().run()
    table = at.dataframe[0].value
    npi = table["npi"].iloc[0]
    comp = _map_component(at)
    at.session_state[comp.key] = {
        "last_active_drawing": {"type": "Feature", "properties": {"npi": npi}},
        "last_object_clicked_count": 1,
    }
    at.run()
    at.button(key="add_to_targets").click().run()
    assert any("to your targets" in s.value for s in at.success)
    at.run()
    at.run()  # the map's own reruns do not wipe it
    assert any("to your targets" in s.value for s in at.success)
    at.slider(key="_w_radius").set_value(3.0).run()  # the next action does
    assert not any("to your targets" in s.value for s in at.success)


def test_first_run_path_from_the_demo_through_set_up_back_to_a_started_search(
    app_test, monkeypatch
):
    from tests.fake_services import FakeCensus, FakeServices, synthetic_area

    census = FakeCensus(match_by_zip=False)
    census.known = {FakeCensus.key("1600 Market St", "80202"): (39.7496, -104.9973)}
    with FakeServices(census=census) as fake:
        for key, value in fake.env().items():
            monkeypatch.setenv(key, value)
        fake.npi.results = synthetic_area(["80202"], ["207X00000X"], per_pair=2)
        at = app_test().run()
        at.button(key="start_own").click().run()
        assert [t.value for t in at.title] == ["Settings"]
        for key, value in dict(name="Market Street PT", address="1600 Market St",
                               city="Denver", state="CO", zip="80202").items():  # fmt: skip
            at.text_input(key=f"set_{key}").input(value)
        at.run()
        at.button(key="set_save").click().run()
        assert not at.exception, at.exception
        # back on the map, on the new practice, with the registry search under way
        assert [t.value for t in at.title] == ["Provider map"]
        assert "live_job" in at.session_state
        deadline = time.monotonic() + 60
        while "live_job" in at.session_state:
            assert time.monotonic() < deadline
            time.sleep(0.3)
            at.run()
        assert fake.npi.requests
        assert not [b for b in at.button if b.key == "start_own"]  # not the demo any more
