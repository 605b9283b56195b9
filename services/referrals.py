"""The referral log (DESIGN §3 `referral`): validation, saving, follow-ups owed, conversion.

No patient name, date of birth, MRN or other identifier is stored, by design: a row is a
referral between the practice and a provider, described by categories and dates only.

Who referred: `referral.partner_npi` holds the provider's NPI. A referrer known only by name
(the front desk often writes "Dr. Lee, Cherry Creek Ortho" before anyone looks up an NPI) gets a
row in `named_referrer` and its key `R` + 9 digits in `partner_npi`. Such a key can never be
mistaken for an NPI (an NPI is 10 digits starting with 1 or 2), so code that joins the log to
providers or partners by NPI simply finds no match, and the referrer can be told apart in
counts. A referrer known by NPI but missing from the provider table is added to it with
`data_source = 'manual'` (no coordinates, so it never appears on the map).

Saving is optimistic: every edit states the `version` it was read at; an UPDATE or DELETE that
finds another version changes nothing and is reported as a conflict with both values, so two
browser sessions never silently overwrite each other.
"""

from __future__ import annotations

import functools
import io
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from services import activities, db, playbook
from services.exports import neutralize_frame
from services.npi import is_valid_npi, npi_error

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
_RANK = {"received": 0, "scheduled": 1, "evaluated": 2, "in_care": 3, "discharged": 4}

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
#: A received referral is owed a thank-you while it is younger than this many days.
THANK_YOU_WINDOW_DAYS = playbook.REFERRAL_FOLLOW_UP_DAYS
OUTCOME_NOTE_STATUSES: frozenset[str] = frozenset({"evaluated", "discharged"})
NAMED_PREFIX = "R"


class ReferralError(ValueError):
    """A referral operation was refused as a whole; the message is meant for the user."""


@dataclass(frozen=True)
class FieldError:
    row: str  # how the user finds the row: "new row 2", "referral #41", "Received row 7"
    field: str
    message: str


@dataclass(frozen=True)
class Conflict:
    ref: Any  # the caller's token for the row
    referral_id: int
    message: str
    #: (field, your value, their value) for every field where the two differ
    differences: tuple[tuple[str, Any, Any], ...] = ()
    current_version: int | None = None


@dataclass
class Edit:
    ref: Any
    referral_id: int
    version: int
    values: dict[str, Any]
    label: str = ""


@dataclass
class SaveResult:
    inserted: dict[Any, int] = field(default_factory=dict)  # ref -> new id
    updated: dict[Any, int] = field(default_factory=dict)  # ref -> id
    deleted: dict[Any, int] = field(default_factory=dict)  # ref -> id
    errors: dict[Any, list[FieldError]] = field(default_factory=dict)
    conflicts: list[Conflict] = field(default_factory=list)

    @property
    def saved(self) -> int:
        return len(self.inserted) + len(self.updated) + len(self.deleted)


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


# --- reading ---------------------------------------------------------------------------------

COLUMNS = ["id", "version", *FIELDS]


def load_referrals(engine: Engine | Connection, practice_id: int) -> pd.DataFrame:
    """The practice's referrals, newest first, with `id` and `version` for saving back."""
    r = db.referral
    query = (
        sa.select(*(r.c[c] for c in COLUMNS))
        .where(r.c.practice_id == practice_id)
        .order_by(r.c.referral_date.desc(), r.c.id.desc())
    )
    if isinstance(engine, Connection):
        rows = engine.execute(query).all()
    else:
        with engine.connect() as conn:
            rows = conn.execute(query).all()
    df = pd.DataFrame(rows, columns=COLUMNS)
    if df.empty:
        df = pd.DataFrame({c: pd.Series(dtype=object) for c in COLUMNS})
    df["visits"] = df["visits"].astype("Int64")
    df["id"] = df["id"].astype("Int64")
    df["version"] = df["version"].astype("Int64")
    return df


