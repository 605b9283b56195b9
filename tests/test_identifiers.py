"""The identifier battery: tracker columns and note texts that would put a patient in the log.

services.identifiers holds the rules; the importer and the editor both use them, so this
battery checks the rules themselves and then what an import does with a tracker full of them.
"""

from __future__ import annotations

import pytest

from services import identifiers, importer
from tests.conftest import TODAY

# --- headers -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "header",
    [
        # names
        "Patient", "Patient Name", "Pt Name", "Client", "Name", "First Name", "Last name",
        "Surname", "Full name", "Guarantor",
        # street addresses and smaller places
        "Address", "Street Address", "Home address", "Addr 1", "Apt", "City", "Zip", "Zip code",
        "Postal code", "County",
        # dates tied to a patient
        "DOB", "D.O.B.", "Date of birth", "Birthdate", "Birth date", "Born", "Admission date",
        "Discharge date", "Date of discharge",
        # phone, fax, email
        "Phone", "Phone #", "Cell phone", "Mobile", "Telephone", "Fax", "Fax number", "Email",
        "E-mail", "Email address", "Contact",
        # numbers
        "SSN", "Social Security #", "Social security number", "SS #", "MRN", "Medical Record #",
        "Medical record number", "Chart #", "Record no", "Insurance ID", "Insurance #",
        "Insurance number", "Member ID", "Member #", "Health plan ID", "Policy number",
        "Subscriber ID", "Beneficiary", "Medicare ID", "Medicaid #", "Group #", "Account #",
        "Account number", "Acct", "Claim #", "Driver's license", "License number", "Vehicle",
        "Device serial", "URL", "Website", "IP address", "Photo", "ID", "Case #",
    ],
)  # fmt: skip
def test_identifier_headers_are_dropped(header):
    assert identifiers.identifier_header(header), header
    assert importer.is_identifier_column(header)


@pytest.mark.parametrize(
    "header",
    [
        "Referred by", "Referred to", "Referring provider", "Provider name", "Provider",
        "Physician", "Doctor", "NPI", "Provider NPI", "Date", "Referral date", "Date received",
        "Reason", "Body region", "Diagnosis category", "Insurance", "Payer", "Status",
        "Completed Y/N", "Lost reason", "First visit date", "Eval date", "Visits",
        "Thank-you sent", "Follow-up sent", "Outcome note sent", "Notes", "Outcome notes",
        "Comments", "Specialty", "Revenue generated", "Direction", "Type",
    ],
)  # fmt: skip
def test_referral_headers_are_kept(header):
    assert identifiers.identifier_header(header) is None, header


# --- values ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "fragment"),
    [
        (["123-45-6789", "987-65-4321", ""], "Social Security numbers"),
        (["jane@example.org", "bob.smith@mail.example.com"], "email addresses"),
        (["(303) 555-0101", "303-555-0102", "303.555.0103"], "phone numbers"),
        (["Knee", "Hip", "123-45-6789", "Knee", "Neck"], "Social Security numbers"),
    ],
)
def test_columns_whose_cells_look_like_identifiers_are_dropped(values, fragment):
    why = identifiers.identifier_column("Info", values)
    assert why is not None and fragment in why


@pytest.mark.parametrize(
    "values",
    [
        ["1234567893", "1987654321"],  # NPIs are ten digits with no separators
        ["Knee", "Hip", "Post-op"],
        ["2026-11-20", "11/21/2026"],
        ["Seen twice", "Call back", "Prefers mornings", "ok", "ok", "jane@example.org"],
        [],
    ],
)
def test_ordinary_columns_are_kept(values):
    assert identifiers.identifier_column("Info", values) is None


