"""Client for the NPI Registry API v2.1: validated queries, paging, retries, parsing.

The registry has traps this module absorbs so that callers never see them:
- errors come back as HTTP 200 with an `Errors` list, so every payload is checked for one;
- a maintenance window answers with an HTML page, so anything but a JSON object is refused;
- the service is flaky and sometimes hangs, so 5xx answers, 429s and dropped connections are
  retried with backoff, all inside one total deadline per request (services/http_deadline.py);
- the format drifts between years (ints vs strings, address order, where the primary taxonomy
  sits, repeated codes, 5- or 9-digit ZIPs), so `parse_response` normalises every record;
- at most 200 records come per page and 1,200 per set of criteria, so `search` pages with
  `skip` and reports when the cap cut a result short.
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import requests
from requests.adapters import HTTPAdapter

from services import config
from services.http_deadline import ServiceFailure, StopCheck, deadline_seconds, send
from services.npi import npi_error
from services.zipcentroids import zip5

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

#: The registry's own parameters. `limit`, `skip` and `version` are set by `search`.
CRITERIA = (
    "number", "enumeration_type", "taxonomy_description", "name_purpose", "first_name",
    "use_first_name_alias", "last_name", "organization_name", "address_purpose", "city",
    "state", "postal_code", "country_code",
)  # fmt: skip
#: Parameters that only narrow a search: the registry rejects a query made of these alone.
_NARROWING_ONLY = {
    "enumeration_type", "state", "country_code", "address_purpose", "name_purpose",
    "use_first_name_alias",
}  # fmt: skip
_WILDCARD_FIELDS = {"first_name", "last_name", "organization_name", "city", "postal_code"}
_ENUMERATION_TYPES = {"NPI-1", "NPI-2"}
_ADDRESS_PURPOSES = {"LOCATION", "MAILING", "PRIMARY", "SECONDARY"}


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


@dataclass(frozen=True)
class ProviderRecord:
    npi: str
    entity_type: str  # individual / organization
    name: str
    credential: str | None
    primary_taxonomy: str | None
    taxonomy_codes: tuple[str, ...]  # primary first, each code once
    address: str | None
    city: str | None
    state: str | None
    zip: str | None  # 5 digits
    phone: str | None
    last_updated: date | None = None
    enumeration_date: date | None = None
    raw_postal_code: str | None = field(default=None, compare=False)


# --- parsing --------------------------------------------------------------------------------


def _text(value: Any) -> str | None:
    """A stripped string, or None for missing values and the registry's '--' placeholders."""
    if value is None:
        return None
    text = str(value).strip()
    return text if text and text != "--" else None


def _date(value: Any) -> date | None:
    text = _text(value)
    if not text:
        return None
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        return None


def _epoch_date(value: Any) -> date | None:
    """Epochs are int seconds in older answers and string milliseconds in newer ones."""
    try:
        number = float(str(value).strip())
    except (TypeError, ValueError):
        return None
    if number > 1e11:  # milliseconds
        number /= 1000.0
    try:
        return datetime.fromtimestamp(number, UTC).date()
    except (OverflowError, OSError, ValueError):
        return None


def _location_address(addresses: Any) -> dict[str, Any]:
    """The practice-location address, wherever it sits in the list; never the mailing one."""
    if not isinstance(addresses, list):
        return {}
    for addr in addresses:
        if isinstance(addr, dict) and str(addr.get("address_purpose", "")).upper() == "LOCATION":
            return addr
    return {}


def _taxonomies(items: Any) -> tuple[str | None, tuple[str, ...]]:
    """(primary code, all codes primary first and deduplicated) from any order of entries."""
    codes: list[str] = []
    primary: str | None = None
    if isinstance(items, list):
        for item in items:
            if not isinstance(item, dict):
                continue
            code = (_text(item.get("code")) or "").upper()
            if not code:
                continue
            if code not in codes:
                codes.append(code)
            flag = item.get("primary")
            if primary is None and (flag is True or str(flag).strip().lower() in ("true", "y")):
                primary = code
    if primary is None and codes:
        primary = codes[0]
    ordered = ([primary] if primary else []) + [c for c in codes if c != primary]
    return primary, tuple(ordered)


def _name(entity_type: str, basic: dict[str, Any]) -> str:
    if entity_type == "organization":
        return _text(basic.get("organization_name")) or _text(basic.get("name")) or "Unnamed"
    parts = [_text(basic.get(k)) for k in ("first_name", "middle_name", "last_name")]
    name = " ".join(p for p in parts if p)
    suffix = _text(basic.get("name_suffix"))
    if suffix:
        name = f"{name} {suffix}"
    return name or _text(basic.get("name")) or "Unnamed"


