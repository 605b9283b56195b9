"""Patient identifiers: which tracker columns and which note texts may hold one.

The referral log never stores a patient identifier. A spreadsheet tracker, though, often
carries the identifiers HIPAA's Safe Harbor rule lists: names, street addresses and other
places smaller than a state, dates tied to a patient (birth, admission, discharge), phone and
fax numbers, email addresses, SSNs, medical record numbers, health plan / insurance / member
numbers, account numbers, licence and vehicle numbers, device identifiers, URLs, IP addresses,
photos and any other unique number or code. The rules for spotting them live here alone, so
the importer and the editor cannot disagree:

- `identifier_column(header, values)` says why a column must be dropped at import, from its
  header or, when the header is innocent, from what its cells hold (SSN, email or phone
  patterns; dates under a birth header);
- `identifiers_in_text(text)` names what a free-text note seems to hold, so the user is warned
  before it is saved.

Both err on the side of caution: a column dropped wrongly costs a re-import; one kept wrongly
puts patient data in the log. A provider's name column ("Referred by", "Provider name",
"Physician") is not an identifier, nor is a payer category ("Insurance", "Payer").
"""

from __future__ import annotations

import re
from collections.abc import Iterable

# --- headers -----------------------------------------------------------------------------------

# Normalised header text (lower case, punctuation as spaces) -> why it is an identifier.
_HEADER_RULES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), why)
    for pattern, why in (
        (r"\bpatient\b|\bpt\b|\bclient\b|\bresident\b|\bguarantor\b", "names the patient"),
        (r"^(first|last|full|middle|sur|given|maiden|nick)?\s*name$", "a person's name"),
        (r"^(first|last|sur|given|maiden|middle)\s*name", "a person's name"),
        (r"\bdob\b|\bbirth|\bborn\b|\bbday\b", "a date of birth"),
        (r"\b(admission|admit|admitted|discharge|discharged|death|deceased)\s*(date|on|dt)\b",
         "a date tied to a patient"),
        (r"\bdate\s*of\s*(admission|discharge|death)\b", "a date tied to a patient"),
        (r"\baddress\b|\baddr\b|\bstreet\b|\bapt\b|\bzip\b|\bzipcode\b|\bpostal\b|\bcity\b"
         r"|\bcounty\b", "an address"),
        (r"\bphone\b|\btel\b|\btelephone\b|\bmobile\b|\bcell\b|\bfax\b|\bcontact\b",
         "a phone or fax number"),
        (r"\be ?mail\b", "an email address"),
        (r"\bssn\b|\bsocial\s*security\b|\bss\s*(no|number|#)\b", "a Social Security number"),
        (r"\bmrn\b|\bmedical\s*record|\bchart\b|\brecord\s*(no|number|id|#)\b",
         "a medical record number"),
        (r"\b(insurance|health\s*plan|plan|policy|member|subscriber|beneficiary|group|medicare"
         r"|medicaid|payer|payor)\s*(id|no|num|number|#)\b", "an insurance or member number"),
        (r"\bmember\b|\bsubscriber\b|\bbeneficiary\b|\bpolicy\b", "an insurance or member number"),
        (r"\baccount\b|\bacct\b|\bacc\s*(no|#)\b|\binvoice\b|\bclaim\b", "an account number"),
        (r"\b(driver|drivers|licen[cs]e|dl|vehicle|plate|vin|serial|device)\b",
         "a licence, vehicle or device number"),
        (r"\burl\b|\bwebsite\b|\bweb\s*page\b|\bip\s*address\b|\bphoto\b|\bpicture\b|\bimage\b",
         "a URL, IP address or photo"),
        (r"^(id|no|number|case|case\s*(no|number|id)|#|record)$", "an identifying number"),
    )
)  # fmt: skip

_COMPACT: dict[str, str] = {
    "name": "a person's name", "firstname": "a person's name", "lastname": "a person's name",
    "fullname": "a person's name", "ptid": "names the patient", "ptname": "names the patient",
    "dob": "a date of birth", "dateofbirth": "a date of birth", "birthdate": "a date of birth",
    "mrn": "a medical record number", "medicalrecordnumber": "a medical record number",
    "chartnumber": "a medical record number", "ssn": "a Social Security number",
    "socialsecuritynumber": "a Social Security number", "email": "an email address",
    "emailaddress": "an email address", "memberid": "an insurance or member number",
    "insuranceid": "an insurance or member number", "accountnumber": "an account number",
}  # fmt: skip


def _normalise(header: object) -> str:
    text = str(header).strip().lower().replace("#", " number ")
    text = re.sub(r"[_\-./:()]+", " ", text)
    return re.sub(r"\s+", " ", text).strip()


