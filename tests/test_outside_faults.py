"""Fault battery for the three outside services (NPI Registry, Census batch, Nominatim).

Each service is driven against a local server on 127.0.0.1 that hangs, refuses connections,
answers 429 with Retry-After, or cuts its answer short. Deadlines are set small through the
clients' parameters so the suite stays fast; the production limits (30 s, 30 s, 10 s) are
checked separately. Every hung case asserts the total time, retries included.
"""

from __future__ import annotations

import socket
import threading
import time

import pytest

from services import area_plan, area_search, geocoder_nominatim, geocoding, http_deadline
from services.geocode_types import Address, GeocodingUnavailable
from services.geocoder_census import CensusGeocoder
from services.geocoder_nominatim import NominatimGeocoder
from services.npi_registry import RegistryClient, RegistryUnavailable
from services.practices import PracticeInput, create_practice
from services.providers import load_providers
from services.zipcentroids import centroid
from tests.fake_services import FakeCensus, FakeServices, provider_result, synthetic_area

A1 = Address("1601 E 19th Ave", "Denver", "CO", "80218")
HOME = centroid("80206")
SLACK = 0.6  # scheduling noise on a loaded two-core machine


@pytest.fixture
def fake():
    with FakeServices(census=FakeCensus(match_by_zip=True)) as services:
        services.npi.results = [provider_result("1740112234", last="OKAFOR")]
        services.nominatim.known = {"1601 E 19TH AVE": (39.7461, -104.9692)}
        yield services


@pytest.fixture(autouse=True)
def fresh_rate_limiters():
    geocoder_nominatim._limiters.clear()
    yield
    geocoder_nominatim._limiters.clear()


