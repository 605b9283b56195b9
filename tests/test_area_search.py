"""Area search against the local fake registry and Census: ZIPs, texts, filters, pulls."""

from __future__ import annotations

import threading
import time
from datetime import date

import pytest
import sqlalchemy as sa

from components.session import get_engine
from services import area_plan, area_queries, area_search, db, geocoding
from services.npi_registry import RegistryClient
from services.practices import PracticeInput, create_practice
from services.providers import load_providers
from services.zipcentroids import centroid
from tests.fake_services import FakeServices, provider_result, synthetic_area

DAY1, DAY2 = date(2026, 9, 1), date(2026, 11, 27)
HOME = centroid("80206")


@pytest.fixture
def fake():
    with FakeServices() as services:
        yield services


@pytest.fixture
def practice(engine):
    return create_practice(
        engine,
        PracticeInput(name="Test PT", zip="80206", lat=HOME.lat, lon=HOME.lon,
                      geocode_source="manual", geocode_precision="address"),
    )  # fmt: skip


def run(engine, practice, fake, radius=2.0, groups=("ortho",), **kw):
    kw.setdefault("client", RegistryClient(fake.npi_url, retries=0, timeout=(2, 5)))
    kw.setdefault(
        "geocode_options",
        {"census": geocoding.CensusGeocoder(fake.census_url, retries=0),
         "nominatim": None},
    )  # fmt: skip
    return area_search.run_area_search(engine, practice, radius, list(groups), **kw)


def test_search_queries_each_zip_and_text_by_location_and_filters_by_code(engine, practice, fake):
    zips = area_plan.search_zips(HOME.lat, HOME.lon, 2.0)
    ortho = synthetic_area(zips[:3], ["207X00000X", "207XS0117X"], per_pair=2)
    # matches the text loosely (a secondary ortho code) but is an internist: filtered out
    internist = provider_result(
        "1288392016", last="LOOSE", code="207R00000X", extra_codes=["207X00000X"],
        postal_code="802060001",
    )  # fmt: skip
    fake.npi.results = [*ortho, internist]
    seen = []
    result = run(engine, practice, fake, progress=lambda d, t, s: seen.append((d, t, s)))
    assert result.complete and not result.from_cache and result.offline is None
    assert result.queries == len(zips)
    assert {r["postal_code"] for r in fake.npi.requests} == set(zips)
    assert {r["taxonomy_description"] for r in fake.npi.requests} == {"Orthopaedic Surgery"}
    assert {r["address_purpose"] for r in fake.npi.requests} == {"LOCATION"}
    assert fake.npi.max_in_flight <= area_queries.MAX_IN_FLIGHT
    assert seen[-1][2].startswith("geocode") and any(s == "registry" for *_, s in seen)

    providers = load_providers(engine, practice)
    assert len(providers) == 12 and "1288392016" not in set(providers["npi"])
    assert set(providers["specialty_group"]) == {"ortho"}
    with engine.connect() as conn:
        row = conn.execute(sa.select(db.provider).where(db.provider.c.npi == ortho[0]["number"]
                           if isinstance(ortho[0]["number"], str) else
                           db.provider.c.npi == str(ortho[0]["number"]))).first()  # fmt: skip
        pulls = conn.execute(sa.select(db.npi_pull)).all()
    assert row.data_source == "npi_api" and row.geocode_source == "census"
    assert row.first_seen == row.last_seen == date.today()
    assert len(pulls) == 1 and pulls[0].found == result.found
    assert result.found <= 12 and result.found >= 8  # exact distance drops the far ones


def test_exact_distance_counts_only_providers_inside_the_radius(engine, practice, fake):
    zips = area_plan.search_zips(HOME.lat, HOME.lon, 1.0)
    far = [z for z in zips if z != "80206"][-1]
    fake.npi.results = [
        provider_result("1740112234", last="NEAR", postal_code="802060001"),
        provider_result("1288392016", last="FAR", postal_code=f"{far}0001"),
    ]
    fake.census.match_by_zip = False
    fake.census.known = {
        fake.census.key("100 MAIN ST", "80206"): (HOME.lat + 0.001, HOME.lon),
        fake.census.key("100 MAIN ST", far): (HOME.lat + 0.1, HOME.lon),  # about 7 miles north
    }
    result = run(engine, practice, fake, radius=1.0)
    assert result.found == 1


