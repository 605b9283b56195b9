"""The geocoding cascade: cache, Census batch (Match/No_Match/Tie), geopy, ZIP centroid."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import sqlalchemy as sa
from geopy.exc import GeocoderServiceError, GeocoderUnavailable

from services import db, geocoder_census, geocoder_nominatim, geocoding
from services.geocode_types import Address, GeocodingUnavailable
from services.geocoder_census import CensusGeocoder
from services.geocoder_nominatim import NominatimGeocoder
from services.zipcentroids import centroid
from tests.fake_services import FakeCensus, FakeServices

A1 = Address("1601 E 19th Ave", "Denver", "CO", "80218-1235")
A2 = Address("950 E Harvard Ave", "Denver", "CO", "80210")
A3 = Address("1 Nowhere Rd", "Denver", "CO", "80206")


def test_address_key_folds_case_punctuation_spacing_and_zip4():
    assert Address("1601 E. 19th  Ave", "denver", "co", "80218").key == A1.key
    assert A1.key == "1601 E 19TH AVE|DENVER|CO|80218"


CENSUS_ANSWER = (
    '"1","1601 E 19th Ave, Denver, CO, 80218","Match","Exact",'
    '"1601 E 19TH AVE, DENVER, CO, 80218","-104.969,39.746","12345","L"\n'
    '"2","950 E Harvard Ave, Denver, CO, 80210","Match","Non_Exact",'
    '"950 E HARVARD AVE, DENVER, CO, 80210","-104.975,39.672","2222","R"\n'
    '"3","1 Nowhere Rd, Denver, CO, 80206","No_Match"\n'
    '"4","10 Main St, Denver, CO, 80206","Tie"\n'
    '"5","x","Match","Exact","X","garbage","1","L"\n'
)


def test_parse_census_csv_match_no_match_tie_and_lon_lat_order():
    rows = geocoder_census.parse_census_csv(CENSUS_ANSWER)
    assert rows["1"].status == "Match" and rows["1"].exact
    assert (rows["1"].lat, rows["1"].lon) == (39.746, -104.969)  # "lon,lat" in the file
    assert rows["2"].status == "Match" and not rows["2"].exact
    assert rows["3"].status == "No_Match" and rows["3"].lat is None
    assert rows["4"].status == "Tie"
    assert rows["5"].status == "No_Match"  # unreadable coordinates are not a match


def test_census_upload_is_a_headerless_five_column_csv():
    body = geocoder_census.census_csv([("7", A1), ("8", Address(None, "Denver", "CO", None))])
    assert body.decode().splitlines() == [
        "7,1601 E 19th Ave,Denver,CO,80218",
        "8,,Denver,CO,",
    ]


@pytest.fixture
def fake():
    with FakeServices(census=FakeCensus(match_by_zip=False)) as services:
        yield services


def census(fake, **kw) -> CensusGeocoder:
    kw.setdefault("retries", 0)
    return CensusGeocoder(fake.census_url, **kw)


class StubGeocoder:
    """Stands in for geopy's Nominatim.geocode (the callable the RateLimiter wraps)."""

    def __init__(self, answers=None, error: Exception | None = None):
        self.answers = answers or {}
        self.error = error
        self.calls: list[dict] = []

    def __call__(self, query, exactly_one=True):
        self.calls.append(query)
        if self.error:
            raise self.error
        hit = self.answers.get(query.get("street"))
        if hit is None:
            return None
        lat, lon, rank = hit
        return SimpleNamespace(latitude=lat, longitude=lon, raw={"place_rank": rank})


def _cache_rows(engine):
    with engine.connect() as conn:
        return {r.address_key: r for r in conn.execute(sa.select(db.geocode_cache))}


