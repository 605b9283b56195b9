"""Unit tests of services.referrals: validation, saving with conflicts, follow-ups, conversion."""

from __future__ import annotations

import io
from datetime import date, timedelta

import openpyxl
import pandas as pd
import pytest
import sqlalchemy as sa

from services import db, demo
from services import referrals as refs
from services.exports import to_csv_bytes
from services.npi import make_npi
from tests.conftest import TODAY, refuse_inserts

GOOD_NPI = make_npi("123456789")
BAD_NPI = GOOD_NPI[:9] + str((int(GOOD_NPI[9]) + 1) % 10)


def good_row(**over: object) -> dict[str, object]:
    row: dict[str, object] = {
        "referral_date": TODAY - timedelta(days=3),
        "partner_npi": GOOD_NPI,
        "direction": "received",
        "reason_category": "Knee",
        "payer_category": "Medicare",
        "status": "evaluated",
        "lost_reason": None,
        "first_visit_date": TODAY - timedelta(days=1),
        "visits": 1,
        "thank_you_sent": None,
        "outcome_note_sent": None,
        "notes": "Prefers mornings",
    }
    row.update(over)
    return row


def fields_of(errors: list[refs.FieldError]) -> set[str]:
    return {e.field for e in errors}


# --- validation ------------------------------------------------------------------------------


def test_a_good_row_is_clean_and_complete():
    clean, errors = refs.validate_referral(good_row(), "row 1", TODAY)
    assert errors == []
    assert set(clean) == set(refs.FIELDS)
    assert clean["visits"] == 1 and clean["status"] == "evaluated"


@pytest.mark.parametrize(
    "text", ["31/02/2026", "yesterday", "2026-02-30", "02/31/2026", "13/13/2026"]
)
def test_impossible_or_vague_dates_are_refused_with_the_field_named(text):
    _clean, errors = refs.validate_referral(good_row(referral_date=text), "row 4", TODAY)
    assert [(e.row, e.field) for e in errors] == [("row 4", "date")]
    assert text[:10] in errors[0].message


def test_dates_in_us_and_iso_form_are_read():
    assert refs.parse_date("2/28/2026") == date(2026, 2, 28)
    assert refs.parse_date("2026-02-28") == date(2026, 2, 28)
    assert refs.parse_date(pd.Timestamp("2026-02-28 00:00")) == date(2026, 2, 28)
    assert refs.parse_date("2026-02-28T00:00:00.000") == date(2026, 2, 28)  # the grid's form
    assert refs.parse_date("") is None


@pytest.mark.parametrize(
    ("over", "field", "fragment"),
    [
        ({"visits": -1}, "visits", "negative"),
        ({"visits": "2.5"}, "visits", "whole number"),
        ({"status": "maybe"}, "status", "not one of"),
        ({"direction": "sideways"}, "direction", "not one of"),
        ({"partner_npi": BAD_NPI}, "partner", "check digit"),
        ({"partner_npi": None}, "partner", "pick"),
        ({"notes": "x" * 100_000}, "notes", "100,000"),
        ({"status": "lost"}, "lost reason", "required"),
        ({"lost_reason": "no_show"}, "lost reason", "only a lost"),
        ({"referral_date": TODAY + timedelta(days=1)}, "date", "future"),
        ({"first_visit_date": TODAY - timedelta(days=30)}, "first visit date", "before"),
        ({"thank_you_sent": "soon"}, "thank-you sent", "not a date"),
        ({"reason_category": "k" * 61}, "reason category", "60"),
    ],
)
def test_each_bad_field_is_reported_by_name(over, field, fragment):
    _clean, errors = refs.validate_referral(good_row(**over), "row 9", TODAY)
    assert field in fields_of(errors), errors
    assert any(fragment in e.message for e in errors if e.field == field), errors


def test_every_problem_of_a_row_is_reported_not_just_the_first():
    _clean, errors = refs.validate_referral(
        good_row(referral_date="yesterday", visits=-3, status="unknown"), "row 2", TODAY
    )
    assert fields_of(errors) == {"date", "visits", "status"}


