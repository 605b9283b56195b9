"""The History page in a browser: select a removal, undo it, open the record's own history."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import database_url, start_app, stop_app


@pytest.fixture
def app_with_a_removal(tmp_path) -> Iterator[tuple[str, int, str]]:  # type: ignore[no-untyped-def]
    from services import db, demo, partners

    path = tmp_path / "atlas.db"
    engine = db.make_engine(database_url(path))
    practice_id = demo.ensure_demo(engine)
    frame = partners.list_partners(engine, practice_id)
    partner_id, npi = int(frame["partner_id"].iloc[0]), str(frame["npi"].iloc[0])
    partners.remove_partner(engine, practice_id, partner_id, confirmed=True)
    engine.dispose()
    url, proc = start_app(path)
    yield url, partner_id, npi
    stop_app(proc)


def test_an_owner_undoes_a_partner_removal_from_the_history(
    page: Page, app_with_a_removal: tuple[str, int, str]
) -> None:
    url, partner_id, npi = app_with_a_removal
    page.set_viewport_size({"width": 1366, "height": 900})
    page.goto(f"{url}/history")
    expect(page.get_by_text("newest first")).to_be_visible(timeout=45_000)
    grid = page.locator('[data-testid="stDataFrame"]').first
    expect(grid).to_be_visible()
    page.wait_for_timeout(1000)  # the grid draws on a canvas after it is attached
    box = grid.bounding_box()
    assert box is not None
    page.mouse.click(box["x"] + 18, box["y"] + 52)  # the first row's selection box
    expect(page.get_by_text(f"Partner #{partner_id} ({npi}), removed")).to_be_visible(
        timeout=20_000
    )
    expect(page.get_by_role("link", name="Only this record's history")).to_be_visible()
    page.get_by_role("button", name="Undo this removal").click()
    expect(page.get_by_text("Restored history entry")).to_be_visible(timeout=20_000)
    # the record's own history: seeded, removed, and restored by the app's single user
    page.goto(f"{url}/history?table=partner&record={partner_id}")
    expect(page.get_by_text("3 change(s), newest first")).to_be_visible(timeout=45_000)
    expect(page.locator("td", has_text="local user")).to_have_count(1)