def test_cascade_order_sources_precisions_and_cache(engine, fake):
    fake.census.known = {
        FakeCensus.key("1601 E 19th Ave", "80218"): (39.746, -104.969),
        FakeCensus.key("950 E Harvard Ave", "80210"): (39.672, -104.975),
    }
    fake.census.ties = {FakeCensus.key("1 Nowhere Rd", "80206")}
    stub = StubGeocoder({"1 Nowhere Rd": (39.73, -104.95, 30)})
    extra = Address("77 Unknown Way", "Denver", "CO", "80206")
    report = geocoding.geocode_addresses(
        engine,
        [A1, A2, A3, extra],
        census=census(fake),
        nominatim=NominatimGeocoder(geocode_fn=stub),
    )
    res = report.results
    assert res[A1.key].source == "census" and res[A1.key].lat == pytest.approx(39.746)
    assert res[A3.key].source == "nominatim" and res[A3.key].precision == "address"
    assert res[extra.key].source == "zip_centroid" and res[extra.key].precision == "zip"
    assert res[extra.key].lat == pytest.approx(centroid("80206").lat)
    # the Tie and the No_Match went on to Nominatim, the matches did not
    assert [c["street"] for c in stub.calls] == ["1 Nowhere Rd", "77 Unknown Way"]
    assert stub.calls[0]["postalcode"] == "80206" and stub.calls[0]["country"] == "US"
    rows = _cache_rows(engine)
    assert {k: (r.source, r.precision) for k, r in rows.items()} == {
        k: (r.source, r.precision) for k, r in res.items()
    }
    assert report.unresolved == [] and report.messages == []
    assert fake.census.batches == [4]

    # a second run answers everything from the cache: nothing goes out
    again = geocoding.geocode_addresses(
        engine,
        [A1, A2, A3, extra],
        census=census(fake),
        nominatim=NominatimGeocoder(geocode_fn=stub),
    )
    assert again.from_cache == 4 and fake.census.batches == [4] and len(stub.calls) == 2


def test_census_requests_stay_within_10000_rows(engine, fake):
    fake.census.match_by_zip = True
    addresses = [Address(f"{i} Main St", "Denver", "CO", "80206") for i in range(25)]
    geocoding.geocode_addresses(
        engine, addresses, census=census(fake), nominatim=None, census_chunk=10
    )
    assert fake.census.batches == [10, 10, 5]
    with pytest.raises(ValueError, match="10000"):
        census(fake).geocode_batch([(str(i), A1) for i in range(10_001)])


def test_census_down_is_reported_once_and_the_cascade_carries_on(engine, fake):
    fake.census.mode = "html"
    report = geocoding.geocode_addresses(engine, [A1, A2], census=census(fake), nominatim=None)
    assert len(report.messages) == 1 and "web page" in report.messages[0]
    assert {r.source for r in report.results.values()} == {"zip_centroid"}


def test_unreachable_census_is_reported_not_raised(engine):
    c = CensusGeocoder("http://127.0.0.1:9/geocoder", retries=0)
    report = geocoding.geocode_addresses(engine, [A1], census=c, nominatim=None)
    assert "could not be reached" in report.messages[0]
    assert report.results[A1.key].precision == "zip"


def test_geopy_errors_are_reported_and_stop_further_nominatim_calls(engine, caplog):
    stub = StubGeocoder(error=GeocoderUnavailable("no route to host"))
    report = geocoding.geocode_addresses(
        engine, [A1, A2, A3], census=None, nominatim=NominatimGeocoder(geocode_fn=stub)
    )
    assert len(stub.calls) == 1
    # the user reads the app's words; geopy's own text goes to the log
    assert report.messages == [
        "Nominatim could not be reached. Skipped it for the rest of this run."
    ]
    assert "GeocoderUnavailable: no route to host" in caplog.text
    assert len(report.results) == 3  # all fell back to ZIP centroids


def test_a_coarse_nominatim_hit_is_not_better_than_the_zip(engine):
    stub = StubGeocoder({"1601 E 19th Ave": (39.7, -104.9, 16)})  # a city-level match
    report = geocoding.geocode_addresses(
        engine, [A1], census=None, nominatim=NominatimGeocoder(geocode_fn=stub)
    )
    assert report.results[A1.key].source == "zip_centroid"


def test_nominatim_budget_bounds_the_slow_step(engine):
    stub = StubGeocoder()
    addresses = [Address(f"{i} Elm St", "Denver", "CO", "80206") for i in range(5)]
    geocoding.geocode_addresses(
        engine,
        addresses,
        census=None,
        nominatim=NominatimGeocoder(geocode_fn=stub),
        max_nominatim=2,
    )
    assert len(stub.calls) == 2


