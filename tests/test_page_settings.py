"""Settings page (AppTest, against local fake services) and the practice writers behind it."""

from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa

from components.session import get_engine
from services import db, geocoder_nominatim, geocoding
from services.practices import (
    PracticeError,
    PracticeInput,
    create_practice,
    delete_practice,
    list_practices,
    update_practice,
)
from tests.fake_services import FakeCensus, FakeServices, provider_result

PRACTICE_NPI = "1740112234"


# --- services/practices.py ------------------------------------------------------------------


def test_validation_lists_every_problem_at_once(engine):
    with pytest.raises(PracticeError) as info:
        create_practice(
            engine,
            PracticeInput(name=" ", npi="1740112235", state="Colorado", zip="8020",
                          default_radius_mi=40, lat=95.0, lon=0.0),
        )  # fmt: skip
    text = " ".join(info.value.problems)
    for part in ("Name:", "check digit", "State:", "ZIP:", "Latitude", "radius"):
        assert part in text
    assert list_practices(engine) == []


def test_create_update_delete_a_real_practice_and_refuse_the_demo(demo_engine):
    engine = demo_engine
    p = create_practice(
        engine, PracticeInput(name="  Elm PT ", address="1 Elm St", city="Denver", state="co",
                              zip="80206-1234", lat=39.7, lon=-104.9, geocode_source="census",
                              geocode_precision="address", playbook_start=date(2026, 9, 1)),
    )  # fmt: skip
    assert (p.name, p.state, p.zip, p.is_demo, p.geocode_source) == (
        "Elm PT", "CO", "80206", False, "census",
    )  # fmt: skip
    p2 = update_practice(engine, p.id, PracticeInput(name="Elm PT North", zip="80218",
                                                     default_radius_mi=7.5))  # fmt: skip
    assert p2.name == "Elm PT North" and p2.default_radius_mi == 7.5 and not p2.located
    demo_id = next(x.id for x in list_practices(engine) if x.is_demo)
    with pytest.raises(PracticeError, match="demo"):
        update_practice(engine, demo_id, PracticeInput(name="Hijack", zip="80206"))
    with pytest.raises(PracticeError, match="demo"):
        delete_practice(engine, demo_id)
    assert delete_practice(engine, p.id) and not delete_practice(engine, p.id)
    assert [x.is_demo for x in list_practices(engine)] == [True]


# --- the page -------------------------------------------------------------------------------


@pytest.fixture
def fake(monkeypatch):
    census = FakeCensus(match_by_zip=False)
    census.known = {FakeCensus.key("1600 Market St", "80202"): (39.7496, -104.9973)}
    with FakeServices(census=census) as services:
        services.npi.results = [
            provider_result(PRACTICE_NPI, last="IGNORED", organization="Market <b>Street</b> PT",
                            street="1600 MARKET ST", postal_code="802021234"),
        ]  # fmt: skip
        for key, value in services.env().items():
            monkeypatch.setenv(key, value)
        yield services


def _open(app_test):
    at = app_test().run()
    at.switch_page("pages/settings.py").run()
    assert not at.exception, at.exception
    assert [t.value for t in at.title] == ["Settings"]
    return at


def _type(at, **fields):
    for key, value in fields.items():
        at.text_input(key=f"set_{key}").input(value)
    return at.run()


def _real():
    return [p for p in list_practices(get_engine()) if not p.is_demo]


def test_create_by_typing_an_address_geocodes_it_and_makes_it_current(app_test, fake):
    at = _open(app_test)
    _type(at, name="Market Street PT", address="1600 Market St", city="Denver", state="CO",
          zip="80202")  # fmt: skip
    at.number_input(key="set_radius").set_value(7.5)
    at.date_input(key="set_start").set_value(date(2026, 10, 1))
    at.button(key="set_save").click().run()
    assert not at.exception, at.exception
    [p] = _real()
    assert (p.name, p.lat, p.lon) == ("Market Street PT", 39.7496, -104.9973)
    assert p.geocode_source == "census" and p.default_radius_mi == 7.5
    assert p.playbook_start == date(2026, 10, 1)
    assert at.session_state["practice_id"] == p.id  # the sidebar now shows it
    assert at.selectbox(key="_w_practice").value == p.id
    assert any("Created" in s.value for s in at.success)
    assert fake.census.batches == [1]


