"""Logging, configured once: to stderr and to a rotating file under data/logs/.

Why a module of its own: a failure a user sees must be traceable. Every caught, unexpected
exception is logged here with its traceback and a short reference (a timestamp plus a random
suffix); the user's message quotes the same reference, so "ref 20261128-210312-7f3a" on the screen
finds the line in the log. Library detail (tracebacks, driver messages) stays in the log.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import secrets
import sys
from datetime import UTC, datetime
from pathlib import Path

from services import config

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(threadName)s] %(message)s"
_MARK = "_referral_atlas_handler"


def log_dir() -> Path:
    """`REFERRAL_ATLAS_LOG_DIR`, else data/logs/ beside the default database."""
    return Path(os.environ.get("REFERRAL_ATLAS_LOG_DIR") or config.DATA_DIR / "logs")


def configure(directory: Path | None = None, level: int = logging.INFO) -> Path | None:
    """Attach the stderr and rotating-file handlers to the root logger, once per process.

    Returns the log file's path, or None when the file cannot be written (a read-only install
    still logs to stderr). Calling it again is a no-op, so every entry point may call it.
    """
    root = logging.getLogger()
    existing = [h for h in root.handlers if getattr(h, _MARK, False)]
    if existing:
        files = [h for h in existing if isinstance(h, logging.handlers.RotatingFileHandler)]
        return Path(files[0].baseFilename) if files else None
    formatter = logging.Formatter(LOG_FORMAT)
    stderr = logging.StreamHandler(sys.stderr)
    stderr.setFormatter(formatter)
    setattr(stderr, _MARK, True)
    root.addHandler(stderr)
    path: Path | None = (directory or log_dir()) / "referral_atlas.log"
    try:
        assert path is not None
        path.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.handlers.RotatingFileHandler(
            path, maxBytes=2_000_000, backupCount=5, encoding="utf-8"
        )
        handler.setFormatter(formatter)
        setattr(handler, _MARK, True)
        root.addHandler(handler)
    except OSError:
        path = None
        root.warning("The log file under %s cannot be written; logging to stderr only.", directory)
    if root.level > level or root.level == logging.NOTSET:
        root.setLevel(level)
    return path


def new_reference() -> str:
    """A short reference a user can read out: UTC time to the second plus 4 hex digits."""
    return f"{datetime.now(UTC):%Y%m%d-%H%M%S}-{secrets.token_hex(2)}"


def log_exception(logger: logging.Logger, message: str, exc: BaseException | None = None) -> str:
    """Log `message` with the exception's traceback and return the reference to show the user.

    Call it inside an `except` block (the traceback is taken from `exc`, else the one being
    handled). The message must not hold secrets: connection URLs go through `redact` first.
    """
    ref = new_reference()
    exc_info: object = (type(exc), exc, exc.__traceback__) if exc is not None else True
    logger.error("%s [ref %s]", message, ref, exc_info=exc_info)  # type: ignore[arg-type]
    return ref


def redact(url: str) -> str:
    """A database URL without its password, for messages and logs."""
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # a URL we cannot parse is shown as nothing at all
        return "(unreadable URL)"
