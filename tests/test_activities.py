from __future__ import annotations

from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from services import db
from services.activities import ActivityError, log_activity
from tests.conftest import TODAY


def test_logs_an_activity_and_refuses_a_future_date(demo_engine):
    with demo_engine.connect() as conn:
        practice_id = conn.execute(sa.select(db.practice.c.id)).scalar()
    new_id = log_activity(demo_engine, practice_id, "visit", TODAY, staff=" Alex ", today=TODAY)
    with demo_engine.connect() as conn:
        row = conn.execute(sa.select(db.activity).where(db.activity.c.id == new_id)).one()
    assert row.kind == "visit" and row.staff == "Alex" and row.partner_id is None
    with pytest.raises(ActivityError, match="in the future"):
        log_activity(demo_engine, practice_id, "visit", TODAY + timedelta(days=1), today=TODAY)
    with pytest.raises(ActivityError, match="kind"):
        log_activity(demo_engine, practice_id, "party", TODAY, today=TODAY)
    with pytest.raises(ActivityError, match="follow-up"):
        log_activity(
            demo_engine, practice_id, "call", TODAY, follow_up_due=date(2020, 1, 1), today=TODAY
        )
