"""The provider map: a folium map of the practice, its radius and the providers around it.

Design choices, each measured:
- The map is split in two. The *base* map (tiles, the practice marker) has a script that
  depends on the practice only; streamlit-folium keys its iframe on that script, so the Leaflet
  map is created once per practice. Everything else (radius circle, providers, the selected
  ring) travels as the feature group's script, which streamlit-folium re-evaluates inside the
  living map whenever it changes.
- That script does not rebuild the providers. It keeps one layer on the iframe's `window`
  (`__raLayer`), keyed by NPI, and applies the new data to it: a marker whose style changed is
  restyled, a new provider is added, a provider gone from the filter is removed. Adding a
  target therefore restyles one dot; the map, its view and an open popup stay as they were.
  The view is re-fitted only when the radius circle itself moves or changes size.
- Providers are circle markers on one canvas renderer: 10,000 dots draw and pan as one
  bitmap, where one SVG path per dot costs a DOM node each.
- Each marker carries its provider's NPI; a click returns the feature (`last_active_drawing`),
  so the clicked provider is identified exactly. Before streamlit-folium reads the feature, the
  click handler lists every provider whose dot lies under the pointer (same building, or dots
  overlapping at this zoom) in `here`, so the page can offer all of them.
- Every text that reaches the browser is HTML-escaped here: names and addresses come from a
  public registry and are untrusted. "</" is broken up so nothing can close a script tag.
- Leaflet and jQuery come from /app/static (components/assets.py), never from a CDN.
- `marker_styles` is the one place that decides how a dot looks, column-wise; a new colouring
  is one more entry in `COLOUR_BY`.
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import folium
import numpy as np
import pandas as pd
from branca.element import MacroElement, Template

from components import assets
from services.practices import Practice
from services.specialties import GROUPS, group_color

METERS_PER_MILE = 1609.344
TARGET_STROKE = "#111111"
NEW_STROKE = "#D97706"  # amber ring: new since the previous registry search
SELECTED_STROKE = "#2563EB"  # blue ring: the provider shown in the card
#: st_folium's return keys we use: the clicked feature and a click counter (a repeat click on
#: the same marker changes only the counter). Pan and zoom are not listed, so they do not rerun
#: the app.
RETURNED_OBJECTS = ["last_active_drawing", "last_object_clicked_count"]
#: Ways to colour the dots' fill: name -> function of the filtered frame giving one colour per
#: row. The ring (on the list, new, selected) is independent of the fill.
#: Shared patients (from imported data files): red for providers who share patients with PT
#: competitors and none with you (the leakage to win back), orange for splitters, green for
#: loyalists, grey where the files say nothing.
SHARED_COLOURS = {"opportunity": "#D62728", "splitter": "#FF7F0E", "loyalist": "#2CA02C"}
NO_SHARED_COLOUR = "#BBBBBB"
SHARED_LEGEND = (
    ("opportunity", "shares patients with PT competitors, not with you"),
    ("splitter", "shares some with you, more with competitors"),
    ("loyalist", "shares half or more with you"),
)


def _shared_colours(near: pd.DataFrame) -> list[str]:
    labels = near["shared_label"].tolist() if "shared_label" in near else [None] * len(near)
    return [SHARED_COLOURS.get(x, NO_SHARED_COLOUR) if isinstance(x, str) else NO_SHARED_COLOUR
            for x in labels]  # fmt: skip


COLOUR_BY: dict[str, Callable[[pd.DataFrame], list[str]]] = {
    "group": lambda near: [group_color(g) for g in near["specialty_group"].tolist()],
    "shared": _shared_colours,
}


@dataclass
class ProviderMap:
    base: folium.Map
    layers: folium.FeatureGroup
    center: tuple[float, float]
    feature_count: int


def localize_assets(m: folium.Map) -> folium.Map:
    """Point every JS/CSS link of the map at our local copies (offline rendering)."""
    m.default_js = [
        ("leaflet", assets.LEAFLET_JS),
        ("leaflet_icon_path", assets.LEAFLET_ICON_PATH_JS),
    ]
    m.default_css = [("leaflet_css", assets.LEAFLET_CSS)]
    stack: list[Any] = [m]
    while stack:
        element = stack.pop()
        if isinstance(element, folium.Popup) and ("jquery", assets.JQUERY_JS) not in m.default_js:
            # folium's popups call $(...); without one, the map spares the page ~90 kB of script
            m.default_js.append(("jquery", assets.JQUERY_JS))
        if element is not m and getattr(element, "default_js", None):
            # Any plugin would load from a CDN; refuse rather than ship a blank map.
            raise ValueError(f"{type(element).__name__} has no local assets")
        stack.extend(getattr(element, "_children", {}).values())
    return m


def _escaped(near: pd.DataFrame, column: str) -> list[str]:
    """A column as HTML-escaped text ('' for missing), escaped once per column, not per cell."""
    if column not in near.columns:
        return [""] * len(near)
    escape = html.escape
    seen: dict[Any, str] = {}  # labels repeat (groups, specialties): escape each value once
    out = []
    for v in near[column].tolist():
        text = seen.get(v)
        if text is None:
            missing = v is None or (isinstance(v, float) and v != v) or v is pd.NA
            text = seen[v] = "" if missing else escape(str(v))
        out.append(text)
    return out


def marker_styles(
    near: pd.DataFrame, selected: str | None = None, colour_by: str = "group"
) -> list[dict[str, Any]]:
    """One Leaflet path style per row. The fill comes from `COLOUR_BY[colour_by]`; targets get
    a dark ring and a larger dot; approximate (ZIP-centroid) locations a dashed outline;
    providers new since the previous search (a non-empty `new_since`) an amber ring; the
    selected provider a blue ring on top of all that."""
    fills = COLOUR_BY[colour_by](near)
    on_list = near["on_list"].astype(bool).tolist()
    approx = (near["geocode_precision"] == "zip").tolist()
    new = (
        (near["new_since"].fillna("") != "").tolist()
        if "new_since" in near.columns
        else [False] * len(near)
    )
    npis = near["npi"].tolist()
    styles: list[dict[str, Any]] = []
    for i in range(len(near)):
        if on_list[i]:
            style = {"color": TARGET_STROKE, "weight": 3, "radius": 9, "fillOpacity": 0.9}
        elif new[i]:
            style = {"color": NEW_STROKE, "weight": 3, "radius": 8, "fillOpacity": 0.75}
        else:
            color = "#555555" if approx[i] else "#ffffff"
            style = {"color": color, "weight": 1, "radius": 6, "fillOpacity": 0.75}
        style["fillColor"] = fills[i]
        if approx[i]:
            style["dashArray"] = "3 3"
        if selected is not None and npis[i] == selected:
            style.update(color=SELECTED_STROKE, weight=4, radius=style["radius"] + 2)
        styles.append(style)
    return styles


def provider_payload(
    near: pd.DataFrame, selected: str | None = None, colour_by: str = "group"
) -> dict[str, Any]:
    """What the browser needs to draw the providers, compact enough for 10,000 of them.

    Columns, one entry per provider in the frame's order (best first): `npi`, `lat`, `lon`,
    `tip` (escaped HTML: name, group and specialty, distance, list status) and `style` (an
    index into `styles`, the few distinct marker styles).
    """
    esc = {c: _escaped(near, c) for c in (
        "display_name", "specialty", "group_label", "npi", "stage", "new_since",
    )}  # fmt: skip
    styles: list[dict[str, Any]] = []
    style_index: dict[tuple[tuple[str, Any], ...], int] = {}
    style_col: list[int] = []
    for style in marker_styles(near, selected, colour_by):
        key = tuple(sorted(style.items()))
        if key not in style_index:
            style_index[key] = len(styles)
            styles.append(style)
        style_col.append(style_index[key])
    dists = near["distance_mi"].tolist()
    on_list = near["on_list"].astype(bool).tolist()
    approx = (near["geocode_precision"] == "zip").tolist()
    tips = []
    for i in range(len(near)):
        tip = (
            f"<b>{esc['display_name'][i]}</b><br>{esc['group_label'][i]} · "
            f"{esc['specialty'][i]}<br>{dists[i]:.1f} mi"
        )
        if approx[i]:
            tip += " · approximate location"
        if on_list[i]:
            tip += f"<br><b>On your list</b> ({esc['stage'][i]})"
        if esc["new_since"][i]:
            tip += f"<br><b>New since {esc['new_since'][i]}</b>"
        tips.append(tip)
    return {
        "npi": esc["npi"],
        "lat": [round(v, 6) for v in near["lat"].tolist()],
        "lon": [round(v, 6) for v in near["lon"].tolist()],
        "tip": tips,
        "style": style_col,
        "styles": styles,
    }


def _js_json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":")).replace("</", "<\\/")


class _ProviderLayer(MacroElement):
    """Applies the providers, the radius circle and the view fit to the living map (see the
    module docstring). One shared tooltip and one shared popup serve every dot, so 10,000
    providers cost 10,000 canvas paths and nothing else."""

    _template = Template((Path(__file__).parent / "provider_layer.js.j2").read_text())

    def __init__(
        self, payload: dict[str, Any], center: tuple[float, float], radius_mi: float
    ) -> None:
        super().__init__()
        self._name = "ProviderLayer"
        self.data_json = _js_json(payload)
        meters = radius_mi * METERS_PER_MILE
        self.circle_json = _js_json({"center": list(center), "meters": meters})
        self.fit_key = _js_json(f"{center[0]:.6f},{center[1]:.6f},{meters:.1f}")
        self.selected_stroke = SELECTED_STROKE

    def render(self, **kwargs: Any) -> None:
        """Nothing to add to the figure: streamlit-folium generates this element's script from
        its macro itself, and rendering a megabyte of data twice would double the cost."""


def _dot(color: str, ring: str = "#ffffff", width: int = 1, dashed: bool = False) -> str:
    border = f"{width}px {'dashed' if dashed else 'solid'} {ring}"
    return (
        '<span style="display:inline-block;width:10px;height:10px;border-radius:50%;'
        f'background:{color};border:{border};margin:0 4px 0 10px;vertical-align:-1px"></span>'
    )


def legend_html(colour_by: str = "group") -> str:
    """The colour key, drawn beside the map rather than over it, so it never hides a dot."""
    if colour_by == "shared":
        parts = [_dot(SHARED_COLOURS[k]) + html.escape(text) for k, text in SHARED_LEGEND]
        parts.append(_dot(NO_SHARED_COLOUR) + "no shared-patient data")
    else:
        parts = [_dot(g.color) + html.escape(g.label) for g in GROUPS]
    parts += [
        _dot("#ffffff", TARGET_STROKE, 3) + "on your list",
        _dot("#ffffff", NEW_STROKE, 3) + "new since the last search",
        _dot("#ffffff", "#555555", 1, dashed=True) + "approximate location",
        _dot("#ffffff", SELECTED_STROKE, 3) + "shown below",
    ]
    return (
        '<div class="ra-legend" style="font-size:0.8rem;line-height:1.9;color:#444">'
        + "".join(f'<span style="white-space:nowrap">{p}</span>' for p in parts)
        + "</div>"
    )


def build_map(
    practice: Practice,
    near: pd.DataFrame,
    radius_mi: float,
    selected: str | None = None,
    colour_by: str = "group",
) -> ProviderMap:
    """The map for a practice and the providers already filtered to its radius."""
    assert practice.lat is not None and practice.lon is not None
    center = (practice.lat, practice.lon)
    base = folium.Map(
        location=center,
        zoom_start=12,  # the feature group fits the view to the radius circle at once
        tiles="OpenStreetMap",  # carries the "© OpenStreetMap contributors" attribution
        control_scale=True,
        zoom_snap=0.25,  # so the radius circle can fill the frame, not half of it
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
    localize_assets(base)

    layers = folium.FeatureGroup(name="Providers")
    _ProviderLayer(provider_payload(near, selected, colour_by), center, radius_mi).add_to(layers)
    return ProviderMap(base, layers, center, len(near))


def _feature_props(returned: dict[str, Any] | None) -> dict[str, Any] | None:
    if not isinstance(returned, dict):
        return None
    feature = returned.get("last_active_drawing")
    if not isinstance(feature, dict):
        return None
    props = feature.get("properties")
    return props if isinstance(props, dict) else None


def _as_npi(value: Any) -> str | None:
    if not isinstance(value, str | int) or isinstance(value, bool):
        return None
    return str(value)


def clicked_npi(returned: dict[str, Any] | None, known: set[str] | None = None) -> str | None:
    """The NPI of the provider feature the user clicked, from st_folium's return value.

    Returns None when nothing was clicked, when the click was not on a provider (the practice
    marker, say), or when `known` is given and the NPI is not in it (a stale click from a
    previous radius or practice).
    """
    props = _feature_props(returned)
    npi = _as_npi(props.get("npi")) if props else None
    if npi is None or (known is not None and npi not in known):
        return None
    return npi


def clicked_here(returned: dict[str, Any] | None, known: set[str] | None = None) -> list[str]:
    """Every provider under the click (the clicked one first), as the map reported them;
    unknown or malformed entries are dropped. A single provider gives a one-item list."""
    npi = clicked_npi(returned, known)
    if npi is None:
        return []
    props = _feature_props(returned) or {}
    here = props.get("here")
    others = [_as_npi(n) for n in here] if isinstance(here, list) else []
    found = [n for n in others if n is not None and (known is None or n in known)]
    return [npi, *[n for n in dict.fromkeys(found) if n != npi]]


def co_located(near: pd.DataFrame, npi: str, places: int = 5) -> list[str]:
    """Providers at the same spot as `npi` (coordinates equal to ~1 m), the given one first:
    a group practice's building holds many, and their dots sit exactly on top of each other."""
    row = near.loc[near["npi"] == npi]
    if row.empty:
        return []
    lat, lon = round(float(row["lat"].iloc[0]), places), round(float(row["lon"].iloc[0]), places)
    same = (np.round(near["lat"].to_numpy(float), places) == lat) & (
        np.round(near["lon"].to_numpy(float), places) == lon
    )
    return [npi, *[n for n in near.loc[same, "npi"].tolist() if n != npi]]
