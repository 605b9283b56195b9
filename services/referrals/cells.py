"""Referral cells: the vocabulary of a referral row, reading typed cells, and validation.

No patient name, date of birth, MRN or other identifier is stored, by design: a row is a
referral between the practice and a provider, described by categories and dates only.

Who referred: `referral.partner_npi` holds the provider's NPI. A referrer known only by name
(the front desk often writes "Dr. Lee, Cherry Creek Ortho" before anyone looks up an NPI) gets a
row in `named_referrer` and its key `R` + 9 digits in `partner_npi`. Such a key can never be
mistaken for an NPI (an NPI is 10 digits starting with 1 or 2), so code that joins the log to
providers or partners by NPI simply finds no match, and the referrer can be told apart in
counts.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import pandas as pd

from services.npi import npi_error

DIRECTIONS: tuple[str, ...] = ("received", "sent")
STATUSES: tuple[str, ...] = (
    "received", "scheduled", "evaluated", "in_care", "discharged", "lost",
)  # fmt: skip
STATUS_LABELS: dict[str, str] = {
    "received": "Received",
    "scheduled": "Scheduled",
    "evaluated": "Evaluated",
    "in_care": "In care",
    "discharged": "Discharged",
    "lost": "Lost",
}
LOST_REASONS: tuple[str, ...] = ("no_show", "declined", "went_elsewhere", "insurance", "other")
#: The lost reason that counts as leakage: the patient was referred to us but went elsewhere.
LEAKAGE_REASON = "went_elsewhere"
#: Suggested categories; others are allowed (an imported tracker has its own), up to 60 chars.
REASON_CATEGORIES: tuple[str, ...] = (
    "Knee", "Shoulder", "Low back", "Neck", "Hip", "Foot & ankle", "Post-op", "Pelvic",
    "Hand & wrist", "Balance & falls", "Neuro", "Sports", "Other",
)  # fmt: skip
PAYER_CATEGORIES: tuple[str, ...] = (
    "Commercial", "Medicare", "Medicaid", "Workers' comp", "Self-pay", "Auto / PI", "Other",
)  # fmt: skip
#: The funnel of a received referral, in order; `in_care` sits between evaluated and discharged.
FUNNEL: tuple[str, ...] = ("received", "scheduled", "evaluated", "discharged")


FIELDS: tuple[str, ...] = (
    "referral_date", "partner_npi", "direction", "reason_category", "payer_category", "status",
    "lost_reason", "first_visit_date", "visits", "thank_you_sent", "outcome_note_sent", "notes",
)  # fmt: skip
FIELD_LABELS: dict[str, str] = {
    "referral_date": "date",
    "partner_npi": "partner",
    "direction": "direction",
    "reason_category": "reason category",
    "payer_category": "payer category",
    "status": "status",
    "lost_reason": "lost reason",
    "first_visit_date": "first visit date",
    "visits": "visits",
    "thank_you_sent": "thank-you sent",
    "outcome_note_sent": "outcome note sent",
    "notes": "notes",
}
MAX_NOTES = 2000
MAX_CATEGORY = 60
MAX_VISITS = 500
EARLIEST = date(1990, 1, 1)
NAMED_PREFIX = "R"


class ReferralError(ValueError):
    """A referral operation was refused as a whole; the message is meant for the user."""


@dataclass(frozen=True)
class FieldError:
    row: str  # how the user finds the row: "new row 2", "referral #41", "Received row 7"
    field: str
    message: str


# --- parsing ---------------------------------------------------------------------------------


def is_blank(value: object) -> bool:
    """None, NaN, NaT, pd.NA or whitespace. Called for every cell of an import, so the common
    types are answered before pandas is asked."""
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, float):
        return math.isnan(value)
    if isinstance(value, (int, date)) and value is not pd.NaT:
        return False
    try:
        return bool(pd.isna(value)) if not isinstance(value, (list, dict, tuple)) else False
    except (TypeError, ValueError):
        return False


@functools.lru_cache(maxsize=8192)
def _npi_problem(text: str) -> str | None:
    """npi_error, remembered: an import names the same few referrers thousands of times."""
    return npi_error(text)


_US_DATE = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")
_ISO_DATE = re.compile(r"^(\d{4})[-/](\d{1,2})[-/](\d{1,2})(?:[ T]00:00(?::00(?:\.0+)?)?Z?)?$")


def parse_date(value: object) -> date | None:
    """A date from a cell; None for a blank one. Raises ValueError with a readable reason.

    Only unambiguous forms are read: ISO (2026-02-28) and US month/day/year (2/28/2026), the
    form a US front desk types. Words ("yesterday") and impossible dates (31/02/2026) are
    refused rather than guessed.
    """
    if is_blank(value):
        return None
    if isinstance(value, pd.Timestamp):
        return value.date()
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return _parse_date_text(str(value).strip())


@functools.lru_cache(maxsize=8192)
def _parse_date_text(text: str) -> date:
    """The text half of parse_date, remembered: a tracker repeats the same dates many times."""
    m = _ISO_DATE.match(text)
    if m:
        y, mo, d = int(m[1]), int(m[2]), int(m[3])
    else:
        m = _US_DATE.match(text)
        if not m:
            raise ValueError(f"'{_short(text)}' is not a date; use YYYY-MM-DD or MM/DD/YYYY")
        mo, d, y = int(m[1]), int(m[2]), int(m[3])
    try:
        return date(y, mo, d)
    except ValueError:
        raise ValueError(f"'{_short(text)}' is not a real calendar date") from None


def parse_int(value: object) -> int | None:
    if is_blank(value):
        return None
    if isinstance(value, bool):
        raise ValueError("a whole number is required")
    if isinstance(value, (int,)):
        return int(value)
    try:
        number = float(str(value).strip())
    except ValueError:
        raise ValueError(f"'{_short(str(value))}' is not a whole number") from None
    if math.isnan(number) or number != int(number):
        raise ValueError(f"'{_short(str(value))}' is not a whole number")
    return int(number)


def _short(text: str, n: int = 40) -> str:
    return text if len(text) <= n else text[:n] + "…"


def _text(value: object) -> str | None:
    if is_blank(value):
        return None
    return str(value).strip()


def named_key(referrer_id: int) -> str:
    return f"{NAMED_PREFIX}{referrer_id:09d}"


def named_id(key: str) -> int | None:
    if isinstance(key, str) and len(key) == 10 and key[0] == NAMED_PREFIX and key[1:].isdigit():
        return int(key[1:])
    return None


# --- validation ------------------------------------------------------------------------------


def validate_referral(
    values: Mapping[str, Any], row: str, today: date | None = None
) -> tuple[dict[str, Any], list[FieldError]]:
    """Clean one referral's values; return them with every problem found (not just the first).

    The cleaned dict has exactly FIELDS. Whether the partner exists is checked at save time,
    inside the transaction; here only its form is.
    """
    today = today or date.today()
    errors: list[FieldError] = []
    clean: dict[str, Any] = {}

    def err(name: str, message: str) -> None:
        errors.append(FieldError(row, FIELD_LABELS[name], message))

    for name in ("referral_date", "first_visit_date", "thank_you_sent", "outcome_note_sent"):
        try:
            clean[name] = parse_date(values.get(name))
        except ValueError as exc:
            clean[name] = None
            err(name, str(exc))
            continue
        when = clean[name]
        if when is not None and when < EARLIEST:
            err(name, f"{when.isoformat()} is before {EARLIEST.year}; check the year")
        limit = today + timedelta(days=365) if name == "first_visit_date" else today
        if when is not None and when > limit:
            err(name, f"{when.isoformat()} is in the future")
    ref_date = clean["referral_date"]
    if ref_date is None and not any(e.field == "date" for e in errors):
        err("referral_date", "a date is required")
    for name in ("first_visit_date", "thank_you_sent", "outcome_note_sent"):
        if clean[name] is not None and ref_date is not None and clean[name] < ref_date:
            err(name, "it cannot be before the referral's date")

    partner = _text(values.get("partner_npi"))
    clean["partner_npi"] = partner
    if partner is None:
        err("partner_npi", "pick the referring or receiving provider")
    elif named_id(partner) is None and (problem := _npi_problem(partner)):
        err("partner_npi", problem)

    for name, allowed in (("direction", DIRECTIONS), ("status", STATUSES)):
        text = _text(values.get(name))
        text = text.lower().replace(" ", "_") if text else None
        clean[name] = text
        if text is None:
            err(name, "required")
        elif text not in allowed:
            err(name, f"'{_short(text)}' is not one of {', '.join(allowed)}")

    lost = _text(values.get("lost_reason"))
    lost = lost.lower().replace(" ", "_") if lost else None
    clean["lost_reason"] = lost
    if clean["status"] == "lost":
        if lost is None:
            err("lost_reason", "required when the status is lost")
        elif lost not in LOST_REASONS:
            err("lost_reason", f"'{_short(lost)}' is not one of {', '.join(LOST_REASONS)}")
    elif lost is not None:
        err("lost_reason", "only a lost referral has a lost reason; clear it or set status lost")

    try:
        visits = parse_int(values.get("visits"))
    except ValueError as exc:
        visits = None
        err("visits", str(exc))
    else:
        if visits is not None and visits < 0:
            err("visits", "cannot be negative")
        elif visits is not None and visits > MAX_VISITS:
            err("visits", f"at most {MAX_VISITS}")
    clean["visits"] = visits

    for name in ("reason_category", "payer_category"):
        text = _text(values.get(name))
        clean[name] = text
        if text is not None and len(text) > MAX_CATEGORY:
            err(name, f"at most {MAX_CATEGORY} characters")
    notes = values.get("notes")
    notes = None if is_blank(notes) else str(notes)
    clean["notes"] = notes
    if notes is not None and len(notes) > MAX_NOTES:
        err("notes", f"at most {MAX_NOTES} characters ({len(notes):,} given)")
    return clean, errors


def as_datetime(values: pd.Series) -> pd.Series:
    """Dates held as `date` objects (or text a user typed) as datetime64; bad ones NaT."""
    return pd.to_datetime(values, errors="coerce", format="mixed")
