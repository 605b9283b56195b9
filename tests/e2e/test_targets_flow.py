"""A liaison moves a target through two stages, logs a visit and sees the week's count move."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeout


def _pick(page: Page, scope, option: str) -> None:  # type: ignore[no-untyped-def]
    """Choose in the scope's first selectbox; a rerun may close the list, so retry once."""
    box = scope.get_by_test_id("stSelectbox").first
    choice = page.get_by_role("option", name=option, exact=True)
    for _ in range(3):
        page.wait_for_timeout(500)  # let the last rerun settle
        box.click()
        try:
            choice.click(timeout=5_000)
            break
        except PlaywrightTimeout:
            page.keyboard.press("Escape")


def _metric(page: Page, label: str):  # type: ignore[no-untyped-def]
    return page.get_by_test_id("stMetric").filter(has_text=label).get_by_test_id("stMetricValue")


def test_move_a_target_through_two_stages_log_a_visit_and_see_the_week(
    page: Page, app_url: str, outside_requests: list[str]
) -> None:
    page.set_viewport_size({"width": 1400, "height": 1400})
    page.goto(app_url)  # the first visit runs app.py's navigation
    expect(page.get_by_test_id("demo-badge")).to_be_visible(timeout=45_000)
    page.goto(f"{app_url}/targets")
    expect(page.get_by_role("heading", name="Targets")).to_be_visible(timeout=30_000)
    expect(page.get_by_role("tab", name="Pipeline")).to_be_visible()

    connected = _metric(page, "Connected")
    before_connected = int(connected.inner_text())
    page.get_by_role("tab", name="This week").click()
    week = _metric(page, "Outreach visits this week")
    expect(week).to_be_visible()
    visits = int(week.inner_text().split()[0])
    assert week.inner_text() == f"{visits} of 2–3"
    page.get_by_role("tab", name="Pipeline").click()

    # the editor opens on the first target; move it to Contacted, then to Connected
    editor = page.get_by_test_id("stForm").filter(has_text="Save partner")
    expect(editor).to_be_visible()
    name = page.get_by_role("heading", level=4).first.inner_text().strip()
    assert name
    _pick(page, editor, "Contacted")
    editor.get_by_role("button", name="Save partner").click()
    expect(page.get_by_text("Saved. Stage moved to Contacted.")).to_be_visible(timeout=15_000)
    timeline = page.locator(".st-key-partner_timeline")
    expect(timeline.get_by_text("Stage: Target → Contacted")).to_be_visible()
    _pick(page, editor, "Connected")
    editor.get_by_role("button", name="Save partner").click()
    expect(page.get_by_text("Saved. Stage moved to Connected.")).to_be_visible(timeout=15_000)
    expect(connected).to_have_text(str(before_connected + 1))
    expect(timeline.get_by_text("Stage: Contacted → Connected")).to_be_visible()
    expect(page.get_by_role("heading", level=4).first).to_have_text(name)  # still the same one

    # log a visit with HTML in the notes
    log = page.get_by_test_id("stForm").filter(has_text="Log activity").first
    _pick(page, log, "Visit")
    log.get_by_label("Notes").fill("<b>Met</b> the front desk")
    log.get_by_role("button", name="Log activity").click()
    expect(page.get_by_text("Visit logged.")).to_be_visible(timeout=15_000)
    # shown as text, not as markup
    expect(timeline.get_by_text("<b>Met</b> the front desk")).to_be_visible()
    assert timeline.locator("b", has_text=re.compile("^Met$")).count() == 0

    page.get_by_role("tab", name="This week").click()
    expect(week).to_have_text(f"{visits + 1} of 2–3", timeout=15_000)
    assert outside_requests == []


ROW = 35  # glide-data-grid: the header and every row are 35 px high


def test_a_ticked_partner_stays_ticked_and_named_when_the_stage_filter_changes(
    page: Page, app_url: str, outside_requests: list[str]
) -> None:
    page.set_viewport_size({"width": 1400, "height": 1400})
    page.goto(app_url)
    expect(page.get_by_test_id("demo-badge")).to_be_visible(timeout=45_000)
    page.goto(f"{app_url}/targets")
    grid = page.get_by_test_id("stDataFrame").first
    expect(grid).to_be_visible(timeout=30_000)
    page.wait_for_timeout(1000)
    # The grid is a canvas; glide keeps an accessible table of the visible cells (row 0 of
    # that table is the header), which is what is read here.
    rows = grid.locator("table tr")
    stages = [rows.nth(i).locator("td").nth(1).inner_text() for i in range(1, 10)]
    k = stages.index("Contacted")  # the first Contacted row: below the Target rows
    assert k > 0
    name = rows.nth(k + 1).locator("td").nth(2).inner_text()
    box = grid.bounding_box()
    assert box is not None
    page.mouse.click(box["x"] + 18, box["y"] + ROW * (k + 1) + ROW / 2)  # its tick box
    move = page.get_by_role("button", name=re.compile(r"^Move \d+ selected"))
    expect(move).to_have_text(f"Move 1 selected: {name}", timeout=15_000)

    # filter to Contacted: the partner is now the first row, and still the one ticked
    page.get_by_test_id("stMultiSelect").filter(has_text="Stage").locator("input").click()
    page.get_by_role("option", name="Contacted", exact=True).click()
    page.keyboard.press("Escape")
    expect(page.get_by_text(re.compile(r"^\d+ of \d+ partners"))).not_to_have_text(
        re.compile(r"^(\d+) of \1 partners")
    )
    page.wait_for_timeout(1500)
    expect(rows.nth(1).locator("td").nth(2)).to_have_text(name)
    expect(move).to_have_text(f"Move 1 selected: {name}")
    expect(rows.nth(1)).to_have_attribute("aria-selected", "true")
    for i in range(2, rows.count()):
        assert rows.nth(i).get_attribute("aria-selected") != "true"
    expect(page.get_by_role("heading", level=4).first).to_have_text(name)  # the editor too

    # the move changes that partner, and says so by name
    formal = _metric(page, "Formal")
    before = int(formal.inner_text())
    _pick(page, page.get_by_test_id("stHorizontalBlock").filter(has_text="Move selected to"),
          "Formal")  # fmt: skip
    expect(move).to_have_text(f"Move 1 selected: {name}")
    move.click()
    expect(page.get_by_text(f"Moved 1 to Formal: {name}.")).to_be_visible(timeout=15_000)
    expect(formal).to_have_text(str(before + 1))
    assert outside_requests == []
