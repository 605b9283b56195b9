"""The provider map in Chromium: changes happen in place, every dot can be picked, the table's
ticks follow providers, and 10,000 providers draw."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa
from playwright.sync_api import Page, expect

from services import db, demo
from services.npi import make_npi
from tests.e2e.conftest import database_url, start_app, stop_app
from tests.e2e.map_driver import (
    add_synthetic_providers,
    click_marker,
    lonely_off_list_npi,
    map_frame,
    marker,
    view,
)


def _prepared_db(tmp: Path) -> tuple[Path, tuple[float, float]]:
    path = tmp / "atlas.db"
    engine = db.make_engine(database_url(path))
    demo.ensure_demo(engine)
    with engine.connect() as conn:
        home = conn.execute(
            sa.select(db.practice.c.lat, db.practice.c.lon).where(db.practice.c.is_demo)
        ).one()
    engine.dispose()
    return path, (float(home.lat), float(home.lon))


@pytest.fixture(scope="module")
def colocated_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, list[str]]]:
    """The demo plus three providers in one building (same coordinates) off the list."""
    path, (lat, lon) = _prepared_db(tmp_path_factory.mktemp("e2e_map"))
    engine = db.make_engine(database_url(path))
    npis = [make_npi(f"28888888{i}") for i in range(3)]
    # the building stands where no demo dot is near (so the click finds these three only)
    with engine.connect() as conn:
        dots = np.array(conn.execute(sa.select(db.provider.c.lat, db.provider.c.lon)).all(), float)
    grid = [(lat + dy, lon + dx) for dy in np.linspace(-0.04, 0.04, 17)
            for dx in np.linspace(-0.05, 0.05, 17)]  # fmt: skip
    spot = max(grid, key=lambda p: np.min(np.hypot(dots[:, 0] - p[0], dots[:, 1] - p[1])))
    with engine.begin() as conn:
        for i, npi in enumerate(npis):
            conn.execute(
                db.provider.insert().values(
                    npi=npi, entity_type="individual", name=f"BUILDING DOC {'ABC'[i]}",
                    specialty_group="ortho", primary_taxonomy="207X00000X",
                    lat=spot[0], lon=spot[1], data_source="demo",
                    geocode_precision="address",
                )
            )  # fmt: skip
    engine.dispose()
    url, proc = start_app(path)
    yield url, npis
    stop_app(proc)


def test_add_to_targets_restyles_the_dot_in_place(
    page: Page, colocated_app: tuple[str, list[str]], outside_requests: list[str]
) -> None:
    url, _ = colocated_app
    page.set_viewport_size({"width": 1400, "height": 1000})
    page.goto(url)
    frame = map_frame(page)
    frame.evaluate("window.__sentinel = 1")
    frame.locator(".leaflet-control-zoom-in").click()  # the user's own view
    frame.wait_for_timeout(600)
    npi = lonely_off_list_npi(page, frame)
    click_marker(page, frame, npi)
    expect(frame.locator(".leaflet-popup")).to_be_visible(timeout=10_000)
    add = page.get_by_role("button", name="Add to targets")
    expect(add).to_be_visible(timeout=15_000)
    before = view(frame)
    add.click()
    # restyled as a target (larger; its ring stays blue while it is the one shown below)
    frame.wait_for_function(
        f"""() => {{ const m = window.__raLayer.byNpi['{npi}'];
            return m.options.radius > 9 && m.feature.properties.tip.includes('On your list'); }}""",
        timeout=15_000,
    )
    # the same Leaflet map: the sentinel survived, the view and the open popup too
    assert frame.evaluate("window.__sentinel") == 1
    assert view(frame) == before
    expect(frame.locator(".leaflet-popup")).to_be_visible()
    expect(
        page.locator(".st-key-provider_card").get_by_text(re.compile("On your list"))
    ).to_be_visible()
    # the success message stays until the next action, not just one rerun
    message = page.get_by_text(re.compile(r"^Added .* to your targets\.$"))
    expect(message).to_be_visible()
    page.wait_for_timeout(2_500)
    expect(message).to_be_visible()
    assert marker(frame, npi)["color"] == "#2563EB"  # still the selected one
    # a smaller radius re-fits the view to the new circle, in the same map
    fit = frame.evaluate("window.__raLayer.fitKey")
    slider = page.get_by_role("slider")
    slider.focus()
    page.keyboard.press("ArrowLeft")
    frame.wait_for_function(f"window.__raLayer.fitKey !== {fit!r}", timeout=15_000)
    assert frame.evaluate("window.__sentinel") == 1
    frame.wait_for_function(
        """() => { const st = window.__raLayer;
            return st.map.getBounds().contains(st.circle.getBounds()); }""",
        timeout=5_000,
    )  # the whole new circle comes into view (after the zoom animation)
    assert outside_requests == []


def test_a_click_where_several_stand_offers_them_all(
    page: Page, colocated_app: tuple[str, list[str]]
) -> None:
    url, npis = colocated_app
    page.set_viewport_size({"width": 1400, "height": 1000})
    page.goto(url)
    frame = map_frame(page)
    # hovering shows the name and the group
    dot = marker(frame, npis[0])
    box = page.locator('iframe[title="streamlit_folium.st_folium"]').bounding_box()
    page.mouse.move(box["x"] + dot["x"], box["y"] + dot["y"])
    tip = frame.locator(".leaflet-tooltip")
    expect(tip).to_contain_text("Building Doc".upper(), ignore_case=True, timeout=10_000)
    expect(tip).to_contain_text("Orthopaedic surgery")
    click_marker(page, frame, npis[0])
    picker = page.get_by_role("radiogroup")
    expect(page.get_by_text(re.compile(r"^3 providers here$"))).to_be_visible(timeout=15_000)
    card = page.locator(".st-key-provider_card h4")
    first = card.inner_text()
    options = picker.get_by_role("radio")
    assert options.count() == 3
    page.get_by_text(re.compile(r"BUILDING DOC [ABC] ·")).nth(2).click()
    expect(card).not_to_have_text(first, timeout=10_000)
    assert "BUILDING DOC" in card.inner_text()
    # the picked one is now the ringed one on the map, in place
    frame.wait_for_function("window.__sentinel === undefined || true")


def test_a_tick_stays_on_its_provider_when_the_filter_changes(
    page: Page, colocated_app: tuple[str, list[str]]
) -> None:
    url, _ = colocated_app
    page.set_viewport_size({"width": 1400, "height": 1000})
    page.goto(url)
    map_frame(page)
    grid = page.locator(".stDataFrame, [data-testid='stDataFrame']").last
    grid.scroll_into_view_if_needed()
    expect(grid).to_be_visible(timeout=15_000)
    cells = grid.locator("table[role='grid'] tbody tr")
    expect(cells.nth(3)).to_be_attached(timeout=15_000)
    # tick the fourth row's box: its provider is named under the button
    row = cells.nth(3)
    group = row.locator("td").nth(3).text_content()
    # the grid is a canvas: click the row's "Add" box where it is drawn (35 px rows)
    box = grid.bounding_box()
    assert box is not None
    page.mouse.click(box["x"] + 37, box["y"] + 35 + 35 * 3 + 17)
    caption = page.get_by_text(re.compile(r"^Will add "))
    expect(caption).to_be_visible(timeout=10_000)
    named = caption.inner_text()
    # drop a specialty group the ticked provider is not in: the rows above it shift
    other = "Orthopaedic surgery" if group != "Orthopaedic surgery" else "Sports medicine"
    page.get_by_role("button", name=f"Remove {other}").click()
    page.wait_for_timeout(1_500)
    expect(page.get_by_text(re.compile(r"^Will add "))).to_have_text(named, timeout=10_000)
    assert page.get_by_role("button", name="Add 1 selected to targets").is_visible()


@pytest.fixture(scope="module")
def dense_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    path, (lat, lon) = _prepared_db(tmp_path_factory.mktemp("e2e_dense"))
    add_synthetic_providers(path, 10_000, lat, lon, 24.0)
    url, proc = start_app(path)
    yield url
    stop_app(proc)


def test_ten_thousand_providers_draw_on_one_canvas(page: Page, dense_app: str) -> None:
    page.set_viewport_size({"width": 1400, "height": 1000})
    t0 = time.monotonic()
    page.goto(f"{dense_app}/?radius=25")
    frame = map_frame(page, timeout_s=120)
    frame.wait_for_function("window.__raDrawn >= 10000", timeout=120_000)
    drawn = time.monotonic() - t0
    assert frame.locator("canvas.leaflet-zoom-animated").count() >= 1
    assert frame.locator("path.leaflet-interactive").count() == 0  # no SVG node per dot
    assert drawn < 60  # generous here: the benchmark holds the real bound
    # a click in the crowd still identifies providers by NPI: the card shows one of them
    npi = frame.evaluate(
        """() => { const st = window.__raLayer, s = st.map.getSize();
            return Object.keys(st.byNpi).find(n => {
                const p = st.map.latLngToContainerPoint(st.byNpi[n].getLatLng());
                const c = Math.hypot(p.x - s.x / 2, p.y - s.y / 2);  // clear of the practice
                return c > 60 && p.x > 100 && p.y > 100 && p.x < s.x - 100 && p.y < 450; }); }"""
    )
    click_marker(page, frame, npi)
    expect(page.locator(".st-key-provider_card")).to_contain_text(
        re.compile(r"NPI \d{10}"), timeout=30_000
    )
