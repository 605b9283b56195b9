"""NPI Registry client against a local server: paging, settings, lookups, faults."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from services import npi_registry as reg
from services.npi_errors import CriteriaError, RegistryQueryError, RegistryUnavailable
from tests.fake_services import FakeServices, provider_result, synthetic_area

FIXTURES = Path(__file__).parent / "fixtures"


def load(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


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
    with pytest.raises(CriteriaError, match="check digit"):
        c.lookup("1740112230")
    assert len(fake.npi.requests) == 2  # the bad NPI was never sent


@pytest.mark.parametrize(("mode", "number"), [("error04", "04"), ("error09", "09")])
def test_server_error_payloads_with_http_200_raise_query_errors(fake, mode, number):
    fake.npi.mode = mode
    with pytest.raises(RegistryQueryError) as info:
        client(fake).search(last_name="smith")
    assert info.value.numbers == [number]


def test_unknown_taxonomy_description_is_error_14(fake):
    with pytest.raises(RegistryQueryError, match="No taxonomy codes found") as info:
        client(fake).search(taxonomy_description="Bone Whispering", postal_code="80206")
    assert info.value.numbers == ["14"]


def test_html_maintenance_page_is_rejected_clearly(fake):
    fake.npi.mode = "html"
    with pytest.raises(RegistryUnavailable, match="web page instead of data"):
        client(fake).search(last_name="smith")


def test_malformed_json_is_rejected_clearly(fake):
    fake.npi.mode = "malformed"
    with pytest.raises(RegistryUnavailable, match="not valid JSON"):
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
    with pytest.raises(RegistryUnavailable, match="HTTP 500"):
        client(fake, retries=2, backoff=0.01).search(last_name="smith")
    assert len(fake.npi.requests) == 3


def test_slow_answers_time_out_with_a_clear_error(fake):
    fake.npi.mode = "slow"
    fake.npi.slow_seconds = 2.0
    started = time.monotonic()
    with pytest.raises(RegistryUnavailable, match="did not answer in time"):
        client(fake, timeout=(1.0, 0.3)).search(last_name="smith")
    assert time.monotonic() - started < 1.5


def test_connection_refused_is_unavailable_not_a_crash():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    c = reg.RegistryClient(f"http://127.0.0.1:{port}/api/", retries=1, backoff=0.01)
    with pytest.raises(RegistryUnavailable, match="could not be reached"):
        c.search(last_name="smith")


def test_parse_response_matches_a_real_exchange(fake):
    fake.npi.results = [load("npi_mixed_page.json")["results"][0]]
    [rec] = client(fake).search(postal_code="80206", address_purpose="LOCATION")
    assert rec.npi == "1502991205" and rec.primary_taxonomy == "111NX0800X"
