"""End to end in chromium: add a referral in the grid, save, reload the page, still see it.

The grid is a canvas (glide-data-grid), so cells are reached by coordinates:
header and rows are 35 px. Glide keeps an accessible table of the visible cells in the DOM,
which is what the assertions read.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from playwright.sync_api import Page, expect

from services import db
from tests.e2e.conftest import database_url, start_app, stop_app

ROW = 35


@pytest.fixture(scope="module")
def log_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    db_path = tmp_path_factory.mktemp("e2e_log") / "atlas.db"
    url, proc = start_app(db_path)
    yield url, db_path
    stop_app(proc)


def open_log(page: Page, url: str) -> None:
    page.set_viewport_size({"width": 1400, "height": 1100})  # the new row must be on screen
    page.goto(url)
    page.get_by_role("link", name="Referral log").click()
    expect(page.get_by_role("heading", name="Referral log")).to_be_visible(timeout=30_000)
    expect(page.locator("[data-testid=stDataFrame]").first).to_be_visible(timeout=30_000)
    page.wait_for_timeout(1000)


def shown(page: Page) -> tuple[int, int]:
    text = page.get_by_text("referrals shown").inner_text()
    first, rest = text.split(" of ", 1)
    return int(first), int(rest.split(" ", 1)[0])


def test_add_a_referral_in_the_grid_save_reload_and_still_see_it(
    page: Page, log_app: tuple[str, Path], outside_requests: list[str]
) -> None:
    url, db_path = log_app
    open_log(page, url)
    _, total = shown(page)

    # Show only sent referrals so the grid is short and the new row is in view.
    page.locator("[data-testid=stMultiSelect]").filter(has_text="Direction").locator(
        "input"
    ).click()
    page.get_by_role("option", name="Sent").click()
    page.keyboard.press("Escape")
    page.wait_for_timeout(1500)
    visible, _ = shown(page)
    assert visible < total

    grid = page.locator("[data-testid=stDataFrame]").first
    box = grid.bounding_box()
    assert box is not None
    grid.hover()
    page.get_by_role("button", name="Add row").click()
    page.wait_for_timeout(700)
    # The Partner column is the fourth; the new row is below the `visible` rows.
    partner_x = page.locator("[data-testid=stDataFrame] table th", has_text="Partner")
    assert partner_x.count() == 1
    page.mouse.click(box["x"] + 400, box["y"] + ROW + ROW * visible + ROW / 2)
    page.wait_for_timeout(300)
    page.keyboard.press("Enter")
    page.wait_for_timeout(700)
    page.keyboard.type("Carlos Chen", delay=20)
    page.wait_for_timeout(300)
    page.keyboard.press("Enter")

    save = page.get_by_role("button", name="Save 1 change(s)")
    expect(save).to_be_enabled(timeout=15_000)
    save.click()
    expect(page.get_by_text("Saved: 1 added.")).to_be_visible(timeout=15_000)

    with sa.create_engine(database_url(db_path)).connect() as conn:
        row = conn.execute(
            sa.select(db.referral.c.id, db.referral.c.partner_npi, db.referral.c.direction)
            .order_by(db.referral.c.id.desc())
            .limit(1)
        ).one()
        name = conn.execute(
            sa.select(db.provider.c.name).where(db.provider.c.npi == row.partner_npi)
        ).scalar()
    assert row.direction == "received" and name == "Carlos Chen"

    page.reload()
    open_log(page, url)
    assert shown(page) == (total + 1, total + 1)
    # Newest first: the new referral is the grid's first row, with its number and partner.
    cells = page.locator("[data-testid=stDataFrame] table")
    expect(cells.get_by_text(f"#{row.id}", exact=True)).to_have_count(1)
    expect(cells.get_by_text(row.partner_npi).first).to_be_attached()
    assert outside_requests == []


def test_an_edit_to_a_row_deleted_in_another_session_is_kept_and_restored(
    page: Page, log_app: tuple[str, Path], outside_requests: list[str]
) -> None:
    """The grid's edit reaches the working copy without an on_change callback; another
    session deletes the row; Save reports it and "Restore it with my changes" saves it anew."""
    url, db_path = log_app
    open_log(page, url)
    engine = sa.create_engine(database_url(db_path))
    grid = page.locator("[data-testid=stDataFrame]").first
    box = grid.bounding_box()
    assert box is not None
    # The first row's Reason cell (columns: row marker, Ref, Check, Date, Partner, Direction,
    # Reason): set it to "Neck".
    page.mouse.click(box["x"] + 585, box["y"] + ROW + ROW / 2)
    page.wait_for_timeout(300)
    page.keyboard.press("Enter")
    page.wait_for_timeout(700)
    page.keyboard.type("Neck", delay=20)
    page.wait_for_timeout(300)
    page.keyboard.press("Enter")
    save = page.get_by_role("button", name="Save 1 change(s)")
    expect(save).to_be_enabled(timeout=15_000)

    first_id = int(page.locator("[data-testid=stDataFrame] table").get_by_text("#", exact=False)
                   .first.inner_text().strip("#"))  # fmt: skip
    with engine.begin() as conn:  # another session deletes that referral
        conn.execute(sa.delete(db.referral).where(db.referral.c.id == first_id))

    save.click()
    expect(page.get_by_text(f"Referral #{first_id} was deleted in another session")).to_be_visible(
        timeout=15_000
    )
    page.get_by_role("button", name="Restore it with my changes").click()
    expect(page.get_by_text("was deleted in another session")).to_have_count(0, timeout=15_000)
    page.wait_for_timeout(1000)
    save = page.get_by_role("button", name="Save 1 change(s)")
    expect(save).to_be_enabled(timeout=15_000)
    save.click()
    expect(page.get_by_text("Saved: 1 added.")).to_be_visible(timeout=15_000)
    with engine.connect() as conn:
        newest = conn.execute(
            sa.select(db.referral.c.id, db.referral.c.reason_category)
            .order_by(db.referral.c.id.desc())
            .limit(1)
        ).one()
    assert newest.reason_category == "Neck"
    assert outside_requests == []
