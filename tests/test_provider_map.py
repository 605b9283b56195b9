"""The provider map component: escaping, styling, identification of clicks, local assets."""

from __future__ import annotations

import json
from datetime import date

import folium
import pandas as pd
import pytest
from streamlit_folium import _get_feature_group_string, _get_map_string

from components.provider_map import (
    RETURNED_OBJECTS,
    SELECTED_STROKE,
    build_map,
    clicked_here,
    clicked_npi,
    co_located,
    legend_html,
    localize_assets,
    marker_styles,
    provider_payload,
)
from services.practices import Practice
from services.providers import providers_near

EVIL = '<script>alert("x")</script><img src=x onerror=alert(1)>'
PRACTICE = Practice(1, "Demo <b>PT</b>", "1 Main St", "Denver", "CO", "80206", 39.7331,
                    -104.9524, date(2026, 8, 1), 5.0, 100.0, True)  # fmt: skip


def _providers() -> pd.DataFrame:
    rows = [
        ("1234567893", EVIL, "ortho", 39.74, -104.95, "address"),
        ("1245319599", "Dr Plain", "chiro", 39.75, -104.96, "zip"),
        ("1003000126", "Far Away", "ortho", 40.50, -104.95, "address"),
    ]
    df = pd.DataFrame(rows, columns=["npi", "name", "specialty_group", "lat", "lon",
                                     "geocode_precision"])  # fmt: skip
    df["display_name"] = df["name"]
    df["specialty"] = "Orthopaedic Surgery"
    df["group_label"] = "Orthopaedic surgery"
    for col in ("address", "city", "state", "zip", "phone"):
        df[col] = f"{col} <i>x</i>"
    return df


def _near(on_list: set[str] = frozenset()) -> pd.DataFrame:
    partners = pd.DataFrame(
        {
            "npi": list(on_list),
            "partner_id": range(len(on_list)),
            "stage": "target",
            "active": False,
        }
    )
    return providers_near(_providers(), partners, PRACTICE.lat, PRACTICE.lon, 5.0)


def test_radius_filter_keeps_only_providers_inside():
    assert set(_near()["npi"]) == {"1234567893", "1245319599"}


def test_untrusted_text_is_escaped_in_tooltips_and_popups():
    payload = provider_payload(_near())
    for html in payload["tip"]:
        assert "<script" not in html and "<img" not in html and "<i>" not in html
    assert "&lt;script&gt;" in payload["tip"][0] or "&lt;script&gt;" in payload["tip"][1]
    # ...and nowhere in the JavaScript that reaches the browser
    pm = build_map(PRACTICE, _near(), 5.0)
    script = _get_map_string(pm.base) + _get_feature_group_string(pm.layers, pm.base)
    assert "<script>alert" not in script and "<img src=x" not in script
    assert "Demo <b>PT</b>" not in script


def test_targets_look_different_and_approximate_locations_are_dashed():
    payload = provider_payload(_near(on_list={"1234567893"}))
    by_npi = {
        npi: payload["styles"][i] for npi, i in zip(payload["npi"], payload["style"], strict=True)
    }
    target, other = by_npi["1234567893"], by_npi["1245319599"]
    assert target["radius"] > other["radius"] and target["weight"] > other["weight"]
    assert target["color"] != other["color"]
    assert other.get("dashArray") and not target.get("dashArray")
    assert target["fillColor"] != other["fillColor"]  # ortho vs chiro colours


def test_every_asset_is_served_locally():
    pm = build_map(PRACTICE, _near(), 5.0)
    for element in (pm.base, *pm.base._children.values()):
        for _, url in getattr(element, "default_js", []) + getattr(element, "default_css", []):
            assert url.startswith("/app/static/vendor/"), url


def test_plugins_without_local_assets_are_refused():
    m = folium.Map()
    from folium.plugins import Fullscreen

    Fullscreen().add_to(m)
    with pytest.raises(ValueError, match="no local assets"):
        localize_assets(m)


@pytest.mark.parametrize(
    ("returned", "expected"),
    [
        ({"last_active_drawing": {"properties": {"npi": "1234567893"}}}, "1234567893"),
        ({"last_active_drawing": {"properties": {"npi": 1234567893}}}, "1234567893"),
        ({"last_active_drawing": {"properties": {"npi": "9999999999"}}}, None),  # not known
        ({"last_active_drawing": {"properties": {}}}, None),  # the practice marker
        ({"last_active_drawing": None}, None),
        ({"last_active_drawing": {"properties": {"npi": True}}}, None),
        (None, None),
        ("garbage", None),
    ],
)
def test_clicked_npi_reads_the_feature_not_the_coordinates(returned, expected):
    assert clicked_npi(returned, {"1234567893"}) == expected