def referrer_directory(engine: Engine, practice_id: int, scope_demo: bool) -> pd.DataFrame:
    """Everyone who can be named as a referral's partner: key, name, label, partner id, stage.

    Partners come first, then the providers the practice can see (demo or real, never both),
    then manual providers and named referrers already used by this practice.
    """
    p, v, r, n = db.partner, db.provider, db.referral, db.named_referrer
    scope = v.c.data_source == "demo" if scope_demo else v.c.data_source != "demo"
    used = sa.select(r.c.partner_npi).where(r.c.practice_id == practice_id)
    with engine.connect() as conn:
        partner_rows = conn.execute(
            sa.select(p.c.npi, p.c.id, p.c.stage).where(p.c.practice_id == practice_id)
        ).all()
        on_list = {row[0]: (row[1], row[2]) for row in partner_rows}
        providers = conn.execute(
            sa.select(v.c.npi, v.c.name, v.c.credential).where(
                # Manual providers were typed in by staff for this log, so they are listed
                # for every practice: one just added must be pickable before its first use.
                sa.or_(
                    scope,
                    v.c.data_source == "manual",
                    v.c.npi.in_(used),
                    v.c.npi.in_(list(on_list)),
                )
            )
        ).all()
        named = conn.execute(
            sa.select(n.c.id, n.c.name).where(n.c.practice_id == practice_id).order_by(n.c.name)
        ).all()
    rows = []
    for npi, name, credential in providers:
        display = f"{name}, {credential}" if credential else name
        pid, stage = on_list.get(npi, (None, None))
        rows.append((npi, display, f"{display} · {npi}", pid, stage))
    for rid, name in named:
        rows.append((named_key(rid), name, f"{name} · no NPI", None, None))
    df = pd.DataFrame(rows, columns=["key", "name", "label", "partner_id", "stage"])
    df["is_partner"] = df["partner_id"].notna()
    df = df.sort_values(["is_partner", "name"], ascending=[False, True], kind="stable")
    return df.reset_index(drop=True)


# --- adding referrers ------------------------------------------------------------------------


def add_referrer(
    engine: Engine | Connection, practice_id: int, npi: str | None = None, name: str | None = None
) -> str:
    """Make an unknown referrer pickable; return its key for `partner_npi`.

    With an NPI (check digit validated), a provider row is added if the NPI is new (name
    required then, since there is nothing else to show). With only a name, the practice's
    named referrer of that name is reused or created.
    """
    npi = (npi or "").strip() or None
    name = " ".join((name or "").split()) or None
    if name is not None and len(name) > 200:
        raise ReferralError("name: at most 200 characters")
    if npi is None and name is None:
        raise ReferralError("Give the referrer's NPI, or their name if the NPI is not known.")
    if isinstance(engine, Connection):
        return _add_referrer(engine, practice_id, npi, name)
    with engine.begin() as conn:
        return _add_referrer(conn, practice_id, npi, name)


def _add_referrer(conn: Connection, practice_id: int, npi: str | None, name: str | None) -> str:
    if npi is not None:
        if problem := npi_error(npi):
            raise ReferralError(f"NPI {npi}: {problem}")
        exists = conn.execute(sa.select(db.provider.c.npi).where(db.provider.c.npi == npi)).first()
        if exists is None:
            if name is None:
                raise ReferralError(
                    f"NPI {npi} is not among the known providers: give a name to add it."
                )
            conn.execute(
                db.provider.insert().values(
                    npi=npi,
                    entity_type="individual",
                    name=name,
                    data_source="manual",
                    first_seen=date.today(),
                    last_seen=date.today(),
                )
            )
        return npi
    assert name is not None
    n = db.named_referrer
    found = conn.execute(
        sa.select(n.c.id).where(
            n.c.practice_id == practice_id, sa.func.lower(n.c.name) == name.lower()
        )
    ).scalar()
    if found is None:
        found = conn.execute(
            n.insert().values(practice_id=practice_id, name=name, created_at=db.utcnow())
        ).inserted_primary_key[0]
    return named_key(int(found))


# --- saving ----------------------------------------------------------------------------------


def _existing_keys(conn: Connection, practice_id: int, keys: Iterable[str]) -> set[str]:
    keys = set(keys)
    npis = [k for k in keys if is_valid_npi(k)]
    named = {named_id(k): k for k in keys if named_id(k) is not None}
    found: set[str] = set()
    for chunk in _chunks(npis, 500):
        found |= {
            r[0]
            for r in conn.execute(sa.select(db.provider.c.npi).where(db.provider.c.npi.in_(chunk)))
        }
    for chunk in _chunks(list(named), 500):
        found |= {
            named[r[0]]
            for r in conn.execute(
                sa.select(db.named_referrer.c.id).where(
                    db.named_referrer.c.practice_id == practice_id,
                    db.named_referrer.c.id.in_(chunk),
                )
            )
        }
    return found


def _chunks(items: list, size: int) -> Iterable[list]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _same(a: object, b: object) -> bool:
    if is_blank(a) and is_blank(b):
        return True
    return a == b


