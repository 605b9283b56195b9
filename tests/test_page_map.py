"""AppTest: the map page inside the real app (app.py runs around it)."""

from __future__ import annotations

import json

import sqlalchemy as sa

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
    assert '"npi": "2999' in args["feature_group"]
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
    npi = table.loc[table["stage"].isna(), "npi"].iloc[0]
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
    table = at.dataframe[0].value
    assert table.loc[table["npi"] == npi, "stage"].iloc[0] == "target"
    # adding again (a second click on the map) creates nothing twice
    at.session_state[comp.key] = {
        "last_active_drawing": {"type": "Feature", "properties": {"npi": npi}},
        "last_object_clicked_count": 2,
    }
    at.run()
    assert not [b for b in at.button if b.key == "add_to_targets"]  # the card says "on your list"
    assert _partner_npis(practice_id).count(npi) == 1