def test_a_repeated_search_comes_from_the_database_and_refresh_queries_again(
    engine, practice, fake
):
    zips = area_plan.search_zips(HOME.lat, HOME.lon, 2.0)
    fake.npi.results = synthetic_area(zips[:2], ["207X00000X"], per_pair=2)
    first = run(engine, practice, fake, today=DAY1)
    sent = len(fake.npi.requests)
    again = run(engine, practice, fake, radius=1.5, today=DAY1)  # smaller: covered
    assert again.from_cache and again.pull.id == first.pull.id and len(fake.npi.requests) == sent
    wider = run(engine, practice, fake, radius=3.0, today=DAY1)  # not covered: searches
    assert not wider.from_cache and len(fake.npi.requests) > sent
    assert area_search.new_since_previous(engine, practice.id)[0] == set()

    # a quarter later one provider joined and one left
    joined = provider_result("1740112234", last="NEWCOMER", postal_code=f"{zips[0]}0001")
    fake.npi.results = [*fake.npi.results[1:], joined]
    refreshed = run(engine, practice, fake, radius=3.0, refresh=True, today=DAY2)
    assert not refreshed.from_cache and refreshed.new == 1
    new, since = area_search.new_since_previous(engine, practice.id)
    assert new == {"1740112234"} and since == wider.pull.pulled_at
    with engine.connect() as conn:
        rows = {r.npi: r for r in conn.execute(sa.select(db.provider))}
    assert rows["1740112234"].first_seen == DAY2
    kept = next(n for n in rows if n != "1740112234" and rows[n].last_seen == DAY2)
    assert rows[kept].first_seen == DAY1


def test_registry_offline_is_reported_once_and_nothing_is_recorded(engine, practice, fake):
    fake.npi.mode = "html"
    result = run(engine, practice, fake)
    assert not result.complete and "web page" in result.offline
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(db.npi_pull)).scalar() == 0
    # the pool was cancelled: far fewer requests than ZIPs were sent
    assert len(fake.npi.requests) < len(area_plan.search_zips(HOME.lat, HOME.lon, 2.0))


def test_unknown_texts_are_skipped_with_a_message(engine, practice, fake, monkeypatch):
    monkeypatch.setattr(
        area_plan, "taxonomy_descriptions", lambda g: ["Orthopaedic Surgery", "Bone Whispering"]
    )
    fake.npi.results = synthetic_area(["80206"], ["207X00000X"], per_pair=1)
    result = run(engine, practice, fake, max_workers=1)
    assert result.complete
    assert any("Bone Whispering" in m and "No taxonomy codes found" in m for m in result.messages)
    asked = [r for r in fake.npi.requests if r["taxonomy_description"] == "Bone Whispering"]
    assert len(asked) == 1  # not once per ZIP


def test_an_interrupted_search_leaves_the_database_consistent_and_a_rerun_finishes(
    engine, practice, fake
):
    zips = area_plan.search_zips(HOME.lat, HOME.lon, 2.0)
    fake.npi.results = synthetic_area(zips[:4], ["207X00000X"], per_pair=3)
    calls = {"n": 0}

    def stop_during_geocoding():
        calls["n"] += 1
        return bool(fake.census.batches)  # after the first Census chunk

    opts = {"census": geocoding.CensusGeocoder(fake.census_url, retries=0),
            "nominatim": None, "census_chunk": 5}  # fmt: skip
    stopped = run(engine, practice, fake, should_stop=stop_during_geocoding, geocode_options=opts)
    assert stopped.stopped and not stopped.complete
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(db.npi_pull)).scalar() == 0
        placed = conn.execute(
            sa.select(sa.func.count())
            .select_from(db.provider)
            .where(db.provider.c.lat.is_not(None))
        ).scalar()
        cached = conn.execute(sa.select(sa.func.count()).select_from(db.geocode_cache)).scalar()
    assert placed == cached == 5  # what was geocoded is kept, on providers and in the cache

    finished = run(engine, practice, fake, geocode_options=opts)
    assert finished.complete and len(load_providers(engine, practice)) == 12
    assert sum(fake.census.batches) == 12  # the first five were not sent again


