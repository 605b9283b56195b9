"""End to end in chromium: an owner imports a Medicare by Provider and Service file from a path on
the Data files page and finds it recorded and loaded; the wrong kind of file is refused with what
was expected and what was found, and nothing is written."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from playwright.sync_api import Page, expect

from services import db
from tests import datafile_samples as s
from tests.e2e.conftest import count_rows


def _import(page: Page, kind_label: str, path: Path) -> None:
    form = page.locator(".st-key-data_file_form")
    form.get_by_test_id("stSelectbox").click()
    page.get_by_role("option", name=kind_label, exact=True).click()
    box = form.get_by_label("Path of the file")
    box.fill(str(path))
    box.press("Enter")
    expect(form.get_by_text("This import needs about")).to_be_visible(timeout=30_000)
    form.get_by_role("button", name="Import").click()


def test_an_owner_imports_procedures_from_a_path_and_a_wrong_file_is_refused(
    page: Page, app_and_database: tuple[str, str], tmp_path: Path, outside_requests: list[str]
) -> None:
    url, database = app_and_database
    surgeon = s.npi(1)
    rows = [
        s.by_service_row(surgeon, "27447", "60", place="F"),
        s.by_service_row(surgeon, "27447", "36", place="O"),
        s.by_service_row(surgeon, "99213", "900"),  # an office visit: not PT-generating
        s.by_service_row(s.npi(2), "29881", "n/a"),  # a count that is not a number
    ]
    good = s.write_by_service(tmp_path / "MUP_PHY_R25_P05_V20_D23_Prov_Svc.csv", rows)
    wrong = s.write_by_provider(
        tmp_path / "MUP_PHY_R25_P05_V10_D23_Prov.csv", [s.by_provider_row(surgeon, "412", "900")]
    )
    page.set_viewport_size({"width": 1366, "height": 900})
    page.goto(f"{url}/data_files")
    expect(page.get_by_role("heading", name="Import a file")).to_be_visible(timeout=60_000)

    # The by Provider file offered as by Provider and Service: refused, nothing written.
    _import(page, "PT-generating procedures (by Provider and Service)", wrong)
    refusal = page.get_by_text("This is the Medicare by Provider file")
    expect(refusal).to_be_visible(timeout=30_000)
    expect(page.get_by_text("the by Provider and Service file was expected")).to_be_visible()
    assert count_rows(database, db.procedure_volume) == 0
    assert count_rows(database, db.data_file_import) == 0

    _import(page, "PT-generating procedures (by Provider and Service)", good)
    done = page.get_by_text("4 rows read, 2 kept, 1 skipped (1 non-numeric counts)")
    expect(done).to_be_visible(timeout=60_000)
    imports = page.get_by_test_id("stDataFrame").last
    expect(imports).to_contain_text("MUP_PHY_R25_P05_V20_D23_Prov_Svc.csv", timeout=30_000)
    assert count_rows(database, db.procedure_volume) == 1  # the knee replacements, summed
    assert count_rows(database, db.data_file_import) == 1
    engine = sa.create_engine(database, poolclass=sa.NullPool)
    with engine.connect() as conn:
        row = conn.execute(sa.select(db.procedure_volume)).one()
    engine.dispose()
    assert (row.npi, row.hcpcs_cd, row.tot_srvcs, row.data_year) == (surgeon, "27447", 96, 2023)
    assert outside_requests == []
