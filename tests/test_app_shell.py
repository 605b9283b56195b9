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
    # (components/shell.py; the browser test is tests/e2e/test_deep_link.py)
    assert "\nensure_app_shell()\n" in (ROOT / page).read_text()


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
    table = at.dataframe[0].value
    add_targets(get_engine(), practice_id, table.loc[table["stage"].isna(), "npi"][:2])
    assert _partner_count(practice_id) == seeded + 2
    at.button(key="reset_demo").click().run()
    assert not at.exception, at.exception
    assert _partner_count(at.session_state["practice_id"]) == seeded
    assert any("DEMO DATA" in m.value for m in at.markdown)
