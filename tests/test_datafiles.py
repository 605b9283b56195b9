"""Data-file imports: each kind in its real layout, the year rule, the bad-input battery, and
the signals they give the score and the card."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from services import db
from services.datafiles import common, medicare, nppes_file, scan, shared_patients, signals
from services.datafiles.common import FileRejected, ImportStopped
from services.practices import get_practice
from tests import datafile_samples as s

PRACTICE_NPI = s.npi(900)
SURGEON = s.npi(1)
PCP = s.npi(2)
COMP_A = s.npi(3)
COMP_B = s.npi(4)
FAR = s.npi(5)


def count(engine: Engine, table: sa.Table) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()


@pytest.fixture
def practice(engine: Engine):
    with engine.begin() as conn:
        pid = conn.execute(
            db.practice.insert().values(
                name="Summit PT", npi=PRACTICE_NPI, lat=39.75, lon=-104.99, state="CO",
                default_radius_mi=5.0, is_demo=False,
            )
        ).inserted_primary_key[0]  # fmt: skip
        rows = [
            (SURGEON, "Ann Bone", "207X00000X", "ortho", 39.76, -104.98),
            (PCP, "Pat Care", "207Q00000X", "primary", 39.74, -104.99),
            (COMP_A, "Alpine Physical Therapy", "225100000X", "pt", 39.75, -104.97),
            (COMP_B, "Bluebird PT", "261QP2000X", "pt", 39.73, -104.98),
            (FAR, "Far Away Ortho", "207X00000X", "ortho", 45.0, -100.0),
        ]
        conn.execute(
            db.provider.insert(),
            [
                {"npi": n, "entity_type": "individual", "name": nm, "primary_taxonomy": code,
                 "taxonomy_codes": code, "specialty_group": g, "lat": la, "lon": lo,
                 "data_source": "npi_api", "state": "CO"}
                for n, nm, code, g, la, lo in rows
            ],
        )  # fmt: skip
    return get_practice(engine, pid)


# --- Medicare by Provider -------------------------------------------------------------------


def test_by_provider_keeps_counts_and_reads_suppressed_as_no_data(engine, tmp_path):
    path = s.write_by_provider(
        tmp_path / "MUP_PHY_R25_P05_V20_D23_Prov.csv",
        [
            s.by_provider_row(SURGEON, "412", "1800.5"),
            s.by_provider_row(PCP, "", "", ptype="Family Practice"),  # suppressed
            s.by_provider_row(COMP_A, "abc", "10"),  # non-numeric: skipped
            s.by_provider_row(s.bad_npi(7), "50", "60"),  # check digit: skipped
        ],
    )
    report = medicare.import_by_provider(engine, path)
    assert report.data_year == 2023
    assert (report.rows_read, report.rows_kept) == (4, 2)
    assert report.skipped == {"NPIs failing the check digit": 1, "non-numeric counts": 1}
    with engine.connect() as conn:
        rows = {r.npi: r for r in conn.execute(sa.select(db.medicare_volume))}
    assert rows[SURGEON].tot_benes == 412 and rows[SURGEON].tot_srvcs == 1800.5
    assert rows[SURGEON].provider_type == "Orthopedic Surgery"
    assert rows[PCP].tot_benes is None and rows[PCP].tot_srvcs is None  # never zero
    history = common.import_history(engine)
    assert history.iloc[0]["file_name"] == path.name
    assert history.iloc[0]["rows_kept"] == 2 and history.iloc[0]["data_year"] == 2023


def test_newer_year_replaces_older_and_older_is_refused(engine, tmp_path):
    old = s.write_by_provider(tmp_path / "a_D22_Prov.csv", [s.by_provider_row(SURGEON, "100", "1")])
    new = s.write_by_provider(tmp_path / "a_D23_Prov.csv", [s.by_provider_row(PCP, "200", "2")])
    medicare.import_by_provider(engine, old)
    medicare.import_by_provider(engine, new)
    with engine.connect() as conn:
        rows = conn.execute(sa.select(db.medicare_volume.c.npi, db.medicare_volume.c.data_year))
        assert [tuple(r) for r in rows] == [(PCP, 2023)]
    with pytest.raises(FileRejected, match="2023 is already loaded; this file is for 2022"):
        medicare.import_by_provider(engine, old)
    assert count(engine, db.data_file_import) == 2


def test_by_provider_file_offered_as_by_service_is_refused(engine, tmp_path):
    path = s.write_by_provider(tmp_path / "x_D23_Prov.csv", [s.by_provider_row(SURGEON, "1", "1")])
    with pytest.raises(FileRejected) as err:
        medicare.import_by_service(engine, path)
    assert "by Provider and Service file was expected" in str(err.value)
    assert "HCPCS_Cd" in str(err.value)
    assert count(engine, db.procedure_volume) == count(engine, db.data_file_import) == 0


def test_by_service_file_offered_as_by_provider_is_refused(engine, tmp_path):
    path = s.write_by_service(tmp_path / "x_D23.csv", [s.by_service_row(SURGEON, "27447", "5")])
    with pytest.raises(FileRejected, match="by Provider file was expected"):
        medicare.import_by_provider(engine, path)
    assert count(engine, db.medicare_volume) == 0


def test_renamed_column_is_refused_with_expected_and_found(engine, tmp_path):
    header = [("Tot_Beneficiaries" if c == "Tot_Benes" else c) for c in s.BY_PROVIDER_HEADER]
    rows = [
        {("Tot_Beneficiaries" if k == "Tot_Benes" else k): v
         for k, v in s.by_provider_row(SURGEON, "1", "1").items()}
    ]  # fmt: skip
    path = s.write_by_provider(tmp_path / "r_D23.csv", rows, header=header)
    with pytest.raises(FileRejected) as err:
        medicare.import_by_provider(engine, path)
    assert "Tot_Benes" in str(err.value) and "found" in str(err.value)
    assert count(engine, db.medicare_volume) == 0


def test_truncated_file_skips_and_counts_the_cut_row(engine, tmp_path):
    path = s.write_by_provider(
        tmp_path / "t_D23.csv",
        [s.by_provider_row(SURGEON, "300", "900"), s.by_provider_row(PCP, "20", "30")],
    )
    text = path.read_text(encoding="latin-1")
    path.write_text(text[: text.rindex(PCP) + 20], encoding="latin-1")  # cut mid-row
    report = medicare.import_by_provider(engine, path)
    assert report.rows_kept == 1
    assert report.skipped == {"malformed rows (wrong number of fields, cut off)": 1}
    assert "1 skipped" in report.summary()


def test_year_is_required_when_the_name_has_none(engine, tmp_path):
    path = s.write_by_provider(tmp_path / "volumes.csv", [s.by_provider_row(SURGEON, "1", "1")])
    with pytest.raises(FileRejected, match="data year"):
        medicare.import_by_provider(engine, path)
    assert medicare.import_by_provider(engine, path, 2021).data_year == 2021


# --- Medicare by Provider and Service -------------------------------------------------------


def test_by_service_keeps_only_pt_generating_codes_summed_per_npi(engine, tmp_path):
    path = s.write_by_service(
        tmp_path / "MUP_PHY_R25_P05_V20_D23_Prov_Svc.csv",
        [
            s.by_service_row(SURGEON, "27447", "60", place="F"),
            s.by_service_row(SURGEON, "27447", "36", place="O"),
            s.by_service_row(SURGEON, "29881", "20"),
            s.by_service_row(SURGEON, "99213", "900"),  # office visit: not kept
            s.by_service_row(PCP, "99214", "500"),
            s.by_service_row(COMP_A, "27130", "", benes=""),  # suppressed
            s.by_service_row(COMP_B, "27130", "n/a"),  # non-numeric
        ],
    )
    report = medicare.import_by_service(engine, path)
    assert report.rows_read == 7 and report.rows_kept == 4
    assert report.skipped == {"non-numeric counts": 1}
    with engine.connect() as conn:
        rows = {(r.npi, r.hcpcs_cd): r for r in conn.execute(sa.select(db.procedure_volume))}
    assert rows[(SURGEON, "27447")].tot_srvcs == 96
    assert rows[(SURGEON, "29881")].tot_srvcs == 20
    assert rows[(COMP_A, "27130")].tot_srvcs is None
    assert (PCP, "99214") not in rows and (SURGEON, "99213") not in rows


# --- shared patients ------------------------------------------------------------------------


def test_cms_pairs_keep_only_the_practice_area(engine, practice, tmp_path):
    keep = shared_patients.relevant_npis(engine, practice)
    assert keep == {SURGEON, PCP, COMP_A, COMP_B, PRACTICE_NPI}
    path = s.write_pairs_cms(
        tmp_path / "physician-shared-patient-patterns-2015-days30.txt",
        [
            (SURGEON, COMP_A, 40, 30, 2),
            (SURGEON, COMP_B, 25, 20, 1),
            (PCP, PRACTICE_NPI, 60, 45, 0),
            (PCP, COMP_A, 20, 15, 0),
            (FAR, s.npi(50), 99, 90, 0),  # neither side in the area
            (s.bad_npi(8), COMP_A, 20, 20, 0),
        ],
    )
    report = shared_patients.import_pairs(engine, path, "cms", keep)
    assert report.data_year == 2015
    assert (report.rows_read, report.rows_kept) == (6, 4)
    assert report.skipped == {"NPIs failing the check digit": 1}
    summary = signals.shared_summary(engine, practice).set_index("npi")
    assert summary.loc[SURGEON, "shared_label"] == "opportunity"
    assert summary.loc[SURGEON, "shared_competitors"] == 50
    assert summary.loc[SURGEON, "competitor_count"] == 2
    assert summary.loc[PCP, "shared_label"] == "loyalist"  # 45 of 60 with us
    sig = signals.provider_signals(engine, practice, SURGEON)
    assert signals.shared_sentence(sig) == (
        "shares patients with: you (0); PT competitors Alpine Physical Therapy and Bluebird PT (50)"
    )
    assert sig.shared_year == 2015 and "CMS" in (sig.shared_source or "")


def test_hop_teaming_with_header_and_six_columns(engine, practice, tmp_path):
    keep = shared_patients.relevant_npis(engine, practice)
    path = s.write_pairs_hop(
        tmp_path / "DocGraph_Hop_Teaming_2018.csv",
        [(SURGEON, PRACTICE_NPI, 30, 80, 12.5, 4.1), (SURGEON, COMP_A, 30, 50, 9.0, 2.0)],
    )
    report = shared_patients.import_pairs(engine, path, "hop", keep)
    assert report.rows_kept == 2 and report.data_year == 2018
    sig = signals.provider_signals(engine, practice, SURGEON)
    assert sig.shared_label == "loyalist" and sig.shared_you == 30


def test_six_column_file_offered_as_cms_layout_is_refused(engine, practice, tmp_path):
    path = s.write_pairs_hop(
        tmp_path / "hop_2018.csv", [(SURGEON, COMP_A, 30, 50, 9.0, 2.0)], header=False
    )
    with pytest.raises(FileRejected) as err:
        shared_patients.import_pairs(engine, path, "cms", {SURGEON})
    assert "5 columns" in str(err.value) and "found 6 columns" in str(err.value)
    assert "Hop Teaming" in str(err.value)
    assert count(engine, db.shared_patient_pair) == 0


def test_five_column_file_offered_as_hop_layout_is_refused(engine, tmp_path):
    path = s.write_pairs_cms(tmp_path / "p_2015.txt", [(SURGEON, COMP_A, 40, 30, 2)])
    with pytest.raises(FileRejected, match="found 5 columns"):
        shared_patients.import_pairs(engine, path, "hop", {SURGEON})


# --- NPPES ----------------------------------------------------------------------------------


def test_nppes_imports_state_groups_location_and_active_only(engine, tmp_path):
    rows = [
        s.nppes_row(s.npi(11), ["207X00000X"], city="DENVER"),  # ortho
        s.nppes_row(s.npi(12), ["103T00000X", "207XS0117X"], primary=1),  # spine surgeon, slot 2
        s.nppes_row(s.npi(13), ["261QP2000X"], org="Alpine Physical Therapy LLC"),  # PT clinic
        s.nppes_row(s.npi(14), ["207X00000X"], state="WY"),  # other state
        s.nppes_row(s.npi(15), ["207X00000X"], deactivated="01/02/2020"),  # deactivated
        s.nppes_row(s.npi(16), ["207X00000X"], deactivated="01/02/2020", reactivated="03/04/2021"),
        s.nppes_row(s.npi(17), ["103T00000X"]),  # psychologist: no group
        s.nppes_row(s.bad_npi(18), ["207X00000X"]),
        s.nppes_row(s.npi(19), ["103T00000X", "207Q00000X"], primary=0),  # PCP in slot 2
    ]
    path = s.write_nppes(tmp_path / "npidata_pfile_20050523-20250608.csv", rows)
    report = nppes_file.import_nppes(engine, path, ["co"], today=date(2026, 11, 1))
    assert report.rows_read == 9
    assert report.skipped == {"NPIs failing the check digit": 1}
    with engine.connect() as conn:
        got = {r.npi: r for r in conn.execute(sa.select(db.provider))}
    assert set(got) == {s.npi(11), s.npi(12), s.npi(13), s.npi(16), s.npi(19)}
    spine = got[s.npi(12)]
    assert spine.primary_taxonomy == "207XS0117X" and spine.specialty_group == "ortho"
    assert spine.taxonomy_codes == "207XS0117X 103T00000X"
    assert got[s.npi(11)].state == "CO" and got[s.npi(11)].zip == "80202"  # LOCATION, not WY
    assert got[s.npi(11)].address == "100 MAIN ST" and got[s.npi(11)].first_seen == date(
        2026, 11, 1
    )
    assert got[s.npi(13)].entity_type == "organization"
    assert got[s.npi(19)].specialty_group == "primary"  # psychologist primary: group from slot 2
    assert {r.data_source for r in got.values()} == {"nppes_file"}
    assert got[s.npi(11)].lat is None  # geocoding is a separate step
    # Importing again refreshes (last seen), keeps first seen, adds nobody.
    again = nppes_file.import_nppes(engine, path, ["CO"], today=date(2026, 12, 1))
    assert "0 new provider(s)" in again.messages[-1]
    with engine.connect() as conn:
        row = conn.execute(sa.select(db.provider).where(db.provider.c.npi == s.npi(11))).one()
    assert (row.first_seen, row.last_seen) == (date(2026, 11, 1), date(2026, 12, 1))


def test_nppes_geocoding_uses_the_cascade(engine, tmp_path):
    path = s.write_nppes(tmp_path / "npidata_co.csv", [s.nppes_row(s.npi(21), ["207X00000X"])])
    nppes_file.import_nppes(engine, path, ["CO"])
    assert nppes_file.ungeocoded(engine) == [s.npi(21)]
    nppes_file.geocode_imported(engine, census=None, nominatim=None)  # offline: ZIP centroid
    with engine.connect() as conn:
        row = conn.execute(sa.select(db.provider).where(db.provider.c.npi == s.npi(21))).one()
    assert row.lat is not None and row.geocode_precision == "zip"
    assert nppes_file.ungeocoded(engine) == []


def test_nppes_refuses_a_medicare_file_and_a_renamed_column(engine, tmp_path):
    med = s.write_by_provider(tmp_path / "m.csv", [s.by_provider_row(SURGEON, "1", "1")])
    with pytest.raises(FileRejected, match="not the NPPES file"):
        nppes_file.import_nppes(engine, med, ["CO"])
    header = list(nppes_file.NPPES_HEADER)
    header[31] = "Provider Business Practice Location State"
    path = s.write_nppes(tmp_path / "n.csv", [], header=header)
    with pytest.raises(FileRejected, match="Location Address State Name"):
        nppes_file.import_nppes(engine, path, ["CO"])
    assert count(engine, db.provider) == 0


def test_stop_rolls_back_everything(engine, tmp_path):
    path = s.write_nppes(tmp_path / "n.csv", [s.nppes_row(s.npi(31), ["207X00000X"])])
    calls = {"n": 0}

    def stop_when_saving() -> bool:
        calls["n"] += 1
        return calls["n"] > 1  # not during the scan; at the save

    with pytest.raises(ImportStopped):
        nppes_file.import_nppes(engine, path, ["CO"], should_stop=stop_when_saving)
    assert count(engine, db.provider) == count(engine, db.data_file_import) == 0


def test_low_disk_is_refused_with_the_space_needed(engine, tmp_path, monkeypatch):
    path = s.write_nppes(tmp_path / "n.csv", [s.nppes_row(s.npi(31), ["207X00000X"])])
    monkeypatch.setattr(common, "DISK_MARGIN_BYTES", 10**18)
    with pytest.raises(FileRejected, match=r"needs about .* GB .* is free"):
        nppes_file.import_nppes(engine, path, ["CO"])


# --- helpers --------------------------------------------------------------------------------


def test_check_digit_in_sql_agrees_with_the_scalar_rule():
    from services.npi import is_valid_npi

    values = [s.npi(i) for i in range(200)] + [s.bad_npi(i) for i in range(50)]
    values += ["", None, "12345", "3" + s.npi(1)[1:], "abcdefghij", " " + s.npi(7) + " "]
    expected = [is_valid_npi(v) for v in values]
    con = scan.duckdb_connection()
    got = [con.execute("SELECT npi_ok(trim(?))", [v]).fetchone()[0] for v in values]
    con.close()
    assert got == expected
    assert sum(expected) == 201  # the test can fail: both kinds are present


def test_counts_suppressed_are_no_data_and_text_is_bad():
    raw = ["412", "", "*", "<11", "abc", "-3", "1,200", " 7 ", None]
    con = scan.duckdb_connection()
    (num_sql, bad_sql) = (e for _, e in scan.count_fields("v", "c"))
    query = f"SELECT {num_sql}, {bad_sql} FROM (SELECT ?::VARCHAR AS v)"
    rows = [con.execute(query, [v]).fetchone() for v in raw]
    con.close()
    assert [b for _, b in rows] == [False, False, False, False, True, True, False, False, False]
    assert [n for n, _ in rows] == [412, None, None, None, None, -3, 1200, 7, None]


def test_year_from_official_file_names():
    assert common.guess_year("MUP_PHY_R25_P05_V20_D23_Prov.csv") == 2023
    assert common.guess_year("npidata_pfile_20050523-20250608.csv") == 2025
    assert common.guess_year("physician-shared-patient-patterns-2015-days30.txt") == 2015
    assert common.guess_year("pairs.csv") is None


def test_header_helper_has_the_real_layout():
    h = nppes_file.NPPES_HEADER
    assert len(h) == 330 and h[0] == "NPI" and h[1] == "Entity Type Code"
    assert h[28] == "Provider First Line Business Practice Location Address"
    assert h[39] == "NPI Deactivation Date"
    assert h[47] == "Healthcare Provider Taxonomy Code_1"
    assert h[106] == "Healthcare Provider Primary Taxonomy Switch_15"
    assert h[-1] == "Certification Date"


def _touch(path: Path) -> Path:
    path.write_text("")
    return path


def test_empty_pair_file_is_refused(engine, tmp_path):
    with pytest.raises(FileRejected, match="empty"):
        shared_patients.import_pairs(engine, _touch(tmp_path / "e_2015.csv"), "cms", {SURGEON})


def test_stop_from_the_start_writes_nothing_for_any_kind(engine, practice, tmp_path):
    keep = shared_patients.relevant_npis(engine, practice)
    pairs = s.write_pairs_cms(tmp_path / "p_2015.txt", [(SURGEON, COMP_A, 40, 30, 2)] * 3)
    with pytest.raises(ImportStopped):
        shared_patients.import_pairs(engine, pairs, "cms", keep, should_stop=lambda: True)
    vol = s.write_by_provider(tmp_path / "v_D23.csv", [s.by_provider_row(SURGEON, "9", "9")])
    with pytest.raises(ImportStopped):
        medicare.import_by_provider(engine, vol, should_stop=lambda: True)
    for table in (db.shared_patient_pair, db.medicare_volume, db.data_file_import):
        assert count(engine, table) == 0


def test_pairs_of_a_newer_year_replace_the_older_year(engine, practice, tmp_path):
    keep = shared_patients.relevant_npis(engine, practice)
    old = s.write_pairs_cms(tmp_path / "pairs_2015.txt", [(PCP, COMP_A, 40, 30, 2)])
    new = s.write_pairs_hop(tmp_path / "hop_2018.csv", [(SURGEON, COMP_B, 30, 50, 9.0, 2.0)])
    shared_patients.import_pairs(engine, old, "cms", keep)
    shared_patients.import_pairs(engine, new, "hop", keep)
    with engine.connect() as conn:
        rows = conn.execute(sa.select(db.shared_patient_pair)).all()
    assert [(r.npi_from, r.data_year, r.source) for r in rows] == [(SURGEON, 2018, "hop_teaming")]
    with pytest.raises(FileRejected, match="2018 is already loaded"):
        shared_patients.import_pairs(engine, old, "cms", keep)
