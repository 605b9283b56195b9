"""Roles enforced in services/: forged writes by a viewer, and reads across practices."""

from __future__ import annotations

from datetime import datetime

import pytest
import sqlalchemy as sa

from services import activities, audit, audit_trail, auth, db, letters, partners, practices
from services import referrals as refs
from tests.conftest import TODAY


def audit_count(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(db.audit_log)).scalar()


def row_counts(engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {
            t: conn.execute(sa.select(sa.func.count()).select_from(db.metadata.tables[t])).scalar()
            for t in audit.AUDITED
        }


@pytest.fixture
def two_practices(demo_engine):
    """Practices A and B, each with one partner and one referral (set up by the system)."""
    made = []
    with demo_engine.connect() as conn:
        npis = [r[0] for r in conn.execute(sa.select(db.provider.c.npi).limit(2))]
    for name, npi in (("A Physio", npis[0]), ("B Physio", npis[1])):
        p = practices.create_practice(
            demo_engine, practices.PracticeInput(name=name, zip="80203", lat=39.7, lon=-104.9)
        )
        partners.add_targets(demo_engine, p.id, [npi], when=datetime(2026, 11, 1, 9))
        partner_id = int(partners.list_partners(demo_engine, p.id, TODAY)["partner_id"].iloc[0])
        refs.save_changes(
            demo_engine,
            p.id,
            added=[("r", "row", {"referral_date": TODAY, "partner_npi": npi,
                                 "direction": "received", "status": "received"})],
            today=TODAY,
        )  # fmt: skip
        made.append((p.id, partner_id, npi))
    return demo_engine, made


def viewer_of(pid: int) -> auth.Actor:
    return auth.Actor("val@clinic.test", {pid: auth.VIEWER})


def test_a_viewers_forged_writes_are_refused_and_leave_nothing(two_practices):
    engine, ((a, partner_a, npi_a), _) = two_practices
    rows, trail = row_counts(engine), audit_count(engine)
    referral = refs.load_referrals(engine, a).iloc[0]
    renamed = practices.PracticeInput(name="Mine now", zip="80203")
    forged = [
        lambda: partners.add_targets(engine, a, [npi_a]),  # already there: a read, no write
        lambda: partners.update_partner(engine, a, partner_a, notes="forged"),
        lambda: partners.set_stage(engine, a, [partner_a], "contacted"),
        lambda: partners.remove_partner(engine, a, partner_a, confirmed=True),
        lambda: activities.log_activity(engine, a, "visit", TODAY, partner_id=partner_a),
        lambda: refs.save_changes(
            engine, a, deleted=[("d", int(referral["id"]), int(referral["version"]))], today=TODAY
        ),
        lambda: letters.save_template(engine, a, "intro", "Hello {partner}"),
        lambda: practices.update_practice(engine, a, renamed),
        lambda: practices.delete_practice(engine, a),
        lambda: auth.set_role(engine, a, "val@clinic.test", auth.OWNER),
    ]  # fmt: skip
    refused = 0
    with auth.acting_as(viewer_of(a)):
        for attempt in forged[1:]:
            with pytest.raises(auth.PermissionDenied):
                attempt()
            refused += 1
        assert forged[0]() == []  # nothing new to add: a read, allowed
    assert refused == len(forged) - 1
    assert row_counts(engine) == rows and audit_count(engine) == trail


def test_a_forged_write_from_a_signed_in_session_is_refused(two_practices):
    """The web app resolves the session's user through a registered resolver: a direct call
    to a service from that session acts as that user, not as the system."""
    engine, ((a, partner_a, _), _) = two_practices
    auth.set_resolver(lambda: viewer_of(a))
    try:
        with pytest.raises(auth.PermissionDenied, match="viewer"):
            partners.update_partner(engine, a, partner_a, notes="forged")
    finally:
        auth.set_resolver(None)
    assert auth.current_actor() is auth.SYSTEM


def test_a_liaison_writes_outreach_but_not_the_practice_or_its_team(two_practices):
    engine, ((a, partner_a, _), _) = two_practices
    with auth.acting_as(auth.Actor("liz@clinic.test", {a: auth.LIAISON})):
        partners.update_partner(engine, a, partner_a, notes="visited")
        activities.log_activity(engine, a, "visit", TODAY, partner_id=partner_a, today=TODAY)
        letters.save_template(engine, a, "intro", "Hello {partner}")
        with pytest.raises(auth.PermissionDenied, match="liaison"):
            practices.update_practice(engine, a, practices.PracticeInput(name="X", zip="80203"))
        with pytest.raises(auth.PermissionDenied):
            auth.set_role(engine, a, "someone@clinic.test", auth.VIEWER)
        with pytest.raises(auth.PermissionDenied):
            audit_trail.history(engine, a)
    entries = audit_trail.history(engine, a, actor="liz@clinic.test")
    assert {e.table_name for e in entries} == {"partner", "activity", "letter_template"}


def test_a_user_of_practice_a_cannot_read_practice_b(two_practices):
    engine, ((a, _, _), (b, partner_b, _)) = two_practices
    with auth.acting_as(auth.Actor("owner.a@clinic.test", {a: auth.OWNER})):
        assert [p.id for p in practices.list_practices(engine)] == [a]
        assert len(partners.list_partners(engine, a, TODAY)) == 1
        assert len(refs.load_referrals(engine, a)) == 1
        for read in (
            lambda: partners.list_partners(engine, b, TODAY),
            lambda: refs.load_referrals(engine, b),
            lambda: practices.get_practice(engine, b),
            lambda: partners.partner_history(engine, b, partner_b),
            lambda: audit_trail.history(engine, b),
            lambda: auth.list_team(engine, b),
        ):
            with pytest.raises(auth.PermissionDenied, match="no access"):
                read()
        with pytest.raises(auth.PermissionDenied):  # nor write to it
            partners.update_partner(engine, b, partner_b, notes="not mine")


def test_only_instance_owners_create_practices(demo_engine):
    a = practices.create_practice(demo_engine, practices.PracticeInput(name="A", zip="80203"))
    owner_a = auth.Actor("owner.a@clinic.test", {a.id: auth.OWNER})
    with auth.acting_as(owner_a), pytest.raises(auth.PermissionDenied, match="instance owner"):
        practices.create_practice(demo_engine, practices.PracticeInput(name="B", zip="80203"))
    with auth.acting_as(auth.Actor("boss@clinic.test", everywhere=auth.OWNER)):
        assert practices.create_practice(
            demo_engine, practices.PracticeInput(name="C", zip="80203")
        )
    names = [p.name for p in practices.list_practices(demo_engine)]
    assert "B" not in names and "C" in names


def test_instance_owners_come_from_the_setting_and_others_from_the_team(engine, monkeypatch):
    monkeypatch.setenv(auth.OWNERS_SETTING, "Boss@Clinic.test, second@clinic.test")
    assert auth.instance_owners() == {"boss@clinic.test", "second@clinic.test"}
    boss = auth.actor_for(engine, "boss@clinic.test")
    assert boss.is_instance_owner and boss.can(auth.OWNER, 12345)
    p = practices.create_practice(engine, practices.PracticeInput(name="A", zip="80203"))
    with auth.acting_as(boss):
        auth.set_role(engine, p.id, " Liz@Clinic.test ", auth.LIAISON)
        assert [(m.email, m.role) for m in auth.list_team(engine, p.id)] == [
            ("liz@clinic.test", "liaison")
        ]
    liz = auth.actor_for(engine, "LIZ@clinic.test")
    assert liz.role_in(p.id) == auth.LIAISON and not liz.is_instance_owner
    assert liz.can(auth.VIEWER, p.id) and not liz.can(auth.OWNER, p.id)
    stranger = auth.actor_for(engine, "nobody@clinic.test")
    assert not stranger.has_access and stranger.role_in(p.id) is None
    assert auth.actor_for(engine, None) is auth.ANONYMOUS


def test_team_changes_are_validated(engine):
    p = practices.create_practice(engine, practices.PracticeInput(name="A", zip="80203"))
    with pytest.raises(ValueError, match="not an email"):
        auth.set_role(engine, p.id, "liz", auth.VIEWER)
    with pytest.raises(ValueError, match="Unknown role"):
        auth.set_role(engine, p.id, "liz@clinic.test", "admin")
    assert auth.remove_member(engine, p.id, "liz@clinic.test") is False


def test_the_anonymous_session_can_do_nothing(two_practices):
    engine, ((a, partner_a, _), _) = two_practices
    with auth.acting_as(auth.ANONYMOUS):
        assert practices.list_practices(engine) == []
        with pytest.raises(auth.PermissionDenied):
            partners.list_partners(engine, a, TODAY)
        with pytest.raises(auth.PermissionDenied):
            partners.update_partner(engine, a, partner_a, notes="x")


def test_outside_any_session_the_system_acts(engine):
    assert auth.current_actor() is auth.SYSTEM
    with auth.acting_as(auth.ANONYMOUS):
        assert auth.current_actor() is auth.ANONYMOUS
    assert auth.current_actor() is auth.SYSTEM


# --- the web app: sign-in gate, owner pages ------------------------------------------------

AUTH_SECRETS = {
    "redirect_uri": "http://127.0.0.1:8599/oauth2callback",
    "cookie_secret": "test-cookie-secret-not-for-logs",
    "client_id": "atlas",
    "client_secret": "test-client-secret-not-for-logs",
    "server_metadata_url": "http://127.0.0.1:9/.well-known/openid-configuration",
}


def test_an_unauthenticated_request_gets_the_sign_in_page_and_nothing_else(
    app_test, db_url, caplog
):
    at = app_test()
    at.secrets["auth"] = AUTH_SECRETS
    try:
        at.run()
    finally:
        auth.set_resolver(None)
    assert not at.exception, at.exception
    assert [b.label for b in at.button] == ["Sign in"]
    assert not at.sidebar.selectbox and not at.dataframe  # no practice picker, no data
    assert not any("DEMO DATA" in m.value for m in at.markdown)
    # nothing was read or written: the database was not even opened
    path = sa.engine.make_url(db_url).database
    if path and not path.startswith(":"):
        from pathlib import Path

        assert not Path(path).exists()
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "not-for-logs" not in logged


def test_without_sign_in_the_single_user_owns_everything(app_test):
    at = app_test()
    try:
        at.run()
        assert not at.exception, at.exception
        assert not any(b.label.startswith("Sign in") for b in at.button)
        assert auth.LOCAL_USER.can(auth.OWNER, at.session_state["practice_id"])
        at.switch_page("pages/team.py").run()
        assert not at.exception, at.exception
        at.text_input(key="team_email").input("Liz@Clinic.test")
        at.selectbox(key="team_role").select(auth.LIAISON)
        at.button[[b.label for b in at.button].index("Save member")].click().run()
        assert not at.exception, at.exception
        assert any("liz@clinic.test is now a liaison" in s.value for s in at.success)
        members = at.dataframe[0].value
        assert list(members["Email"]) == ["liz@clinic.test"]
        at.switch_page("pages/history.py").run()
        assert not at.exception, at.exception
        trail = at.dataframe[0].value
        assert "local user" in set(trail["Who"])  # the team change, made in the app
        assert "Team member #" in trail["Record"].iloc[0]
    finally:
        auth.set_resolver(None)


def test_the_streamlit_parts_the_refusal_handler_uses_still_exist():
    """components/access.py sets a script-error handler on the session and the run context
    (no public route under `streamlit run`); a Streamlit upgrade that moves them fails here,
    not silently (tests/e2e/test_sign_in.py checks the handler end to end)."""
    import dataclasses
    import inspect

    from streamlit.runtime import Runtime
    from streamlit.runtime.app_session import AppSession
    from streamlit.runtime.scriptrunner_utils.script_run_context import ScriptRunContext
    from streamlit.runtime.session_manager import SessionManager

    assert "on_script_error" in {f.name for f in dataclasses.fields(ScriptRunContext)}
    assert "self._on_script_error" in inspect.getsource(AppSession)
    assert "self._session_mgr" in inspect.getsource(Runtime)
    assert hasattr(SessionManager, "get_active_session_info")