def test_a_named_referrer_key_is_accepted_as_a_partner():
    _clean, errors = refs.validate_referral(good_row(partner_npi=refs.named_key(7)), "r", TODAY)
    assert errors == []
    assert refs.named_id(refs.named_key(7)) == 7
    assert refs.named_id(GOOD_NPI) is None


# --- saving ----------------------------------------------------------------------------------


@pytest.fixture
def practice_id(demo_engine):
    with demo_engine.connect() as conn:
        return demo.demo_practice_id(conn)


@pytest.fixture
def partner_npi(demo_engine, practice_id):
    with demo_engine.connect() as conn:
        return conn.execute(
            sa.select(db.partner.c.npi).where(db.partner.c.practice_id == practice_id).limit(1)
        ).scalar()


def count(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(db.referral)).scalar()


def test_add_edit_delete_in_one_batch(demo_engine, practice_id, partner_npi):
    before = refs.load_referrals(demo_engine, practice_id)
    first, second = before.iloc[0], before.iloc[1]
    edit = refs.Edit("e", int(first["id"]), int(first["version"]),
                     {**{f: first[f] for f in refs.FIELDS}, "status": "lost",
                      "lost_reason": "went_elsewhere"})  # fmt: skip
    result = refs.save_changes(
        demo_engine,
        practice_id,
        added=[("a", "new row 1", good_row(partner_npi=partner_npi))],
        edited=[edit],
        deleted=[("d", int(second["id"]), int(second["version"]))],
        today=TODAY,
    )
    assert result.errors == {} and result.conflicts == []
    assert set(result.inserted) == {"a"} and result.updated == {"e": int(first["id"])}
    after = refs.load_referrals(demo_engine, practice_id).set_index("id")
    assert len(after) == len(before)  # one added, one deleted
    assert after.loc[int(first["id"]), "status"] == "lost"
    assert after.loc[int(first["id"]), "version"] == int(first["version"]) + 1
    assert int(second["id"]) not in after.index
    assert after.loc[result.inserted["a"], "notes"] == "Prefers mornings"


def test_invalid_rows_are_reported_and_valid_ones_kept(demo_engine, practice_id, partner_npi):
    n = count(demo_engine)
    result = refs.save_changes(
        demo_engine,
        practice_id,
        added=[
            ("ok", "new row 1", good_row(partner_npi=partner_npi)),
            ("bad", "new row 2", good_row(partner_npi=partner_npi, visits=-2)),
            ("unknown", "new row 3", good_row(partner_npi=GOOD_NPI)),  # valid NPI, not known
        ],
        today=TODAY,
    )
    assert set(result.inserted) == {"ok"}
    assert [(e.row, e.field) for e in result.errors["bad"]] == [("new row 2", "visits")]
    assert result.errors["unknown"][0].field == "partner"
    assert count(demo_engine) == n + 1


def test_the_second_of_two_conflicting_saves_is_refused_with_both_values(demo_engine, practice_id):
    row = refs.load_referrals(demo_engine, practice_id).iloc[0]
    values = {f: row[f] for f in refs.FIELDS}
    mine = refs.Edit("A", int(row["id"]), int(row["version"]), {**values, "visits": 4})
    theirs = refs.Edit("B", int(row["id"]), int(row["version"]), {**values, "visits": 9})
    first = refs.save_changes(demo_engine, practice_id, edited=[mine], today=TODAY)
    second = refs.save_changes(demo_engine, practice_id, edited=[theirs], today=TODAY)
    assert first.updated == {"A": int(row["id"])}
    assert second.updated == {} and len(second.conflicts) == 1
    conflict = second.conflicts[0]
    assert ("visits", 9, 4) in conflict.differences
    assert "yours '9'" in conflict.message and "theirs '4'" in conflict.message
    assert conflict.current_version == int(row["version"]) + 1
    stored = refs.load_referrals(demo_engine, practice_id).set_index("id")
    assert stored.loc[int(row["id"]), "visits"] == 4  # the first save stands


