"""The Progress figures and the offline report, read from their specs (no browser)."""

from __future__ import annotations

import io
import re
import zipfile
from datetime import timedelta

import pandas as pd
import pytest

from components import charts, playbook_charts, referral_charts, report
from services import playbook as pb
from services.progress_data import build_progress_data
from tests.test_playbook import ACTIVITIES, HISTORY, PARTNERS, REFERRALS, d, practice


@pytest.fixture
def data():
    return build_progress_data([practice()], PARTNERS, HISTORY, REFERRALS, ACTIVITIES)


def _traces(fig, kind=None):
    return [t for t in fig.data if kind is None or t.type == kind]


def test_growth_chart_has_a_band_and_a_target_box_per_phase(data):
    series = pb.weekly_series(data, d(60))
    fig = playbook_charts.growth_chart(series, d(0), d(60))
    bands = [s for s in fig.layout.shapes if (s.name or "").startswith("phase:")]
    assert [s.name for s in bands] == [f"phase:{p.key}" for p in pb.PHASES]
    # bands span their days in weeks: Research days 0–13 is weeks 0–2, Maturity ends at 366/7
    assert (bands[0].x0, bands[0].x1) == (0, 2)
    assert (bands[2].x0, bands[2].x1) == (6, 13)
    assert bands[4].x1 == pytest.approx(366 / 7)
    boxes = [t for t in fig.data if t.meta and "phase" in t.meta]
    assert [(b.meta["low"], b.meta["high"]) for b in boxes] == [
        (15, 20), (5, 10), (3, 5), (10, 15), (15, 25)
    ]  # fmt: skip
    assert min(boxes[1].y) == 5 and max(boxes[1].y) == 10
    labels = [a.text for a in fig.layout.annotations if (a.name or "").startswith("phase:")]
    assert labels[2] == "<b>Activation</b> 3–5 active"


def test_growth_chart_actual_lines_and_today_marker(data):
    series = pb.weekly_series(data, d(60))
    fig = playbook_charts.growth_chart(series, d(0), d(60))
    lines = {t.meta["metric"]: t for t in fig.data if t.meta and "metric" in t.meta
             and "phase" not in t.meta}  # fmt: skip
    assert set(lines) == {"targets", "connections", "active"}
    assert list(lines["targets"].x) == list(range(53))
    assert list(lines["targets"].y[:3]) == [1, 3, 5]  # d0: P1; d7: +P2, P5; d14: +P3, P4
    assert lines["active"].y[8] == 1 and lines["active"].y[9] is None  # d56 known; d63 future
    today = [s for s in fig.layout.shapes if s.name == "today"]
    assert len(today) == 1 and today[0].x0 == pytest.approx(60 / 7)
    assert [a.text for a in fig.layout.annotations if a.name == "today"] == ["today"]


def test_growth_chart_scales_targets_with_locations_and_skips_a_future_today():
    series = pb.weekly_series(
        build_progress_data([practice(start=d(30))], PARTNERS.iloc[0:0], HISTORY.iloc[0:0],
                            REFERRALS.iloc[0:0], ACTIVITIES.iloc[0:0]),
        d(0),
    )  # fmt: skip
    fig = playbook_charts.growth_chart(series, d(30), d(0), locations=3, big=True)
    assert not [s for s in fig.layout.shapes if s.name == "today"]
    lows = [t.meta["low"] for t in fig.data if t.meta and "phase" in t.meta]
    assert lows == [45, 15, 9, 30, 45]
    assert "all 3 locations" in fig.layout.title.text
    assert fig.layout.font.size == 20  # projector type


def test_referrals_by_month_chart_splits_received_and_sent(data):
    fig = referral_charts.referrals_by_month_chart(pb.referrals_by_month(data, d(0), d(200)))
    received = [t for t in fig.data if t.meta["direction"] == "received"]
    sent = [t for t in fig.data if t.meta["direction"] == "sent"]
    assert {t.meta["group"] for t in received} == {"ortho", "sports", "unknown"}
    assert all(t.yaxis == "y2" for t in sent) and all(t.yaxis == "y" for t in received)
    sports = next(t for t in received if t.meta["group"] == "sports")
    assert list(sports.y) == [1, 0, 1]  # Feb, Mar, Apr
    assert sports.name == "Sports medicine"
    assert fig.layout.barmode == "stack"


def test_funnel_visits_top_and_leakage_charts(data):
    funnel = referral_charts.funnel_chart(pb.conversion_funnel(data, d(0), d(200)))
    assert funnel.data[0].type == "funnel" and list(funnel.data[0].x) == [4, 3, 2, 2, 1]

    visits = playbook_charts.visits_chart(pb.outreach_visits_by_week(data, d(14), d(27)))
    bars = _traces(visits, "bar")[0]
    assert list(bars.y) == [2, 1]
    assert list(bars.marker.color) == ["#16A34A", "#DC2626"]  # in the band, below it
    band = [t for t in _traces(visits, "scatter") if t.fill == "tonexty"]
    assert band and band[0].name == "Playbook: 2–3 a week"

    top = referral_charts.top_partners_chart(pb.top_partners(data, d(250)))
    last6 = next(t for t in top.data if t.name.startswith("Last 6 months"))
    assert list(last6.y) == ["1000000006", "Bob Sports", "Alice Ortho"]  # bottom to top
    assert list(last6.text) == ["1  ▲ +1", "2  no change", "2  no change"]  # no arrow for 0

    leak = referral_charts.leakage_chart(pb.leakage_by_partner(data, d(0), d(200)))
    bars = _traces(leak, "bar")
    assert [b.name for b in bars] == ["Went elsewhere"] and list(bars[0].x) == [1]
    assert "1 of 2 lost, 50% went elsewhere" in _traces(leak, "scatter")[0].text[0]


