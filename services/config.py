"""Where settings come from: the environment first, then `.streamlit/secrets.toml`.

`services/` cannot import Streamlit, so secrets are read with `tomllib` directly; Streamlit
itself reads the same file, so a user configures one place.

A broken secrets file must not stop a first run on demo data, but it must not pass unnoticed
either (the app would quietly open the default SQLite file instead of the configured database):
its settings are then ignored, the problem is logged once, and `secrets_problem()` says what
is wrong and where, for the app to show.
"""

from __future__ import annotations

import logging
import os
import re
import tomllib
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = PROJECT_ROOT / "data"
DEFAULT_DB_PATH = DATA_DIR / "referral_atlas.db"
SECRETS_PATH = PROJECT_ROOT / ".streamlit" / "secrets.toml"

logger = logging.getLogger(__name__)
_reported: set[str] = set()


def _read_secrets() -> tuple[dict[str, Any], str | None]:
    """(the settings, None) or ({}, what is wrong with the file). A missing file is fine."""
    path = SECRETS_PATH
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh), None
    except FileNotFoundError:
        return {}, None
    except tomllib.TOMLDecodeError as exc:
        where = re.search(r"\(at line (\d+), column (\d+)\)", str(exc))
        what = re.sub(r"\s*\(at line.*\)$", "", str(exc)) or "invalid TOML"
        place = f"line {where.group(1)}, column {where.group(2)}" if where else "an unknown line"
        problem = f"{path} is not valid TOML at {place} ({what.lower()})."
    except UnicodeDecodeError:
        problem = f"{path} cannot be read: it is not UTF-8 text."
    except OSError as exc:
        problem = f"{path} cannot be opened ({exc.strerror or 'operating-system error'})."
    if problem not in _reported:
        _reported.add(problem)
        logger.error("%s Its settings are ignored until it is fixed.", problem)
    return {}, problem


def _secrets() -> dict[str, Any]:
    return _read_secrets()[0]


def secrets_problem() -> str | None:
    """What is wrong with `.streamlit/secrets.toml` (file, line and column), or None."""
    return _read_secrets()[1]


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
