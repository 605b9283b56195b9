"""A bookmark to a page, opened as a fresh server's very first request, still gets the app shell."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import start_app, stop_app


@pytest.fixture
def fresh_app_url(tmp_path) -> Iterator[str]:  # type: ignore[no-untyped-def]
    url, proc = start_app(tmp_path / "atlas.db")
    yield url
    stop_app(proc)


@pytest.mark.parametrize("path", ["targets", "progress"])
def test_first_request_to_a_page_url_runs_inside_the_shell(
    page: Page, fresh_app_url: str, path: str
) -> None:
    page.goto(f"{fresh_app_url}/{path}")
    expect(page.get_by_test_id("demo-badge")).to_be_visible(timeout=45_000)
    expect(page.get_by_text("Practice", exact=True)).to_be_visible()
    expect(page.get_by_text("Pick a practice in the sidebar")).to_have_count(0)
    # the navigation lists each page once (no duplicates from pages/ discovery)
    links = page.locator('[data-testid="stSidebarNav"] a')
    names = [t.strip() for t in links.all_inner_texts()]
    assert len(names) == len(set(names)) >= 4
