"""The staff meeting in Chromium: every slide fits a projector's window with no scrolling, the
keys a presenter clicker sends move the slides; the exported report opens offline; a practice
created today gets a Progress page with a period, empty states and no time-of-day axis."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Page, Route, expect

from services import db, slides
from services.practices import PracticeInput, create_practice
from tests.e2e.conftest import database_url, start_app, stop_app

SLIDE_COUNT = len(slides.DEFAULT_SLIDES)


def _open_progress(page: Page, app_url: str, width: int = 1600, height: int = 1000) -> None:
    page.set_viewport_size({"width": width, "height": height})
    page.goto(app_url)
    expect(page.get_by_test_id("demo-badge")).to_be_visible(timeout=45_000)
    # Navigate inside the session: the sidebar link, as a person would.
    page.get_by_role("link", name="Progress").click()
    expect(page.get_by_role("heading", name="Progress")).to_be_visible(timeout=30_000)


def _bar(page: Page):  # type: ignore[no-untyped-def]
    return page.locator(".st-key-meeting_bar")


def _expect_slide(page: Page, n: int) -> None:
    expect(_bar(page)).to_contain_text(f"· {n} / {SLIDE_COUNT}", timeout=15_000)


_FIT = """() => {
  const main = document.querySelector('[data-testid="stMain"]');
  const box = s => { const e = document.querySelector(s); return e && e.getBoundingClientRect(); };
  const body = box('.st-key-meeting_chart .js-plotly-plot') || box('.st-key-meeting_table');
  const take = box('.st-key-meeting_takeaway');
  return {inner: window.innerHeight, doc: document.scrollingElement.scrollHeight,
          main: main.scrollHeight, mainClient: main.clientHeight,
          bodyTop: body && body.top, bodyBottom: body && body.bottom,
          bodyHeight: body && body.height,
          takeTop: take && take.top, takeBottom: take && take.bottom};
}"""


def _assert_fits(page: Page, n: int, min_body: float = 0) -> dict:
    # plotly resizes the figure to the slide after it is drawn: wait for the settled size
    deadline = time.monotonic() + 5
    m = page.evaluate(_FIT)
    while time.monotonic() < deadline and (m["bodyHeight"] or 0) <= min_body:
        page.wait_for_timeout(200)
        m = page.evaluate(_FIT)
    where = f"slide {n}: {m}"
    assert m["doc"] <= m["inner"], where  # the document does not scroll
    assert m["main"] <= m["mainClient"] + 1, where  # nor does the app's main area
    assert m["bodyTop"] is not None and m["bodyTop"] >= 0, where
    assert m["bodyBottom"] <= m["takeTop"] + 1, where  # the chart ends above the takeaway
    assert m["takeBottom"] <= m["inner"], where  # the takeaway is inside the window
    return m


@pytest.mark.parametrize("size", [(1280, 720), (1920, 1080)])
def test_every_meeting_slide_fits_the_window_and_the_keys_move_the_slides(
    page: Page, app_url: str, outside_requests: list[str], size: tuple[int, int]
) -> None:
    _open_progress(page, app_url, *size)
    expect(page.locator(".js-plotly-plot").first).to_be_visible(timeout=30_000)
    page.get_by_role("button", name="Staff-meeting mode").click()
    _expect_slide(page, 1)
    # the controls are hidden; a small exit link stays
    expect(page.locator('[data-testid="stSidebar"]')).to_be_hidden()
    assert page.get_by_label("Location").count() == 0
    expect(page.get_by_role("button", name="Exit meeting mode")).to_be_visible()
    expect(page.locator(".st-key-meeting_headline")).to_contain_text("phase")
    assert "meeting=1" in page.url and "slide=1" in page.url
    _assert_fits(page, 1)

    changes = []
    for n in range(2, SLIDE_COUNT + 1):
        started = time.monotonic()
        page.keyboard.press("PageDown" if n % 2 else "ArrowRight")
        _expect_slide(page, n)
        changes.append(time.monotonic() - started)
        if n <= 7:  # the chart slides
            expect(page.locator(".st-key-meeting_chart .js-plotly-plot .main-svg").first
                   ).to_be_visible(timeout=15_000)  # fmt: skip
            m = _assert_fits(page, n, min_body=0.55 * size[1])
            assert m["bodyHeight"] > 0.55 * size[1], m  # the chart fills the slide
        else:
            _assert_fits(page, n)
    assert f"slide={SLIDE_COUNT}" in page.url
    page.keyboard.press("ArrowRight")  # wraps to the first slide
    _expect_slide(page, 1)
    page.keyboard.press("ArrowLeft")
    _expect_slide(page, SLIDE_COUNT)
    page.keyboard.press("PageUp")
    _expect_slide(page, SLIDE_COUNT - 1)
    # Key press to the next slide's title, including the browser's redraw. The budget is 0.5 s
    # on an idle machine (about 0.1 s measured at load 7 on 2 cores, see
    # benchmarks/bench_meeting_browser.py); this bound leaves room for a heavier test machine.
    median = sorted(changes)[len(changes) // 2]
    print(f"slide change median {median:.2f}s, max {max(changes):.2f}s at {size}")
    assert median <= 1.0, changes
    page.get_by_role("button", name="Exit meeting mode").click()
    expect(page.get_by_label("Location")).to_be_visible(timeout=15_000)
    assert outside_requests == []


def test_a_bookmarked_meeting_link_opens_its_deck(page: Page, app_url: str) -> None:
    page.set_viewport_size({"width": 1280, "height": 720})
    page.goto(f"{app_url}/progress?meeting=1&slides=quiet,funnel&slide=2")
    expect(_bar(page)).to_contain_text("Conversion funnel · 2 / 2", timeout=45_000)
    expect(page.locator(".st-key-meeting_chart .js-plotly-plot")).to_be_visible(timeout=15_000)
    page.wait_for_timeout(1000)
    page.keyboard.press("ArrowRight")
    expect(_bar(page)).to_contain_text("Who went quiet · 1 / 2", timeout=15_000)


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


@pytest.fixture(scope="module")
def new_practice_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """An app whose only practice was created today (no demo is opened first)."""
    db_path = tmp_path_factory.mktemp("e2e_new") / "atlas.db"
    engine = db.make_engine(database_url(db_path))
    db.upgrade(engine)
    create_practice(engine, PracticeInput(name="New Street PT", zip="80206"))
    engine.dispose()
    url, proc = start_app(db_path)
    yield url
    stop_app(proc)


def test_a_practice_created_today_in_the_browser(page: Page, new_practice_url: str) -> None:
    page.set_viewport_size({"width": 1366, "height": 768})
    page.goto(f"{new_practice_url}/progress")
    expect(page.get_by_text("Week 1 of the Research phase: 0 of 15–20")).to_be_visible(
        timeout=45_000
    )
    today = date.today()
    first = today - timedelta(days=27)
    expect(page.get_by_text(f"Period: {first:%b} {first.day}, {first.year}")).to_be_visible()
    expect(page.locator(".js-plotly-plot").nth(5)).to_be_visible(timeout=30_000)
    ticks = page.locator(".js-plotly-plot .xtick text").evaluate_all(
        "els => els.map(e => e.textContent)"
    )
    assert ticks and not [t for t in ticks if ":" in t], ticks  # no time-of-day tick
    expect(page.get_by_text("No outreach visits logged yet", exact=False)).to_be_visible()
    expect(page.get_by_text("appear here", exact=False).first).to_be_visible()
    expect(page.get_by_text("Nobody went quiet", exact=False)).to_be_visible()