def test_deleting_a_row_someone_changed_is_refused(demo_engine, practice_id):
    row = refs.load_referrals(demo_engine, practice_id).iloc[0]
    values = {f: row[f] for f in refs.FIELDS}
    refs.save_changes(demo_engine, practice_id,
                      edited=[refs.Edit("A", int(row["id"]), int(row["version"]),
                                        {**values, "visits": 2})], today=TODAY)  # fmt: skip
    result = refs.save_changes(
        demo_engine, practice_id, deleted=[("D", int(row["id"]), int(row["version"]))], today=TODAY
    )
    assert result.deleted == {} and "not deleted" in result.conflicts[0].message
    assert int(row["id"]) in set(refs.load_referrals(demo_engine, practice_id)["id"])


def test_editing_a_row_deleted_elsewhere_is_a_conflict_not_a_crash(demo_engine, practice_id):
    row = refs.load_referrals(demo_engine, practice_id).iloc[0]
    gone = [("D", int(row["id"]), int(row["version"]))]
    refs.save_changes(demo_engine, practice_id, deleted=gone, today=TODAY)
    values = {f: row[f] for f in refs.FIELDS}
    result = refs.save_changes(
        demo_engine, practice_id,
        edited=[refs.Edit("A", int(row["id"]), int(row["version"]), values)], today=TODAY,
    )  # fmt: skip
    assert "deleted in another session" in result.conflicts[0].message


def test_a_database_failure_rolls_back_the_whole_batch(demo_engine, practice_id, partner_npi):
    n = count(demo_engine)
    huge = good_row(partner_npi=partner_npi)
    # make the second insert fail inside the transaction
    refuse_inserts(demo_engine, "referral", when="NEW.reason_category = 'Hip'")
    with pytest.raises(refs.ReferralError, match="Nothing was saved"):
        refs.save_changes(
            demo_engine,
            practice_id,
            added=[
                ("a", "new row 1", huge),
                ("b", "new row 2", {**huge, "reason_category": "Hip"}),
            ],
            today=TODAY,
        )
    assert count(demo_engine) == n


# --- referrers -------------------------------------------------------------------------------


def test_adding_a_referrer_by_npi_validates_the_check_digit(demo_engine, practice_id):
    with pytest.raises(refs.ReferralError, match="check digit"):
        refs.add_referrer(demo_engine, practice_id, npi=BAD_NPI, name="Dr Typo")
    with pytest.raises(refs.ReferralError, match="give a name"):
        refs.add_referrer(demo_engine, practice_id, npi=GOOD_NPI)
    assert refs.add_referrer(demo_engine, practice_id, npi=GOOD_NPI, name="Pat Lee") == GOOD_NPI
    with demo_engine.connect() as conn:
        src = conn.execute(
            sa.select(db.provider.c.data_source, db.provider.c.lat).where(
                db.provider.c.npi == GOOD_NPI
            )
        ).one()
    assert tuple(src) == ("manual", None)  # listed for the log, never drawn on the map
    directory = refs.referrer_directory(demo_engine, practice_id, scope_demo=True)
    assert GOOD_NPI in set(directory["key"])


@pytest.mark.parametrize("name", ['=HYPERLINK("http://x","Dr Lee")', "+Lee", "-Lee", "@Lee"])
def test_a_formula_looking_referrer_name_is_refused(demo_engine, practice_id, name):
    with pytest.raises(refs.ReferralError, match="spreadsheet formula"):
        refs.add_referrer(demo_engine, practice_id, name=name)
    with demo_engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(db.named_referrer)).scalar() == 0


def test_a_referrer_known_only_by_name_is_reused_by_name(demo_engine, practice_id):
    key = refs.add_referrer(demo_engine, practice_id, name="Dr.  Ana Ruiz")
    assert refs.named_id(key) is not None
    assert refs.add_referrer(demo_engine, practice_id, name="dr. ana ruiz") == key
    directory = refs.referrer_directory(demo_engine, practice_id, scope_demo=True)
    assert directory.set_index("key").loc[key, "label"] == "Dr. Ana Ruiz · no NPI"
    result = refs.save_changes(
        demo_engine, practice_id, added=[("a", "new row 1", good_row(partner_npi=key))],
        today=TODAY,
    )  # fmt: skip
    assert result.inserted


