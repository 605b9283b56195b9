"""Shared fixtures: temporary databases, the demo dataset, and AppTest with the real app.py."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from services import db, demo  # noqa: E402

#: A fixed "today" so dates in the demo data are the same on every run.
TODAY = date(2026, 11, 27)


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'atlas.db'}"


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    eng = db.make_engine(db_url)
    yield eng
    eng.dispose()


@pytest.fixture
def demo_engine(engine: Engine) -> Engine:
    demo.ensure_demo(engine, TODAY)
    return engine


def _use_navigation_pages_manager() -> None:
    """AppTest runs a page file alone when a `pages/` folder exists (legacy mode), skipping
    app.py; the server does not. Make the pages manager behave as under st.navigation
    (STACK-NOTES §12). Fails loudly if Streamlit drops the attribute."""
    from streamlit.runtime.pages_manager import PagesManager

    assert hasattr(PagesManager, "uses_pages_directory"), "Streamlit internals changed"
    if getattr(PagesManager, "_atlas_patched", False):
        return
    original = PagesManager.__init__

    def init(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        original(self, *args, **kwargs)
        PagesManager.uses_pages_directory = False

    PagesManager.__init__ = init  # type: ignore[method-assign]
    PagesManager._atlas_patched = True  # type: ignore[attr-defined]


@pytest.fixture
def app_test(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Callable[..., object]:
    """A factory for AppTest of the whole app (app.py around the page) on a temporary DB."""
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("REFERRAL_ATLAS_DB_URL", db_url)
    _use_navigation_pages_manager()

    def make(timeout: float = 60) -> AppTest:
        return AppTest.from_file(str(ROOT / "app.py"), default_timeout=timeout)

    return make