def test_map_returns_only_click_data_and_the_view_fits_the_radius_circle():
    assert "bounds" not in RETURNED_OBJECTS and "zoom" not in RETURNED_OBJECTS
    payload = provider_payload(_near())
    assert json.loads(json.dumps(payload))["npi"] == _near()["npi"].tolist()
    small = _get_feature_group_string(build_map(PRACTICE, _near(), 2.0).layers, folium.Map())
    large = _get_feature_group_string(build_map(PRACTICE, _near(), 5.0).layers, folium.Map())
    # the fit is keyed on the circle: a new radius re-fits, an add (same circle) does not
    assert "fitBounds" in small and "3218.7" in small and "8046.7" in large


def test_base_map_script_does_not_depend_on_radius_or_data():
    """streamlit-folium keys the map's iframe on the base script: if it changed with the radius
    or the providers, every change would re-create the map and lose the user's view."""
    a = build_map(PRACTICE, _near(), 2.0)
    b = build_map(PRACTICE, _near(on_list={"1234567893"}), 5.0, selected="1245319599")
    assert _get_map_string(a.base) == _get_map_string(b.base)
    assert _get_feature_group_string(a.layers, a.base) != _get_feature_group_string(
        b.layers, b.base
    )


def test_provider_layer_updates_in_place_on_one_canvas():
    script = _get_feature_group_string(build_map(PRACTICE, _near(), 5.0).layers, folium.Map())
    assert "L.canvas(" in script and "renderer: st.renderer" in script
    assert "window.__raLayer" in script  # one layer kept across updates, keyed by NPI
    assert "setStyle(" in script and "removeLayer(" in script
    assert "L.circle(" in script


def test_selected_provider_gets_a_ring_and_colour_by_is_the_one_style_switch():
    near = _near()
    styles = marker_styles(near, selected="1245319599")
    by_npi = dict(zip(near["npi"], styles, strict=True))
    assert by_npi["1245319599"]["color"] == SELECTED_STROKE
    assert by_npi["1234567893"]["color"] != SELECTED_STROKE
    with pytest.raises(KeyError):
        marker_styles(near, colour_by="no such colouring")


def test_clicked_here_lists_every_provider_under_the_click_clicked_first():
    known = {"1234567893", "1245319599"}
    returned = {
        "last_active_drawing": {
            "properties": {"npi": "1245319599", "here": ["1234567893", "1245319599", 7, None]}
        }
    }
    assert clicked_here(returned, known) == ["1245319599", "1234567893"]
    assert clicked_here({"last_active_drawing": {"properties": {"npi": "1234567893"}}}, known) == [
        "1234567893"
    ]
    assert clicked_here({"last_active_drawing": {"properties": {"npi": "999"}}}, known) == []
    assert clicked_here(None, known) == []


def test_co_located_providers_are_found_by_their_coordinates():
    df = _providers()
    df.loc[1, ["lat", "lon"]] = df.loc[0, ["lat", "lon"]].to_numpy()  # same building
    near = providers_near(df, pd.DataFrame(columns=["npi", "partner_id", "stage", "active"]),
                          PRACTICE.lat, PRACTICE.lon, 5.0)  # fmt: skip
    assert set(co_located(near, "1234567893")) == {"1234567893", "1245319599"}
    assert co_located(near, "1245319599")[0] == "1245319599"
    assert co_located(near, "0000000000") == []


def test_legend_sits_outside_the_map_and_escapes_labels():
    assert "ra-legend" in legend_html() and "on your list" in legend_html()
    script = _get_map_string(build_map(PRACTICE, _near(), 5.0).base)
    assert "ra-legend" not in script  # nothing drawn over the dots


def test_jquery_is_loaded_only_for_folium_popups():
    plain = localize_assets(folium.Map())
    assert not any("jquery" in url for _, url in plain.default_js)
    with_popup = folium.Map()
    folium.Marker((39.7, -104.9), popup="hello").add_to(with_popup)
    localize_assets(with_popup)
    assert any("jquery" in url for _, url in with_popup.default_js)