def identifier_header(header: object) -> str | None:
    """Why a column with this header holds a patient identifier, or None."""
    text = _normalise(header)
    compact = re.sub(r"[^a-z]", "", text)
    if compact in _COMPACT:
        return _COMPACT[compact]
    if compact.startswith(("patient", "client")):
        return "names the patient"
    for pattern, why in _HEADER_RULES:
        if pattern.search(text):
            return why
    return None


# --- values ------------------------------------------------------------------------------------

_SSN = r"\d{3}-\d{2}-\d{4}"
# Parts are bounded (as real addresses are) so a long note cannot make the search quadratic.
_EMAIL = r"[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63}){0,8}\.[A-Za-z]{2,24}"
# Separators are required: a bare 10-digit number is more likely an NPI than a phone number.
_PHONE = r"(?:\+?1[ .-]?)?(?:\(\d{3}\)\s?|\d{3}[ .-])\d{3}[ .-]\d{4}"
_DATE = r"(?:\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}|\d{4}-\d{1,2}-\d{1,2})"

_CELL_RULES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(rf"\s*{_SSN}\s*"), "Social Security numbers"),
    (re.compile(rf"\s*(?:mailto:)?{_EMAIL}\s*"), "email addresses"),
    (re.compile(rf"\s*{_PHONE}\s*"), "phone numbers"),
)
#: share of a column's filled cells that must look like identifiers for the column to go
VALUE_SHARE = 0.2
#: cells looked at per column (a tracker's identifier column is uniform, so a sample tells)
SAMPLE = 500


def identifier_values(values: Iterable[object]) -> str | None:
    """Why cells like these are identifiers (e.g. "its cells look like email addresses"), or
    None. A column goes when at least VALUE_SHARE of its filled cells are, each as a whole,
    an SSN, an email address or a phone number."""
    filled = []
    for value in values:
        if value is None or (isinstance(value, float) and value != value):
            continue
        text = str(value).strip()
        if text:
            filled.append(text)
        if len(filled) >= SAMPLE:
            break
    if not filled:
        return None
    for pattern, what in _CELL_RULES:
        hits = sum(1 for text in filled if pattern.fullmatch(text))
        if hits and hits >= VALUE_SHARE * len(filled):
            return f"its cells look like {what}"
    return None


def identifier_column(header: object, values: Iterable[object] = ()) -> str | None:
    """Why a tracker column must be dropped before anything reads it, or None to keep it."""
    return identifier_header(header) or identifier_values(values)


# --- free text ---------------------------------------------------------------------------------

#: a note longer than the log allows (2,000 characters) is refused anyway; look at this much
SCAN_CHARS = 20_000

_TEXT_RULES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(rf"(?<!\d){_SSN}(?!\d)"), "an SSN"),
    (re.compile(_EMAIL), "an email address"),
    (re.compile(rf"(?<!\d){_PHONE}(?!\d)"), "a phone number"),
    (
        re.compile(
            rf"\b(?:dob|d\.o\.b\.?|date\s+of\s+birth|birth\s*date|birthday|born(?:\s+on)?)\b"
            rf"[^0-9]{{0,15}}{_DATE}",
            re.IGNORECASE,
        ),
        "a date of birth",
    ),
    (re.compile(r"\b(?:dob|d\.o\.b)\b", re.IGNORECASE), "a date of birth"),
    (re.compile(r"\b(?:mrn|medical record)\b\W{0,3}\w*\d", re.IGNORECASE), "a record number"),
    (re.compile(r"\b(?:ssn|social security)\b", re.IGNORECASE), "an SSN"),
)


def identifiers_in_text(text: object) -> list[str]:
    """What a free-text note seems to hold that identifies a patient ("an email address",
    "a phone number", "an SSN", "a date of birth", "a record number"), each named once."""
    if text is None or not isinstance(text, str) or not text.strip():
        return []
    text = text[:SCAN_CHARS]
    found: list[str] = []
    for pattern, what in _TEXT_RULES:
        if what not in found and pattern.search(text):
            found.append(what)
    return found


def text_warning(text: object) -> str | None:
    """A sentence for the user when a note seems to hold an identifier, else None."""
    found = identifiers_in_text(text)
    if not found:
        return None
    return (
        f"the notes seem to hold {_join(found)}; the log must not identify a patient, so "
        "remove it before saving"
    )


def _join(items: list[str]) -> str:
    if len(items) == 1:
        return items[0]
    return ", ".join(items[:-1]) + " and " + items[-1]