# --- follow-ups owed -------------------------------------------------------------------------


def frame(rows: list[dict[str, object]]) -> pd.DataFrame:
    out = pd.DataFrame([{**good_row(), "id": i + 1, "version": 1, **r} for i, r in enumerate(rows)])
    return out


def test_thank_you_is_owed_for_29_days_and_not_on_day_30():
    df = frame(
        [
            {"referral_date": TODAY - timedelta(days=29), "status": "received"},
            {"referral_date": TODAY - timedelta(days=30), "status": "received"},
            {"referral_date": TODAY, "status": "received"},
            {"referral_date": TODAY - timedelta(days=2), "status": "received",
             "thank_you_sent": TODAY},
            {"referral_date": TODAY - timedelta(days=2), "status": "received",
             "direction": "sent"},
        ]
    )  # fmt: skip
    owed = refs.follow_ups_owed(df, TODAY)
    assert sorted(owed[owed["kind"] == "thank_you"]["id"]) == [1, 3]


def test_outcome_note_owed_for_evaluated_or_discharged_without_one():
    sent = TODAY - timedelta(days=1)
    df = frame(
        [
            {"status": "evaluated", "thank_you_sent": sent},
            {"status": "discharged", "thank_you_sent": sent, "referral_date": date(2026, 1, 5),
             "first_visit_date": date(2026, 1, 9)},
            {"status": "discharged", "thank_you_sent": sent, "outcome_note_sent": sent},
            {"status": "in_care", "thank_you_sent": sent},
        ]
    )  # fmt: skip
    owed = refs.follow_ups_owed(df, TODAY)
    assert sorted(owed[owed["kind"] == "loop_close"]["id"]) == [1, 2]
    assert owed.iloc[0]["id"] == 2  # oldest first


def test_marking_done_records_the_date_and_logs_the_activity_once(demo_engine, practice_id):
    owed = refs.follow_ups_owed(refs.load_referrals(demo_engine, practice_id), TODAY)
    item = owed[owed["kind"] == "thank_you"].iloc[0]
    rid = int(item["id"])
    assert refs.mark_follow_up_done(demo_engine, practice_id, rid, "thank_you", on=TODAY)
    assert not refs.mark_follow_up_done(demo_engine, practice_id, rid, "thank_you", on=TODAY)
    with demo_engine.connect() as conn:
        sent, version = conn.execute(
            sa.select(db.referral.c.thank_you_sent, db.referral.c.version).where(
                db.referral.c.id == rid
            )
        ).one()
        logged = conn.execute(
            sa.select(db.activity.c.kind, db.activity.c.partner_id).where(
                db.activity.c.notes.contains(f"(#{rid})")
            )
        ).all()
    assert sent == TODAY and version == int(item["version"]) + 1
    assert len(logged) == 1 and logged[0].kind == "thank_you" and logged[0].partner_id
    after = refs.follow_ups_owed(refs.load_referrals(demo_engine, practice_id), TODAY)
    assert rid not in set(after[after["kind"] == "thank_you"]["id"])


def test_marking_an_outcome_note_logs_a_loop_close(demo_engine, practice_id):
    owed = refs.follow_ups_owed(refs.load_referrals(demo_engine, practice_id), TODAY)
    rid = int(owed[owed["kind"] == "loop_close"].iloc[0]["id"])
    assert refs.mark_follow_up_done(demo_engine, practice_id, rid, "loop_close", on=TODAY)
    with demo_engine.connect() as conn:
        kinds = (
            conn.execute(
                sa.select(db.activity.c.kind).where(db.activity.c.notes.contains(f"(#{rid})"))
            )
            .scalars()
            .all()
        )
    assert kinds == ["loop_close"]
    with pytest.raises(refs.ReferralError):
        refs.mark_follow_up_done(demo_engine, practice_id, rid, "party", on=TODAY)


# --- conversion and leakage ------------------------------------------------------------------


