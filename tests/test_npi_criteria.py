"""The criteria rules: what the registry would refuse is refused before anything is sent."""

from __future__ import annotations

import pytest

from services.npi_criteria import validate_criteria
from services.npi_errors import CriteriaError


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
    with pytest.raises(CriteriaError, match="does not search by state"):
        validate_criteria(criteria)


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
    with pytest.raises(CriteriaError, match=message):
        validate_criteria(criteria)


def test_an_npi_with_a_bad_check_digit_is_refused_with_that_reason():
    with pytest.raises(CriteriaError, match="check digit"):
        validate_criteria({"number": "1740112235"})


def test_trailing_wildcard_after_two_characters_is_accepted():
    assert validate_criteria({"last_name": " sm* ", "state": "co"}) == {
        "last_name": "sm*",
        "state": "co",
    }