def save_changes(
    engine: Engine,
    practice_id: int,
    added: Iterable[tuple[Any, str, Mapping[str, Any]]] = (),
    edited: Iterable[Edit] = (),
    deleted: Iterable[tuple[Any, int, int]] = (),
    today: date | None = None,
) -> SaveResult:
    """Save a batch of editor changes in one transaction; return what was saved and what not.

    `added` is (ref, row label, values); `deleted` is (ref, id, version read). Each row is
    validated first; a valid row is saved whole, an invalid one is reported with its row,
    field and message and written not at all. Edits and deletes state the version they read:
    if someone saved the row since, nothing is written for it and a Conflict shows both
    values. A database failure rolls the whole batch back and raises ReferralError.
    """
    today = today or date.today()
    result = SaveResult()
    valid_added: list[tuple[Any, str, dict[str, Any]]] = []
    valid_edits: list[tuple[Edit, dict[str, Any]]] = []
    for ref, label, values in added:
        clean, errors = validate_referral(values, label, today)
        if errors:
            result.errors[ref] = errors
        else:
            valid_added.append((ref, label, clean))
    for edit in edited:
        label = edit.label or f"referral #{edit.referral_id}"
        clean, errors = validate_referral(edit.values, label, today)
        if errors:
            result.errors[edit.ref] = errors
        else:
            valid_edits.append((edit, clean))
    deletes = list(deleted)
    r = db.referral
    now = db.utcnow()
    try:
        with engine.begin() as conn:
            known = _existing_keys(
                conn,
                practice_id,
                [c["partner_npi"] for _, _, c in valid_added]
                + [c["partner_npi"] for _, c in valid_edits],
            )

            def unknown(ref: Any, label: str, key: str) -> bool:
                if key in known:
                    return False
                result.errors[ref] = [
                    FieldError(
                        label,
                        "partner",
                        f"{key} is not a known provider; add it as a referrer first",
                    )
                ]
                return True

            for ref, label, clean in valid_added:
                if unknown(ref, label, clean["partner_npi"]):
                    continue
                new_id = conn.execute(
                    r.insert().values(
                        practice_id=practice_id, version=1, created_at=now, updated_at=now, **clean
                    )
                ).inserted_primary_key[0]
                result.inserted[ref] = int(new_id)
            for edit, clean in valid_edits:
                label = edit.label or f"referral #{edit.referral_id}"
                if unknown(edit.ref, label, clean["partner_npi"]):
                    continue
                done = conn.execute(
                    r.update()
                    .where(
                        r.c.id == edit.referral_id,
                        r.c.practice_id == practice_id,
                        r.c.version == edit.version,
                    )
                    .values(version=r.c.version + 1, updated_at=now, **clean)
                ).rowcount
                if done:
                    result.updated[edit.ref] = edit.referral_id
                else:
                    result.conflicts.append(
                        _conflict(conn, practice_id, edit.ref, edit.referral_id, clean)
                    )
            for ref, referral_id, version in deletes:
                done = conn.execute(
                    r.delete().where(
                        r.c.id == referral_id,
                        r.c.practice_id == practice_id,
                        r.c.version == version,
                    )
                ).rowcount
                if done:
                    result.deleted[ref] = referral_id
                    continue
                current = _current(conn, practice_id, referral_id)
                if current is None:  # someone else deleted it already: the wish is fulfilled
                    result.deleted[ref] = referral_id
                else:
                    result.conflicts.append(
                        Conflict(
                            ref,
                            referral_id,
                            f"Referral #{referral_id} was changed in another session since you "
                            "loaded it, so it was not deleted. Check its new values, then delete "
                            "it again if you still want to.",
                            current_version=int(current["version"]),
                        )
                    )
    except sa.exc.SQLAlchemyError as exc:
        detail = str(getattr(exc, "orig", exc))
        raise ReferralError(
            f"Nothing was saved: the database refused the change ({detail})."
        ) from exc
    return result


def _current(conn: Connection, practice_id: int, referral_id: int) -> dict[str, Any] | None:
    row = conn.execute(
        sa.select(db.referral).where(
            db.referral.c.id == referral_id, db.referral.c.practice_id == practice_id
        )
    ).first()
    return dict(row._mapping) if row is not None else None


def _conflict(
    conn: Connection, practice_id: int, ref: Any, referral_id: int, mine: Mapping[str, Any]
) -> Conflict:
    current = _current(conn, practice_id, referral_id)
    if current is None:
        return Conflict(
            ref,
            referral_id,
            f"Referral #{referral_id} was deleted in another session, so your edit was not saved.",
        )
    diffs = tuple(
        (FIELD_LABELS[f], mine.get(f), current.get(f))
        for f in FIELDS
        if not _same(mine.get(f), current.get(f))
    )
    shown = "; ".join(f"{f}: yours {_show(a)}, theirs {_show(b)}" for f, a, b in diffs)
    return Conflict(
        ref,
        referral_id,
        f"Referral #{referral_id} was changed in another session since you loaded it; your "
        f"edit was not saved. {shown or 'The values now match yours.'}",
        diffs,
        int(current["version"]),
    )


