"""Unit tests of services.importer: reading trackers, identifier columns, mapping, validation
report, all-or-nothing import and bad files."""

from __future__ import annotations

import io
from datetime import date, datetime

import openpyxl
import pytest
import sqlalchemy as sa

from services import db, demo, importer
from services import referrals as refs
from services.npi import make_npi
from tests.conftest import TODAY, refuse_inserts

NEW_NPI = make_npi("123456789")
BAD_NPI = NEW_NPI[:9] + str((int(NEW_NPI[9]) + 1) % 10)


def xlsx(sheets: dict[str, list[list[object]]], merge: dict[str, list[str]] | None = None) -> bytes:
    book = openpyxl.Workbook()
    book.remove(book.active)
    for name, rows in sheets.items():
        ws = book.create_sheet(name)
        for row in rows:
            ws.append(row)
        for rng in (merge or {}).get(name, []):
            ws.merge_cells(rng)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


@pytest.fixture
def practice_id(demo_engine):
    with demo_engine.connect() as conn:
        return demo.demo_practice_id(conn)


@pytest.fixture
def partner(demo_engine, practice_id):
    """(npi, name) of a demo partner with a unique name."""
    with demo_engine.connect() as conn:
        rows = conn.execute(
            sa.select(db.provider.c.npi, db.provider.c.name)
            .join(db.partner, db.partner.c.npi == db.provider.c.npi)
            .where(db.partner.c.practice_id == practice_id)
        ).all()
        names = [r.name for r in conn.execute(sa.select(db.provider.c.name)).all()]
    return next((r.npi, r.name) for r in rows if names.count(r.name) == 1)


def referral_count(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(db.referral)).scalar()


def plan_for(engine, practice_id, sheets, **kw):
    mappings = {s.name: importer.suggest_mapping(list(s.frame.columns)) for s in sheets}
    return importer.plan_import(
        engine, practice_id, sheets, mappings, scope_demo=True, today=TODAY, **kw
    )


def tracker(partner_npi: str, partner_name: str) -> bytes:
    head_sent = ["Date", "Patient ID", "Referred to", "Specialty", "Reason", "Completed Y/N",
                 "Outcome notes", "Revenue generated", "Follow-up sent"]  # fmt: skip
    head_recv = ["Date", "Patient Name", "DOB", "MRN", "Referred by", "NPI", "Reason",
                 "Completed Y/N", "Outcome notes", "Follow-up sent"]  # fmt: skip
    return xlsx(
        {
            "Sent": [
                head_sent,
                [datetime(2026, 11, 2), "P-1001", partner_name, "Ortho", "Knee", "Y",
                 "Seen, surgery planned", 0, "N"],
                [datetime(2026, 11, 9), "P-1002", "Dr. Nobody Known", "Neuro", "Neck", "N",
                 "", 0, ""],
            ],
            "Received": [
                head_recv,
                [datetime(2026, 11, 20), "Jane Roe", datetime(1970, 1, 1), "12345", "",
                 partner_npi, "Low back", "Y", "+call back @noon", "Y"],
                ["11/25/2026", "John Roe", "2/2/1980", "777", "Pat Lee", NEW_NPI, "Hip", "N",
                 "", "11/26/2026"],
            ],
        }
    )  # fmt: skip


# --- reading and identifiers -----------------------------------------------------------------


@pytest.mark.parametrize(
    "header",
    ["Patient ID", "patient_name", "Name", "DOB", "Date of Birth", "MRN", "SSN", "PatientID",
     "Last Name", "Medical Record #", "Pt ID", "Client name"],
)  # fmt: skip
def test_patient_identifier_headers_are_recognised(header):
    assert importer.is_identifier_column(header)


@pytest.mark.parametrize(
    "header",
    ["Referred by", "Referred to", "Provider name", "Physician", "NPI", "Date", "Reason",
     "Outcome notes", "Follow-up sent", "Completed Y/N", "Specialty"],
)  # fmt: skip
def test_referral_headers_are_kept(header):
    assert not importer.is_identifier_column(header)


