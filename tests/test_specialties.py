from __future__ import annotations

from services.specialties import (
    GROUPS,
    GROUPS_BY_KEY,
    group_for_code,
    group_for_codes,
    group_label,
    specialty_label,
)


def test_every_listed_code_maps_to_its_own_group():
    for group in GROUPS:
        for code in group.codes:
            assert group_for_code(code) == group.key, code


def test_prefix_rules_cover_unlisted_subspecialties():
    assert group_for_code("207XP3100X") == "ortho"  # pediatric orthopaedic surgery, via 207X*
    assert group_for_code("207XX0801X") == "ortho"
    assert group_for_code("2251G0304X") == "pt"  # geriatric PT, via 2251*


def test_exact_codes_beat_prefixes_and_case_and_spaces_do_not_matter():
    assert group_for_code("2080S0010X") == "sports"  # not pediatrics
    assert group_for_code(" 207xx0005x ") == "ortho"


def test_unknown_and_empty_codes_have_no_group():
    assert group_for_code("390200000X") is None  # student in training
    assert group_for_code("") is None
    assert group_for_code(None) is None
    assert group_label(None) == "Other"


def test_a_provider_is_grouped_by_primary_code_then_by_the_others():
    assert group_for_codes("207Q00000X", ["207QS0010X"]) == "primary"
    assert group_for_codes("390200000X", ["111N00000X"]) == "chiro"
    assert group_for_codes(None, []) is None


def test_labels_come_from_our_table_not_the_registry_text():
    assert specialty_label("207XS0117X") == "Orthopaedic Surgery — Orthopaedic Surgery of the Spine"
    assert specialty_label("111N00000X") == "Chiropractor"
    assert specialty_label("999") == "999"
    assert not GROUPS_BY_KEY["pt"].scored and GROUPS_BY_KEY["ortho"].weight == 1.0