def test_npi_lookup_prefills_the_form_and_escapes_the_registry_text(app_test, fake):
    at = _open(app_test)
    _type(at, npi=PRACTICE_NPI)
    at.button(key="set_lookup").click().run()
    assert not at.exception, at.exception
    assert at.text_input(key="set_name").value == "Market <b>Street</b> PT"  # a plain field
    assert at.text_input(key="set_address").value == "1600 MARKET ST"
    assert at.text_input(key="set_zip").value == "80202"
    assert at.text_input(key="set_state").value == "CO"
    [msg] = at.success
    assert "Market \\<b\\>Street\\</b\\> PT" in msg.value  # shown literally, not as HTML
    at.button(key="set_save").click().run()
    [p] = _real()
    assert p.npi == PRACTICE_NPI and p.geocode_precision in ("address", "street")


def test_an_npi_with_a_bad_check_digit_is_refused_and_nothing_is_sent(app_test, fake):
    at = _open(app_test)
    _type(at, npi="1740112235")
    at.button(key="set_lookup").click().run()
    assert any("check digit" in e.value for e in at.error)
    assert fake.npi.requests == []


def test_registry_down_during_lookup_says_so_once(app_test, fake):
    fake.npi.mode = "html"
    at = _open(app_test)
    _type(at, npi=PRACTICE_NPI)
    at.button(key="set_lookup").click().run()
    assert not at.exception, at.exception
    [warning] = at.warning
    assert "web page" in warning.value and "Type the name and address" in warning.value
    at.run()  # no retry and no repeat of the message on the next rerun
    assert len(at.warning) == 0 and len(fake.npi.requests) == 1


def test_an_address_found_nowhere_gets_manual_placement(app_test, fake):
    at = _open(app_test)
    _type(at, name="Lost PT", address="1 Nowhere Rd", city="Denver", state="CO", zip="80206")
    at.button(key="set_save").click().run()
    assert not at.exception, at.exception
    assert _real() == []
    assert any("could not find this address" in w.value for w in at.warning)
    assert at.button(key="set_place") and at.button(key="set_place_zip")
    at.number_input(key="set_lat").set_value(39.731)
    at.number_input(key="set_lon").set_value(-104.95)
    at.button(key="set_place").click().run()
    assert not at.exception, at.exception
    [p] = _real()
    assert (p.lat, p.lon, p.geocode_source) == (39.731, -104.95, "manual")
    cached, _ = geocoding.geocode_one(
        get_engine(), geocoding.Address("1 Nowhere Rd", "Denver", "CO", "80206"),
        census=None, nominatim=None, zip_fallback=False,
    )  # fmt: skip
    assert cached.source == "manual"


def test_placing_by_a_map_click(app_test, fake):
    at = _open(app_test)
    _type(at, name="Click PT", address="1 Nowhere Rd", city="Denver", state="CO", zip="80206")
    at.button(key="set_save").click().run()
    comp = at.get("component_instance")[0]
    at.session_state[comp.key] = {"last_clicked": {"lat": 39.74, "lng": -104.96}}
    at.run()
    assert at.number_input(key="set_lat").value == 39.74
    at.button(key="set_place").click().run()
    [p] = _real()
    assert (p.lat, p.lon) == (39.74, -104.96)


def test_approximate_zip_placement_is_offered_and_marked(app_test, fake):
    at = _open(app_test)
    _type(at, name="Zip PT", address="1 Nowhere Rd", city="Denver", state="CO", zip="80206")
    at.button(key="set_save").click().run()
    at.button(key="set_place_zip").click().run()
    [p] = _real()
    assert p.geocode_precision == "zip" and p.geocode_source == "zip_centroid"