def test_the_common_two_sheet_tracker_is_read_with_identifiers_dropped(partner):
    sheets = importer.read_tracker(tracker(*partner), "tracker.xlsx")
    by = {s.name: s for s in sheets}
    assert set(by) == {"Sent", "Received"}
    assert by["Sent"].direction == "sent" and by["Received"].direction == "received"
    assert by["Sent"].dropped == ["Patient ID"]
    assert by["Received"].dropped == ["Patient Name", "DOB", "MRN"]
    for sheet in sheets:
        assert not any(importer.is_identifier_column(c) for c in sheet.frame.columns)
        flat = sheet.frame.astype(str).to_numpy().ravel().tolist()
        assert not {"P-1001", "Jane Roe", "12345", "John Roe"} & set(flat)
    assert list(by["Received"].frame.index) == [2, 3]  # spreadsheet row numbers


def test_mapping_suggestions_for_the_common_layout():
    m = importer.suggest_mapping(
        ["Date", "Referred by", "NPI", "Reason", "Completed Y/N", "Outcome notes",
         "Follow-up sent", "First visit date"]
    )  # fmt: skip
    assert m["referral_date"] == "Date"
    assert m["partner_name"] == "Referred by" and m["partner_npi"] == "NPI"
    assert m["completed"] == "Completed Y/N" and m["notes"] == "Outcome notes"
    assert m["thank_you_sent"] == "Follow-up sent" and m["first_visit_date"] == "First visit date"
    assert m["status"] is None


# --- planning and importing ------------------------------------------------------------------


def test_import_matches_partners_by_npi_then_name_and_creates_new_referrers(
    demo_engine, practice_id, partner
):
    npi, name = partner
    sheets = importer.read_tracker(tracker(npi, name), "tracker.xlsx")
    plan = plan_for(demo_engine, practice_id, sheets)
    assert plan.errors == [] and plan.valid == plan.total == 4
    before = referral_count(demo_engine)
    assert importer.run_import(demo_engine, practice_id, plan) == 4
    assert referral_count(demo_engine) == before + 4
    with demo_engine.connect() as conn:
        rows = conn.execute(
            sa.select(db.referral).where(db.referral.c.referral_date >= date(2026, 11, 1))
            .where(db.referral.c.created_at > datetime(2026, 1, 1))
            .order_by(db.referral.c.id.desc()).limit(4)
        ).all()  # fmt: skip
        named = conn.execute(sa.select(db.named_referrer.c.name)).scalars().all()
        manual = conn.execute(
            sa.select(db.provider.c.name).where(db.provider.c.npi == NEW_NPI)
        ).scalar()
    by_date = {r.referral_date: r for r in rows}
    sent_knee = by_date[date(2026, 11, 2)]
    assert (sent_knee.partner_npi, sent_knee.direction) == (npi, "sent")
    assert sent_knee.status == "evaluated"
    nobody = by_date[date(2026, 11, 9)]
    assert refs.named_id(nobody.partner_npi) is not None and named == ["Dr. Nobody Known"]
    assert nobody.status == "received"
    recv = by_date[date(2026, 11, 20)]
    assert (recv.partner_npi, recv.direction) == (npi, "received")
    assert recv.thank_you_sent == date(2026, 11, 20)
    assert recv.notes == "+call back @noon"  # stored as text; neutralised on export
    new = by_date[date(2026, 11, 25)]
    assert new.partner_npi == NEW_NPI and manual == "Pat Lee"
    assert new.thank_you_sent == date(2026, 11, 26)


def test_a_name_matching_one_partner_is_used(demo_engine, practice_id, partner):
    npi, name = partner
    data = f"Date,Referred by,Reason\n2026-11-20,{name.upper()},Knee\n".encode()
    sheets = importer.read_tracker(data, "log.csv")
    plan = plan_for(demo_engine, practice_id, sheets, directions={"log": "received"})
    assert plan.errors == [] and plan.rows[0].values["partner_npi"] == npi