def test_stop_during_queries_records_nothing(engine, practice, fake):
    fake.npi.results = synthetic_area(["80206"], ["207X00000X"], per_pair=1)
    fake.npi.latency = 0.05
    result = run(engine, practice, fake, should_stop=lambda: True)
    assert result.stopped and not result.complete
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(db.provider)).scalar() == 0


def test_concurrency_is_bounded_at_four(engine, practice, fake):
    # The registry holds its answers, so the cap is reached however slow the machine is.
    fake.npi.release.clear()
    worker = threading.Thread(target=run, args=(engine, practice, fake),
                              kwargs={"radius": 3.0, "max_workers": 16})  # fmt: skip
    worker.start()
    try:
        deadline = time.monotonic() + 15
        while fake.npi.in_flight < 4 and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)  # room for a fifth request, were the cap broken
        assert fake.npi.in_flight == 4
    finally:
        fake.npi.release.set()
        worker.join(timeout=60)
    assert not worker.is_alive()
    assert fake.npi.max_in_flight == 4


# --- the map page's live search (AppTest) ---------------------------------------------------


@pytest.fixture
def live_env(fake, monkeypatch):
    for key, value in fake.env().items():
        monkeypatch.setenv(key, value)
    return fake


def _open_real_practice(app_test):
    from components.session import get_engine

    at = app_test()
    p = create_practice(
        get_engine(),
        PracticeInput(name="Live PT", zip="80206", lat=HOME.lat, lon=HOME.lon,
                      default_radius_mi=2.0, geocode_source="manual"),
    )  # fmt: skip
    at.session_state["map_groups"] = ["ortho"]
    at.run()  # real practices come first in the picker: this one is current
    assert at.session_state["practice_id"] == p.id
    assert not at.exception, at.exception
    return at, p


def _settled(fake, quiet: float = 2.5) -> int:
    """The registry's request count once no request came for `quiet` seconds."""
    count, since = len(fake.npi.requests), time.monotonic()
    while time.monotonic() - since < quiet:
        time.sleep(0.1)
        if len(fake.npi.requests) != count:
            count, since = len(fake.npi.requests), time.monotonic()
    return count


def _job(at):
    # AppTest's session state has `in` and [] but no .get()
    return at.session_state["live_job"] if "live_job" in at.session_state else None  # noqa: SIM401


def _click_and_wait(at, key: str, timeout: float = 60.0):
    """Click a live-search button, then rerun until the background search has ended."""
    at.button(key=key).click().run()
    assert not at.exception, at.exception
    deadline = time.monotonic() + timeout
    while _job(at) is not None:
        assert time.monotonic() < deadline, "the search did not end"
        time.sleep(0.2)
        at.run()
        assert not at.exception, at.exception
    return at


def _map_json(at) -> str:
    return at.get("component_instance")[0].proto.json_args


