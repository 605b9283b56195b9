"""What the NPI Registry accepts as a search, checked before anything is sent.

The registry's own refusals cost a round trip and are phrased for programmers, so the rules
(its parameter names, no query of narrowing fields alone, trailing wildcards only, a valid NPI,
the allowed enumeration types and address purposes) live here, apart from the HTTP client.
"""

from __future__ import annotations

from typing import Any

from services.npi import npi_error
from services.npi_errors import CriteriaError

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
