"""Sign-in and roles end to end: the app with `[auth]` against a local OpenID Connect provider
(oidc-provider-mock) on 127.0.0.1, in Chromium.

- an unauthenticated request sees the sign-in page and nothing else;
- a viewer signs in and sees read-only pages: no Team, no History, a read-only notice, and
  no write controls (a partner opens read-only on Targets);
- an owner (from REFERRAL_ATLAS_OWNERS) sees Team and History;
- no secret from `[auth]` appears in the server's log.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import oidc_provider_mock
import pytest
import werkzeug.serving
from playwright.sync_api import Page, expect

from tests.e2e.conftest import ROOT, _free_port, database_url, stop_app

COOKIE_SECRET = "e2e-cookie-secret-4c1f"  # throwaway values, checked absent from logs
CLIENT_SECRET = "e2e-client-secret-9a7d"
OWNER = "owner@clinic.test"
VIEWER = "viewer@clinic.test"


@pytest.fixture(scope="module")
def oidc_provider() -> Iterator[str]:
    """A local OpenID Connect provider; any typed subject signs in, its email = the subject."""
    server = werkzeug.serving.make_server("127.0.0.1", 0, oidc_provider_mock.app(), threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1})
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(5)


@pytest.fixture(scope="module")
def signed_app(tmp_path_factory: pytest.TempPathFactory, oidc_provider: str) -> Iterator[dict]:
    """The app with sign-in configured; the demo practice has VIEWER as a viewer."""
    from services import auth, db, demo

    tmp = tmp_path_factory.mktemp("signin")
    url = database_url(tmp / "atlas.db")
    engine = db.make_engine(url)
    practice_id = demo.ensure_demo(engine)
    auth.set_role(engine, practice_id, VIEWER, auth.VIEWER)
    engine.dispose()

    port = _free_port()
    secrets = tmp / "secrets.toml"
    secrets.write_text(
        "[auth]\n"
        f'redirect_uri = "http://127.0.0.1:{port}/oauth2callback"\n'
        f'cookie_secret = "{COOKIE_SECRET}"\n'
        'client_id = "referral-atlas"\n'
        f'client_secret = "{CLIENT_SECRET}"\n'
        f'server_metadata_url = "{oidc_provider}/.well-known/openid-configuration"\n'
    )
    log_path = tmp / "server.log"
    env = {**os.environ, "REFERRAL_ATLAS_DB_URL": url, "REFERRAL_ATLAS_OWNERS": OWNER}
    with log_path.open("wb") as log_file:
        proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
             "--server.address", "127.0.0.1", "--server.port", str(port),
             "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none",
             "--secrets.files", str(secrets)],
            cwd=ROOT, env=env, stdout=log_file, stderr=subprocess.STDOUT,
        )  # fmt: skip
    app = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(f"{app}/_stcore/health", timeout=2) as resp:
                if resp.read() == b"ok":
                    break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError(log_path.read_text()[-2000:]) from None
            time.sleep(0.3)
    yield {"url": app, "log": log_path}
    stop_app(proc)


def sign_in(page: Page, app: str, email: str) -> None:
    page.goto(app)
    page.get_by_role("button", name="Sign in").click(timeout=45_000)
    page.locator('input[name="sub"]').fill(email, timeout=20_000)
    page.get_by_role("button", name="Authorize").click()
    expect(page.get_by_text(f"Signed in as {email}")).to_be_visible(timeout=45_000)


def nav_names(page: Page) -> list[str]:
    links = page.locator('[data-testid="stSidebarNav"] a')
    return [t.strip().split("\n")[-1] for t in links.all_inner_texts()]


def test_an_unauthenticated_request_sees_only_the_sign_in_page(page: Page, signed_app) -> None:
    for path in ("", "/targets", "/history"):
        page.goto(signed_app["url"] + path)
        expect(page.get_by_role("button", name="Sign in")).to_be_visible(timeout=45_000)
        expect(page.get_by_test_id("demo-badge")).to_have_count(0)
        expect(page.get_by_text("Practice", exact=True)).to_have_count(0)
        expect(page.locator('[data-testid="stSidebarNav"] a')).to_have_count(0)


def test_a_viewer_sees_read_only_pages(page: Page, signed_app) -> None:
    sign_in(page, signed_app["url"], VIEWER)
    expect(page.get_by_text("Signed in as viewer@clinic.test · viewer")).to_be_visible()
    expect(page.get_by_text("Read-only: you are a viewer of this practice.")).to_be_visible()
    expect(page.get_by_test_id("demo-badge")).to_be_visible()
    expect(page.locator('[data-testid="stSidebarNav"] a', has_text="Progress")).to_be_visible()
    names = nav_names(page)
    assert "Provider map" in names and "Progress" in names
    assert "Team" not in names and "History" not in names
    page.screenshot(path=str(signed_app["log"].parent / "viewer.png"))


def test_a_viewer_is_offered_no_write_controls(page: Page, signed_app) -> None:
    """A viewer opens a partner on Targets and sees its details read-only: no Save partner
    (a click could only be refused by the services), and one plain read-only caption."""
    page.set_viewport_size({"width": 1366, "height": 900})
    sign_in(page, signed_app["url"], VIEWER)
    page.locator('[data-testid="stSidebarNav"] a', has_text="Targets").click()
    grid = page.locator('[data-testid="stDataFrame"]').first
    expect(grid).to_be_visible(timeout=30_000)
    page.wait_for_timeout(1500)  # the grid draws on a canvas after it is attached
    box = grid.bounding_box()
    assert box is not None
    page.mouse.click(box["x"] + 16, box["y"] + 52)  # select the first partner
    expect(page.get_by_text(re.compile(r"^Stage: "))).to_be_visible(timeout=30_000)
    expect(page.get_by_text("You have read-only access (viewer).").first).to_be_visible()
    expect(page.get_by_role("button", name="Save partner")).to_have_count(0)
    expect(page.get_by_role("button", name=re.compile("^Move|^Remove"))).to_have_count(0)
    expect(page.get_by_text("Traceback")).to_have_count(0)
    page.screenshot(path=str(signed_app["log"].parent / "viewer-read-only.png"))


def test_an_owner_sees_team_and_history(page: Page, signed_app) -> None:
    sign_in(page, signed_app["url"], OWNER)
    expect(page.locator('[data-testid="stSidebarNav"] a', has_text="History")).to_be_visible()
    names = nav_names(page)
    assert "Team" in names and "History" in names
    page.locator('[data-testid="stSidebarNav"] a', has_text="Team").click()
    expect(page.get_by_role("button", name="Save member")).to_be_visible(timeout=30_000)
    expect(page.locator("td", has_text=VIEWER)).to_have_count(1)  # the team table
    page.locator('[data-testid="stSidebarNav"] a', has_text="History").click()
    expect(page.get_by_text("newest first")).to_be_visible(timeout=30_000)
    page.screenshot(path=str(signed_app["log"].parent / "owner-history.png"))
    page.get_by_role("button", name="Sign out").click()
    # the provider asks to confirm the end of the session, then sends the browser back
    page.get_by_role("button", name="End session").click(timeout=30_000)
    expect(page.get_by_role("button", name="Sign in")).to_be_visible(timeout=45_000)
    page.goto(signed_app["url"] + "/history")  # signed out: the owner pages are gone too
    expect(page.get_by_role("button", name="Sign in")).to_be_visible(timeout=45_000)
    expect(page.get_by_text("newest first")).to_have_count(0)


def test_no_secret_appears_in_the_server_log(signed_app) -> None:
    text = Path(signed_app["log"]).read_text(errors="replace")
    assert "Local URL" in text or "127.0.0.1" in text  # the log is really captured
    assert COOKIE_SECRET not in text and CLIENT_SECRET not in text