def test_map_page_searches_refreshes_and_marks_new_providers(app_test, live_env):
    fake = live_env
    zips = area_plan.search_zips(HOME.lat, HOME.lon, 2.0)
    fake.npi.results = synthetic_area(zips[:2], ["207X00000X"], per_pair=2)
    at, _ = _open_real_practice(app_test)
    assert any("No NPI Registry search yet" in m.value for m in at.markdown)
    assert len(at.dataframe) == 0  # no provider table until there is someone to list
    _click_and_wait(at, "live_search_btn")
    assert not at.exception, at.exception
    [ok] = at.success
    assert ok.value.startswith("Found ") and "within 2 mi" in ok.value
    found = int(ok.value.split()[1])
    assert len(at.dataframe[0].value) == found >= 3  # the dots inside 2 miles
    # nothing is "new" on a first search: the table has no "new since" column at all
    assert "new_since" not in at.dataframe[0].value.columns
    sent = len(fake.npi.requests)
    at.run()  # a rerun does not query again
    assert len(fake.npi.requests) == sent

    # a new provider appears; Refresh queries again and marks it, on the map and in the table
    fake.npi.results.append(provider_result("1740112234", last="NEWCOMER", postal_code="802060001"))
    _click_and_wait(at, "live_refresh")
    assert not at.exception, at.exception
    assert len(fake.npi.requests) > sent
    table = at.dataframe[0].value
    marked = table[table["new_since"] != ""]
    assert list(marked["npi"]) == ["1740112234"]
    assert marked.iloc[0]["new_since"].startswith("new since 20")
    assert "New since 20" in _map_json(at) and "#D97706" in _map_json(at)


def test_map_page_offline_says_so_once_and_keeps_the_saved_providers(app_test, live_env):
    fake = live_env
    fake.npi.results = synthetic_area(["80206"], ["207X00000X"], per_pair=3)
    at, _ = _open_real_practice(app_test)
    _click_and_wait(at, "live_search_btn")
    shown = len(at.dataframe[0].value)
    assert shown == 3
    fake.npi.mode = "status500"
    _click_and_wait(at, "live_refresh")
    assert not at.exception, at.exception
    [warning] = at.warning
    assert "HTTP 500" in warning.value and "Showing the providers already saved" in warning.value
    assert len(at.dataframe[0].value) == shown
    requests_after = _settled(fake)  # queries already in flight may finish their retries
    at.run()
    assert len(at.warning) == 1  # still said once, not repeated or retried
    time.sleep(1.0)
    assert len(fake.npi.requests) == requests_after  # nothing is retried unless asked


def test_map_page_search_survives_reruns_and_stops_when_asked(app_test, live_env):
    fake = live_env
    fake.npi.results = synthetic_area(["80206"], ["207X00000X"], per_pair=2)
    fake.npi.release.clear()  # the registry holds every answer until the test lets it go
    try:
        at, _ = _open_real_practice(app_test)
        at.button(key="live_search_btn").click().run()
        at.run()  # a rerun (any click) while it runs does not stop it
        at.run()
        job = at.session_state["live_job"]
        assert job.thread.is_alive()
        assert at.button(key="live_stop")
        at.button(key="live_stop").click().run()
        assert job.cancel.is_set()  # queries in flight are abandoned: the job may end at once
    finally:
        fake.npi.release.set()
    deadline = time.monotonic() + 30
    while at.session_state.get("live_job"):
        assert time.monotonic() < deadline
        time.sleep(0.2)
        at.run()
    assert not at.exception, at.exception
    assert any("The search was stopped" in i.value for i in at.info)
    assert area_search.pulls(get_engine(), at.session_state["practice_id"]) == []


def test_found_and_new_count_the_same_providers_inside_the_radius(engine, practice, fake):
    """A first search once said "79 providers within 5 mi · 80 new": the margin beyond the
    circle was counted as new but not as found. Both count the providers inside the circle."""
    zips = area_plan.search_zips(HOME.lat, HOME.lon, 1.0)
    far = [z for z in zips if z != "80206"][-1]
    fake.npi.results = [
        provider_result("1740112234", last="NEAR", postal_code="802060001"),
        provider_result("1288392016", last="FAR", postal_code=f"{far}0001"),
    ]
    fake.census.match_by_zip = False
    fake.census.known = {
        fake.census.key("100 MAIN ST", "80206"): (HOME.lat + 0.001, HOME.lon),
        fake.census.key("100 MAIN ST", far): (HOME.lat + 0.1, HOME.lon),  # outside 1 mile
    }
    result = run(engine, practice, fake, radius=1.0)
    assert result.found == 1
    assert result.new == result.found == result.pull.new
