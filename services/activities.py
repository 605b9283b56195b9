"""Outreach and networking activities (the `activity` table): the one place that writes them.

Both the pipeline (visits, letters, lunches) and the referral log (thank-you and
close-the-loop notes) log activities; they share `log_activity` so the validation is the same.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy.engine import Connection, Engine

from services import db

KINDS: tuple[str, ...] = (
    "intro_email", "letter", "visit", "lunch", "call", "event", "thank_you", "loop_close",
)  # fmt: skip
KIND_LABELS: dict[str, str] = {
    "intro_email": "Intro email",
    "letter": "Letter",
    "visit": "Visit",
    "lunch": "Lunch",
    "call": "Call",
    "event": "Event",
    "thank_you": "Thank-you",
    "loop_close": "Close-the-loop note",
}
MAX_NOTES = 5000


class ActivityError(ValueError):
    """An activity was refused; the message names the field and is meant for the user."""


def validate_activity(
    kind: str,
    activity_date: date,
    follow_up_due: date | None = None,
    notes: str | None = None,
    today: date | None = None,
) -> None:
    """Raise ActivityError when an activity cannot be logged as given.

    Logged activities are things that happened, so a date in the future is refused; plans go in
    `follow_up_due` instead.
    """
    today = today or date.today()
    if kind not in KINDS:
        raise ActivityError(f"kind: '{kind}' is not one of {', '.join(KINDS)}")
    if not isinstance(activity_date, date):
        raise ActivityError("date: a date is required")
    if activity_date > today:
        raise ActivityError(
            f"date: {activity_date.isoformat()} is in the future; log an activity once it has "
            "happened, and use the follow-up date for plans"
        )
    if follow_up_due is not None and follow_up_due < activity_date:
        raise ActivityError("follow-up due: it cannot be before the activity's date")
    if notes is not None and len(notes) > MAX_NOTES:
        raise ActivityError(f"notes: at most {MAX_NOTES} characters")


def log_activity(
    target: Engine | Connection,
    practice_id: int,
    kind: str,
    activity_date: date,
    partner_id: int | None = None,
    staff: str | None = None,
    notes: str | None = None,
    follow_up_due: date | None = None,
    today: date | None = None,
) -> int:
    """Validate and insert one activity; return its id. Pass a Connection to make it part of a
    larger transaction (marking a thank-you sent and logging it happen together or not at all).
    """
    validate_activity(kind, activity_date, follow_up_due, notes, today)
    values = {
        "practice_id": practice_id,
        "partner_id": partner_id,
        "kind": kind,
        "activity_date": activity_date,
        "staff": (staff or "").strip() or None,
        "notes": notes,
        "follow_up_due": follow_up_due,
        "created_at": db.utcnow(),
    }
    if isinstance(target, Connection):
        return int(target.execute(db.activity.insert().values(**values)).inserted_primary_key[0])
    with target.begin() as conn:
        return int(conn.execute(db.activity.insert().values(**values)).inserted_primary_key[0])
