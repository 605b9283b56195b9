"""NPI Registry client: parsing every documented drift, criteria rules, paging, faults."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from services import npi_registry as reg
from tests.fake_services import FakeServices, provider_result, synthetic_area

FIXTURES = Path(__file__).parent / "fixtures"


def load(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


# --- parse_response against recorded-shape fixtures -----------------------------------------


def test_2019_format_int_npi_location_address_and_nine_digit_zip():
    [rec] = reg.parse_response(load("npi_2019_individual.json"))
    assert rec.npi == "1740112234"  # int in the payload
    assert rec.entity_type == "individual"
    assert rec.name == "MARGARET J OKAFOR" and rec.credential == "M.D."
    # the LOCATION address, not the mailing PO box nor the secondary practice location
    assert rec.address == "1601 E 19TH AVE, STE 5000"
    assert (rec.city, rec.state, rec.zip) == ("DENVER", "CO", "80218")
    assert rec.raw_postal_code == "802181235"
    assert rec.phone == "303-555-0142"
    assert rec.primary_taxonomy == "207X00000X"
    assert rec.taxonomy_codes == ("207X00000X", "390200000X")
    assert rec.last_updated.isoformat() == "2018-05-08"


def test_2022_format_string_npi_mailing_first_five_digit_zip_and_placeholders():
    [rec] = reg.parse_response(load("npi_2022_individual.json"))
    assert rec.npi == "1288392016"
    assert rec.address == "950 E HARVARD AVE"  # LOCATION although MAILING comes first
    assert rec.zip == "80210"
    assert rec.name == "DAVID LINDQVIST"  # "--" middle name and suffix dropped
    assert rec.primary_taxonomy == "207R00000X"


def test_epochs_are_used_when_dates_are_missing_in_seconds_or_milliseconds():
    seconds = {"number": 1740112234, "last_updated_epoch": 1525737600, "basic": {}}
    millis = {"number": "1740112234", "last_updated_epoch": "1525737600000", "basic": {}}
    assert reg.parse_record(seconds).last_updated == reg.parse_record(millis).last_updated
    assert reg.parse_record(seconds).last_updated.isoformat() == "2018-05-08"


def test_primary_not_first_repeated_codes_organizations_and_bad_npis():
    recs = reg.parse_response(load("npi_mixed_page.json"))
    by_npi = {r.npi: r for r in recs}
    assert set(by_npi) == {"1502991205", "1933880019", "1600110997"}  # bad check digit dropped
    chiro = by_npi["1502991205"]
    assert chiro.primary_taxonomy == "111NX0800X"  # primary sits second
    assert chiro.taxonomy_codes == ("111NX0800X", "390200000X")
    assert chiro.address == "3000 E 3RD AVE" and chiro.zip == "80206"
    fam = by_npi["1933880019"]
    assert fam.taxonomy_codes == ("207Q00000X", "207QS0010X")  # the repeat collapsed
    org = by_npi["1600110997"]
    assert org.entity_type == "organization" and org.credential is None
    assert org.name.startswith("<script>")  # kept verbatim: escaping is the display's job


def test_empty_result_is_an_empty_list():
    assert reg.parse_response(load("npi_empty.json")) == []


@pytest.mark.parametrize(
    ("fixture", "number", "text"),
    [
        ("npi_error_04.json", "04", "No valid search criteria provided"),
        ("npi_error_09.json", "09", "enumeration_type requires additional search criteria"),
        ("npi_error_14.json", "14", "No taxonomy codes found"),
    ],
)
def test_errors_payload_raises_with_the_apis_own_text(fixture, number, text):
    with pytest.raises(reg.RegistryQueryError) as info:
        reg.parse_response(load(fixture))
    assert info.value.numbers == [number]
    assert text in str(info.value)


# --- criteria -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "criteria",
    [
        {},
        {"state": "CO"},
        {"enumeration_type": "NPI-1"},
        {"state": "CO", "enumeration_type": "NPI-2", "address_purpose": "LOCATION"},
    ],
)
def test_criteria_without_a_real_search_field_are_refused_before_sending(criteria):
    with pytest.raises(reg.CriteriaError, match="does not search by state"):
        reg.validate_criteria(criteria)


@pytest.mark.parametrize(
    ("criteria", "message"),
    [
        ({"last_name": "*son"}, "only come last"),
        ({"last_name": "s*"}, "at least 2 characters"),
        ({"last_name": "sm*th*"}, "only come last"),
        ({"number": "12345*"}, "not allowed in number"),
        ({"taxonomy_description": "Family Medicine, Sports Medicine"}, "not both"),
        ({"nickname": "x"}, "not an NPI Registry search field"),
        ({"last_name": "x", "enumeration_type": "NPI-3"}, "NPI-1"),
    ],
)
def test_bad_criteria_are_explained(criteria, message):
    with pytest.raises(reg.CriteriaError, match=message):
        reg.validate_criteria(criteria)


def test_an_npi_with_a_bad_check_digit_is_refused_with_that_reason():
    with pytest.raises(reg.CriteriaError, match="check digit"):
        reg.validate_criteria({"number": "1740112235"})


def test_trailing_wildcard_after_two_characters_is_accepted():
    assert reg.validate_criteria({"last_name": " sm* ", "state": "co"}) == {
        "last_name": "sm*",
        "state": "co",
    }


# --- the client against a local server ------------------------------------------------------


@pytest.fixture
def fake():
    with FakeServices() as services:
        yield services


def client(fake, **kw) -> reg.RegistryClient:
    kw.setdefault("retries", 0)
    kw.setdefault("timeout", (2.0, 2.0))
    return reg.RegistryClient(fake.npi_url, **kw)


def test_paginates_to_the_end_and_sends_an_identifying_user_agent(fake):
    fake.npi.results = synthetic_area(["80206"], ["207X00000X"], per_pair=450)
    result = client(fake).search_all(postal_code="80206", address_purpose="LOCATION")
    assert len(result.records) == 450 and not result.capped
    assert result.pages == 3
    assert [r["skip"] for r in fake.npi.requests] == ["0", "200", "400"]
    assert all(r["limit"] == "200" and r["version"] == "2.1" for r in fake.npi.requests)
    assert all(ua.startswith("ReferralAtlas/") for ua in fake.npi.user_agents)


def test_stops_at_the_1200_record_cap_and_says_so(fake):
    fake.npi.results = synthetic_area(["80206"], ["207X00000X"], per_pair=1500)
    result = client(fake).search_all(postal_code="80206")
    assert len(result.records) == 1200 and result.capped
    assert max(int(r["skip"]) for r in fake.npi.requests) == 1000


def test_the_user_agent_and_base_url_come_from_settings(fake, monkeypatch):
    monkeypatch.setenv("NPI_API_URL", fake.npi_url)
    monkeypatch.setenv("REFERRAL_ATLAS_USER_AGENT", "AtlasTest/9 (ops@example.org)")
    fake.npi.results = [provider_result("1740112234", last="OKAFOR")]
    assert [r.npi for r in reg.search(number="1740112234")] == ["1740112234"]
    assert fake.npi.user_agents == ["AtlasTest/9 (ops@example.org)"]


def test_lookup_returns_the_provider_or_none(fake):
    fake.npi.results = [provider_result("1740112234", last="OKAFOR", postal_code="80218")]
    c = client(fake)
    assert c.lookup("1740112234").name == "ALEX OKAFOR"
    assert c.lookup("1288392016") is None
    with pytest.raises(reg.CriteriaError, match="check digit"):
        c.lookup("1740112230")
    assert len(fake.npi.requests) == 2  # the bad NPI was never sent


@pytest.mark.parametrize(("mode", "number"), [("error04", "04"), ("error09", "09")])
def test_server_error_payloads_with_http_200_raise_query_errors(fake, mode, number):
    fake.npi.mode = mode
    with pytest.raises(reg.RegistryQueryError) as info:
        client(fake).search(last_name="smith")
    assert info.value.numbers == [number]


def test_unknown_taxonomy_description_is_error_14(fake):
    with pytest.raises(reg.RegistryQueryError, match="No taxonomy codes found") as info:
        client(fake).search(taxonomy_description="Bone Whispering", postal_code="80206")
    assert info.value.numbers == ["14"]


def test_html_maintenance_page_is_rejected_clearly(fake):
    fake.npi.mode = "html"
    with pytest.raises(reg.RegistryUnavailable, match="web page instead of data"):
        client(fake).search(last_name="smith")


def test_malformed_json_is_rejected_clearly(fake):
    fake.npi.mode = "malformed"
    with pytest.raises(reg.RegistryUnavailable, match="not valid JSON"):
        client(fake).search(last_name="smith")


def test_500s_are_retried_with_backoff_then_succeed(fake):
    fake.npi.results = [provider_result("1740112234", last="OKAFOR")]
    fake.npi.fail_first = 2
    started = time.monotonic()
    records = client(fake, retries=3, backoff=0.05).search(last_name="OKAFOR")
    assert [r.npi for r in records] == ["1740112234"]
    assert len(fake.npi.requests) == 3
    assert time.monotonic() - started >= 0.05  # it waited between attempts


def test_persistent_500s_end_in_a_clear_error(fake):
    fake.npi.mode = "status500"
    with pytest.raises(reg.RegistryUnavailable, match="HTTP 500"):
        client(fake, retries=2, backoff=0.01).search(last_name="smith")
    assert len(fake.npi.requests) == 3


def test_slow_answers_time_out_with_a_clear_error(fake):
    fake.npi.mode = "slow"
    fake.npi.slow_seconds = 2.0
    started = time.monotonic()
    with pytest.raises(reg.RegistryUnavailable, match="did not answer in time"):
        client(fake, timeout=(1.0, 0.3)).search(last_name="smith")
    assert time.monotonic() - started < 1.5


def test_connection_refused_is_unavailable_not_a_crash():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    c = reg.RegistryClient(f"http://127.0.0.1:{port}/api/", retries=1, backoff=0.01)
    with pytest.raises(reg.RegistryUnavailable, match="could not be reached"):
        c.search(last_name="smith")


def test_parse_response_matches_a_real_exchange(fake):
    fake.npi.results = [load("npi_mixed_page.json")["results"][0]]
    [rec] = client(fake).search(postal_code="80206", address_purpose="LOCATION")
    assert rec.npi == "1502991205" and rec.primary_taxonomy == "111NX0800X"
