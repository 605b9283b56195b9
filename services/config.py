"""Where settings come from: the environment first, then `.streamlit/secrets.toml`.

`services/` cannot import Streamlit, so secrets are read with `tomllib` directly; Streamlit
itself reads the same file, so a user configures one place.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = PROJECT_ROOT / "data"
DEFAULT_DB_PATH = DATA_DIR / "referral_atlas.db"


def _secrets() -> dict[str, Any]:
    path = PROJECT_ROOT / ".streamlit" / "secrets.toml"
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError):
        # A missing or broken secrets file must not stop a first run on demo data.
        return {}


def setting(name: str, default: str | None = None) -> str | None:
    """Return an env var, else the same key in secrets.toml, else `default`."""
    value = os.environ.get(name)
    if value:
        return value
    value = _secrets().get(name)
    return str(value) if value else default


def database_url() -> str:
    """The SQLAlchemy URL of the app database (`REFERRAL_ATLAS_DB_URL`, else SQLite in data/)."""
    url = setting("REFERRAL_ATLAS_DB_URL")
    if url:
        return url
    return f"sqlite:///{DEFAULT_DB_PATH}"