def test_edit_keeps_the_location_when_the_address_is_unchanged_then_delete(app_test, fake):
    engine = get_engine()
    p = create_practice(engine, PracticeInput(
        name="Old Name", address="9 Placed By Hand", city="Denver", state="CO", zip="80206",
        lat=39.7, lon=-104.9, geocode_source="manual", geocode_precision="address"))  # fmt: skip
    at = _open(app_test)
    at.selectbox(key="_w_settings_pick").set_value(p.id).run()
    assert at.text_input(key="set_name").value == "Old Name"
    _type(at, name="New Name")
    at.button(key="set_save").click().run()
    assert not at.exception, at.exception
    [p2] = _real()
    assert (p2.name, p2.lat, p2.lon, p2.geocode_source) == ("New Name", 39.7, -104.9, "manual")
    assert fake.census.batches == []  # nothing was geocoded again

    assert at.button(key="set_delete").disabled
    at.checkbox(key="set_confirm_delete").check().run()
    at.button(key="set_delete").click().run()
    assert not at.exception, at.exception
    assert _real() == []
    assert list_practices(engine)[0].id == at.session_state["practice_id"]  # back on the demo


def test_invalid_input_is_explained_and_nothing_saved(app_test, fake):
    at = _open(app_test)
    _type(at, name="", zip="12")
    at.button(key="set_save").click().run()
    [err] = at.error
    assert "Name:" in err.value and "ZIP:" in err.value
    with get_engine().connect() as conn:
        assert (
            conn.execute(
                sa.select(sa.func.count()).select_from(db.practice).where(~db.practice.c.is_demo)
            ).scalar()
            == 0
        )


# --- outside services failing while a practice is set up ------------------------------------


def _refused_url(path: str) -> str:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}{path}"


LIBRARY_WORDS = ("HTTPConnectionPool", "Max retries", "Errno", "Geocoder", "Traceback", "urllib3")


def test_a_network_failure_while_creating_a_practice_reads_as_a_plain_sentence(
    app_test, fake, monkeypatch
):
    monkeypatch.setenv("CENSUS_GEOCODER_URL", _refused_url("/geocoder"))
    monkeypatch.setenv("NOMINATIM_URL", _refused_url("/nominatim"))
    geocoder_nominatim._limiters.clear()
    at = _open(app_test)
    _type(at, name="Offline PT", address="1600 Market St", city="Denver", state="CO",
          zip="80202")  # fmt: skip
    at.button(key="set_save").click().run()
    assert not at.exception, at.exception
    [warning] = at.warning
    text = warning.value.replace("\\", "")
    assert "The Census geocoder could not be reached" in text
    assert "Nominatim could not be reached" in text
    assert not any(word in text for word in LIBRARY_WORDS), text
    assert at.button(key="set_place")  # manual placement is offered instead
    geocoder_nominatim._limiters.clear()


def test_an_unexpected_failure_while_saving_is_logged_and_shown_with_its_reference(
    app_test, fake, monkeypatch, caplog
):
    def broken(*args, **kwargs):
        raise RuntimeError("socket layer exploded: errno 104")

    monkeypatch.setattr(geocoding, "geocode_one", broken)
    at = _open(app_test)
    _type(at, name="Broken PT", address="1600 Market St", city="Denver", state="CO",
          zip="80202")  # fmt: skip
    at.button(key="set_save").click().run()
    assert not at.exception, at.exception
    [error] = at.error
    text = error.value.replace("\\", "")
    assert text.startswith("Not saved: the address could not be looked up. (Reference ")
    assert "exploded" not in text
    ref = text.split("Reference ")[1].split(":")[0]
    [record] = [r for r in caplog.records if ref in r.getMessage()]
    assert record.exc_info and "socket layer exploded" in str(record.exc_info[1])
    assert _real() == []


def test_a_hung_registry_during_the_npi_lookup_is_given_up_at_the_deadline(
    app_test, fake, monkeypatch
):
    import time

    monkeypatch.setenv("NPI_API_DEADLINE", "1")
    fake.npi.fault.hang = True
    at = _open(app_test)
    _type(at, npi=PRACTICE_NPI)
    started = time.monotonic()
    at.button(key="set_lookup").click().run()
    elapsed = time.monotonic() - started
    assert not at.exception, at.exception
    [warning] = at.warning
    assert (
        "did not answer in time" in warning.value and "Type the name and address" in warning.value
    )
    assert elapsed < 1.0 + 2.0  # the deadline, plus a rerun of the page on a loaded machine