def test_empty_charts_say_so():
    for fig in (
        referral_charts.referrals_by_month_chart(
            pd.DataFrame(columns=["month", "direction", "group"])
        ),
        referral_charts.top_partners_chart(pd.DataFrame()),
        referral_charts.leakage_chart(pd.DataFrame()),
        playbook_charts.visits_chart(pd.DataFrame()),
    ):
        assert not fig.data
        assert fig.layout.annotations[0].text.startswith("No ")


def test_progress_charts_in_order_with_their_numbers(data):
    got = charts.progress_charts(data, d(0), d(100))
    assert [c.key for c in got] == ["growth", "referrals_by_month", "funnel", "visits",
                                    "top_partners", "leakage"]  # fmt: skip
    assert got[0].numbers.equals(pb.weekly_series(data, d(100)))
    assert got[2].numbers["referrals"].tolist() == [4, 3, 2, 2, 1]


def test_report_is_self_contained_and_escapes_names(data):
    evil = build_progress_data(
        [practice()],
        PARTNERS.assign(name=PARTNERS["name"].where(PARTNERS["npi"] != "1000000003",
                                                    "<script>alert(1)</script>")),
        HISTORY, REFERRALS, ACTIVITIES,
    )  # fmt: skip
    got = charts.progress_charts(evil, d(0), d(100))
    html = report.build_report_html(
        scope="<b>Location</b> 1",
        first=d(0),
        last=d(100),
        headline=pb.headline(evil, d(100)),
        kpis=pb.kpis(evil, d(100)),
        charts=got,
        roi=pb.roi(evil, d(0), d(100)),
    )
    assert html.count("<script") >= len(got)  # plotly.js and one script per chart
    assert "<script>alert(1)</script>" not in html.replace("\\u003cscript", "")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html  # the numbers table
    assert "&lt;b&gt;Location&lt;/b&gt; 1" in html
    # plotly.js is inside, and nothing is loaded from the network
    assert "Plotly" in html and len(html) > 3_000_000
    # no tag loads anything from elsewhere (plotly.js names a topojson URL only geo maps use)
    assert not re.findall(
        r"<(?:script|link|img|iframe)[^>]*?(?:src|href)\s*=\s*[\"']?https?:", html
    )
    assert all(f'id="chart-{c.key}"' in html for c in got)
    assert "source: Accenture Health" in html and "source: MGMA" in html
    assert "the playbook&#x27;s own statement" in html and "source not named" not in html
    assert "no change" in html and "► no change" not in html
    assert "$1,400" in html  # ROI: (10 + 4 visits) × $100


def test_chart_csvs_are_spreadsheet_safe(data):
    hostile = build_progress_data(
        [practice()],
        PARTNERS.assign(name="=HYPERLINK(\"http://x\")"),
        HISTORY, REFERRALS, ACTIVITIES,
    )  # fmt: skip
    got = charts.progress_charts(hostile, d(0), d(250))
    top = next(c for c in got if c.key == "top_partners")
    text = report.chart_csv(top).decode("utf-8-sig")
    assert text.splitlines()[0].startswith("npi,name,group,referrals")
    assert "'=HYPERLINK" in text and "\n1000000001,=HYP" not in text
    with zipfile.ZipFile(io.BytesIO(report.charts_csv_zip(got))) as zf:
        assert sorted(zf.namelist()) == sorted(f"{c.key}.csv" for c in got)
        funnel = zf.read("funnel.csv").decode("utf-8-sig")
    assert funnel.splitlines()[1].startswith("Received,4,")


def test_no_chart_has_a_time_of_day_axis_and_empty_ones_say_what_will_appear(data):
    visits = playbook_charts.visits_chart(pb.outreach_visits_by_week(data, d(14), d(20)))
    assert visits.layout.xaxis.type == "category"
    assert list(_traces(visits, "bar")[0].x) == [
        pb.day_text(d(14) - timedelta(days=d(14).weekday()))
    ]
    months = referral_charts.referrals_by_month_chart(pb.referrals_by_month(data, d(0), d(200)))
    assert months.layout.xaxis2.type == "category"
    first_month = next(iter(months.data[0].x))
    assert first_month.endswith("2026") and ":" not in first_month
    none = pb.outreach_visits_by_week(
        build_progress_data([practice()], PARTNERS, HISTORY, REFERRALS, ACTIVITIES.iloc[0:0]),
        d(0), d(13),
    )  # fmt: skip
    empty_visits = playbook_charts.visits_chart(none)
    assert "No outreach visits logged yet" in empty_visits.layout.annotations[0].text
    for fig in (
        referral_charts.referrals_by_month_chart(
            pd.DataFrame(columns=["month", "direction", "group"])
        ),
        referral_charts.top_partners_chart(pd.DataFrame()),
        referral_charts.leakage_chart(pd.DataFrame()),
        referral_charts.funnel_chart(pd.DataFrame()),
    ):
        assert "appear here" in fig.layout.annotations[0].text or "fills in" in (
            fig.layout.annotations[0].text
        )