BAD_ROWS_CSV = (
    "Date,Referred by,NPI,Status,Visits,Notes\n"
    "2026-11-20,Alpha Clinic,,received,2,ok\n"
    "31/02/2026,Beta Clinic,,received,,\n"
    "yesterday,Beta Clinic,,received,,\n"
    "2026-11-21,Gamma Clinic,,received,-4,\n"
    "2026-11-21,Gamma Clinic,,teleported,,\n"
    f"2026-11-21,,{BAD_NPI},received,,\n"
    "2026-11-22,Delta Clinic,,received,,{long}\n"
    "2026-11-22,=cmd|' /C calc'!A0,,received,1,@SUM(1)\n"
)


def test_a_file_with_bad_rows_imports_nothing_unless_asked(demo_engine, practice_id):
    data = BAD_ROWS_CSV.replace("{long}", "n" * 100_000).encode()
    sheets = importer.read_tracker(data, "bad.csv")
    plan = plan_for(demo_engine, practice_id, sheets, directions={"bad": "received"})
    report = plan.error_frame()
    assert plan.total == 8 and plan.valid == 1
    assert set(zip(report["row"], report["field"], strict=True)) == {
        ("bad row 3", "date"),
        ("bad row 4", "date"),
        ("bad row 5", "visits"),
        ("bad row 6", "status"),
        ("bad row 7", "partner"),
        ("bad row 8", "notes"),
        ("bad row 9", "partner"),  # a formula-looking name is flagged, not made a referrer
    }
    assert any("looks like a spreadsheet formula" in m for m in report["problem"])
    assert any("check digit" in m for m in report["problem"])
    before = referral_count(demo_engine)
    with pytest.raises(refs.ReferralError, match="nothing was imported"):
        importer.run_import(demo_engine, practice_id, plan)
    assert referral_count(demo_engine) == before
    with demo_engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(db.named_referrer)).scalar() == 0
    assert importer.run_import(demo_engine, practice_id, plan, only_valid=True) == 1
    assert referral_count(demo_engine) == before + 1
    with demo_engine.connect() as conn:
        named = set(conn.execute(sa.select(db.named_referrer.c.name)).scalars())
    assert named == {"Alpha Clinic"}  # the formula-looking name never became a referrer


def test_a_crash_mid_import_leaves_the_database_as_it_was(demo_engine, practice_id):
    data = b"Date,Referred by\n2026-11-20,Alpha Clinic\n2026-11-21,Beta Clinic\n"
    sheets = importer.read_tracker(data, "ok.csv")
    plan = plan_for(demo_engine, practice_id, sheets, directions={"ok": "received"})
    refuse_inserts(demo_engine, "referral")
    before = referral_count(demo_engine)
    with pytest.raises(refs.ReferralError, match="Nothing was imported"):
        importer.run_import(demo_engine, practice_id, plan)
    assert referral_count(demo_engine) == before
    with demo_engine.connect() as conn:  # the referrers it created went back too
        assert conn.execute(sa.select(sa.func.count()).select_from(db.named_referrer)).scalar() == 0


# --- bad files -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "name", "fragment"),
    [
        (b"", "empty.csv", "empty"),
        (b"Date,Referred by,Reason\n", "headers.csv", "no data rows"),
        (b"Date,Referred by\n\n\n", "blank.csv", "no data rows"),
        (bytes(range(256)) * 20, "photo.csv", "binary"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 200, "image.csv", "binary"),
        (b"Date,Reason\n2026-01-01,Knee\n", "tracker.xlsx", "not an .xlsx"),
        (b"PK\x03\x04garbage", "broken.xlsx", "xlsx"),
        (b"x", "tracker.pdf", ".csv or .xlsx"),
    ],
)
def test_unreadable_files_are_refused_with_a_message(data, name, fragment):
    with pytest.raises(importer.ImportFileError, match=fragment):
        importer.read_tracker(data, name)


def test_an_xlsx_with_only_headers_is_refused():
    with pytest.raises(importer.ImportFileError, match="no data rows"):
        importer.read_tracker(xlsx({"Received": [["Date", "Referred by"]]}), "t.xlsx")


