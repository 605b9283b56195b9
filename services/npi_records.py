"""Registry answers as `ProviderRecord`s: every documented format drift normalised here.

The format drifts between years (ints vs strings, address order, where the primary taxonomy
sits, repeated codes, 5- or 9-digit ZIPs, dates vs epochs in seconds or milliseconds), so
`parse_response` normalises every record. Kept apart from the HTTP client because it is pure
(no network), is checked against recorded answers, and the NPPES file import builds the same
records.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from services.npi import npi_error
from services.npi_errors import RegistryQueryError, RegistryUnavailable
from services.zipcentroids import zip5


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
