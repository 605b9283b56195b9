"""The provider map: a folium map of the practice, its radius and the providers around it.

Design choices, each measured or checked (see STACK-NOTES §6, §9, §11):
- All providers are one GeoJSON layer of circle markers (`_ProviderLayer`): one object in
  Python and one layer in the browser, over 20x cheaper than one `folium.Marker` per provider.
- The map is split in two: a *base* map (tiles, practice, legend) whose script is stable, and a
  feature group (radius circle, providers) passed as `feature_group_to_add`. streamlit-folium
  keys the iframe on the base script, so adding a target or moving the radius updates the
  layers in place instead of remounting the map and losing the user's pan and zoom.
- Each feature carries its provider's NPI; a click returns the feature (`last_active_drawing`),
  so the clicked provider is identified exactly, never by nearest coordinates.
- Every text that reaches the browser is HTML-escaped here: names and addresses come from a
  public registry and are untrusted.
- Leaflet and jQuery come from /app/static (components/assets.py), never from a CDN.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass
from typing import Any

import folium
import pandas as pd
from branca.element import Element, MacroElement, Template
from folium.plugins import MarkerCluster

from components import assets
from services.practices import Practice
from services.specialties import GROUPS, group_color

METERS_PER_MILE = 1609.344
TARGET_STROKE = "#111111"
NEW_STROKE = "#D97706"  # amber ring: new since the previous registry search
#: st_folium's return keys we use: the clicked feature and a click counter (a repeat click on
#: the same marker changes only the counter). Pan and zoom are not listed, so they do not rerun
#: the app.
RETURNED_OBJECTS = ["last_active_drawing", "last_object_clicked_count"]


@dataclass
class ProviderMap:
    base: folium.Map
    layers: folium.FeatureGroup
    center: tuple[float, float]
    zoom: int
    feature_count: int


def zoom_for_radius(radius_mi: float) -> int:
    """A zoom level at which the whole radius circle fits a ~700 px map."""
    for zoom, max_radius in ((14, 0.8), (13, 1.6), (12, 3.2), (11, 6.5), (10, 13), (9, 26)):
        if radius_mi <= max_radius:
            return zoom
    return 8


def localize_assets(m: folium.Map) -> folium.Map:
    """Point every JS/CSS link of the map at our local copies (offline rendering)."""
    m.default_js = [
        ("leaflet", assets.LEAFLET_JS),
        ("leaflet_icon_path", assets.LEAFLET_ICON_PATH_JS),
        ("jquery", assets.JQUERY_JS),  # folium's popups call $(...)
    ]
    m.default_css = [("leaflet_css", assets.LEAFLET_CSS)]
    stack: list[Any] = [m]
    while stack:
        element = stack.pop()
        if isinstance(element, MarkerCluster):
            element.default_js = [("markerclusterjs", assets.CLUSTER_JS)]
            element.default_css = [
                ("markerclustercss", assets.CLUSTER_CSS),
                ("markerclusterdefaultcss", assets.CLUSTER_DEFAULT_CSS),
            ]
        elif element is not m and getattr(element, "default_js", None):
            # Any other plugin would load from a CDN; refuse rather than ship a blank map.
            raise ValueError(f"{type(element).__name__} has no local assets")
        stack.extend(getattr(element, "_children", {}).values())
    return m


def _escaped(near: pd.DataFrame, column: str) -> list[str]:
    """A column as HTML-escaped text ('' for missing), escaped once per column, not per cell."""
    escape = html.escape
    return [
        "" if v is None or (isinstance(v, float) and v != v) else escape(str(v))
        for v in near[column].tolist()
    ]


def provider_features(near: pd.DataFrame) -> dict[str, Any]:
    """A GeoJSON FeatureCollection of the providers, with escaped tooltip/popup HTML and a
    per-feature style: the group's colour fills the dot; targets get a dark ring and a larger
    dot; approximate (ZIP-centroid) locations get a dashed outline; providers new since the
    previous registry search (a `new_since` column holding that date as text) get an amber
    ring and say so in the tooltip."""
    esc = {c: _escaped(near, c) for c in (
        "display_name", "specialty", "group_label", "address", "city", "state", "zip", "phone",
        "npi", "stage",
    )}  # fmt: skip
    new_since = _escaped(near, "new_since") if "new_since" in near.columns else [""] * len(near)
    features = []
    for i, row in enumerate(
        near[
            [
                "lat",
                "lon",
                "on_list",
                "geocode_precision",
                "specialty_group",
                "distance_mi",
                "score",
            ]
        ].itertuples(index=False)
    ):
        on_list = bool(row.on_list)
        approx = row.geocode_precision == "zip"
        style = {
            "fill": True,
            "fillColor": group_color(row.specialty_group),
            "fillOpacity": 0.9 if on_list else 0.75,
            "color": TARGET_STROKE if on_list else ("#555555" if approx else "#ffffff"),
            "weight": 3 if on_list else 1,
            "radius": 9 if on_list else 6,
        }
        if approx:
            style["dashArray"] = "3 3"
        if new_since[i] and not on_list:
            style.update(color=NEW_STROKE, weight=3, radius=8)
        name, specialty = esc["display_name"][i], esc["specialty"][i]
        distance = f"{row.distance_mi:.1f} mi"
        tip = f"<b>{name}</b><br>{specialty}<br>{distance}"
        if approx:
            tip += " · approximate location"
        if on_list:
            tip += f"<br><b>On your list</b> ({esc['stage'][i]})"
        if new_since[i]:
            tip += f"<br><b>New since {new_since[i]}</b>"
        score = "not scored" if pd.isna(row.score) else f"{row.score:.0f}/100"
        where = ", ".join(p for p in (esc["address"][i], esc["city"][i]) if p)
        state_zip = " ".join(p for p in (esc["state"][i], esc["zip"][i]) if p)
        popup = (
            f"<b>{name}</b><br>{specialty} ({esc['group_label'][i]})<br>{where} {state_zip}<br>"
            f"Phone: {esc['phone'][i] or '—'}<br>Distance: {distance} · Score: {score}<br>"
            f"NPI {esc['npi'][i]}"
        )
        features.append(
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [row.lon, row.lat]},
                "properties": {"npi": esc["npi"][i], "tip": tip, "popup": popup, "style": style},
            }
        )
    return {"type": "FeatureCollection", "features": features}


class _ProviderLayer(MacroElement):
    """All providers as one `L.geoJSON` layer of circle markers, tooltips and popups bound in JS.

    folium.GeoJson does the same in the browser but, in Python, validates every feature for
    its tooltip and popup and serialises the data more than once per render; for 2,000
    providers that alone cost more than the whole map budget. Here the data is serialised once.
    The feature's HTML is already escaped (`provider_features`); "</" is broken up as well so
    nothing in the data can close a script tag.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = L.geoJSON({{ this.data_json }}, {
            pointToLayer: function (feature, latlng) {
                return L.circleMarker(latlng, feature.properties.style);
            },
            onEachFeature: function (feature, layer) {
                layer.bindTooltip(feature.properties.tip, {direction: "top", offset: [0, -6]});
                layer.bindPopup(feature.properties.popup, {maxWidth: 320});
            }
        }).addTo({{ this._parent.get_name() }});
        {% endmacro %}
        """
    )

    def __init__(self, features: dict[str, Any]) -> None:
        super().__init__()
        self._name = "ProviderLayer"
        self.data_json = json.dumps(features, separators=(",", ":")).replace("</", "<\\/")

    def render(self, **kwargs: Any) -> None:
        """Add the script to the figure as fixed text: branca's default wraps the rendered
        script in a new Jinja template, and compiling a megabyte of data as a template costs
        more than everything else on the map together."""
        script = self._template.module.__dict__["script"]
        self.get_root().script.add_child(_FixedText(script(self, kwargs)), name=self.get_name())


class _FixedText(Element):
    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text

    def render(self, **kwargs: Any) -> str:
        return self.text


class _Legend(MacroElement):
    """A Leaflet control listing the specialty colours; drawn in JS, so it works offline."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function () {
            var legend = L.control({position: 'bottomleft'});
            legend.onAdd = function () {
                var div = L.DomUtil.create('div', 'ra-legend');
                div.style.cssText = 'background:rgba(255,255,255,.92);padding:4px 8px;' +
                    'font:11px/1.3 sans-serif;border-radius:6px;box-shadow:0 1px 4px #0004;' +
                    'max-height:300px;overflow:auto';
                L.DomEvent.disableClickPropagation(div);
                L.DomEvent.disableScrollPropagation(div);
                div.innerHTML = {{ this.html|tojson }};
                return div;
            };
            legend.addTo({{ this._parent.get_name() }});
        })();
        {% endmacro %}
        """
    )

    def __init__(self) -> None:
        super().__init__()
        self._name = "Legend"
        rows = "".join(
            f'<div><span style="display:inline-block;width:10px;height:10px;border-radius:50%;'
            f'background:{g.color};margin-right:5px"></span>{html.escape(g.label)}</div>'
            for g in GROUPS
        )
        self.html = (
            '<details open><summary style="cursor:pointer;font-weight:600">Legend</summary>'
            + rows
            + '<div style="margin-top:4px">'
            '<span style="display:inline-block;width:12px;height:12px;border-radius:50%;'
            f'border:3px solid {TARGET_STROKE};margin-right:4px;vertical-align:-3px"></span>'
            "on your list</div>"
            '<div><span style="display:inline-block;width:10px;height:10px;border-radius:50%;'
            'border:1px dashed #555;margin-right:5px"></span>approximate location</div>'
            '<div><span style="display:inline-block;width:10px;height:10px;border-radius:50%;'
            f'border:3px solid {NEW_STROKE};margin-right:4px;vertical-align:-3px"></span>'
            "new since last search</div>"
            "</details>"
        )


def build_map(practice: Practice, near: pd.DataFrame, radius_mi: float) -> ProviderMap:
    """The map for a practice and the providers already filtered to its radius."""
    assert practice.lat is not None and practice.lon is not None
    center = (practice.lat, practice.lon)
    zoom = zoom_for_radius(radius_mi)
    base = folium.Map(
        location=center,
        zoom_start=zoom,
        tiles="OpenStreetMap",  # carries the "© OpenStreetMap contributors" attribution
        control_scale=True,
        prefer_canvas=False,
    )
    folium.Marker(
        center,
        tooltip=html.escape(practice.name),
        icon=folium.DivIcon(
            html=(
                '<div title="Your practice" style="width:26px;height:26px;border-radius:50%;'
                "background:#0F766E;color:#fff;border:2px solid #fff;box-shadow:0 0 4px #000;"
                'font:bold 11px/26px sans-serif;text-align:center">PT</div>'
            ),
            icon_size=(26, 26),
            icon_anchor=(13, 13),
        ),
        z_index_offset=1000,
    ).add_to(base)
    _Legend().add_to(base)
    localize_assets(base)

    layers = folium.FeatureGroup(name="Providers")
    folium.Circle(
        center,
        radius=radius_mi * METERS_PER_MILE,
        color="#0F766E",
        weight=2,
        fill=True,
        fill_opacity=0.04,
        interactive=False,
    ).add_to(layers)
    _ProviderLayer(provider_features(near)).add_to(layers)
    return ProviderMap(base, layers, center, zoom, len(near))


def clicked_npi(returned: dict[str, Any] | None, known: set[str] | None = None) -> str | None:
    """The NPI of the provider feature the user clicked, from st_folium's return value.

    Returns None when nothing was clicked, when the click was not on a provider (the practice
    marker, say), or when `known` is given and the NPI is not in it (a stale click from a
    previous radius or practice).
    """
    if not isinstance(returned, dict):
        return None
    feature = returned.get("last_active_drawing")
    if not isinstance(feature, dict):
        return None
    props = feature.get("properties")
    if not isinstance(props, dict):
        return None
    npi = props.get("npi")
    if not isinstance(npi, str | int) or isinstance(npi, bool):
        return None
    npi = str(npi)
    if known is not None and npi not in known:
        return None
    return npi