def test_real_geopy_rate_limiter_is_shared_and_reports_errors(monkeypatch, caplog):
    """The production path: geopy's Nominatim behind one RateLimiter with errors raised."""
    from geopy.geocoders import Nominatim

    calls = []

    def fake_geocode(self, query, exactly_one=True, **kw):
        calls.append((self.domain, self.headers.get("User-Agent"), query))
        raise GeocoderServiceError("HTTP 503")

    monkeypatch.setattr(Nominatim, "geocode", fake_geocode)
    monkeypatch.setenv("REFERRAL_ATLAS_USER_AGENT", "AtlasTest/1 (ops@example.org)")
    geocoder_nominatim._limiters.clear()
    one = NominatimGeocoder("http://127.0.0.1:9")
    two = NominatimGeocoder("http://127.0.0.1:9")
    assert one._geocode is two._geocode  # one limiter for the whole app
    limiter = one._geocode
    assert limiter.min_delay_seconds == 1.0 and limiter.swallow_exceptions is False
    with pytest.raises(GeocodingUnavailable, match="Nominatim could not geocode"):
        one.geocode(A1)
    assert "HTTP 503" in caplog.text  # the service's detail is in the log
    assert calls[0][0] == "127.0.0.1:9"
    assert calls[0][1] == "AtlasTest/1 (ops@example.org)"
    geocoder_nominatim._limiters.clear()


def test_settings_can_switch_services_off(monkeypatch):
    monkeypatch.setenv("CENSUS_GEOCODER_URL", "off")
    monkeypatch.setenv("NOMINATIM_URL", "off")
    assert geocoding.default_census() is None and geocoding.default_nominatim() is None
    monkeypatch.setenv("CENSUS_GEOCODER_URL", "http://127.0.0.1:1/geocoder")
    assert geocoding.default_census().url == "http://127.0.0.1:1/geocoder/locations/addressbatch"


def test_a_stopped_run_keeps_what_it_geocoded_and_a_rerun_does_the_rest(engine, fake):
    fake.census.match_by_zip = True
    addresses = [Address(f"{i} Oak St", "Denver", "CO", "80206") for i in range(30)]
    seen = []

    def progress(done, total, stage):
        seen.append((done, total, stage))

    first = geocoding.geocode_addresses(
        engine, addresses, census=census(fake), nominatim=None, census_chunk=10,
        progress=progress, should_stop=lambda: len(fake.census.batches) >= 2,
    )  # fmt: skip
    assert first.stopped and len(first.results) == 20
    assert len(_cache_rows(engine)) == 20  # committed chunk by chunk
    assert seen[-1] == (20, 30, "census")
    second = geocoding.geocode_addresses(
        engine, addresses, census=census(fake), nominatim=None, census_chunk=10
    )
    assert second.from_cache == 20 and len(second.results) == 30
    assert fake.census.batches == [10, 10, 10]


def test_retry_approximate_upgrades_a_cached_zip_result(engine, fake):
    geocoding.geocode_addresses(engine, [A1], census=None, nominatim=None)
    assert _cache_rows(engine)[A1.key].precision == "zip"
    fake.census.known = {FakeCensus.key("1601 E 19th Ave", "80218"): (39.746, -104.969)}
    report = geocoding.geocode_addresses(
        engine, [A1], census=census(fake), nominatim=None, retry_approximate=True
    )
    assert report.results[A1.key].source == "census"
    assert _cache_rows(engine)[A1.key].source == "census"


def test_an_address_without_a_known_zip_stays_unresolved(engine):
    nowhere = Address("1 Sea Lane", "Atlantis", "ZZ", "00000")
    report = geocoding.geocode_addresses(engine, [nowhere], census=None, nominatim=None)
    assert report.unresolved == [nowhere.key]
    result, messages = geocoding.geocode_one(engine, nowhere, census=None, nominatim=None)
    assert result is None and messages == []


def test_manual_placement_is_cached(engine):
    geocoding.store_manual(engine, A3, 39.7, -104.9)
    result, _ = geocoding.geocode_one(engine, A3, census=None, nominatim=None)
    assert (result.source, result.lat, result.lon) == ("manual", 39.7, -104.9)
