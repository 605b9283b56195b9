"""A clinic owner sets up their own practice and finds the real providers around it.

The app runs against local stand-ins for the NPI Registry and the Census geocoder (127.0.0.1),
Nominatim switched off: nothing leaves the machine.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import start_app, stop_app
from tests.fake_services import FakeServices, denver_services, provider_result

MAP_IFRAME = 'iframe[title="streamlit_folium.st_folium"]'


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeServices]:
    services = denver_services(per_pair=2)
    services.npi.results.append(
        provider_result("1740112234", last="<img src=x onerror=alert(1)>", code="207X00000X",
                        street="1 HTML WAY", postal_code="802060001"),
    )  # fmt: skip
    with services:
        yield services


@pytest.fixture(scope="module")
def live_app(fake: FakeServices, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("e2e_live")
    env = {
        **fake.env(),
        "NPI_API_DEADLINE": "10",  # a hung registry is given up after 10 s, not 30
        "REFERRAL_ATLAS_LOG_DIR": str(folder / "logs"),
    }
    url, proc = start_app(folder / "atlas.db", extra_env=env)
    yield url
    stop_app(proc)


def _type(page: Page, label: str, value: str) -> None:
    box = page.get_by_label(label, exact=True)
    box.fill(value)
    box.press("Enter")
    page.wait_for_timeout(250)


def test_create_a_practice_then_search_and_see_its_providers_on_the_map(
    page: Page, live_app: str, fake: FakeServices, outside_requests: list[str]
) -> None:
    page.set_viewport_size({"width": 1400, "height": 1100})
    # Start from the app's front door and use its navigation, as a person does (a direct
    # /settings URL makes Streamlit run the page file alone, without app.py's sidebar).
    page.goto(live_app)
    expect(page.get_by_test_id("demo-badge")).to_be_visible(timeout=45_000)
    page.get_by_role("link", name="Settings").click()
    expect(page.get_by_role("heading", name="Settings")).to_be_visible(timeout=30_000)

    _type(page, "Practice name", "Cheesman Park Physical Therapy")
    _type(page, "Street address", "1200 E 12th Ave")
    _type(page, "City", "Denver")
    _type(page, "State", "CO")
    _type(page, "ZIP", "80206")
    _type(page, "Default radius (miles)", "2")
    page.get_by_role("button", name="Create practice").click()
    expect(page.get_by_text(re.compile("Created Cheesman Park Physical Therapy"))).to_be_visible(
        timeout=20_000
    )
    assert fake.census.batches == [1]  # the practice was geocoded through the Census path
    # the sidebar now has the new practice selected
    picker = page.locator('[data-testid="stSidebar"]').get_by_role("combobox", name="Practice")
    expect(picker).to_have_value("Cheesman Park Physical Therapy")

    page.get_by_role("link", name="Provider map").click()
    expect(page.get_by_text("No NPI Registry search yet")).to_be_visible(timeout=30_000)
    expect(page.get_by_test_id("demo-badge")).to_have_count(0)  # a real practice, not the demo
    page.get_by_role("button", name="Search the NPI Registry").click()
    found = page.get_by_text(re.compile(r"^Found \d+ providers within 2 mi"))
    expect(found).to_be_visible(timeout=120_000)
    count = int(re.search(r"Found (\d+)", found.inner_text()).group(1))
    assert count >= 15
    assert {r.get("address_purpose") for r in fake.npi.requests} == {"LOCATION"}

    expect(page.locator(MAP_IFRAME)).to_be_visible(timeout=30_000)
    frame = page.frame_locator(MAP_IFRAME)
    # The dots are drawn on one canvas, so they are counted in the map's provider layer.
    map_frame = page.locator(MAP_IFRAME).element_handle().content_frame()
    map_frame.wait_for_function(
        f"() => window.__raLayer && window.__raLayer.group.getLayers().length >= {count}",
        timeout=30_000,
    )  # every provider found is on the map
    expect(page.get_by_text(re.compile(r"Last NPI Registry search: .* · \d+ new"))).to_be_visible()
    # a registry name with HTML in it is drawn as text, never as an element
    assert frame.locator("img[src=x]").count() == 0
    assert outside_requests == []


def test_a_hung_registry_can_be_stopped_and_a_hung_lookup_reads_as_a_plain_sentence(
    page: Page, live_app: str, fake: FakeServices, outside_requests: list[str]
) -> None:
    """Runs after the test above: its practice is current and has a search to refresh."""
    page.set_viewport_size({"width": 1366, "height": 900})
    fake.npi.fault.hang = True
    try:
        page.goto(live_app)
        page.get_by_role("button", name="Refresh").click(timeout=45_000)
        stop = page.get_by_role("button", name="Stop search")
        expect(stop).to_be_visible(timeout=15_000)
        page.wait_for_timeout(1_000)  # the queries are out and hanging
        started = time.monotonic()
        stop.click()
        expect(page.get_by_text(re.compile("The search was stopped"))).to_be_visible(timeout=8_000)
        assert time.monotonic() - started < 8  # far less than the 10 s registry deadline
        page.get_by_role("link", name="Settings").click()
        expect(page.get_by_role("heading", name="Settings")).to_be_visible(timeout=30_000)
        box = page.get_by_label("Practice NPI", exact=True)
        box.fill("1740112234")
        box.press("Enter")
        page.wait_for_timeout(250)
        started = time.monotonic()
        page.get_by_role("button", name="Look up NPI").click()
        warning = page.get_by_text(re.compile("The NPI Registry did not answer in time"))
        expect(warning).to_be_visible(timeout=20_000)
        assert time.monotonic() - started < 16  # the 10 s deadline and a page rerun
        text = warning.inner_text()
        assert "Type the name and address instead" in text
        assert not any(w in text for w in ("Timeout", "HTTPConnectionPool", "Traceback"))
    finally:
        fake.npi.fault.hang = False
        fake.npi.fault.unhang.set()
    assert outside_requests == []