def _show(value: object) -> str:
    if is_blank(value):
        return "(empty)"
    if isinstance(value, date):
        return value.isoformat()
    return f"'{_short(str(value))}'"


# --- follow-ups owed -------------------------------------------------------------------------


def follow_ups_owed(referrals: pd.DataFrame, today: date) -> pd.DataFrame:
    """What the practice owes its referrers, oldest first.

    - `thank_you`: a received referral dated in the THANK_YOU_WINDOW_DAYS up to and including
      today (age 0..29 days) with no thank-you sent. Older ones are past the playbook's 30-day
      follow-up and no longer nag.
    - `loop_close`: a received referral that is evaluated or discharged with no outcome note
      sent to the referrer (closing the loop is what makes a referrer send the next one).
    """
    cols = ["kind", "id", "version", "partner_npi", "referral_date", "status", "age_days"]
    if referrals.empty:
        return pd.DataFrame(columns=cols)
    df = referrals[referrals["direction"] == "received"]
    dates = _as_datetime(df["referral_date"])
    age = (pd.Timestamp(today) - dates).dt.days
    thank = df[(age >= 0) & (age < THANK_YOU_WINDOW_DAYS) & df["thank_you_sent"].isna()]
    loop = df[df["status"].isin(OUTCOME_NOTE_STATUSES) & df["outcome_note_sent"].isna()]
    out = pd.concat(
        [thank.assign(kind="thank_you"), loop.assign(kind="loop_close")], ignore_index=True
    )
    out["age_days"] = (pd.Timestamp(today) - _as_datetime(out["referral_date"])).dt.days
    return out[cols].sort_values(["referral_date", "id"], kind="stable").reset_index(drop=True)


def mark_follow_up_done(
    engine: Engine,
    practice_id: int,
    referral_id: int,
    kind: str,
    on: date | None = None,
    staff: str | None = None,
) -> bool:
    """Record a thank-you (`thank_you`) or outcome note (`loop_close`) as sent, and log the
    activity, in one transaction. Returns False (and logs nothing) when it was already recorded,
    e.g. by another session a moment ago, so a double click cannot log two activities."""
    on = on or date.today()
    column = {"thank_you": "thank_you_sent", "loop_close": "outcome_note_sent"}.get(kind)
    if column is None:
        raise ReferralError(f"'{kind}' is not a follow-up kind")
    r = db.referral
    with engine.begin() as conn:
        row = conn.execute(
            sa.select(r.c.partner_npi, r.c.referral_date).where(
                r.c.id == referral_id, r.c.practice_id == practice_id
            )
        ).first()
        if row is None:
            raise ReferralError(f"Referral #{referral_id} no longer exists.")
        done = conn.execute(
            r.update()
            .where(r.c.id == referral_id, r.c.practice_id == practice_id, r.c[column].is_(None))
            .values({column: max(on, row.referral_date), "version": r.c.version + 1})
        ).rowcount
        if not done:
            return False
        partner_id = conn.execute(
            sa.select(db.partner.c.id).where(
                db.partner.c.practice_id == practice_id, db.partner.c.npi == row.partner_npi
            )
        ).scalar()
        what = "Thank-you" if kind == "thank_you" else "Outcome note"
        activities.log_activity(
            conn,
            practice_id,
            kind,
            on,
            partner_id=partner_id,
            staff=staff,
            notes=f"{what} for the referral of {row.referral_date.isoformat()} (#{referral_id}).",
            today=on,
        )
    return True


# --- conversion and leakage ------------------------------------------------------------------


def _reached(status: pd.Series, lost_reason: pd.Series) -> pd.DataFrame:
    """Which funnel stages each referral reached. A lost referral reached `received`; a no-show
    was also `scheduled` (it had an appointment to miss)."""
    rank = status.map(_RANK)
    lost = status == "lost"
    rank = rank.where(~lost, 0).astype(float)
    rank = rank.where(~(lost & (lost_reason == "no_show")), 1)
    return pd.DataFrame(
        {
            "received": rank >= 0,
            "scheduled": rank >= 1,
            "evaluated": rank >= 2,
            "discharged": rank >= 4,
        }
    )


