"""The NPI Registry's failures, as exceptions whose messages are meant for the user.

Separate from the client because three modules raise them: the criteria check refuses a query
before it is sent, the parser refuses an `Errors` payload or a non-JSON answer, and the client
refuses what the network did. Callers catch `RegistryError` for all of them.
"""

from __future__ import annotations

from typing import Any


class RegistryError(RuntimeError):
    """Base of every registry failure; the message is meant for the user."""


class CriteriaError(RegistryError, ValueError):
    """The criteria would be refused by the registry; nothing was sent."""


class RegistryQueryError(RegistryError):
    """The registry answered with its own `Errors` payload (HTTP 200)."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        self.errors = errors
        self.numbers = [str(e.get("number", "")).strip() for e in errors]
        texts = [
            f"{str(e.get('description') or 'unknown error').strip()}"
            + (f" (field {e['field']}, error {e.get('number', '?')})" if e.get("field") else "")
            for e in errors
        ]
        super().__init__("The NPI Registry refused the search: " + "; ".join(texts))


class RegistryUnavailable(RegistryError):
    """The registry could not be reached or did not answer with usable JSON. `reason` is the
    same in a few words, to go inside a longer sentence ("it did not answer in time")."""

    def __init__(self, message: str, reason: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason or "it did not answer with usable data"
