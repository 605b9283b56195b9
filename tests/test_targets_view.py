"""The Targets page's pure parts: labels, the table's order, names on buttons, and how a
selection follows its records when the rows change."""

from __future__ import annotations

import pandas as pd
import sqlalchemy as sa

from components.selection import carry_selection
from services import db, partners
from services.targets_view import names_phrase, partner_labels, pipeline_view, targets_export
from tests.conftest import TODAY


def test_a_selection_follows_its_records_to_their_new_rows():
    before = [10, 11, 12, 13]
    assert carry_selection(before, [1, 3], [13, 12, 11, 10]) == [0, 2]  # re-sorted
    assert carry_selection(before, [1, 3], [12, 13]) == [1]  # 11 filtered out
    assert carry_selection(before, [1], [99, 10, 11]) == [2]  # new data ahead of it
    assert carry_selection(before, [7], before) == []  # a stale position picks nobody
    assert carry_selection(before, [], [10, 11]) == []


def test_names_on_a_button_are_exact_about_how_many():
    assert names_phrase([]) == ""
    assert names_phrase(["Dr A"]) == "Dr A"
    assert names_phrase(["Dr A", "Dr B", "Dr C"]) == "Dr A, Dr B, Dr C"
    assert names_phrase(["Dr A", "Dr B", "Dr C", "Dr D", "Dr E"]) == "Dr A, Dr B, Dr C and 2 more"


def test_the_pipeline_table_is_grouped_by_stage_then_priority(demo_engine):
    with demo_engine.connect() as conn:
        practice_id = conn.execute(sa.select(db.practice.c.id)).scalar()
    df = partners.list_partners(demo_engine, practice_id, TODAY)
    view = pipeline_view(df)
    order = ["Target", "Contacted", "Connected", "Formal", "Dropped"]
    assert list(dict.fromkeys(view["stage"])) == order
    for _, group in view.groupby("stage", sort=False):
        ranks = group["priority"].map(lambda p: p[:1] if p else "9")
        assert list(ranks) == sorted(ranks)
    assert set(view["partner_id"]) == set(df["partner_id"])
    labels = partner_labels(df)
    assert len(labels) == len(df) and all(" · " in v for v in labels.values())
    export = targets_export(df)
    assert "partner_id" not in export.columns and list(export.columns)[:3] == [
        "NPI", "Stage", "Name"]  # fmt: skip
    assert set(export["Active"]) <= {"yes", ""}
    assert isinstance(export, pd.DataFrame) and len(export) == len(df)


def test_the_pipeline_table_shows_blanks_not_none_and_reads_like_a_list(demo_engine):
    with demo_engine.connect() as conn:
        practice_id = conn.execute(sa.select(db.practice.c.id)).scalar()
    df = partners.list_partners(demo_engine, practice_id, TODAY)
    df.loc[df.index[0], ["owner", "notes", "city", "phone"]] = None
    df.loc[df.index[1], ["city", "phone"]] = ["DENVER", "3035550100"]
    df["last_referral"] = df["last_referral"].astype(object)
    df.loc[df.index[0], "last_referral"] = None
    view = pipeline_view(df).set_index("partner_id")
    text_columns = ["owner", "last_referral", "city", "phone", "added", "notes"]
    for column in text_columns:
        assert view[column].map(lambda v: isinstance(v, str)).all(), column
    first, second = df["partner_id"].iloc[0], df["partner_id"].iloc[1]
    assert list(view.loc[first, ["owner", "notes", "city", "phone", "last_referral"]]) == [""] * 5
    assert view.loc[second, "city"] == "Denver"
    assert view.loc[second, "phone"] == "(303) 555-0100"
    assert all(len(d) == 10 and d[4] == "-" for d in view["added"])
