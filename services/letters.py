"""Letters: introduction and thank-you templates, rendered for one partner or a selection.

Templates use `{placeholder}` fields (Python's str.format syntax, with `{{` and `}}` for a
literal brace) from a fixed list: practice, partner, specialty, staff, date. A template is
checked before it is saved and before it is rendered, and an unknown placeholder is reported
by name instead of crashing or printing "{prcatice}" into a letter sent to a surgeon. Only
plain names are allowed: attribute and index lookups (`{partner.__class__}`) and format specs
are refused, since str.format would otherwise evaluate them.

A practice's edited templates are stored in `letter_template`; a kind without a row uses the
built-in default, so "reset to default" is deleting the row.
"""

from __future__ import annotations

import io
import string
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from services import db
from services.activities import log_activity
from services.specialties import GROUPS_BY_KEY, NUCC_TEXT, normalize_code

PLACEHOLDERS: dict[str, str] = {
    "practice": "your practice's name",
    "partner": "the provider's name (with credential)",
    "specialty": "the provider's specialty",
    "staff": "who signs the letter",
    "date": "the letter's date, e.g. November 27, 2026",
}
KINDS: tuple[str, ...] = ("intro", "thank_you")
KIND_LABELS: dict[str, str] = {"intro": "Introduction", "thank_you": "Thank-you"}
#: The activity each letter kind is logged as.
ACTIVITY_KIND: dict[str, str] = {"intro": "letter", "thank_you": "thank_you"}
MAX_TEMPLATE = 10_000

DEFAULT_TEMPLATES: dict[str, str] = {
    "intro": """{date}

Dear {partner},

I am writing to introduce {practice}, a physical therapy practice close to your office. Many of \
our patients come to us with conditions your {specialty} practice sees every day, and we would \
welcome the chance to care for your patients as well.

When you refer a patient to us, we schedule the first visit within a few days, send you an \
evaluation summary after the first visit, and keep you updated on progress and discharge, so \
your patients never fall out of the loop.

I would be glad to stop by with a short overview of our services and referral process at a \
time that suits you and your team.

Kind regards,

{staff}
{practice}
""",
    "thank_you": """{date}

Dear {partner},

Thank you for your recent referral to {practice}. We appreciate the trust you and your \
{specialty} team place in us.

Your patient has been contacted and scheduled, and we will send you an evaluation summary and \
progress updates as care continues. If there is anything you would like us to know about this \
patient, or about how you prefer to receive updates, please let us know.

With thanks,

{staff}
{practice}
""",
}


class LetterError(ValueError):
    """A template or letter was refused; the message names the field and is for the user."""


@dataclass(frozen=True)
class Recipient:
    partner_id: int | None
    partner: str
    specialty: str


@dataclass(frozen=True)
class Letter:
    recipient: Recipient
    text: str


def template_fields(template: str) -> list[str]:
    """The placeholders a template uses, in order (duplicates removed).

    Raises LetterError for a malformed template (an unmatched brace) or a field that is not a
    plain name.
    """
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise LetterError(f"template: {exc} (write {{{{ or }}}} for a literal brace)") from None
    fields: list[str] = []
    for _literal, name, spec, conversion in parsed:
        if name is None:
            continue
        if name == "" or not name.isidentifier():
            raise LetterError(
                f"template: '{{{name}}}' is not a placeholder; use one of "
                + ", ".join(f"{{{p}}}" for p in PLACEHOLDERS)
            )
        if spec or conversion:
            raise LetterError(f"template: write {{{name}}} without ':' or '!' after the name")
        if name not in fields:
            fields.append(name)
    return fields


def check_template(template: str) -> None:
    """Raise LetterError naming every unknown placeholder (and on an empty or huge template)."""
    if not template or not template.strip():
        raise LetterError("template: it is empty")
    if len(template) > MAX_TEMPLATE:
        raise LetterError(f"template: at most {MAX_TEMPLATE} characters")
    unknown = [f for f in template_fields(template) if f not in PLACEHOLDERS]
    if unknown:
        names = ", ".join(f"{{{u}}}" for u in unknown)
        raise LetterError(
            f"template: unknown placeholder{'s' if len(unknown) > 1 else ''} {names}; "
            "the placeholders are " + ", ".join(f"{{{p}}}" for p in PLACEHOLDERS)
        )


def specialty_for_letter(code: str | None, group: str | None) -> str:
    """The specialty as a letter says it ("your Sports Medicine practice"): the most specific
    NUCC text we know, else the specialty group, else empty (reported as missing)."""
    text = NUCC_TEXT.get(normalize_code(code))
    if text:
        return text[1] or text[0]
    return GROUPS_BY_KEY[group].label if group in GROUPS_BY_KEY else ""


def format_date(day: date) -> str:
    return f"{day:%B} {day.day}, {day.year}"


