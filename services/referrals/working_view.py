"""What a working copy shows: the period filters, the filtered rows, the saved rows, memos.

The Referral log page draws the grid, the follow-ups and the conversion figures from the working
copy. This module answers "which rows" for each of them (a period's dates, the filtered view
with unsaved rows always in it, the rows as saved) and keeps derived results until the working
table changes. It is apart from editing and saving because it only reads the working copy.

`WorkingView` is a mixin of `services.referrals.working_copy.WorkingCopy`, which holds the fields
named below.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pandas as pd

PERIODS = ("All time", "Last 30 days", "Last 90 days", "Last 12 months", "Custom range")


def period_bounds(period: str, today: date, custom: Any = None) -> tuple[date | None, date | None]:
    """The dates a period filter ("Last 30 days", ...) keeps, both ends included."""
    if period == "Last 30 days":
        return today - timedelta(days=29), today
    if period == "Last 90 days":
        return today - timedelta(days=89), today
    if period == "Last 12 months":
        return today - timedelta(days=364), today
    if period == "Custom range" and custom:
        start = custom[0] if len(custom) > 0 else None
        end = custom[1] if len(custom) > 1 else start
        return start, end
    return None, None


class WorkingView:
    # Fields of WorkingCopy this mixin reads and writes.
    work: pd.DataFrame
    dirty: set[str]
    memo: dict[str, tuple[Any, Any]]

    def filtered_view(
        self,
        start: date | None = None,
        end: date | None = None,
        directions: list[str] | None = None,
        partner: str | None = None,
        statuses: list[str] | None = None,
    ) -> pd.DataFrame:
        """The rows to show. Unsaved rows always show, so a new row never vanishes behind a
        filter before it is saved."""
        work = self.work
        keep = pd.Series(True, index=work.index)
        if start is not None or end is not None:
            dates = pd.to_datetime(work["referral_date"], errors="coerce")
            if start is not None:
                keep &= dates >= pd.Timestamp(start)
            if end is not None:
                keep &= dates <= pd.Timestamp(end)
        if directions:
            keep &= work["direction"].isin(directions)
        if partner:
            keep &= work["partner_npi"] == partner
        if statuses:
            keep &= work["status"].isin(statuses)
        if self.dirty:
            keep |= work.index.isin(list(self.dirty))
        return work[keep]

    def memoized(self, name: str, key: Any, compute: Any) -> Any:
        """`compute()`, reused while `key` is unchanged. Every change to the working table
        moves `rev`, so keys that include it can never serve stale results; with 10,000
        referrals this keeps a rerun that changed nothing from recomputing everything."""
        hit = self.memo.get(name)
        if hit is not None and hit[0] == key:
            return hit[1]
        value = compute()
        self.memo[name] = (key, value)
        return value

    def saved_rows(self) -> pd.DataFrame:
        """The rows as saved: follow-ups and conversion count only what is in the database, so
        rows with unsaved edits join once saved (and new, unsaved rows not at all)."""
        return self.work[self.work["id"].notna() & ~self.work.index.isin(list(self.dirty))]
