"""AppTest: a viewer sees the map, Targets, the Referral log and Settings read-only (their data,
no write controls, a "read-only" caption); the owner sees the same pages with their controls.

The app runs in single-user mode with `components.access.set_test_actor` choosing who acts
(AppTest cannot complete an OpenID sign-in)."""

from __future__ import annotations

import json

import pytest

from components import access
from components.session import get_engine
from services import auth, partners
from services.practices import PracticeInput, create_practice
from tests.test_quiet_list import _quiet_practice

READ_ONLY = "You have read-only access (viewer)."


@pytest.fixture
def app_as(app_test):
    """`app_as(role)`: the app, already run once, with the acting user holding `role` in
    every practice (None: the single local user, owner of everything)."""

    def make(role: str | None, real_practice: bool = False):
        if real_practice:
            create_practice(get_engine(), PracticeInput(
                name="Elm Street PT", address="1 Elm St", city="Denver", state="CO",
                zip="80206", lat=39.7392, lon=-104.9903, geocode_source="manual",
                geocode_precision="address"))  # fmt: skip
        at = app_test().run()  # seeds the demo
        assert not at.exception, at.exception
        if role is not None:
            from services.practices import list_practices

            with auth.acting_as(auth.SYSTEM):
                ids = [p.id for p in list_practices(get_engine())]
            access.set_test_actor(auth.Actor("val@clinic.test", {i: role for i in ids}))
            at.run()
            assert not at.exception, at.exception
        return at

    try:
        yield make
    finally:
        access.set_test_actor(None)
        auth.set_resolver(None)


def _keys(at) -> set[str]:
    return {b.key for b in at.button if b.key}


def _labels(at) -> set[str]:
    return {b.label for b in at.button}


def _captions(at) -> list[str]:
    return [c.value for c in at.caption]


def _click_provider(at) -> str:
    """Select the first provider not on the list, as a click on its dot does."""
    table = at.dataframe[0].value
    npi = table.loc[table["stage"] == "", "npi"].iloc[0]
    comp = at.get("component_instance")[0]
    assert json.loads(comp.proto.json_args)["returned_objects"]  # the map is drawn
    at.session_state[comp.key] = {
        "last_active_drawing": {"type": "Feature", "properties": {"npi": npi}},
        "last_object_clicked_count": 1,
    }
    at.run()
    assert not at.exception, at.exception
    assert at.session_state["selected_npi"] == npi
    return npi


MAP_WRITES = {"add_to_targets", "suggest_btn", "add_selected", "start_own"}


@pytest.mark.parametrize("role", [auth.VIEWER, None])
def test_the_map_offers_no_add_to_a_viewer(app_as, role):
    at = app_as(role)
    assert [t.value for t in at.title] == ["Provider map"]
    _click_provider(at)
    # the data is all there: the table of providers in the radius and the card
    assert len(at.dataframe[0].value) > 50
    assert any("Referral potential" in m.value for m in at.markdown)
    assert at.table, "the card's score parts are shown"
    if role == auth.VIEWER:
        assert not MAP_WRITES & _keys(at), MAP_WRITES & _keys(at)
        assert not at.data_editor  # the table is a plain one: no ticks
        assert READ_ONLY in _captions(at)
    else:
        assert _keys(at) >= MAP_WRITES
        assert READ_ONLY not in _captions(at)


@pytest.mark.parametrize("role", [auth.VIEWER, None])
def test_a_real_practices_registry_search_is_not_offered_to_a_viewer(app_as, role):
    at = app_as(role, real_practice=True)
    assert not at.exception, at.exception
    assert any("No NPI Registry search yet" in m.value for m in at.markdown)
    if role == auth.VIEWER:
        assert "live_search_btn" not in _keys(at)
        assert READ_ONLY in _captions(at)
    else:
        assert "live_search_btn" in _keys(at)


