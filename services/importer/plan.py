"""Planning an import: which column feeds which referral field, and what each row becomes.

Nothing is written here. Every row is validated with the editor's rules and its partner is
resolved by NPI, else by name, so the user sees what will happen before anything is stored.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from services import db, identifiers
from services import referrals as refs
from services.exports import looks_like_formula
from services.importer.read import Sheet
from services.npi import npi_error

#: Referral fields a source column can feed, with what the mapping step calls them.
TARGETS: dict[str, str] = {
    "referral_date": "Date",
    "partner_npi": "Provider NPI",
    "partner_name": "Provider name",
    "direction": "Direction",
    "reason_category": "Reason",
    "payer_category": "Payer",
    "status": "Status",
    "completed": "Completed (Y/N)",
    "lost_reason": "Lost reason",
    "first_visit_date": "First visit date",
    "visits": "Visits",
    "thank_you_sent": "Thank-you sent (Y/N or date)",
    "outcome_note_sent": "Outcome note sent (Y/N/date)",
    "notes": "Notes",
}

_SUGGEST: dict[str, tuple[str, ...]] = {
    "referral_date": ("referral date", "date referred", "date received", "date sent", "date"),
    "partner_npi": ("npi",),
    "partner_name": (
        "referred by",
        "referred to",
        "referred from",
        "referring",
        "referrer",
        "provider",
        "physician",
        "doctor",
        "partner",
    ),
    "direction": ("direction", "type"),
    "reason_category": ("reason", "body region", "diagnosis", "service"),
    "payer_category": ("payer", "insurance"),
    "status": ("status",),
    "completed": ("completed", "complete", "seen"),
    "lost_reason": ("lost reason", "why lost"),
    "first_visit_date": ("first visit", "eval date", "evaluation date"),
    "visits": ("visits", "visit count"),
    "thank_you_sent": ("thank", "follow-up sent", "follow up sent", "followup sent", "follow-up"),
    "outcome_note_sent": ("outcome note sent", "report sent", "loop closed", "close the loop"),
    "notes": ("outcome notes", "notes", "comments", "outcome"),
}

_YES = {"y", "yes", "true", "1", "x", "done", "sent", "✓"}
_NO = {"n", "no", "false", "0", "-"}


@dataclass
class PlannedRow:
    label: str
    values: dict[str, Any]
    partner_name: str | None
    new_referrer: str | None  # "npi" / "name" when run_import must create it


@dataclass
class ImportPlan:
    rows: list[PlannedRow]
    errors: list[refs.FieldError]
    total: int
    #: rows that will import but deserve a look first (notes that seem to identify a patient)
    warnings: list[refs.FieldError] = field(default_factory=list)

    @property
    def valid(self) -> int:
        return len(self.rows)

    def warning_frame(self) -> pd.DataFrame:
        return pd.DataFrame(
            [(w.row, w.field, w.message) for w in self.warnings],
            columns=["row", "field", "warning"],
        )

    def error_frame(self) -> pd.DataFrame:
        return pd.DataFrame(
            [(e.row, e.field, e.message) for e in self.errors], columns=["row", "field", "problem"]
        )


# --- mapping ---------------------------------------------------------------------------------


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"[_\-/().:]+", " ", str(text).lower())).strip()


def suggest_mapping(columns: list[str]) -> dict[str, str | None]:
    """target field -> source column (or None), each source column used at most once."""
    used: set[str] = set()
    mapping: dict[str, str | None] = {t: None for t in TARGETS}
    normed = {c: _norm(c) for c in columns}
    # Exact matches first, then containment, so "Date" beats "First visit date" for the date.
    for exact in (True, False):
        for target, words in _SUGGEST.items():
            if mapping[target] is not None:
                continue
            for word in words:
                hit = next(
                    (
                        c
                        for c in columns
                        if c not in used
                        and (normed[c] == word if exact else word in normed[c])
                        and not (target == "referral_date" and "visit" in normed[c])
                        and not (target == "partner_name" and "npi" in normed[c])
                    ),
                    None,
                )
                if hit is not None:
                    mapping[target] = hit
                    used.add(hit)
                    break
    return mapping


def _yes_no_date(value: object, fallback: date | None) -> date | None:
    """A 'sent' column holds Y/N or the date it was sent. Y with no date is recorded as the
    referral's date: the earliest it can have been, and the rule 'owed within 30 days' then
    sees it as done."""
    if refs.is_blank(value):
        return None
    text = str(value).strip().lower()
    if text in _YES:
        return fallback
    if text in _NO:
        return None
    return value  # type: ignore[return-value]  # a date or date text; validation reads it


def _status_from_completed(value: object) -> str | None:
    if refs.is_blank(value):
        return None
    text = str(value).strip().lower()
    if text in _YES:
        return "evaluated"
    if text in _NO:
        return "received"
    return text  # validation reports it


@functools.lru_cache(maxsize=8192)
def _name_key(name: str) -> str:
    text = re.sub(r"[^\w& ]+", " ", name.lower())
    text = re.sub(r"^\s*dr\s+", "", text)
    return re.sub(r"\s+", " ", text).strip()


def plan_import(
    engine: Engine,
    practice_id: int,
    sheets: list[Sheet],
    mappings: Mapping[str, Mapping[str, str | None]],
    directions: Mapping[str, str | None] | None = None,
    scope_demo: bool = False,
    today: date | None = None,
) -> ImportPlan:
    """Validate every row against the mapping and resolve its partner; write nothing.

    `mappings[sheet name]` is target -> source column; `directions[sheet name]` the direction
    of a sheet with no direction column. Partners: a valid NPI is used as it is (added as a
    manual provider on import if new, which needs a name); with no NPI the name is matched,
    case- and punctuation-insensitively, to the practice's partners first, then to the
    providers it can see, then to its named referrers; an unmatched name becomes a new named
    referrer; a name matching several providers is an error (give the NPI).
    """
    today = today or date.today()
    directory = refs.referrer_directory(engine, practice_id, scope_demo)
    by_name: dict[str, list[tuple[str, bool]]] = {}
    for key, name, is_partner in directory[["key", "name", "is_partner"]].itertuples(index=False):
        bare = name.split(",")[0] if refs.named_id(key) is None else name
        for variant in {_name_key(name), _name_key(bare)}:
            by_name.setdefault(variant, []).append((key, bool(is_partner)))
    known_keys = set(directory["key"])
    with engine.connect() as conn:
        known_keys |= {r[0] for r in conn.execute(sa.select(db.provider.c.npi))}

    rows: list[PlannedRow] = []
    errors: list[refs.FieldError] = []
    warnings: list[refs.FieldError] = []
    total = 0
    for sheet in sheets:
        mapping = mappings.get(sheet.name, {})
        default_dir = (directions or {}).get(sheet.name) or sheet.direction
        cols = {t: mapping.get(t) for t in TARGETS}
        frame = sheet.frame
        get = {
            t: (frame[c].tolist() if c is not None and c in frame.columns else None)
            for t, c in cols.items()
        }
        for i, row_no in enumerate(frame.index):
            total += 1
            label = f"{sheet.name} row {row_no}"

            def val(t: str, i: int = i, get: dict = get) -> object:
                column = get[t]
                return column[i] if column is not None else None

            values: dict[str, Any] = {
                f: val(f) for f in refs.FIELDS if f not in ("partner_npi", "direction")
            }
            values["direction"] = val("direction") if get["direction"] else default_dir
            if refs.is_blank(values["status"]) and get["completed"] is not None:
                values["status"] = _status_from_completed(val("completed"))
            if refs.is_blank(values["status"]):
                values["status"] = "received"
            try:
                ref_date = refs.parse_date(values["referral_date"])
            except ValueError:
                ref_date = None
            for f in ("thank_you_sent", "outcome_note_sent"):
                values[f] = _yes_no_date(values[f], ref_date)
            name = (
                None
                if refs.is_blank(val("partner_name"))
                else " ".join(str(val("partner_name")).split())
            )
            npi = None if refs.is_blank(val("partner_npi")) else str(val("partner_npi")).strip()
            new_referrer = None
            partner_errors: list[str] = []
            if name is not None and looks_like_formula(name):
                # A spreadsheet would run it; as a partner's name it would reach every list,
                # letter and export. The user corrects the file instead.
                partner_errors.append(
                    f"the provider's name '{name[:60]}' looks like a spreadsheet formula, so it "
                    "is not used; correct the name in the file"
                )
            elif npi is not None:
                values["partner_npi"] = npi
                if problem := npi_error(npi):
                    partner_errors.append(f"NPI {npi}: {problem}")
                elif npi not in known_keys:
                    if name is None:
                        partner_errors.append(f"NPI {npi} is not known and no name is given")
                    new_referrer = "npi"
            elif name is not None:
                hits = by_name.get(_name_key(name), [])
                partners = [k for k, p in hits if p]
                chosen = list(dict.fromkeys(partners or [k for k, _ in hits]))
                if len(chosen) == 1:
                    values["partner_npi"] = chosen[0]
                elif len(chosen) > 1:
                    partner_errors.append(
                        f"'{name[:60]}' matches {len(chosen)} providers; add an NPI column"
                    )
                elif len(name) > 200:
                    partner_errors.append("the provider's name is longer than 200 characters")
                else:
                    values["partner_npi"] = refs.named_key(0)  # the real key comes on import
                    new_referrer = "name"
            else:
                partner_errors.append("no provider NPI or name in this row")
            clean, problems = refs.validate_referral(values, label, today)
            row_errors = [refs.FieldError(label, "partner", m) for m in partner_errors]
            row_errors += [p for p in problems if p.field != "partner" or not partner_errors]
            if row_errors:
                errors.extend(row_errors)
            else:
                rows.append(PlannedRow(label, clean, name, new_referrer))
                if warning := identifiers.text_warning(clean["notes"]):
                    warnings.append(refs.FieldError(label, "notes", warning))
    return ImportPlan(rows, errors, total, warnings)
