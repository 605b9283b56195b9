"""The Progress page's charts on screen and to take away: each chart with its numbers as CSV,
the grid they sit in, and the export of the whole report and of all chart numbers.

Kept apart from the metric cards and the partner lists: this is the one place a Progress chart
is put on screen (`plot`, which staff-meeting mode uses too), so the page, the slides and the
exported report show the same figure with the same settings.
"""

from __future__ import annotations

from datetime import date

import streamlit as st

from components import report


def plot(chart, key: str, height: int | str = "content") -> None:  # type: ignore[no-untyped-def]
    st.plotly_chart(
        chart.figure,
        width="stretch",
        height=height,
        theme=None,  # the same look as the exported report
        key=key,
        config={"displaylogo": False, "displayModeBar": False} if height != "content" else
        {"displaylogo": False},
    )  # fmt: skip


def _with_csv(chart, last: date) -> None:  # type: ignore[no-untyped-def]
    plot(chart, f"chart_{chart.key}")
    st.download_button(
        f"CSV: {chart.title.lower()}",
        data=report.chart_csv(chart),
        file_name=f"progress_{chart.key}_{last:%Y%m%d}.csv",
        mime="text/csv",
        key=f"csv_{chart.key}",
        on_click="ignore",
        icon=":material/download:",
        type="tertiary",
    )


def chart_grid(charts: list, last: date) -> None:
    """The growth chart full width, the rest two by two, each with its numbers as CSV so a
    figure can be checked or reused outside the app."""
    _with_csv(charts[0], last)
    for row_start in range(1, len(charts), 2):
        for col, chart in zip(st.columns(2), charts[row_start : row_start + 2], strict=False):
            with col:
                _with_csv(chart, last)


def export_buttons(view: dict, scope_name: str, first: date, last: date) -> None:
    """The report and the chart numbers, each built only when its button is clicked."""
    st.subheader("Export")
    charts = view["charts"]

    def _report_html() -> bytes:
        return report.build_report_html(
            scope=scope_name,
            first=first,
            last=last,
            headline=view["headline"],
            kpis=view["kpis"],
            charts=charts,
            roi=view["roi"],
            locations=view["locations"],
        ).encode("utf-8")

    ex1, ex2 = st.columns(2)
    ex1.download_button(
        "Download report (HTML)",
        data=_report_html,  # built on click only: it carries plotly.js (about 5 MB)
        file_name=f"progress_report_{last:%Y%m%d}.html",
        mime="text/html",
        key="download_report",
        on_click="ignore",
        icon=":material/description:",
        help="One file with interactive charts that opens with no network.",
    )
    ex2.download_button(
        "Download all chart numbers (ZIP of CSVs)",
        data=lambda: report.charts_csv_zip(charts),
        file_name=f"progress_numbers_{last:%Y%m%d}.zip",
        mime="application/zip",
        key="download_csv_zip",
        on_click="ignore",
        icon=":material/folder_zip:",
    )
