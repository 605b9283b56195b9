from __future__ import annotations

import pytest

from services.npi import is_valid_npi, make_npi, npi_error
from services.zipcentroids import centroid, zip5, zips_within


def test_centroids_are_floats_and_nine_digit_zips_work():
    c = centroid("80206")
    assert c is not None and isinstance(c.lat, float) and isinstance(c.lon, float)
    assert (c.city, c.state) == ("Denver", "CO")
    assert centroid("802061234") == c
    assert centroid("80206-1234") == c


def test_zero_zero_means_missing_and_bad_zips_are_none():
    assert centroid("09001") is None  # a military ZIP stored as 0/0
    assert centroid("00000") is None
    assert centroid("abc") is None
    assert zip5(2101) == "02101"  # a ZIP that lost its leading zero in a spreadsheet


def test_zips_within_are_sorted_by_distance():
    c = centroid("80206")
    near = zips_within(c.lat, c.lon, 3)
    assert near[0][0].zip_code == "80206" and near[0][1] == 0
    dists = [d for _, d in near]
    assert dists == sorted(dists) and dists[-1] <= 3


@pytest.mark.parametrize("npi", ["1234567893", 1234567893, "1245319599"])
def test_valid_npis(npi):
    assert is_valid_npi(npi)
    assert npi_error(npi) is None


@pytest.mark.parametrize(
    ("npi", "message"),
    [("1234567890", "check digit"), ("123456789", "10 digits"), ("", "required"),
     ("3234567893", "starts with 1 or 2"), ("12345abc93", "10 digits")],
)  # fmt: skip
def test_invalid_npis_say_why(npi, message):
    assert not is_valid_npi(npi)
    assert message in npi_error(npi)


def test_make_npi_adds_a_valid_check_digit():
    assert is_valid_npi(make_npi("299900001"))
    with pytest.raises(ValueError):
        make_npi("12")
