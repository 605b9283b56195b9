"""A clinic owner opens the app, clicks a provider on the map and adds it to the targets."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.e2e.map_driver import MAP_IFRAME, click_marker, lonely_off_list_npi, map_frame


def test_click_marker_add_target_then_see_it_on_targets_page(
    page: Page, app_url: str, outside_requests: list[str]
) -> None:
    page.set_viewport_size({"width": 1400, "height": 1000})
    page.goto(app_url)
    expect(page.locator(MAP_IFRAME)).to_be_visible(timeout=45_000)
    map_ = map_frame(page)
    frame = page.frame_locator(MAP_IFRAME)
    assert map_.evaluate("window.__raDrawn") > 50  # the providers drew (on one canvas)
    expect(frame.locator(".leaflet-control-attribution")).to_contain_text("OpenStreetMap")
    expect(frame.locator(".leaflet-control-zoom-in")).to_be_visible()
    expect(page.get_by_test_id("demo-badge")).to_be_visible()

    # The colour key sits beside the map, not over it; click a provider not on the list yet
    # (targets are drawn with a dark ring), one whose dot stands clear of the others.
    expect(page.locator(".ra-legend")).to_contain_text("on your list")
    npi = lonely_off_list_npi(page, map_)
    click_marker(page, map_, npi)
    card = page.locator(".st-key-provider_card")
    add = page.get_by_role("button", name="Add to targets")
    expect(add).to_be_visible(timeout=15_000)
    name = card.locator("h4").inner_text()
    assert name, "no clickable provider off the list was found"
    add.click()
    expect(card.get_by_text(re.compile("On your list"))).to_be_visible(timeout=15_000)

    page.goto(f"{app_url}/targets")
    expect(page.get_by_role("heading", name="Targets")).to_be_visible(timeout=30_000)
    grid = page.locator('[data-testid="stDataFrame"]')
    expect(grid).to_be_visible()
    # the dataframe is a canvas; its search box finds the new target's row
    grid.hover()
    page.get_by_role("button", name="Search").click()
    page.keyboard.type(name.split(",")[0])
    expect(page.get_by_text(re.compile(r"^1 result$"))).to_be_visible(timeout=10_000)

    assert outside_requests == []
