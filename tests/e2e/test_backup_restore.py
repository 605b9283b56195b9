"""End to end in chromium: Settings → Backups, make a backup, download it, restore it into a new
empty database, and find every referral there."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from playwright.sync_api import Page, expect

from services import db
from tests.e2e.conftest import database_url, start_app, stop_app


@pytest.fixture(scope="module")
def backup_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    db_path = tmp_path_factory.mktemp("e2e_backup") / "atlas.db"
    url, proc = start_app(db_path)
    yield url, database_url(db_path)
    stop_app(proc)


def _count(url: str, table: sa.Table) -> int:
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    with engine.connect() as conn:
        n = conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
    engine.dispose()
    return int(n)


def test_download_a_backup_and_restore_it_into_an_empty_database(
    page: Page, backup_app: tuple[str, str], tmp_path: Path, outside_requests: list[str]
) -> None:
    url, source = backup_app
    page.set_viewport_size({"width": 1366, "height": 900})
    page.goto(f"{url}/settings")
    expect(page.get_by_role("heading", name="Backups")).to_be_visible(timeout=60_000)
    page.get_by_role("button", name="Make a backup").click()
    download_button = page.get_by_role("button", name="Download referral-atlas-")
    expect(download_button).to_be_visible(timeout=30_000)
    with page.expect_download() as info:
        download_button.click()
    saved = tmp_path / info.value.suggested_filename
    info.value.save_as(saved)
    assert saved.stat().st_size > 1000

    page.get_by_text("Restore a backup into an empty database").click()
    page.locator("[data-testid=stFileUploaderDropzoneInput]").set_input_files(saved)
    target = f"sqlite:///{tmp_path / 'restored.db'}"
    box = (
        page.locator("[data-testid=stTextInput]")
        .filter(has_text="Database to restore into")
        .locator("input")
    )
    box.fill(target)
    box.press("Enter")
    restore = page.get_by_role("button", name="Restore", exact=True)
    expect(restore).to_be_enabled(timeout=15_000)
    page.wait_for_timeout(500)
    restore.click()
    expect(page.get_by_text(re.compile(r"^Restored [\d,]+ rows"))).to_be_visible(timeout=60_000)
    assert _count(target, db.referral) == _count(source, db.referral) > 0
    assert _count(target, db.partner) == _count(source, db.partner) > 0

    # The database in use is never a restore target.
    box.fill(source)
    box.press("Enter")
    page.wait_for_timeout(500)
    restore.click()
    expect(page.get_by_text("That is the database the app is using")).to_be_visible(timeout=15_000)
    assert outside_requests == []
