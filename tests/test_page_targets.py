"""AppTest: the Targets page lists the practice's targets and removes them."""

from __future__ import annotations

import sqlalchemy as sa

from components.session import get_engine
from services import db


def test_targets_page_lists_and_removes_targets(app_test):
    at = app_test().run()
    at.switch_page("pages/targets.py").run()
    assert not at.exception, at.exception
    assert [t.value for t in at.title] == ["Targets"]
    table = at.dataframe[0].value
    assert len(table) == 26  # the demo practice's partners
    practice_id = at.session_state["practice_id"]

    first_id = int(table.iloc[0]["partner_id"])
    at.session_state["targets_table"] = {"selection": {"rows": [0], "columns": [], "cells": []}}
    at.run()
    at.button(key="remove_selected").click().run()
    assert not at.exception, at.exception
    with get_engine().connect() as conn:
        ids = {r[0] for r in conn.execute(sa.select(db.partner.c.id).where(
            db.partner.c.practice_id == practice_id))}  # fmt: skip
        referrals = conn.execute(sa.select(sa.func.count()).select_from(db.referral)).scalar()
    assert first_id not in ids
    assert len(ids) == 25
    assert referrals > 0  # the referral log is untouched
    assert len(at.dataframe[0].value) == 25
