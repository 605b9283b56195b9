"""End to end in chromium: Settings → Backups, make a backup, download it, restore it into a new
empty database, and find every referral there."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import Page, expect

from services import db
from tests.e2e.conftest import count_rows


def test_download_a_backup_and_restore_it_into_an_empty_database(
    page: Page, app_and_database: tuple[str, str], tmp_path: Path, outside_requests: list[str]
) -> None:
    url, source = app_and_database
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
    assert count_rows(target, db.referral) == count_rows(source, db.referral) > 0
    assert count_rows(target, db.partner) == count_rows(source, db.partner) > 0

    # The database in use is never a restore target.
    box.fill(source)
    box.press("Enter")
    page.wait_for_timeout(500)
    restore.click()
    expect(page.get_by_text("That is the database the app is using")).to_be_visible(timeout=15_000)
    assert outside_requests == []