def test_merged_cells_are_filled_and_reported(demo_engine, practice_id):
    data = xlsx(
        {
            "Received": [
                ["Referral log", None, None],  # a merged title row above the header
                ["Date", "Referred by", "Reason"],
                [datetime(2026, 11, 20), "Alpha Clinic", "Knee"],
                [None, "Beta Clinic", "Hip"],  # the date is merged over both rows
            ]
        },
        merge={"Received": ["A1:C1", "A3:A4"]},
    )
    sheets = importer.read_tracker(data, "merged.xlsx")
    sheet = sheets[0]
    assert any("merged" in w for w in sheet.warnings)
    # The merged title row became a header of repeated text; the real header is data now,
    # so the mapping step is where the user fixes it. Nothing crashes and nothing is written.
    plan = plan_for(demo_engine, practice_id, sheets, directions={"Received": "received"})
    assert plan.total == len(sheet.frame)


def test_merged_data_cells_apply_to_every_row_they_span(demo_engine, practice_id):
    data = xlsx(
        {
            "Received": [
                ["Date", "Referred by", "Reason"],
                [datetime(2026, 11, 20), "Alpha Clinic", "Knee"],
                [None, "Beta Clinic", "Hip"],
            ]
        },
        merge={"Received": ["A2:A3"]},
    )
    sheets = importer.read_tracker(data, "merged.xlsx")
    assert sheets[0].frame["Date"].tolist() == [datetime(2026, 11, 20)] * 2
    plan = plan_for(demo_engine, practice_id, sheets)
    assert plan.errors == [] and plan.valid == 2


def test_a_semicolon_separated_csv_is_read():
    data = b"Date;Referred by;Reason\n2026-11-20;Alpha Clinic, LLC;Knee\n"
    sheet = importer.read_tracker(data, "eu.csv")[0]
    assert list(sheet.frame.columns) == ["Date", "Referred by", "Reason"]
    assert sheet.frame.iloc[0].tolist() == ["2026-11-20", "Alpha Clinic, LLC", "Knee"]


# --- plain messages and readable encodings -----------------------------------------------------


def test_a_ragged_csv_is_read_not_refused_with_tokenizer_text():
    """A title row above the header and a row with a stray extra cell: pandas' C parser said
    "Error tokenizing data. C error: Expected 1 fields in line 2, saw 3"."""
    data = b"Referral tracker 2026\nDate,Referred by,Reason\n2026-11-20,Alpha Clinic,Knee,extra\n"
    [sheet] = importer.read_tracker(data, "ragged.csv")
    assert sheet.frame.iloc[-1].tolist()[:4] == ["2026-11-20", "Alpha Clinic", "Knee", "extra"]


def test_a_malformed_csv_gets_a_plain_sentence_and_the_detail_goes_to_the_log(caplog):
    data = b'Date,Referred by\n2026-11-20,"Alpha Clinic\n' + b"2026-11-21,Beta Clinic\n" * 20_000
    with pytest.raises(importer.ImportFileError) as caught:
        importer.read_tracker(data, "broken.csv")
    message = str(caught.value)
    assert message.startswith("This file is not a CSV or Excel file we can read:")
    assert "quotation mark" in message
    for library_text in ("Error tokenizing", "C error", "field larger", "_csv.Error"):
        assert library_text not in message
    logged = [r for r in caplog.records if r.name.startswith("services.importer")]
    assert logged and logged[0].exc_info is not None  # the library's detail, with traceback


@pytest.mark.parametrize(
    ("encoding", "bom"),
    [("utf-16", b""), ("utf-16-le", b""), ("utf-16-be", b""), ("utf-16-le", b"\xff\xfe")],
)
def test_a_utf16_csv_is_read(encoding, bom):
    text = "Date\tReferred by\tReason\n2026-11-20\tCafé Clinic\tKnee\n"
    [sheet] = importer.read_tracker(bom + text.encode(encoding), "unicode.txt")
    assert list(sheet.frame.columns) == ["Date", "Referred by", "Reason"]
    assert sheet.frame.iloc[0].tolist() == ["2026-11-20", "Café Clinic", "Knee"]