def parse_record(result: dict[str, Any]) -> ProviderRecord | None:
    """One registry result as a ProviderRecord; None when it has no usable NPI."""
    npi = _text(result.get("number"))
    if npi is None or npi_error(npi):
        return None
    enum_type = str(result.get("enumeration_type") or "").upper()
    entity_type = "organization" if enum_type == "NPI-2" else "individual"
    basic = result.get("basic") if isinstance(result.get("basic"), dict) else {}
    loc = _location_address(result.get("addresses"))
    street = ", ".join(p for p in (_text(loc.get("address_1")), _text(loc.get("address_2"))) if p)
    primary, codes = _taxonomies(result.get("taxonomies"))
    raw_zip = _text(loc.get("postal_code"))
    state = _text(loc.get("state"))
    return ProviderRecord(
        npi=npi,
        entity_type=entity_type,
        name=_name(entity_type, basic),
        credential=_text(basic.get("credential")) if entity_type == "individual" else None,
        primary_taxonomy=primary,
        taxonomy_codes=codes,
        address=street or None,
        city=_text(loc.get("city")),
        state=state.upper()[:2] if state else None,
        zip=zip5(raw_zip) if raw_zip else None,
        phone=_text(loc.get("telephone_number")),
        last_updated=_date(basic.get("last_updated"))
        or _epoch_date(result.get("last_updated_epoch")),
        enumeration_date=_date(basic.get("enumeration_date"))
        or _epoch_date(result.get("created_epoch")),
        raw_postal_code=raw_zip,
    )


def parse_response(payload: dict[str, Any]) -> list[ProviderRecord]:
    """The providers in one registry answer, normalised; raises on an `Errors` payload."""
    if not isinstance(payload, dict):
        raise RegistryUnavailable("The NPI Registry answered with something other than JSON.")
    errors = payload.get("Errors")
    if errors:
        raise RegistryQueryError(errors if isinstance(errors, list) else [{"description": errors}])
    results = payload.get("results")
    if results is None:
        results = []
    if not isinstance(results, list):
        raise RegistryUnavailable("The NPI Registry's answer has no list of results.")
    records: list[ProviderRecord] = []
    seen: set[str] = set()
    for item in results:
        if not isinstance(item, dict):
            continue
        rec = parse_record(item)
        if rec is not None and rec.npi not in seen:
            seen.add(rec.npi)
            records.append(rec)
    return records


# --- criteria -------------------------------------------------------------------------------


def validate_criteria(criteria: dict[str, Any]) -> dict[str, str]:
    """The criteria as the registry wants them, or CriteriaError saying what is wrong.

    Checked here because the registry's own refusals (errors 04, 09) cost a round trip and are
    phrased for programmers: unknown names, a query of narrowing fields alone, wildcards that
    are not trailing or follow fewer than two characters, a malformed NPI.
    """
    clean: dict[str, str] = {}
    for key, value in criteria.items():
        if key not in CRITERIA:
            raise CriteriaError(f"'{key}' is not an NPI Registry search field.")
        if value is None:
            continue
        text = str(value).strip()
        if text:
            clean[key] = text
    if not any(k not in _NARROWING_ONLY for k in clean):
        raise CriteriaError(
            "Add a name, NPI, city, ZIP code or specialty: the NPI Registry does not search by "
            "state, entity type or address type alone."
        )
    for key, text in clean.items():
        if "*" not in text:
            continue
        if key not in _WILDCARD_FIELDS:
            raise CriteriaError(f"A wildcard (*) is not allowed in {key}.")
        if text.count("*") > 1 or not text.endswith("*") or len(text) < 3:
            raise CriteriaError(
                f"In {key}, a wildcard (*) may only come last, after at least 2 characters."
            )
    if "number" in clean:
        problem = npi_error(clean["number"])
        if problem:
            raise CriteriaError(f"NPI {clean['number']}: {problem}.")
    if "enumeration_type" in clean:
        clean["enumeration_type"] = clean["enumeration_type"].upper()
        if clean["enumeration_type"] not in _ENUMERATION_TYPES:
            raise CriteriaError("enumeration_type is NPI-1 (individuals) or NPI-2 (organizations).")
    if "address_purpose" in clean:
        clean["address_purpose"] = clean["address_purpose"].upper()
        if clean["address_purpose"] not in _ADDRESS_PURPOSES:
            raise CriteriaError("address_purpose is LOCATION, MAILING, PRIMARY or SECONDARY.")
    if "taxonomy_description" in clean and "," in clean["taxonomy_description"]:
        # "Classification, Specialization" strings match nothing: one text or the other.
        raise CriteriaError(
            "taxonomy_description takes one NUCC classification or specialization, not both."
        )
    return clean


# --- transport ------------------------------------------------------------------------------


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
