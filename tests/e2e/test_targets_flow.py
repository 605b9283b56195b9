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