def _as_datetime(values: pd.Series) -> pd.Series:
    """Dates held as `date` objects (or text a user typed) as datetime64; bad ones NaT."""
    return pd.to_datetime(values, errors="coerce", format="mixed")


def _facts(received: pd.DataFrame) -> pd.DataFrame:
    """One row per referral with what the funnel counts, computed once for every grouping."""
    reached = _reached(received["status"], received["lost_reason"])
    days = (
        _as_datetime(received["first_visit_date"]) - _as_datetime(received["referral_date"])
    ).dt.days
    lost = received["status"] == "lost"
    return reached.assign(
        partner_npi=received["partner_npi"].to_numpy(),
        days=days.to_numpy(),
        lost=lost.to_numpy(),
        leaked=(lost & (received["lost_reason"] == LEAKAGE_REASON)).to_numpy(),
    )


def _with_rates(table: pd.DataFrame) -> pd.DataFrame:
    n = table["received"].where(table["received"] > 0)
    for stage in FUNNEL[1:]:
        table[f"{stage}_rate"] = table[stage] / n
    table["leakage_rate"] = table["leaked"] / n
    return table


_AGG = {
    **{stage: (stage, "sum") for stage in FUNNEL},
    "median_days_to_first_visit": ("days", "median"),
    "lost": ("lost", "sum"),
    "leaked": ("leaked", "sum"),
}


def conversion(referrals: pd.DataFrame) -> tuple[dict[str, Any], pd.DataFrame, pd.DataFrame]:
    """Funnel, timing and leakage of received referrals: (overall, per partner, lost reasons).

    Rates are of referrals received (so "evaluated_rate" is the share that became an
    evaluation). Leakage is the count of lost referrals whose reason is `went_elsewhere`.
    Sent referrals are left out: their funnel happens at the other provider.
    """
    received = referrals[referrals["direction"] == "received"].reset_index(drop=True)
    facts = _facts(received)
    cols = ["partner_npi", *FUNNEL, "scheduled_rate", "evaluated_rate", "discharged_rate",
            "median_days_to_first_visit", "lost", "leaked", "leakage_rate"]  # fmt: skip
    whole = _with_rates(facts.assign(partner_npi="").groupby("partner_npi").agg(**_AGG))
    if len(facts):
        overall = {k: v for k, v in whole.iloc[0].items()}
    else:
        overall = {c: 0 for c in cols[1:]}
        overall.update({c: float("nan") for c in cols if c.endswith("_rate")})
        overall["median_days_to_first_visit"] = float("nan")
    for key in (*FUNNEL, "lost", "leaked"):
        overall[key] = int(overall[key])
    for key in ("median_days_to_first_visit", *(c for c in cols if c.endswith("_rate"))):
        overall[key] = float(overall[key])
    per_partner = _with_rates(facts.groupby("partner_npi", sort=False).agg(**_AGG))
    per_partner = per_partner.reset_index()[cols]
    for key in (*FUNNEL, "lost", "leaked"):
        per_partner[key] = per_partner[key].astype(int)
    per_partner = per_partner.sort_values(
        ["received", "partner_npi"], ascending=[False, True]
    ).reset_index(drop=True)
    lost = received[received["status"] == "lost"]
    reasons = (
        lost["lost_reason"].fillna("unknown").value_counts().rename_axis("lost_reason")
    ).reset_index(name="count")
    reasons["leakage"] = reasons["lost_reason"] == LEAKAGE_REASON
    return overall, per_partner, reasons


# --- export ----------------------------------------------------------------------------------


def export_frame(referrals: pd.DataFrame, labels: Mapping[str, str]) -> pd.DataFrame:
    """The log as people read it: partner names next to keys, no internal columns."""
    out = referrals.copy()
    out.insert(2, "partner", out["partner_npi"].map(lambda k: labels.get(k, k)))
    out = out.rename(columns={"partner_npi": "partner_key", "id": "referral_id"})
    return out.drop(columns=["version"])


def to_xlsx_bytes(frame: pd.DataFrame, sheet_name: str = "Referrals") -> bytes:
    """An .xlsx of a neutralised copy of `frame` (no cell can be read as a formula)."""
    safe = neutralize_frame(frame)
    for col in safe.columns:
        if safe[col].map(lambda v: isinstance(v, (date, datetime))).any():
            safe[col] = pd.to_datetime(safe[col]).dt.date
    out = io.BytesIO()
    with pd.ExcelWriter(out, engine="openpyxl") as writer:
        safe.to_excel(writer, index=False, sheet_name=sheet_name)
    return out.getvalue()
