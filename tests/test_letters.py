"""Letters: templates with placeholders, rendering, downloads, storage and logging."""

from __future__ import annotations

import io
from datetime import date

import pytest
import sqlalchemy as sa
from docx import Document

from services import db, letters
from services.activities import ActivityError
from services.letters import LetterError, Recipient

DAY = date(2026, 11, 27)
ORTHO = Recipient(7, "Jane Doe, MD", "Orthopaedic Surgery")


def test_defaults_use_only_known_placeholders_and_render():
    for kind in letters.KINDS:
        template = letters.DEFAULT_TEMPLATES[kind]
        letters.check_template(template)
        assert set(letters.template_fields(template)) == set(letters.PLACEHOLDERS)
        [letter] = letters.render_letters(template, [ORTHO], "Cherry Creek PT", "Alex", DAY)
        assert "Dear Jane Doe, MD," in letter.text and "Cherry Creek PT" in letter.text
        assert "November 27, 2026" in letter.text and "{" not in letter.text


def test_an_unknown_placeholder_is_reported_by_name():
    with pytest.raises(LetterError, match=r"unknown placeholder \{prcatice\}"):
        letters.check_template("Dear {partner}, from {prcatice}")
    with pytest.raises(LetterError, match=r"unknown placeholders \{a\}, \{b\}"):
        letters.render("{a} {partner} {b} {a}", {"partner": "X"})


def test_a_missing_value_is_named_and_nothing_half_renders():
    with pytest.raises(LetterError, match=r"missing value for \{staff\}"):
        letters.render("Dear {partner}, {staff}", {"partner": "Dr X", "staff": "  "})
    batch = [ORTHO, Recipient(8, "Org Clinic", "")]
    with pytest.raises(LetterError, match=r"Org Clinic: missing value for \{specialty\}"):
        letters.render_letters("{partner} {specialty}", batch, "PT", "Alex", DAY)
    with pytest.raises(LetterError, match="choose at least one"):
        letters.render_letters("{partner}", [], "PT", "Alex", DAY)


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("Dear {partner", "brace"),
        ("Dear {partner.__class__}", "not a placeholder"),
        ("Dear {0}", "not a placeholder"),
        ("Dear {}", "not a placeholder"),
        ("Dear {partner!r}", "without"),
        ("Dear {partner:>40}", "without"),
        ("   ", "empty"),
    ],
)
def test_malformed_templates_are_refused_with_a_message(template, message):
    with pytest.raises(LetterError, match=message):
        letters.check_template(template)


def test_literal_braces_and_untrusted_values_are_left_alone():
    text = letters.render("{{not a field}} {partner}", {"partner": "{staff} <b>Dr</b> =SUM(1)"})
    assert text == "{not a field} {staff} <b>Dr</b> =SUM(1)"


def test_downloads_docx_one_letter_per_page_and_plain_text():
    batch = letters.render_letters(
        letters.DEFAULT_TEMPLATES["thank_you"],
        [ORTHO, Recipient(8, "Sam Roe, DPM", "Podiatry")],
        "Cherry Creek PT",
        "Alex",
        DAY,
    )
    doc = Document(io.BytesIO(letters.to_docx(batch)))
    body = "\n".join(p.text for p in doc.paragraphs)
    assert "Dear Jane Doe, MD," in body and "Dear Sam Roe, DPM," in body
    assert body.index("Jane Doe") < body.index("Sam Roe")
    assert doc.element.body.xml.count('w:type="page"') == 1  # a page break between the two
    text = letters.to_text(batch).decode("utf-8")
    assert text.count("\f") == 1 and "Dear Sam Roe, DPM," in text.split("\f")[1]


def _practice(engine) -> int:
    with engine.begin() as conn:
        return conn.execute(
            db.practice.insert().values(name="PT", is_demo=False)
        ).inserted_primary_key[0]


def test_templates_are_saved_per_practice_and_reset_to_the_default(engine):
    a, b = _practice(engine), _practice(engine)
    assert letters.get_template(engine, a, "intro") == letters.DEFAULT_TEMPLATES["intro"]
    letters.save_template(engine, a, "intro", "Hello {partner} from {practice}")
    letters.save_template(engine, a, "intro", "Hi {partner}")  # replaces, does not duplicate
    assert letters.get_template(engine, a, "intro") == "Hi {partner}"
    assert letters.is_customised(engine, a, "intro")
    assert letters.get_template(engine, b, "intro") == letters.DEFAULT_TEMPLATES["intro"]
    with pytest.raises(LetterError, match=r"\{doctor\}"):
        letters.save_template(engine, a, "intro", "Hi {doctor}")
    assert letters.get_template(engine, a, "intro") == "Hi {partner}"  # the bad one not saved
    letters.reset_template(engine, a, "intro")
    assert letters.get_template(engine, a, "intro") == letters.DEFAULT_TEMPLATES["intro"]
    assert not letters.is_customised(engine, a, "intro")
    with pytest.raises(LetterError, match="kind"):
        letters.get_template(engine, a, "ransom")


def test_logging_letters_writes_one_activity_each_or_none(demo_engine):
    with demo_engine.connect() as conn:
        pid = conn.execute(sa.select(db.practice.c.id)).scalar()
        partner_ids = [r[0] for r in conn.execute(sa.select(db.partner.c.id).limit(2))]
        before = conn.execute(sa.select(sa.func.count()).select_from(db.activity)).scalar()
    assert letters.log_letters(demo_engine, pid, "intro", partner_ids, DAY, "Alex", today=DAY) == 2
    with pytest.raises(ActivityError, match="future"):
        letters.log_letters(demo_engine, pid, "thank_you", partner_ids, date(2026, 12, 1),
                            "Alex", today=DAY)  # fmt: skip
    with demo_engine.connect() as conn:
        rows = conn.execute(
            sa.select(db.activity.c.kind, db.activity.c.partner_id).where(
                db.activity.c.id > 0).order_by(db.activity.c.id.desc()).limit(2)).all()  # fmt: skip
        after = conn.execute(sa.select(sa.func.count()).select_from(db.activity)).scalar()
    assert after == before + 2  # the refused batch wrote nothing
    assert {r.kind for r in rows} == {"letter"} and {r.partner_id for r in rows} == set(partner_ids)