def refused_url(path: str) -> str:
    """A 127.0.0.1 address where nothing listens."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}{path}"


def timed(fn, *args, **kwargs):
    started = time.monotonic()
    try:
        return fn(*args, **kwargs), time.monotonic() - started, None
    except Exception as exc:  # returned for the test to inspect
        return None, time.monotonic() - started, exc


def registry(url: str, **kw) -> RegistryClient:
    kw.setdefault("deadline", 1.0)
    kw.setdefault("retries", 3)
    kw.setdefault("backoff", 0.05)
    kw.setdefault("timeout", (1.0, 20.0))  # a read timeout far past the deadline
    return RegistryClient(url, **kw)


def census(url: str, **kw) -> CensusGeocoder:
    kw.setdefault("deadline", 1.0)
    kw.setdefault("retries", 2)
    kw.setdefault("backoff", 0.05)
    kw.setdefault("timeout", (1.0, 300.0))
    return CensusGeocoder(url, **kw)


# --- the production limits ------------------------------------------------------------------


def test_the_deadlines_are_30_30_and_10_seconds_and_settings_only_lower_them(monkeypatch):
    for name in http_deadline.SETTING_NAMES.values():
        monkeypatch.delenv(name, raising=False)
    assert RegistryClient("http://127.0.0.1:1/api/").deadline == 30.0
    assert CensusGeocoder("http://127.0.0.1:1/geocoder").deadline == 30.0
    assert NominatimGeocoder(geocode_fn=lambda *a, **k: None).deadline == 10.0
    monkeypatch.setenv("NPI_API_DEADLINE", "2.5")
    monkeypatch.setenv("CENSUS_GEOCODER_DEADLINE", "300")  # above the limit: ignored
    monkeypatch.setenv("NOMINATIM_DEADLINE", "soon")  # not a number: ignored
    assert RegistryClient("http://127.0.0.1:1/api/").deadline == 2.5
    assert CensusGeocoder("http://127.0.0.1:1/geocoder").deadline == 30.0
    assert NominatimGeocoder(geocode_fn=lambda *a, **k: None).deadline == 10.0


# --- NPI Registry ---------------------------------------------------------------------------


def test_registry_hung_gives_up_at_the_deadline_not_after_every_retry(fake):
    fake.npi.fault.hang = True
    _, elapsed, exc = timed(registry(fake.npi_url).search, last_name="OKAFOR")
    assert isinstance(exc, RegistryUnavailable) and "did not answer in time" in str(exc)
    assert 0.9 <= elapsed < 1.0 + SLACK


def test_registry_hung_with_short_read_timeouts_retries_inside_the_deadline(fake):
    fake.npi.fault.hang = True
    client = registry(fake.npi_url, timeout=(1.0, 0.3), retries=10)
    _, elapsed, exc = timed(client.search, last_name="OKAFOR")
    assert isinstance(exc, RegistryUnavailable)
    assert fake.npi.fault.hung >= 2  # it did retry...
    assert elapsed < 1.0 + SLACK  # ...but never past the deadline


def test_registry_connection_refused_is_a_plain_message():
    _, elapsed, exc = timed(registry(refused_url("/api/")).search, last_name="OKAFOR")
    assert isinstance(exc, RegistryUnavailable)
    assert str(exc) == "The NPI Registry could not be reached (no connection)."
    assert elapsed < 1.0 + SLACK


def test_registry_429_retry_after_is_honoured_when_it_fits(fake):
    fake.npi.fault.busy_first = 1
    fake.npi.fault.retry_after = "1"
    records, elapsed, exc = timed(registry(fake.npi_url, deadline=3.0).search, last_name="OKAFOR")
    assert exc is None and [r.npi for r in records] == ["1740112234"]
    assert len(fake.npi.requests) == 2 and elapsed >= 1.0


def test_registry_429_asking_more_than_the_deadline_fails_at_once(fake):
    fake.npi.fault.busy_first = 5
    fake.npi.fault.retry_after = "120"
    _, elapsed, exc = timed(registry(fake.npi_url, deadline=2.0).search, last_name="OKAFOR")
    assert isinstance(exc, RegistryUnavailable) and "slow down" in str(exc)
    assert len(fake.npi.requests) == 1 and elapsed < 0.5 + SLACK


def test_registry_truncated_json_is_refused(fake):
    fake.npi.fault.truncate = 40
    _, _, exc = timed(registry(fake.npi_url).search, last_name="OKAFOR")
    assert isinstance(exc, RegistryUnavailable) and "not valid JSON" in str(exc)


def test_registry_connection_closed_mid_answer_is_retried_then_reported(fake):
    fake.npi.fault.truncate_transfer = True
    _, elapsed, exc = timed(registry(fake.npi_url, retries=1).search, last_name="OKAFOR")
    assert isinstance(exc, RegistryUnavailable) and "cut short" in str(exc)
    assert len(fake.npi.requests) == 2 and elapsed < 1.0 + SLACK


# --- Census batch ---------------------------------------------------------------------------


def test_census_hung_gives_up_at_the_deadline(fake):
    fake.census.fault.hang = True
    _, elapsed, exc = timed(census(fake.census_url).geocode_batch, [("1", A1)])
    assert isinstance(exc, GeocodingUnavailable) and "did not answer in time" in str(exc)
    assert 0.9 <= elapsed < 1.0 + SLACK


def test_census_hung_in_the_cascade_falls_back_to_the_zip_in_bounded_time(engine, fake):
    fake.census.fault.hang = True
    report, elapsed, exc = timed(
        geocoding.geocode_addresses, engine, [A1], census=census(fake.census_url), nominatim=None
    )
    assert exc is None and report.results[A1.key].source == "zip_centroid"
    assert report.messages == [
        "The Census geocoder did not answer in time. Skipped it for the rest of this run."
    ]
    assert elapsed < 1.0 + SLACK


def test_census_connection_refused():
    _, _, exc = timed(census(refused_url("/geocoder")).geocode_batch, [("1", A1)])
    assert isinstance(exc, GeocodingUnavailable) and "could not be reached" in str(exc)


def test_census_429_retry_after_is_honoured_when_it_fits(fake):
    fake.census.fault.busy_first = 1
    fake.census.fault.retry_after = "1"
    rows, elapsed, exc = timed(census(fake.census_url, deadline=3.0).geocode_batch, [("1", A1)])
    assert exc is None and rows["1"].status == "Match"
    assert fake.census.posts == 2 and elapsed >= 1.0


def test_census_429_asking_more_than_the_deadline_fails_at_once(fake):
    fake.census.fault.busy_first = 5
    fake.census.fault.retry_after = "120"
    _, elapsed, exc = timed(census(fake.census_url, deadline=2.0).geocode_batch, [("1", A1)])
    assert isinstance(exc, GeocodingUnavailable) and "slow down" in str(exc)
    assert fake.census.posts == 1 and elapsed < 0.5 + SLACK


def test_census_truncated_csv_places_nothing_from_the_cut_answer(engine, fake):
    fake.census.fault.truncate = 150  # the second line stops inside its coordinates
    addresses = [A1, Address("950 E Harvard Ave", "Denver", "CO", "80210")]
    report = geocoding.geocode_addresses(
        engine, addresses, census=census(fake.census_url), nominatim=None
    )
    assert report.messages == [
        "The Census geocoder's answer was cut short. Skipped it for the rest of this run."
    ]
    assert {r.source for r in report.results.values()} == {"zip_centroid"}


def test_census_connection_closed_mid_answer(fake):
    fake.census.fault.truncate_transfer = True
    _, _, exc = timed(census(fake.census_url, retries=0).geocode_batch, [("1", A1)])
    assert isinstance(exc, GeocodingUnavailable) and "cut short" in str(exc)


# --- Nominatim (geopy against the local server) ---------------------------------------------


def nominatim(url: str, deadline: float = 1.0) -> NominatimGeocoder:
    return NominatimGeocoder(url, deadline=deadline)


def test_nominatim_answers_through_geopy(fake):
    result = nominatim(fake.nominatim_url).geocode(A1)
    assert (result.source, result.precision) == ("nominatim", "address")
    assert result.lat == pytest.approx(39.7461)
    assert fake.nominatim.requests[0]["postalcode"] == "80218"
    assert fake.nominatim.user_agents[0].startswith("ReferralAtlas/")


def test_nominatim_hung_gives_up_at_the_deadline(fake):
    fake.nominatim.fault.hang = True
    _, elapsed, exc = timed(nominatim(fake.nominatim_url).geocode, A1)
    assert isinstance(exc, GeocodingUnavailable) and "did not answer in time" in str(exc)
    assert 0.9 <= elapsed < 1.0 + SLACK


def test_nominatim_connection_refused():
    _, elapsed, exc = timed(nominatim(refused_url("/nominatim")).geocode, A1)
    assert isinstance(exc, GeocodingUnavailable)
    assert str(exc) == "Nominatim could not be reached."
    assert elapsed < 1.0 + SLACK


def test_nominatim_429_retry_after_is_honoured_when_it_fits(fake):
    fake.nominatim.fault.busy_first = 1
    fake.nominatim.fault.retry_after = "1"
    result, elapsed, exc = timed(nominatim(fake.nominatim_url, deadline=4.0).geocode, A1)
    assert exc is None and result.source == "nominatim"
    assert len(fake.nominatim.requests) == 2 and elapsed >= 1.0


def test_nominatim_429_asking_more_than_the_deadline_fails_at_once(fake):
    fake.nominatim.fault.busy_first = 5
    fake.nominatim.fault.retry_after = "120"
    _, elapsed, exc = timed(nominatim(fake.nominatim_url, deadline=2.0).geocode, A1)
    assert isinstance(exc, GeocodingUnavailable) and "slow down" in str(exc)
    assert len(fake.nominatim.requests) == 1 and elapsed < 0.5 + SLACK


def test_nominatim_truncated_json_is_a_plain_message(fake, caplog):
    fake.nominatim.fault.truncate = 20
    _, _, exc = timed(nominatim(fake.nominatim_url).geocode, A1)
    assert isinstance(exc, GeocodingUnavailable)
    assert str(exc) == "Nominatim's answer could not be read."
    assert "GeocoderParseError" in caplog.text  # geopy's detail is in the log


# --- Stop does not wait for a hung request --------------------------------------------------


def _stop_after(seconds: float):
    at = time.monotonic() + seconds
    return lambda: time.monotonic() >= at


def test_stop_abandons_a_hung_census_request_at_once(engine, fake):
    fake.census.fault.hang = True
    report, elapsed, exc = timed(
        geocoding.geocode_addresses, engine, [A1],
        census=census(fake.census_url, deadline=30.0), nominatim=None,
        should_stop=_stop_after(0.3),
    )  # fmt: skip
    assert exc is None and report.stopped and report.results == {}
    assert elapsed < 0.3 + SLACK


def test_stop_abandons_a_hung_nominatim_request_at_once(engine, fake):
    fake.nominatim.fault.hang = True
    report, elapsed, exc = timed(
        geocoding.geocode_addresses, engine, [A1], census=None,
        nominatim=nominatim(fake.nominatim_url, deadline=10.0), should_stop=_stop_after(0.3),
    )  # fmt: skip
    assert exc is None and report.stopped
    assert elapsed < 0.3 + SLACK


# --- the area search when the registry stops answering --------------------------------------


@pytest.fixture
def practice(engine):
    return create_practice(
        engine,
        PracticeInput(name="Test PT", zip="80206", lat=HOME.lat, lon=HOME.lon,
                      geocode_source="manual", geocode_precision="address"),
    )  # fmt: skip


def _search(engine, practice, fake, **kw):
    kw.setdefault("client", registry(fake.npi_url, deadline=1.0))
    return area_search.run_area_search(
        engine, practice, 2.0, ["ortho"], max_workers=1,
        geocode_options={"census": census(fake.census_url), "nominatim": None}, **kw,
    )  # fmt: skip


def test_a_registry_that_stops_answering_ends_the_search_and_keeps_what_arrived(
    engine, practice, fake
):
    zips = area_plan.search_zips(HOME.lat, HOME.lon, 2.0)
    fake.npi.results = synthetic_area(zips[:5], ["207X00000X"], per_pair=1)
    fake.npi.fault.hang_after = 3  # three ZIPs answer, then the registry hangs
    result, elapsed, exc = timed(_search, engine, practice, fake)
    assert exc is None
    assert result.offline == (
        f"The NPI Registry is not answering: 3 of {len(zips):,} queries are done "
        "(it did not answer in time). Try again later."
    )
    assert not result.complete and area_search.pulls(engine, practice.id) == []
    assert result.kept == 3
    kept = load_providers(engine, practice)
    assert len(kept) == 3 and kept["lat"].notna().all()  # stored and placed
    assert elapsed < 1.0 + 3 * SLACK  # one deadline, not one per query left


def test_stop_ends_a_search_hung_on_the_registry_at_once(engine, practice, fake):
    fake.npi.fault.hang = True
    client = registry(fake.npi_url, deadline=30.0)
    result, elapsed, exc = timed(
        _search, engine, practice, fake, client=client, should_stop=_stop_after(0.3)
    )
    assert exc is None and result.stopped and not result.complete
    assert elapsed < 0.3 + SLACK


def test_call_within_hands_back_results_and_exceptions():
    clock = http_deadline.Deadline(5.0)
    assert http_deadline.call_within(lambda: 42, clock) == 42
    with pytest.raises(KeyError):
        http_deadline.call_within(lambda: {}["x"], clock)
    release = threading.Event()
    with pytest.raises(http_deadline.Stopped):
        http_deadline.call_within(release.wait, clock, should_stop=lambda: True)
    release.set()
