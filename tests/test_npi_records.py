"""Parsing registry answers: every documented format drift, and `Errors` payloads."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from services.npi_errors import RegistryQueryError
from services.npi_records import parse_record, parse_response

FIXTURES = Path(__file__).parent / "fixtures"


def load(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


# --- parse_response against recorded-shape fixtures -----------------------------------------


def test_2019_format_int_npi_location_address_and_nine_digit_zip():
    [rec] = parse_response(load("npi_2019_individual.json"))
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
    [rec] = parse_response(load("npi_2022_individual.json"))
    assert rec.npi == "1288392016"
    assert rec.address == "950 E HARVARD AVE"  # LOCATION although MAILING comes first
    assert rec.zip == "80210"
    assert rec.name == "DAVID LINDQVIST"  # "--" middle name and suffix dropped
    assert rec.primary_taxonomy == "207R00000X"


def test_epochs_are_used_when_dates_are_missing_in_seconds_or_milliseconds():
    seconds = {"number": 1740112234, "last_updated_epoch": 1525737600, "basic": {}}
    millis = {"number": "1740112234", "last_updated_epoch": "1525737600000", "basic": {}}
    assert parse_record(seconds).last_updated == parse_record(millis).last_updated
    assert parse_record(seconds).last_updated.isoformat() == "2018-05-08"


def test_primary_not_first_repeated_codes_organizations_and_bad_npis():
    recs = parse_response(load("npi_mixed_page.json"))
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
    assert parse_response(load("npi_empty.json")) == []


@pytest.mark.parametrize(
    ("fixture", "number", "text"),
    [
        ("npi_error_04.json", "04", "No valid search criteria provided"),
        ("npi_error_09.json", "09", "enumeration_type requires additional search criteria"),
        ("npi_error_14.json", "14", "No taxonomy codes found"),
    ],
)
def test_errors_payload_raises_with_the_apis_own_text(fixture, number, text):
    with pytest.raises(RegistryQueryError) as info:
        parse_response(load(fixture))
    assert info.value.numbers == [number]
    assert text in str(info.value)
