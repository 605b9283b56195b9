"""Planning an area search: which ZIP codes and which registry taxonomy texts to ask for."""

from __future__ import annotations

from services import area_plan
from services.specialties import GROUPS_BY_KEY
from services.zipcentroids import centroid

HOME = centroid("80206")


def test_zips_cover_the_radius_plus_a_margin_without_po_boxes():
    zips = area_plan.search_zips(HOME.lat, HOME.lon, 2.0)
    assert zips[0] == "80206"
    assert "80218" in zips and "80203" in zips
    assert all(centroid(z).kind in ("STANDARD", "UNIQUE") for z in zips)
    wider = area_plan.search_zips(HOME.lat, HOME.lon, 5.0)
    assert set(zips) < set(wider)
    assert area_plan.margin_mi(2.0) == 1.0 and area_plan.margin_mi(10) == 2.0


def test_taxonomy_descriptions_are_few_registry_texts_without_commas():
    assert area_plan.taxonomy_descriptions(["ortho"]) == ["Orthopaedic Surgery"]
    assert area_plan.taxonomy_descriptions(["sports"]) == ["Sports Medicine"]
    assert area_plan.taxonomy_descriptions(["pain"]) == ["Pain Medicine", "Pain"]
    assert area_plan.taxonomy_descriptions(["primary"]) == [
        "Family Medicine", "Internal Medicine", "General Practice", "Primary Care",
    ]  # fmt: skip
    every = area_plan.taxonomy_descriptions(list(GROUPS_BY_KEY))
    assert all("," not in t for t in every) and len(every) == len(set(every))
