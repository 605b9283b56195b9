"""Client for the NPI Registry API v2.1: the HTTP side (session, retries, paging).

The registry has traps this module absorbs so that callers never see them:
- errors come back as HTTP 200 with an `Errors` list, so every payload is checked for one;
- a maintenance window answers with an HTML page, so anything but a JSON object is refused;
- the service is flaky and sometimes hangs, so 5xx answers, 429s and dropped connections are
  retried with backoff, all inside one total deadline per request (services/http_deadline.py);
- at most 200 records come per page and 1,200 per set of criteria, so `search` pages with
  `skip` and reports when the cap cut a result short.

Criteria are checked before sending by services/npi_criteria.py, answers are turned into
`ProviderRecord`s by services/npi_records.py, and the failures are defined in
services/npi_errors.py; this module re-exports the records and errors it hands to callers.
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass
from typing import Any

import requests
from requests.adapters import HTTPAdapter

from services import config
from services.http_deadline import ServiceFailure, StopCheck, deadline_seconds, send
from services.npi_criteria import validate_criteria
from services.npi_errors import (
    CriteriaError,
    RegistryError,
    RegistryQueryError,
    RegistryUnavailable,
)
from services.npi_records import ProviderRecord, parse_response

__all__ = [
    "CriteriaError", "ProviderRecord", "RegistryClient", "RegistryError", "RegistryQueryError",
    "RegistryUnavailable", "SearchResult", "base_url", "lookup", "make_session", "search",
    "user_agent",
]  # fmt: skip

DEFAULT_URL = "https://npiregistry.cms.hhs.gov/api/"
DEFAULT_USER_AGENT = (
    "ReferralAtlas/0.1 (physical-therapy referral mapping; "
    "+https://github.com/referral-atlas/referral-atlas)"
)
API_VERSION = "2.1"
PAGE_SIZE = 200
MAX_SKIP = 1000
RECORD_CAP = 1200

logger = logging.getLogger(__name__)


def user_agent() -> str:
    """Identifies the app to public services, as their usage policies ask."""
    return config.setting("REFERRAL_ATLAS_USER_AGENT", DEFAULT_USER_AGENT) or DEFAULT_USER_AGENT


def base_url() -> str:
    return config.setting("NPI_API_URL", DEFAULT_URL) or DEFAULT_URL


def make_session(pool_size: int = 8) -> requests.Session:
    """A pooled session that identifies the app. It retries nothing itself: retries happen in
    `http_deadline.send`, inside the request's total deadline."""
    session = requests.Session()
    adapter = HTTPAdapter(max_retries=0, pool_connections=pool_size, pool_maxsize=pool_size)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers["User-Agent"] = user_agent()
    session.headers["Accept"] = "application/json"
    return session


_FAILURE_REASONS = {
    "timeout": "it did not answer in time",
    "unreachable": "it could not be reached",
    "busy": "it asked us to slow down",
    "truncated": "its answer was cut short",
}


@dataclass
class SearchResult:
    records: list[ProviderRecord]
    capped: bool  # the registry had more than RECORD_CAP records for these criteria
    pages: int