def test_a_damaged_workbook_gets_a_plain_sentence(caplog):
    with pytest.raises(importer.ImportFileError) as caught:
        importer.read_tracker(b"PK\x03\x04" + b"\x00" * 300, "broken.xlsx")
    assert str(caught.value).startswith("This file is not a CSV or Excel file we can read:")
    assert "BadZipFile" not in str(caught.value) and "zip" not in str(caught.value).lower()


# --- import once -------------------------------------------------------------------------------


def test_the_same_file_is_imported_once_unless_asked_again(demo_engine, practice_id):
    data = b"Date,Referred by\n2026-11-20,Alpha Clinic\n2026-11-21,Beta Clinic\n"
    source = importer.TrackerFile.of("ok.csv", data)
    assert importer.previous_import(demo_engine, practice_id, source.digest) is None
    sheets = importer.read_tracker(data, "ok.csv")
    plan = plan_for(demo_engine, practice_id, sheets, directions={"ok": "received"})
    before = referral_count(demo_engine)
    assert importer.run_import(demo_engine, practice_id, plan, source=source) == 2
    past = importer.previous_import(demo_engine, practice_id, source.digest)
    assert past is not None and past.row_count == 2 and past.file_name == "ok.csv"
    assert past.imported_on == date.today()

    with pytest.raises(refs.ReferralError) as caught:
        importer.run_import(demo_engine, practice_id, plan, source=source)
    assert str(caught.value).startswith(
        f"This file was imported on {date.today().isoformat()}, 2 rows."
    )
    assert referral_count(demo_engine) == before + 2
    # Renamed, the same bytes are still the same file.
    renamed = importer.TrackerFile.of("copy of ok.csv", data)
    with pytest.raises(refs.ReferralError, match="This file was imported on"):
        importer.run_import(demo_engine, practice_id, plan, source=renamed)
    # Asked explicitly, it goes in again, and is recorded again.
    assert importer.run_import(demo_engine, practice_id, plan, source=source, again=True) == 2
    assert referral_count(demo_engine) == before + 4
    with demo_engine.connect() as conn:
        n = conn.execute(sa.select(sa.func.count()).select_from(db.tracker_import)).scalar()
    assert n == 2


def test_an_import_record_belongs_to_its_practice(demo_engine, practice_id):
    data = b"Date,Referred by\n2026-11-20,Alpha Clinic\n"
    source = importer.TrackerFile.of("ok.csv", data)
    plan = plan_for(
        demo_engine,
        practice_id,
        importer.read_tracker(data, "ok.csv"),
        directions={"ok": "received"},
    )
    importer.run_import(demo_engine, practice_id, plan, source=source)
    assert importer.previous_import(demo_engine, practice_id + 999, source.digest) is None


def test_a_failed_import_is_not_recorded(demo_engine, practice_id):
    data = b"Date,Referred by\n2026-11-20,Alpha Clinic\n"
    source = importer.TrackerFile.of("ok.csv", data)
    plan = plan_for(
        demo_engine,
        practice_id,
        importer.read_tracker(data, "ok.csv"),
        directions={"ok": "received"},
    )
    refuse_inserts(demo_engine, "referral")
    with pytest.raises(refs.ReferralError, match="Nothing was imported") as caught:
        importer.run_import(demo_engine, practice_id, plan, source=source)
    assert "reference" in str(caught.value) and "refused'" not in str(caught.value)
    assert importer.previous_import(demo_engine, practice_id, source.digest) is None


# --- formula names -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ['=HYPERLINK("http://x","Dr Lee")', "+Alpha Clinic", "-Beta", "@SUM(A1)"]
)
def test_a_formula_looking_referrer_is_flagged_not_made_a_partner(
    demo_engine, practice_id, partner, name
):
    _npi, real = partner
    # Even a name that would match a real partner once its punctuation is ignored.
    data = f'Date,Referred by\n2026-11-20,"{name}"\n2026-11-21,"={real}"\n'.encode()
    plan = plan_for(
        demo_engine, practice_id, importer.read_tracker(data, "f.csv"), directions={"f": "received"}
    )
    assert plan.valid == 0
    assert [e.field for e in plan.errors] == ["partner", "partner"]
    assert all("looks like a spreadsheet formula" in e.message for e in plan.errors)
