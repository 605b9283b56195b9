"""The Data files page (AppTest with the real app.py) and the provider card's data lines."""

from __future__ import annotations

import sqlalchemy as sa

from components.session import get_engine
from services import db
from services.practices import list_practices
from tests import datafile_samples as s


def _finish_job(at) -> None:
    """Wait for the worker thread, then rerun so the page reports the outcome."""
    job = at.session_state["datafile_job"] if "datafile_job" in at.session_state else None  # noqa: SIM401
    if job is not None and job.thread is not None:
        job.thread.join(60)
    at.run()


def _messages(at) -> str:
    """The page's messages as they read on screen (Markdown escapes removed)."""
    text = " ".join(str(e.value) for e in [*at.success, *at.error, *at.info, *at.warning])
    return text.replace("\\", "")


def test_page_names_the_datasets_and_imports_from_a_path(app_test, tmp_path):
    at = app_test().run()
    at.switch_page("pages/data_files.py").run()
    assert not at.exception
    text = " ".join(str(m.value) for m in at.markdown)
    assert "Medicare Physician &amp; Other Practitioners" in text or "Medicare Physician" in text
    assert "NPI Files / Full Replacement Monthly" in text
    assert "Hop Teaming" in text and "Physician Shared Patient Patterns" in text
    assert "downloads nothing" in text

    engine = get_engine()
    with engine.connect() as conn:
        npis = [r.npi for r in conn.execute(sa.select(db.provider.c.npi).limit(3))]
    path = s.write_by_provider(
        tmp_path / "MUP_PHY_R25_P05_V20_D23_Prov.csv",
        [s.by_provider_row(npis[0], "412", "1800"), s.by_provider_row(npis[1], "", "")],
    )
    at.selectbox(key="df_kind").set_value("medicare_by_provider").run()
    at.text_input(key="df_path").set_value(str(path)).run()
    year_box = at.number_input(key=at.session_state["df_year_key"])
    assert year_box.value == 2023  # read from the file name
    assert any("needs about" in str(c.value) for c in at.caption)  # the disk estimate
    at.button(key="df_import").click().run()
    _finish_job(at)
    assert not at.exception
    assert "Imported MUP_PHY_R25_P05_V20_D23_Prov.csv (2023): 2 rows read, 2 kept" in _messages(at)
    history = at.dataframe[-1].value
    assert list(history["file_name"]) == [path.name] and list(history["rows_kept"]) == [2]
    loaded = at.dataframe[0].value
    assert loaded.set_index("Data").loc["Medicare volumes", "Data year"] == "2023"


def test_wrong_kind_is_refused_with_expected_and_found(app_test, tmp_path):
    at = app_test().run()
    at.switch_page("pages/data_files.py").run()
    path = s.write_by_provider(tmp_path / "x_D23_Prov.csv", [s.by_provider_row(s.npi(1), "1", "1")])
    at.selectbox(key="df_kind").set_value("medicare_by_service").run()
    at.text_input(key="df_path").set_value(str(path)).run()
    at.button(key="df_import").click().run()
    _finish_job(at)
    msg = _messages(at)
    assert "Not imported" in msg and "by Provider and Service file was expected" in msg
    assert "Nothing was written" in msg
    with get_engine().connect() as conn:
        assert (
            conn.execute(sa.select(sa.func.count()).select_from(db.data_file_import)).scalar() == 0
        )


def test_missing_path_is_a_plain_message(app_test):
    at = app_test().run()
    at.switch_page("pages/data_files.py").run()
    at.text_input(key="df_path").set_value("/no/such/file.csv").run()
    assert any("No file at" in str(w.value) for w in at.warning)
    at.button(key="df_import").click().run()
    assert any("No file at" in str(e.value) for e in at.error)
    assert not at.exception


