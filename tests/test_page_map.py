"""AppTest: the map page inside the real app (app.py runs around it)."""

from __future__ import annotations

import json

import sqlalchemy as sa

from components.map_view import table_key
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
        "edited_rows": {i: {"add": True} for i in free}, "added_rows": [], "deleted_rows": []
    }
    at.run()
    assert at.button(key="add_selected").label == "Add 3 selected to targets"
    assert any("Will add" in c.value for c in at.caption)
    at.button(key="add_selected").click().run()
    assert not at.exception, at.exception
    assert set(npis) <= set(_partner_npis(practice_id))
    assert any("Added 3" in s.value for s in at.success)


def test_corrupt_database_gives_a_clear_message_not_a_stack_trace(app_test, db_url):
    from pathlib import Path

    Path(db_url.removeprefix("sqlite:///")).write_bytes(b"\x00garbage" * 500)
    at = app_test().run()
    assert not at.exception, at.exception
    assert any("could not be opened" in e.value for e in at.error)
