"""Driving the provider map in Chromium: its markers are drawn on one canvas, so there is no
element per provider to click. These helpers ask the map's own layer (`window.__raLayer`, kept
by NPI) where a provider's dot is and click the frame there, as a user's pointer would."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import sqlalchemy as sa
from playwright.sync_api import Frame, Page

MAP_IFRAME = 'iframe[title="streamlit_folium.st_folium"]'


def map_frame(page: Page, timeout_s: float = 60) -> Frame:
    """The map's frame once its provider layer has drawn."""
    page.wait_for_selector(MAP_IFRAME, timeout=timeout_s * 1000)
    handle = page.locator(MAP_IFRAME).element_handle(timeout=timeout_s * 1000)
    frame = handle.content_frame()
    assert frame is not None
    frame.wait_for_function("window.__raDrawn > 0", timeout=timeout_s * 1000)
    return frame


def marker(frame: Frame, npi: str) -> dict[str, Any]:
    """The dot's style and its position in the frame."""
    return frame.evaluate(
        """(npi) => {
            const st = window.__raLayer, m = st.byNpi[npi];
            if (!m) return null;
            const p = st.map.latLngToContainerPoint(m.getLatLng());
            return {x: p.x, y: p.y, color: m.options.color, radius: m.options.radius};
        }""",
        npi,
    )


def lonely_off_list_npi(page: Page, frame: Frame, skip: tuple[str, ...] = ()) -> str:
    """An off-list provider (white ring) whose dot is inside the part of the map the window
    shows and clear of any other dot and of the map's controls, so a click lands on it alone."""
    box = page.locator(MAP_IFRAME).bounding_box()
    assert box is not None and page.viewport_size is not None
    shown = min(box["height"], page.viewport_size["height"] - box["y"])
    npi = frame.evaluate(
        """([skip, shown]) => {
            const st = window.__raLayer, size = {x: st.map.getSize().x, y: shown};
            const pts = Object.values(st.byNpi).map(
                m => [m, st.map.latLngToContainerPoint(m.getLatLng())]);
            for (const [m, p] of pts) {
                const npi = m.feature.properties.npi;
                if (skip.includes(npi) || m.options.color !== "#ffffff") continue;
                if (p.x < 60 || p.y < 90 || p.x > size.x - 40 || p.y > size.y - 40) continue;
                const home = st.map.latLngToContainerPoint(st.map.getCenter());
                if (Math.hypot(home.x - p.x, home.y - p.y) < 30) continue;  // the practice
                const clear = ([o, q]) => o === m || Math.hypot(q.x - p.x, q.y - p.y) > 16;
                if (pts.every(clear)) return npi;
            }
            return null;
        }""",
        [list(skip), shown],
    )
    assert npi, "no provider stands alone in the view"
    return npi


def click_marker(page: Page, frame: Frame, npi: str) -> None:
    box = page.locator(MAP_IFRAME).bounding_box()
    dot = marker(frame, npi)
    assert box and dot, npi
    page.mouse.click(box["x"] + dot["x"], box["y"] + dot["y"])


def view(frame: Frame) -> dict[str, float]:
    return frame.evaluate(
        "() => { const m = window.__raLayer.map, c = m.getCenter();"
        " return {lat: c.lat, lng: c.lng, zoom: m.getZoom()}; }"
    )


def add_synthetic_providers(
    db_path: Path, n: int, lat: float, lon: float, radius_mi: float
) -> None:
    """`n` demo providers spread over a circle, written straight into the app's SQLite file
    (for the 10,000-provider scale checks)."""
    from services.npi import make_npi

    rng = np.random.default_rng(7)
    r = radius_mi * np.sqrt(rng.uniform(0, 0.97, n)) / 69.05
    theta = rng.uniform(0, 2 * np.pi, n)
    groups = ["ortho", "sports", "pmr", "pain", "primary", "podiatry", "neuro", "chiro"]
    rows = [
        (
            make_npi(f"{500000000 + i:09d}"),
            "individual",
            f"SYNTHETIC PROVIDER {i}",
            groups[i % len(groups)],
            "207X00000X",
            float(lat + r[i] * np.cos(theta[i])),
            float(lon + r[i] * np.sin(theta[i]) / np.cos(np.radians(lat))),
            "demo",
            "address",
        )
        for i in range(n)
    ]
    # the app's database for that path: the SQLite file, or its PostgreSQL stand-in
    from services import db
    from tests.e2e.conftest import database_url

    columns = ("npi", "entity_type", "name", "specialty_group", "primary_taxonomy", "lat", "lon",
               "data_source", "geocode_precision")  # fmt: skip
    engine = sa.create_engine(database_url(db_path))
    with engine.begin() as conn:
        conn.execute(db.provider.insert(), [dict(zip(columns, row, strict=True)) for row in rows])
    engine.dispose()
