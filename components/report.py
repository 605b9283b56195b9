"""The offline Progress report: one HTML file with interactive charts, and each chart's CSV.

The report is meant to be emailed or opened on a meeting-room laptop with no network, so
plotly.js is embedded once (`include_plotlyjs=True` on the first chart) and nothing is fetched:
no CDN script, no web font, no image. Every piece of text that came from the database (practice
and partner names) is HTML-escaped; chart labels are escaped by plotly.js itself.
"""

from __future__ import annotations

import html
import io
import zipfile
from collections.abc import Sequence
from datetime import date, datetime

import pandas as pd

from components.charts import Chart
from services import playbook
from services.exports import to_csv_bytes

_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 24px auto;
       max-width: 1200px; color: #0f172a; padding: 0 16px; }
h1 { margin-bottom: 0; } .sub { color: #475569; margin-top: 4px; }
.headline { font-size: 1.5rem; font-weight: 600; background: #f1f5f9; padding: 12px 16px;
            border-radius: 8px; }
.kpis { display: grid; grid-template-columns: repeat(auto-fit, minmax(170px, 1fr)); gap: 12px; }
.kpi { border: 1px solid #e2e8f0; border-radius: 8px; padding: 10px 14px; }
.kpi .v { font-size: 2rem; font-weight: 700; } .kpi .l { color: #475569; font-size: .9rem; }
.up { color: #15803d; } .down { color: #b91c1c; } .flat { color: #64748b; }
.chart { margin: 28px 0; } table { border-collapse: collapse; font-size: .85rem; }
td, th { border: 1px solid #e2e8f0; padding: 3px 8px; text-align: right; }
th { background: #f8fafc; } td:first-child, th:first-child { text-align: left; }
.context li { margin: 4px 0; } .src { color: #64748b; font-size: .85rem; }
footer { color: #64748b; font-size: .8rem; margin-top: 40px; }
"""


def _delta_html(delta: int) -> str:
    if delta > 0:
        return f'<span class="up">▲ +{delta}</span>'
    if delta < 0:
        return f'<span class="down">▼ −{-delta}</span>'
    return '<span class="flat">no change</span>'


def _table(df: pd.DataFrame) -> str:
    return df.to_html(index=False, escape=True, border=0, na_rep="", float_format="{:.2f}".format)


def money(value: float | None) -> str:
    return "—" if value is None else f"${value:,.0f}"


def build_report_html(
    *,
    scope: str,
    first: date,
    last: date,
    headline: str,
    kpis: Sequence[playbook.Kpi],
    charts: Sequence[Chart],
    roi: playbook.Roi,
    locations: pd.DataFrame | None = None,
    generated: datetime | None = None,
) -> str:
    """The whole report as one HTML document (about 5 MB: plotly.js is inside)."""
    generated = generated or datetime.now()
    esc = html.escape
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>Referral Atlas — Progress — {esc(scope)}</title><style>{_CSS}</style></head>",
        "<body>",
        f"<h1>Progress report — {esc(scope)}</h1>",
        f"<p class='sub'>{playbook.day_text(first, year=True)} to "
        f"{playbook.day_text(last, year=True)} · generated "
        f"{generated:%Y-%m-%d %H:%M} by Referral Atlas</p>",
        f"<p class='headline' id='headline'>{esc(headline)}</p>",
        "<h2>Key figures <span class='src'>(change against 30 days earlier)</span></h2>",
        "<div class='kpis'>",
    ]
    for k in kpis:
        parts.append(
            f"<div class='kpi'><div class='l'>{esc(k.label)}</div><div class='v'>{k.value}</div>"
            f"<div>{_delta_html(k.delta)}</div></div>"
        )
    parts.append("</div>")
    if locations is not None and len(locations) > 1:
        parts += ["<h2>Locations</h2>", _table(locations)]
    for i, chart in enumerate(charts):
        div = chart.figure.to_html(
            full_html=False,
            include_plotlyjs=(i == 0),  # embedded once; the file opens with no network
            div_id=f"chart-{chart.key}",
            config={"displaylogo": False, "responsive": True},
        )
        parts += [
            f"<section class='chart' id='section-{chart.key}'>",
            div,
            f"<details><summary>The numbers behind “{esc(chart.title)}”</summary>",
            _table(chart.numbers),
            "</details></section>",
        ]
    parts += [
        "<h2>Return on referrals</h2>",
        "<div class='kpis'>",
        f"<div class='kpi'><div class='l'>Referred patients</div>"
        f"<div class='v'>{roi.referred_patients}</div></div>",
        f"<div class='kpi'><div class='l'>Patient visits</div>"
        f"<div class='v'>{roi.visits}</div></div>",
        f"<div class='kpi'><div class='l'>Estimated revenue</div>"
        f"<div class='v'>{money(roi.revenue)}</div></div>",
        "</div>",
    ]
    if roi.missing_rate:
        parts.append(
            "<p class='src'>No revenue per patient visit is set for: "
            f"{esc(', '.join(roi.missing_rate))}; their visits are not priced.</p>"
        )
    parts.append("<h3>Context from the playbook</h3><ul class='context'>")
    for text, source in playbook.CONTEXT_FIGURES:
        shown = esc(playbook.context_source(source))
        parts.append(f"<li>{esc(text)} <span class='src'>— {shown}</span></li>")
    parts += [
        "</ul>",
        "<footer>No patient identifiers are stored in Referral Atlas or shown in this report."
        "</footer></body></html>",
    ]
    return "\n".join(parts)


def chart_csv(chart: Chart) -> bytes:
    """The numbers one chart draws, as spreadsheet-safe CSV."""
    return to_csv_bytes(chart.numbers)


def charts_csv_zip(charts: Sequence[Chart]) -> bytes:
    """All charts' CSVs in one zip, one file per chart."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for chart in charts:
            zf.writestr(f"{chart.key}.csv", chart_csv(chart))
    return buf.getvalue()