@pytest.mark.parametrize("role", [auth.VIEWER, None])
def test_targets_is_read_only_for_a_viewer(app_as, role):
    at = app_as(role)
    at.switch_page("pages/targets.py").run()
    assert not at.exception, at.exception
    assert len(at.dataframe[0].value) == 26  # the demo practice's partners, all shown
    pid = int(at.dataframe[0].value.iloc[0]["partner_id"])
    at.selectbox(key="_w_partner").set_value(pid).run()
    assert not at.exception, at.exception
    # the picked partner's details are shown either way
    name = (
        partners.list_partners(get_engine(), at.session_state["practice_id"])
        .set_index("partner_id")
        .loc[pid, "name"]
    )
    assert any(name in m.value for m in at.markdown)
    pipeline = {"move_selected", "remove_selected", f"save_partner:{pid}", f"log_activity:p{pid}"}
    keys = _keys(at)
    if role == auth.VIEWER:
        assert not pipeline & keys, pipeline & keys
        assert any(m.value.startswith("Stage: **") for m in at.markdown)  # the editor as text
        assert READ_ONLY in _captions(at)
    else:
        assert pipeline <= keys, pipeline - keys

    at.session_state["targets_tab"] = "Activities"
    at.run()
    assert not at.exception, at.exception
    assert at.dataframe, "the activity log is shown"
    assert ("log_activity:any" in _keys(at)) is (role is None)

    at.session_state["targets_tab"] = "Letters"
    at.run()
    at.multiselect(key="_w_letter_partners").set_value([pid]).run()
    assert not at.exception, at.exception
    assert at.get("download_button"), "the letters can still be downloaded"
    letters = {"save_template", "reset_template", "log_letters"}
    if role == auth.VIEWER:
        assert not letters & _keys(at)
    else:
        assert letters <= _keys(at)


@pytest.mark.parametrize("role", [auth.VIEWER, None])
def test_who_went_quiet_offers_log_a_visit_only_to_a_writer(app_as, db_url, role):
    practice_id, _, _ = _quiet_practice(db_url)
    at = app_as(role)
    at.session_state["practice_id"] = practice_id
    at.switch_page("pages/targets.py").run()
    at.session_state["targets_tab"] = "This week"
    at.run()
    assert not at.exception, at.exception
    assert any(m.value == "**Pat Ortho**" for m in at.markdown)  # listed either way
    assert ("Log a visit" in _labels(at)) is (role is None)
    assert (READ_ONLY in _captions(at)) is (role == auth.VIEWER)


@pytest.mark.parametrize("role", [auth.VIEWER, None])
def test_the_referral_log_is_read_only_for_a_viewer(app_as, role):
    at = app_as(role)
    at.switch_page("pages/referrals.py").run()
    assert not at.exception, at.exception
    grid = at.data_editor[0]
    assert len(grid.value) > 10  # the demo's referrals are listed
    writes = {"ref_save", "ref_discard", "ref_import_go"}
    keys = _keys(at)
    done = {k for k in keys if k.startswith("ref_done:")}
    assert any(m.label.startswith("Thank-yous owed") for m in at.metric)
    if role == auth.VIEWER:
        assert grid.proto.disabled
        assert not writes & keys and not done
        assert "Add referrer" not in _labels(at)
        assert not at.get("file_uploader")
        assert READ_ONLY in _captions(at)
    else:
        assert not grid.proto.disabled
        assert {"ref_save", "ref_discard"} <= keys and done
        assert "Add referrer" in _labels(at)
        assert at.get("file_uploader")
    assert {d.proto.label for d in at.get("download_button")} >= {"Export CSV", "Export Excel"}


@pytest.mark.parametrize("role", [auth.VIEWER, auth.LIAISON, None])
def test_settings_edits_are_for_the_owner(app_as, role):
    at = app_as(role, real_practice=True)
    at.switch_page("pages/settings.py").run()
    assert not at.exception, at.exception
    assert at.text_input(key="set_name").value == "Elm Street PT"  # the details are shown
    owner_only = {"set_save", "set_lookup", "set_delete", "set_place"}
    if role is None:
        assert owner_only <= _keys(at)
        assert not at.text_input(key="set_name").disabled
    else:
        assert not owner_only & _keys(at), owner_only & _keys(at)
        assert at.text_input(key="set_name").disabled
        assert f"You have read-only access ({role})." in _captions(at)
