"""The staff meeting: open Progress, switch to the projector view, page through the charts;
then download the report and open it in a browser with the network blocked."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Page, Route, expect


def _open_progress(page: Page, app_url: str) -> None:
    page.set_viewport_size({"width": 1600, "height": 1000})
    page.goto(app_url)
    expect(page.get_by_test_id("demo-badge")).to_be_visible(timeout=45_000)
    # Navigate inside the session: the sidebar link, as a person would.
    page.get_by_role("link", name="Progress").click()
    expect(page.get_by_role("heading", name="Progress")).to_be_visible(timeout=30_000)


def test_staff_meeting_mode_shows_the_charts(
    page: Page, app_url: str, outside_requests: list[str]
) -> None:
    _open_progress(page, app_url)
    expect(page.locator(".js-plotly-plot").first).to_be_visible(timeout=30_000)
    page.get_by_text("Staff-meeting mode").click()
    expect(page.get_by_text("Slide 1 of 8")).to_be_visible(timeout=15_000)
    expect(page.get_by_role("button", name="Next ▶")).to_be_visible()
    expect(page.locator('[data-testid="stSidebar"]')).to_be_hidden()
    expect(page.get_by_text("Active partners", exact=True)).to_be_visible()
    assert page.get_by_role("button", name="Download report (HTML)").count() == 0

    page.get_by_role("button", name="Next ▶").click()
    expect(page.get_by_text("Slide 2 of 8")).to_be_visible(timeout=15_000)
    plot = page.locator(".js-plotly-plot")
    expect(plot).to_have_count(1, timeout=15_000)
    expect(plot.locator(".main-svg").first).to_be_visible(timeout=15_000)
    expect(plot.get_by_text("Partnership growth against the playbook")).to_be_visible()
    # full width: the chart spans most of a 1600 px screen
    box = plot.bounding_box()
    assert box is not None and box["width"] > 1200
    # the five phase bands and the three actual lines are drawn
    assert plot.locator(".shapelayer path").count() >= 6  # 5 bands and today
    expect(plot.locator(".scatterlayer .trace")).to_have_count(8)

    page.get_by_role("button", name="Next ▶").click()
    expect(page.get_by_text("Slide 3 of 8")).to_be_visible(timeout=15_000)
    expect(page.locator(".js-plotly-plot").get_by_text("Referrals per month, by specialty group")
           ).to_be_visible(timeout=15_000)  # fmt: skip
    assert outside_requests == []


def test_exported_report_opens_offline_with_its_charts(
    page: Page, app_url: str, tmp_path: Path
) -> None:
    _open_progress(page, app_url)
    button = page.get_by_role("button", name="Download report (HTML)")
    expect(button).to_be_visible(timeout=30_000)
    with page.expect_download(timeout=60_000) as info:
        button.click()
    path = tmp_path / "report.html"
    info.value.save_as(path)
    assert path.stat().st_size > 3_000_000  # plotly.js is inside

    blocked: list[str] = []

    def only_the_file(route: Route) -> None:
        if route.request.url.startswith("file://"):
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort()

    offline = page.context.new_page()
    offline.route("**/*", only_the_file)
    offline.goto(path.as_uri())
    plots = offline.locator(".js-plotly-plot")
    expect(plots).to_have_count(6, timeout=30_000)
    for i in range(6):
        expect(plots.nth(i).locator(".main-svg").first).to_be_visible(timeout=15_000)
    expect(offline.locator("#headline")).to_contain_text("week")
    expect(offline.get_by_text("source: Accenture Health")).to_be_visible()
    # the charts are live plotly.js, not pictures: a drag layer and a mode bar for zooming
    growth = plots.first
    assert growth.locator(".shapelayer path").count() >= 6
    growth.hover()
    expect(growth.locator(".modebar")).to_be_attached()
    expect(growth.locator(".nsewdrag").first).to_be_attached()
    assert blocked == []