def test_funnel_counts_rates_median_and_leakage():
    d = date(2026, 10, 1)
    df = frame(
        [
            {"partner_npi": "A", "status": "received", "first_visit_date": None},
            {"partner_npi": "A", "status": "scheduled", "first_visit_date": None},
            {"partner_npi": "A", "status": "evaluated", "referral_date": d,
             "first_visit_date": d + timedelta(days=2)},
            {"partner_npi": "A", "status": "discharged", "referral_date": d,
             "first_visit_date": d + timedelta(days=6)},
            {"partner_npi": "B", "status": "lost", "lost_reason": "went_elsewhere",
             "first_visit_date": None},
            {"partner_npi": "B", "status": "lost", "lost_reason": "no_show",
             "first_visit_date": None},
            {"partner_npi": "B", "status": "in_care", "referral_date": d,
             "first_visit_date": d + timedelta(days=3)},
            {"partner_npi": "B", "status": "discharged", "direction": "sent"},
        ]
    )  # fmt: skip
    overall, per_partner, reasons = refs.conversion(df)
    assert (overall["received"], overall["scheduled"], overall["evaluated"],
            overall["discharged"]) == (7, 5, 3, 1)  # fmt: skip
    assert overall["evaluated_rate"] == pytest.approx(3 / 7)
    assert overall["median_days_to_first_visit"] == 3
    assert (overall["lost"], overall["leaked"]) == (2, 1)
    assert overall["leakage_rate"] == pytest.approx(1 / 7)
    by = per_partner.set_index("partner_npi")
    assert by.loc["A", ["received", "scheduled", "evaluated", "discharged"]].tolist() == [
        4,
        3,
        2,
        1,
    ]
    assert by.loc["B", "received"] == 3 and by.loc["B", "leaked"] == 1
    assert by.loc["B", "scheduled"] == 2  # the no-show had an appointment, the leak did not
    assert by.loc["A", "median_days_to_first_visit"] == 4
    assert reasons.set_index("lost_reason").loc["went_elsewhere", "leakage"]


def test_conversion_of_an_empty_log_is_zeros_not_an_error():
    overall, per_partner, reasons = refs.conversion(
        pd.DataFrame(columns=["id", "version", *refs.FIELDS])
    )
    assert overall["received"] == 0 and pd.isna(overall["evaluated_rate"])
    assert per_partner.empty and reasons.empty


# --- export ----------------------------------------------------------------------------------


def test_exports_neutralise_formulas_in_csv_and_xlsx():
    df = frame([{"notes": "=HYPERLINK(\"http://x\")"}, {"notes": "+1"}, {"notes": "@SUM(A1)"},
                {"notes": "-2+3", "reason_category": "=cmd"}])  # fmt: skip
    out = refs.export_frame(df, {GOOD_NPI: "=Evil Clinic"})
    text = to_csv_bytes(out).decode("utf-8-sig")
    for bad in ("=HYPERLINK", "+1", "@SUM", "-2+3", "=cmd", "=Evil Clinic"):
        assert f"'{bad}" in text
    book = openpyxl.load_workbook(io.BytesIO(refs.to_xlsx_bytes(out)))
    cells = [c for row in book.active.iter_rows() for c in row]
    assert not [c.coordinate for c in cells if c.data_type == "f"]
    # The text as typed, in a string cell: no formula, and no visible apostrophe either.
    by_value = {c.value: c for c in cells}
    for text in ('=HYPERLINK("http://x")', "+1", "@SUM(A1)", "-2+3", "=cmd", "=Evil Clinic"):
        assert by_value[text].data_type == "s", text
    assert not [c.value for c in cells if isinstance(c.value, str) and c.value.startswith("'")]
    header = [c.value for c in next(book.active.iter_rows())]
    assert "version" not in header and "partner" in header


def test_resetting_the_demo_takes_its_named_referrers_with_it(demo_engine, practice_id):
    refs.add_referrer(demo_engine, practice_id, name="Dr X")
    demo.reset_demo(demo_engine, TODAY)
    with demo_engine.connect() as conn:
        left = conn.execute(sa.select(sa.func.count()).select_from(db.named_referrer)).scalar()
    assert left == 0
