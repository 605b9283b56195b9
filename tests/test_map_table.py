"""The map's provider table: order, display cells, and naming whom a bulk add will change."""

from __future__ import annotations

import pandas as pd

from services.map_table import format_phone, names_for, table_frame, title_case


def _near() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "npi": ["1234567893", "1245319599", "1003000126", "1740112234"],
            "name": ["SMITH, JOHN", "O'BRIEN-JONES, ANN", "Mixed Case Clinic", "ACME PT LLC"],
            "credential": ["MD", None, "", None],
            "group_label": ["Orthopaedic surgery"] * 4,
            "specialty": ["Orthopaedic Surgery", None, "x", "y"],
            "distance_mi": [1.0, 2.0, 3.0, 4.0],
            "score": [90.0, 80.0, None, 60.0],
            "stage": ["target", None, None, "dropped"],
            "on_list": [True, False, False, True],
            "city": ["DENVER", None, "Boulder", "AURORA"],
            "phone": ["3035550100", "1-720-555-0199", None, "ext. 12"],
        }
    )


def test_off_list_providers_come_first_and_the_rest_only_on_request():
    default = table_frame(_near())
    assert default["npi"].tolist() == ["1245319599", "1003000126"]
    everyone = table_frame(_near(), show_all=True)
    assert everyone["npi"].tolist() == ["1245319599", "1003000126", "1234567893", "1740112234"]


def test_cells_read_well_full_npi_title_case_phone_and_no_none():
    t = table_frame(_near(), show_all=True).set_index("npi")
    assert t.loc["1234567893", "name"] == "Smith, John, MD"
    assert t.loc["1245319599", "name"] == "O'Brien-Jones, Ann"
    assert t.loc["1003000126", "name"] == "Mixed Case Clinic"
    assert t.loc["1740112234", "name"] == "Acme PT LLC"
    assert t.loc["1234567893", "city"] == "Denver"
    assert t.loc["1234567893", "phone"] == "(303) 555-0100"
    assert t.loc["1245319599", "phone"] == "(720) 555-0199"
    assert t.loc["1740112234", "phone"] == "ext. 12"
    text = t.drop(columns=["distance_mi", "score"]).reset_index()
    assert not text.isna().any().any()
    assert "None" not in text.to_numpy().astype(str)
    assert all(len(n) == 10 for n in text["npi"])
    assert pd.isna(t.loc["1003000126", "score"])  # a blank bar, not a zero


def test_helpers_handle_missing_values():
    assert title_case(None) == "" and title_case(float("nan")) == "" and title_case("") == ""
    assert format_phone(None) == "" and format_phone("555") == "555"


def test_bulk_add_names_whom_it_will_add():
    near = _near()
    assert names_for(near, ["1234567893"]) == "Smith, John, MD"
    assert names_for(near, ["1234567893", "1245319599"]) == "Smith, John, MD and O'Brien-Jones, Ann"
    assert names_for(near, ["1234567893"] * 7, limit=5).endswith("and 2 more")
    assert names_for(near, []) == ""
