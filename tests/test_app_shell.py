"""AppTest: every page runs inside the real app shell, on demo data, with the demo badge."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from components.session import get_engine
from services import db
from services.partners import add_targets

ROOT = Path(__file__).resolve().parent.parent
PAGES = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "pages").glob("*.py"))


def test_every_page_file_is_in_the_navigation():
    app = (ROOT / "app.py").read_text()
    for page in PAGES:
        assert f'"{page}"' in app, f"{page} is not listed in app.py's st.navigation"


@pytest.mark.parametrize("page", PAGES)
def test_every_page_asks_for_the_app_shell_first(page):
    # a deep link on a fresh server would otherwise run the page without app.py
    # (components/shell.py; the browser test is tests/e2e/test_deep_link.py). The page
    # preamble asks for it first thing.
    text = (ROOT / page).read_text()
    assert "\nensure_app_shell()\n" in text or "= page_preamble(" in text


@pytest.mark.parametrize("page", PAGES)
def test_page_runs_on_demo_data_with_the_demo_badge_and_practice_picker(app_test, page):
    at = app_test().run()
    at.switch_page(page).run()
    assert not at.exception, at.exception
    assert any("DEMO DATA" in m.value for m in at.markdown), "demo badge missing"
    assert any(s.label == "Practice" for s in at.sidebar.selectbox)
    assert any("Demo data." in i.value for i in at.sidebar.info)


def _partner_count(practice_id: int) -> int:
    with get_engine().connect() as conn:
        return conn.execute(
            sa.select(sa.func.count()).where(db.partner.c.practice_id == practice_id)
        ).scalar()


def test_reset_demo_drops_changes_and_reseeds(app_test):
    at = app_test().run()
    practice_id = at.session_state["practice_id"]
    seeded = _partner_count(practice_id)
    with get_engine().connect() as conn:
        partners = sa.select(db.partner.c.npi).where(db.partner.c.practice_id == practice_id)
        free = conn.execute(
            sa.select(db.provider.c.npi).where(db.provider.c.npi.not_in(partners)).limit(2)
        ).scalars()
        add_targets(get_engine(), practice_id, list(free))
    assert _partner_count(practice_id) == seeded + 2
    at.button(key="reset_demo").click().run()
    assert not at.exception, at.exception
    assert _partner_count(at.session_state["practice_id"]) == seeded
    assert any("DEMO DATA" in m.value for m in at.markdown)


@pytest.fixture
def fresh_logging(tmp_path, monkeypatch):
    """app.py configures logging for the process; here into a temporary folder, undone after."""
    import logging

    root = logging.getLogger()
    before = list(root.handlers)
    for handler in before:
        if getattr(handler, "_referral_atlas_handler", False):
            root.removeHandler(handler)
    monkeypatch.setenv("REFERRAL_ATLAS_LOG_DIR", str(tmp_path / "logs"))
    yield tmp_path / "logs"
    for handler in list(root.handlers):
        if handler not in before:
            root.removeHandler(handler)
            handler.close()
    for handler in before:
        if handler not in root.handlers:
            root.addHandler(handler)


def test_the_app_configures_logging_once_to_a_file(app_test, fresh_logging):
    import logging

    at = app_test().run()
    at.run()
    assert not at.exception, at.exception
    ours = [h for h in logging.getLogger().handlers if getattr(h, "_referral_atlas_handler", False)]
    assert len(ours) == 2  # stderr and the rotating file, not one more per run
    assert (fresh_logging / "referral_atlas.log").exists()


def test_a_broken_secrets_file_is_shown_and_the_demo_still_runs(app_test, tmp_path, monkeypatch):
    from services import config

    broken = tmp_path / "secrets.toml"
    broken.write_text('REFERRAL_ATLAS_DB_URL = "postgresql://atlas@db/atlas\n')
    monkeypatch.setattr(config, "SECRETS_PATH", broken)
    at = app_test().run()
    assert not at.exception, at.exception
    [error] = at.error
    shown = error.value.replace("\\", "")  # as read on screen, Markdown escapes removed
    assert "The settings file is broken" in shown
    assert f"{broken} is not valid TOML at line 1, column 53" in shown
    assert any("DEMO DATA" in m.value for m in at.markdown)  # the demo still opens
    at.switch_page("pages/settings.py").run()
    assert not at.exception, at.exception
    assert any("The settings file is broken" in e.value for e in at.error)  # on every page