# --- free text ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("Call her at 303-555-0199 after 3", ["a phone number"]),
        ("cell (720) 555 0101", ["a phone number"]),
        ("email jane.roe@example.org re: schedule", ["an email address"]),
        ("SSN 123-45-6789 on file", ["an SSN"]),
        ("pt ssn on the fax", ["an SSN"]),
        ("DOB 3/4/1950", ["a date of birth"]),
        ("born on 1950-03-04, knee", ["a date of birth"]),
        ("d.o.b. given at intake", ["a date of birth"]),
        ("MRN 5512345", ["a record number"]),
        ("Jane, 303-555-0199, jane@x.org", ["an email address", "a phone number"]),
    ],
)
def test_notes_holding_identifiers_are_named(text, found):
    assert identifiers.identifiers_in_text(text) == found
    warning = identifiers.text_warning(text)
    assert warning is not None and all(f in warning for f in found)


@pytest.mark.parametrize(
    "text",
    [
        None,
        "",
        "Prefers mornings",
        "Seen 2026-11-20, 3 visits, discharged 12/01/2026",
        "NPI 1234567893 is the new partner",
        "Dr. Lee's office will send the eval",
        "n" * 100_000,
    ],
)
def test_ordinary_notes_are_left_alone(text):
    assert identifiers.identifiers_in_text(text) == []
    assert identifiers.text_warning(text) is None


# --- on import ---------------------------------------------------------------------------------

TRACKER = (
    "Date,Patient Name,DOB,Referred by,Insurance ID,Member ID,Email,Address,Phone,Fax,SSN,"
    "MRN,Account #,Info,Insurance,Notes\n"
    "2026-11-20,Jane Roe,3/4/1950,Alpha Clinic,XJ1234,M-77,jane@example.org,1 Main St,"
    "303-555-0101,303-555-0102,123-45-6789,MR1,A-9,sam@example.org,Aetna,call 720-555-0199\n"
    "2026-11-21,John Roe,5/6/1960,Beta Clinic,XJ9999,M-78,john@example.org,2 Elm St,"
    "303-555-0103,303-555-0104,987-65-4321,MR2,A-10,ann@example.org,Cigna,ok\n"
)
SECRETS = {
    "Jane Roe", "3/4/1950", "XJ1234", "M-77", "jane@example.org", "1 Main St", "303-555-0101",
    "303-555-0102", "123-45-6789", "MR1", "A-9", "sam@example.org",
}  # fmt: skip


def test_a_tracker_full_of_identifiers_keeps_none_of_them(demo_engine):
    [sheet] = importer.read_tracker(TRACKER.encode(), "tracker.csv")
    assert list(sheet.frame.columns) == ["Date", "Referred by", "Insurance", "Notes"]
    assert set(sheet.dropped) == {
        "Patient Name", "DOB", "Insurance ID", "Member ID", "Email", "Address", "Phone", "Fax",
        "SSN", "MRN", "Account #", "Info",
    }  # fmt: skip
    assert "email addresses" in sheet.drop_reasons["Info"]  # caught by its cells
    flat = set(sheet.frame.astype(str).to_numpy().ravel().tolist())
    assert not SECRETS & flat
    # Dropped columns are never offered: the mapping sees only what is left.
    mapping = importer.suggest_mapping(list(sheet.frame.columns))
    assert mapping["payer_category"] == "Insurance"
    assert not set(mapping.values()) & set(sheet.dropped)


def test_notes_holding_identifiers_are_warned_about_at_import(demo_engine):
    from services import demo

    with demo_engine.connect() as conn:
        practice_id = demo.demo_practice_id(conn)
    [sheet] = importer.read_tracker(TRACKER.encode(), "tracker.csv")
    plan = importer.plan_import(
        demo_engine,
        practice_id,
        [sheet],
        {sheet.name: importer.suggest_mapping(list(sheet.frame.columns))},
        {sheet.name: "received"},
        scope_demo=True,
        today=TODAY,
    )
    assert plan.valid == 2
    assert [(w.row, w.field) for w in plan.warnings] == [("tracker row 2", "notes")]
    assert "a phone number" in plan.warning_frame()["warning"].iloc[0]
