"""The one definition of each number, and the who-went-quiet rule at its edges."""

from __future__ import annotations

import math
from datetime import date, timedelta

import pandas as pd
import pytest

from services import metrics as m
from services import quiet

TODAY = date(2026, 6, 30)


def _refs(rows: list[tuple]) -> pd.DataFrame:
    return pd.DataFrame(
        rows,
        columns=["npi", "name", "direction", "referral_date", "status", "lost_reason", "visits"],
    )


def test_funnel_counts_a_no_show_as_scheduled_and_other_losses_as_received_only():
    r = _refs([
        ("1", "A", "received", TODAY, "lost", "no_show", 0),
        ("1", "A", "received", TODAY, "lost", "declined", 0),
        ("1", "A", "received", TODAY, "lost", "went_elsewhere", 0),
        ("2", "B", "received", TODAY, "scheduled", None, 0),
        ("2", "B", "received", TODAY, "evaluated", None, 3),
        ("2", "B", "received", TODAY, "in_care", None, 5),
        ("2", "B", "received", TODAY, "discharged", None, 8),
        ("2", "B", "sent", TODAY, "discharged", None, 9),
    ])  # fmt: skip
    assert m.funnel_counts(r) == {
        "received": 7, "scheduled": 5, "evaluated": 3, "in_care": 2, "discharged": 1
    }  # fmt: skip
    assert m.conversion_rate(r) == pytest.approx(3 / 7)
    assert m.lost_count(r) == 3
    assert m.leakage(r) == (1, pytest.approx(1 / 7))
    assert m.patient_visits(r) == 16  # the sent referral's visits are the other provider's


def test_empty_rates_are_nan_not_zero():
    r = _refs([])
    assert math.isnan(m.conversion_rate(r))
    assert m.leakage(r)[0] == 0 and math.isnan(m.leakage(r)[1])


def test_in_period_is_inclusive_and_reads_dates_and_text():
    r = _refs([
        ("1", "A", "received", date(2026, 1, 1), "received", None, 0),
        ("1", "A", "received", "2026-01-31", "received", None, 0),
        ("1", "A", "received", date(2026, 2, 1), "received", None, 0),
    ])  # fmt: skip
    assert len(m.in_period(r, date(2026, 1, 1), date(2026, 1, 31))) == 2


def test_active_partner_window_edges():
    assert m.is_active(TODAY - timedelta(days=89), TODAY)
    assert not m.is_active(TODAY - timedelta(days=90), TODAY)
    assert not m.is_active(TODAY + timedelta(days=1), TODAY)
    assert m.active_window(TODAY) == (TODAY - timedelta(days=89), TODAY)


def test_outreach_visits_are_visits_and_lunches_only():
    a = pd.DataFrame({"kind": ["visit", "lunch", "letter", "intro_email", "thank_you"]})
    assert m.outreach_visits(a)["kind"].tolist() == ["visit", "lunch"]


@pytest.mark.parametrize(
    ("share", "label"),
    [(1.0, "loyalist"), (0.5, "loyalist"), (0.4999, "splitter"), (0.01, "splitter"),
     (0.0, "opportunity"), (None, "opportunity"), (math.nan, "opportunity")],
)  # fmt: skip
def test_loyalty_label_edges(share, label):
    assert m.loyalty_label(share) == label


def test_loyalty_table_counts_went_elsewhere_against_received():
    r = _refs([
        ("1", "A", "received", TODAY, "evaluated", None, 0),
        ("1", "A", "received", TODAY, "lost", "went_elsewhere", 0),
        ("2", "B", "received", TODAY, "lost", "went_elsewhere", 0),
        ("3", "C", "received", TODAY, "lost", "went_elsewhere", 0),
        ("3", "C", "received", TODAY, "lost", "went_elsewhere", 0),
        ("3", "C", "received", TODAY, "lost", "no_show", 0),
        ("4", "D", "sent", TODAY, "evaluated", None, 0),
    ])  # fmt: skip
    t = m.loyalty_table(r).set_index("name")
    assert t.loc["A", "label"] == "loyalist" and t.loc["A", "kept_share"] == 0.5
    assert t.loc["B", "label"] == "opportunity"
    assert t.loc["C", "label"] == "splitter" and t.loc["C", "kept_share"] == pytest.approx(1 / 3)
    assert "D" not in t.index  # a partner we only sent to is not a sender


def test_every_metric_has_a_definition():
    keys = ("received", "scheduled", "evaluated", "conversion", "leakage", "active",
            "outreach_visits", "patient_visits", "follow_up_owed", "quiet", "loyalty")  # fmt: skip
    for key in keys:
        assert len(m.DEFINITIONS[key]) > 30


# --- who went quiet ---------------------------------------------------------------------------


def _steady(npi: str, per_month: int, first: date, last: date) -> list[tuple]:
    """`per_month` received referrals every 30 days from `first` to `last`."""
    rows, day, step = [], first, 30 / per_month
    i = 0
    while day <= last:
        rows.append((npi, f"Dr {npi}", "received", day, "received", None, 0))
        i += 1
        day = first + timedelta(days=int(i * step))
    return rows


def test_a_partner_who_sent_three_a_month_and_none_in_45_days_went_quiet():
    (b_first, b_last), _ = quiet.windows(TODAY)
    r = _refs(_steady("1", 3, b_first, b_last))
    out = quiet.went_quiet(r, TODAY)
    assert out["npi"].tolist() == ["1"]
    assert out.loc[0, "last_referral"] == r["referral_date"].max()
    assert out.loc[0, "recent"] == 0 and out.loc[0, "usual_per_month"] >= 3


def test_a_steady_partner_is_not_quiet():
    (b_first, _), _ = quiet.windows(TODAY)
    assert quiet.went_quiet(_refs(_steady("1", 3, b_first, TODAY)), TODAY).empty


def test_one_referral_in_45_days_after_three_a_month_is_still_well_below():
    (b_first, b_last), (r_first, _) = quiet.windows(TODAY)
    rows = [*_steady("1", 3, b_first, b_last), ("1", "x", "received", r_first, "received", None, 0)]
    assert quiet.went_quiet(_refs(rows), TODAY)["npi"].tolist() == ["1"]
    rows.append(("1", "x", "received", TODAY, "received", None, 0))  # two of 4.5 expected
    assert quiet.went_quiet(_refs(rows), TODAY).empty


def test_rate_edges_one_a_month_counts_and_fewer_does_not():
    assert quiet.is_quiet(1.0, 0)
    assert not quiet.is_quiet(1.0, 1)  # 1 of 1.5 expected is not "well below"
    assert not quiet.is_quiet(5 / 6, 0)  # five in six months: too rare to judge in 45 days
    assert quiet.is_quiet(3.0, 1) and not quiet.is_quiet(3.0, 2)


def test_referrals_we_sent_and_future_ones_do_not_count():
    (b_first, b_last), _ = quiet.windows(TODAY)
    rows = _steady("1", 3, b_first, b_last)
    rows += [("1", "x", "sent", TODAY, "received", None, 0)]
    rows += [("1", "x", "received", TODAY + timedelta(days=1), "received", None, 0)]
    assert quiet.went_quiet(_refs(rows), TODAY)["npi"].tolist() == ["1"]


def test_windows_are_45_and_180_days_back_to_back():
    (b_first, b_last), (r_first, r_last) = quiet.windows(TODAY)
    assert (r_last - r_first).days + 1 == 45 and r_last == TODAY
    assert (b_last - b_first).days + 1 == 180 and b_last + timedelta(days=1) == r_first