def render(template: str, values: dict[str, str | None]) -> str:
    """Fill a template; raise LetterError naming an unknown placeholder or a missing value."""
    check_template(template)
    used = template_fields(template)
    missing = [f for f in used if not (values.get(f) or "").strip()]
    if missing:
        raise LetterError(
            f"missing value for {', '.join(f'{{{m}}}' for m in missing)}; fill it in first"
        )
    return template.format(**{f: str(values[f]).strip() for f in used})


def render_letters(
    template: str,
    recipients: Sequence[Recipient],
    practice: str,
    staff: str,
    day: date,
) -> list[Letter]:
    """One letter per recipient; all or nothing, so a batch never half-renders."""
    if not recipients:
        raise LetterError("partner: choose at least one partner")
    letters = []
    for r in recipients:
        values = {
            "practice": practice,
            "partner": r.partner,
            "specialty": r.specialty,
            "staff": staff,
            "date": format_date(day),
        }
        try:
            letters.append(Letter(r, render(template, values)))
        except LetterError as exc:
            raise LetterError(f"{r.partner or 'a partner'}: {exc}") from None
    return letters


# --- downloads ------------------------------------------------------------------------------


def to_text(letters: Iterable[Letter]) -> bytes:
    """Plain text, one letter after another, separated by a form feed (a page break when
    printed)."""
    return "\n\f\n".join(letter.text.rstrip() + "\n" for letter in letters).encode("utf-8")


def to_docx(letters: Sequence[Letter]) -> bytes:
    """A Word document with one letter per page."""
    from docx import Document
    from docx.enum.text import WD_BREAK

    doc = Document()
    for i, letter in enumerate(letters):
        # a blank line starts a paragraph; a single newline is a line break inside it
        for block in letter.text.rstrip().split("\n\n"):
            para = doc.add_paragraph()
            lines = block.split("\n")
            for k, line in enumerate(lines):
                run = para.add_run(line)
                if k < len(lines) - 1:
                    run.add_break()
        if i < len(letters) - 1:
            doc.add_paragraph().add_run().add_break(WD_BREAK.PAGE)
    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()


# --- storage --------------------------------------------------------------------------------


def get_template(engine: Engine, practice_id: int, kind: str) -> str:
    """The practice's saved template for `kind`, or the default."""
    if kind not in KINDS:
        raise LetterError(f"kind: '{kind}' is not one of {', '.join(KINDS)}")
    t = db.letter_template
    with engine.connect() as conn:
        body = conn.execute(
            sa.select(t.c.body).where(t.c.practice_id == practice_id, t.c.kind == kind)
        ).scalar()
    return body if body is not None else DEFAULT_TEMPLATES[kind]


def is_customised(engine: Engine, practice_id: int, kind: str) -> bool:
    t = db.letter_template
    with engine.connect() as conn:
        return (
            conn.execute(
                sa.select(t.c.id).where(t.c.practice_id == practice_id, t.c.kind == kind)
            ).first()
            is not None
        )


def save_template(engine: Engine, practice_id: int, kind: str, body: str) -> None:
    """Validate, then store the practice's template (replacing any earlier one)."""
    if kind not in KINDS:
        raise LetterError(f"kind: '{kind}' is not one of {', '.join(KINDS)}")
    check_template(body)
    t = db.letter_template
    with engine.begin() as conn:
        updated = conn.execute(
            t.update()
            .where(t.c.practice_id == practice_id, t.c.kind == kind)
            .values(body=body, updated_at=db.utcnow())
        ).rowcount
        if not updated:
            conn.execute(
                t.insert().values(
                    practice_id=practice_id, kind=kind, body=body, updated_at=db.utcnow()
                )
            )


def reset_template(engine: Engine, practice_id: int, kind: str) -> None:
    """Go back to the built-in default."""
    t = db.letter_template
    with engine.begin() as conn:
        conn.execute(t.delete().where(t.c.practice_id == practice_id, t.c.kind == kind))


def log_letters(
    engine: Engine,
    practice_id: int,
    kind: str,
    partner_ids: Sequence[int],
    day: date,
    staff: str | None,
    today: date | None = None,
) -> int:
    """Log one activity per letter sent (kind "letter" or "thank_you"), all in one transaction;
    return how many were logged."""
    if kind not in KINDS:
        raise LetterError(f"kind: '{kind}' is not one of {', '.join(KINDS)}")
    if not partner_ids:
        raise LetterError("partner: choose at least one partner")
    with engine.begin() as conn:
        for pid in partner_ids:
            log_activity(
                conn,
                practice_id,
                ACTIVITY_KIND[kind],
                day,
                partner_id=int(pid),
                staff=staff,
                notes=f"{KIND_LABELS[kind]} letter sent.",
                today=today,
            )
    return len(partner_ids)