def test_card_shows_the_figures_the_sources_and_no_data(app_test, tmp_path):
    from services.datafiles import medicare, shared_patients

    at = app_test().run()
    engine = get_engine()
    practice = next(p for p in list_practices(engine) if p.is_demo)
    with engine.connect() as conn:
        rows = conn.execute(sa.select(db.provider.c.npi, db.provider.c.specialty_group)).all()
    ortho = next(r.npi for r in rows if r.specialty_group == "ortho")
    comp = next(r.npi for r in rows if r.specialty_group == "pt")
    medicare.import_by_provider(
        engine, s.write_by_provider(tmp_path / "v_D23.csv", [s.by_provider_row(ortho, "412", "9")])
    )
    medicare.import_by_service(
        engine, s.write_by_service(tmp_path / "s_D23.csv", [s.by_service_row(ortho, "27447", "96")])
    )
    keep = shared_patients.relevant_npis(engine, practice)
    shared_patients.import_pairs(
        engine, s.write_pairs_cms(tmp_path / "p_2015.txt", [(ortho, comp, 40, 33, 0)]), "cms", keep
    )
    at.session_state["provider_revision"] = 99  # the import's bump: read the data again
    at.session_state["selected_npi"] = ortho
    at.run()
    assert not at.exception
    card = " ".join(str(m.value) for m in at.markdown).replace("\\", "")
    assert "Medicare patients a year: **412**" in card and "Medicare 2023" in card
    assert "PT-generating procedures a year: **96**" in card
    assert "knee replacements" in card
    assert "shares patients with: you (0); PT competitor" in card and "opportunity" in card
    table = at.table[0].value
    assert table.loc["Volume factor", "Source"] == "Medicare by Provider, 2023"
    assert table.loc["Shared-patient factor", "Value"] == "1.30"
    assert "2015" in table.loc["Shared-patient factor", "Source"]
    # a provider the files say nothing about reads "no data" on every signal
    other = next(r.npi for r in rows if r.specialty_group == "primary")
    at.session_state["selected_npi"] = other
    at.run()
    table = at.table[0].value
    assert table.loc["Volume factor", "Value"] == "no data"
    assert table.loc["Procedure factor", "Value"] == "no data"


def test_map_colours_providers_who_share_patients_with_a_competitor(app_test, tmp_path):
    import pandas as pd

    from components.provider_map import COLOUR_BY, NO_SHARED_COLOUR, SHARED_COLOURS, legend_html
    from services.datafiles import shared_patients

    frame = pd.DataFrame({"shared_label": ["opportunity", None, "loyalist", "splitter"]})
    assert COLOUR_BY["shared"](frame) == [
        SHARED_COLOURS["opportunity"], NO_SHARED_COLOUR, SHARED_COLOURS["loyalist"],
        SHARED_COLOURS["splitter"],
    ]  # fmt: skip
    assert "shares patients with PT competitors, not with you" in legend_html("shared")

    at = app_test().run()
    assert not at.exception
    assert not [t for t in at.toggle if t.key == "map_colour_shared"]  # no pairs: no option
    engine = get_engine()
    practice = next(p for p in list_practices(engine) if p.is_demo)
    with engine.connect() as conn:
        rows = conn.execute(sa.select(db.provider.c.npi, db.provider.c.specialty_group)).all()
    ortho = next(r.npi for r in rows if r.specialty_group == "ortho")
    comp = next(r.npi for r in rows if r.specialty_group == "pt")
    keep = shared_patients.relevant_npis(engine, practice)
    shared_patients.import_pairs(
        engine, s.write_pairs_cms(tmp_path / "p_2015.txt", [(ortho, comp, 40, 33, 0)]), "cms", keep
    )
    at.session_state["provider_revision"] = 98
    at.run()
    at.toggle(key="map_colour_shared").set_value(True).run()
    assert not at.exception
    html_blocks = " ".join(str(h.proto.body) for h in at.get("html"))
    assert "shares patients with PT competitors, not with you" in html_blocks


def test_nppes_import_from_the_page_then_offers_geocoding(app_test, tmp_path):
    rows = [
        s.nppes_row(s.npi(61), ["207X00000X"]),
        s.nppes_row(s.npi(62), ["225100000X"], org="Peak PT"),
        s.nppes_row(s.npi(63), ["207X00000X"], state="WY"),
    ]
    path = s.write_nppes(tmp_path / "npidata_pfile_20050523-20251109.csv", rows)
    at = app_test().run()
    at.switch_page("pages/data_files.py").run()
    at.selectbox(key="df_kind").set_value("nppes").run()
    assert at.multiselect(key="df_states").value == ["CO"]  # the practice's state by default
    at.text_input(key="df_path").set_value(str(path)).run()
    at.button(key="df_import").click().run()
    _finish_job(at)
    assert not at.exception
    msg = _messages(at)
    assert "3 rows read, 2 kept" in msg and "2 new provider(s)" in msg
    assert "2 provider(s) imported from the NPPES file are not on the map yet" in msg
    assert at.button(key="df_geocode")
    history = at.dataframe[-1].value
    assert list(history["kind"]) == ["Providers of whole states (NPPES file)"]