class RegistryClient:
    """One configured connection to the registry; safe to share between worker threads."""

    def __init__(
        self,
        url: str | None = None,
        *,
        timeout: tuple[float, float] = (5.0, 20.0),
        retries: int = 3,
        backoff: float = 0.5,
        deadline: float | None = None,
        session: requests.Session | None = None,
    ) -> None:
        """`timeout` is (connect, read) per try; `deadline` bounds the whole request, every
        retry included (at most 30 s, see services/http_deadline.py)."""
        self.url = url or base_url()
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.deadline = deadline_seconds("npi") if deadline is None else deadline
        self.session = session or make_session()
        self._lock = threading.Lock()
        self.requests_sent = 0

    def get_page(
        self, params: dict[str, str], should_stop: StopCheck | None = None
    ) -> dict[str, Any]:
        """One GET; the JSON object it returned, or RegistryUnavailable saying why not."""
        query = {"version": API_VERSION, **params}
        with self._lock:
            self.requests_sent += 1
        try:
            resp = send(
                self.session, "GET", self.url, params=query, service="NPI Registry",
                deadline=self.deadline, timeout=self.timeout, retries=self.retries,
                backoff=self.backoff, should_stop=should_stop,
            )  # fmt: skip
        except ServiceFailure as exc:
            logger.warning("NPI Registry query %s failed: %s", query, exc.detail)
            if exc.kind == "timeout":
                raise RegistryUnavailable(
                    "The NPI Registry did not answer in time. It may be busy; try again later.",
                    reason=_FAILURE_REASONS["timeout"],
                ) from exc
            if exc.kind == "busy":
                raise RegistryUnavailable(
                    "The NPI Registry asked us to slow down; try again in a few minutes.",
                    reason=_FAILURE_REASONS["busy"],
                ) from exc
            if exc.kind == "truncated":
                raise RegistryUnavailable(
                    "The NPI Registry's answer was cut short; try again later.",
                    reason=_FAILURE_REASONS["truncated"],
                ) from exc
            raise RegistryUnavailable(
                "The NPI Registry could not be reached (no connection).",
                reason=_FAILURE_REASONS["unreachable"],
            ) from exc
        if resp.status_code >= 400:
            raise RegistryUnavailable(
                f"The NPI Registry answered with an HTTP {resp.status_code} error; "
                "try again later.",
                reason=f"it answered with an HTTP {resp.status_code} error",
            )
        ctype = resp.headers.get("Content-Type", "").lower()
        body = resp.text
        if "html" in ctype or body.lstrip()[:1] == "<":
            raise RegistryUnavailable(
                "The NPI Registry answered with a web page instead of data (it may be down for "
                "maintenance); try again later.",
                reason="it answered with a web page instead of data",
            )
        try:
            payload = json.loads(body)
        except ValueError as exc:
            logger.warning("NPI Registry answer is not JSON (%s): %.200r", exc, body)
            raise RegistryUnavailable(
                "The NPI Registry's answer was not valid JSON; try again later.",
                reason="its answer was not valid JSON",
            ) from exc
        if not isinstance(payload, dict):
            raise RegistryUnavailable(
                "The NPI Registry's answer was not a JSON object.",
                reason="its answer was not a JSON object",
            )
        return payload

    def search_all(self, should_stop: StopCheck | None = None, **criteria: Any) -> SearchResult:
        """Every record for the criteria, paged 200 at a time up to the registry's cap."""
        clean = validate_criteria(criteria)
        records: list[ProviderRecord] = []
        seen: set[str] = set()
        pages = 0
        skip = 0
        capped = False
        while True:
            payload = self.get_page(
                {**clean, "limit": str(PAGE_SIZE), "skip": str(skip)}, should_stop
            )
            pages += 1
            batch = parse_response(payload)
            raw_count = len(payload.get("results") or [])
            for rec in batch:
                if rec.npi not in seen:
                    seen.add(rec.npi)
                    records.append(rec)
            if raw_count < PAGE_SIZE:
                break
            if skip + PAGE_SIZE > MAX_SKIP:
                capped = True  # a full last page at the cap: there may be more
                break
            skip += PAGE_SIZE
        return SearchResult(records, capped, pages)

    def search(self, **criteria: Any) -> list[ProviderRecord]:
        return self.search_all(**criteria).records

    def lookup(self, npi: str) -> ProviderRecord | None:
        """The provider with this NPI, or None; a malformed NPI raises CriteriaError."""
        records = self.search(number=str(npi).strip())
        return next((r for r in records if r.npi == str(npi).strip()), None)


def search(**criteria: Any) -> list[ProviderRecord]:
    """Search the configured registry (see `RegistryClient.search_all` for the rules)."""
    return RegistryClient().search(**criteria)


def lookup(npi: str) -> ProviderRecord | None:
    return RegistryClient().lookup(npi)
