"""Where a practice stands against the playbook on a given day: the target list, connections
and active partnerships as of a day, and the same three counts week by week.

These are the counts the phase targets are judged by, so they live apart from the definitions
(which read no data) and from the sentences and tables built on them. They take a
`services.progress_data.ProgressData` (frames with day-precision datetimes) and count as of the
END of a day: a stage change or referral dated d counts on d. A group of several locations is
counted per location and summed, so a provider who partners with two locations is two
partnerships.
"""

from __future__ import annotations

import math
from datetime import date, timedelta
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from services.playbook.definitions import ACTIVE_WINDOW_DAYS, CONNECTED_STAGES, STAGES

if TYPE_CHECKING:
    from services.progress_data import ProgressData

#: The weekly series runs over weeks 0 to WEEKS, the playbook's year.
WEEKS = 52


def _ts(day: date) -> pd.Timestamp:
    return pd.Timestamp(day)


def rows_between(df: pd.DataFrame, col: str, first: date, last: date) -> pd.DataFrame:
    """The rows whose day in `col` falls from `first` to `last`, both included."""
    return df[(df[col] >= _ts(first)) & (df[col] <= _ts(last))]


def stages_as_of(data: ProgressData, day: date) -> pd.DataFrame:
    """Each partner's stage at the end of `day` (partners added later are absent)."""
    h = data.history
    h = h[h["changed_on"] <= _ts(day)]
    return h.drop_duplicates("partner_id", keep="last")[["partner_id", "practice_id", "to_stage"]]


def target_list_size(data: ProgressData, day: date) -> int:
    """Partners on the list at the end of `day`, at any stage but dropped."""
    return _on_the_list(stages_as_of(data, day))


def connections(data: ProgressData, day: date) -> int:
    """Partners at stage connected or beyond at the end of `day`."""
    return _connected(stages_as_of(data, day))


def _on_the_list(stages: pd.DataFrame) -> int:
    return int((stages["to_stage"] != "dropped").sum())


def _connected(stages: pd.DataFrame) -> int:
    return int(stages["to_stage"].isin(CONNECTED_STAGES).sum())


def active_partnerships(data: ProgressData, day: date) -> int:
    """Partners with a referral exchanged in the ACTIVE_WINDOW_DAYS up to `day` (see is_active)."""
    r = data.referrals
    end = _ts(day)
    first = end - pd.Timedelta(days=ACTIVE_WINDOW_DAYS - 1)
    window = r[(r["referral_date"] >= first) & (r["referral_date"] <= end)]
    return len(window.drop_duplicates(["practice_id", "npi"]))


def counts_as_of(data: ProgressData, day: date) -> dict[str, int]:
    """The three playbook counts as of `day`; the stages are worked out once for both."""
    stages = stages_as_of(data, day)
    return {
        "targets": _on_the_list(stages),
        "connections": _connected(stages),
        "active": active_partnerships(data, day),
    }


def weekly_series(data: ProgressData, today: date, start: date | None = None) -> pd.DataFrame:
    """Target-list size, connections and active partnerships as of each week 0–52.

    Week w is measured at the end of day start + 7w, with the same definitions as
    `counts_as_of` (a test holds them equal). Weeks after `today` have no value (NaN): the
    chart must not draw a future it cannot know. Computed in one pass over the sorted history
    and by slicing sorted referral days, since 53 full as-of counts over 50,000 referrals
    would take most of the page's time budget.
    """
    start = start or data.playbook_start
    cols = ["week", "as_of", "targets", "connections", "active"]
    if start is None:
        return pd.DataFrame(columns=cols)
    h = data.history
    h_days = _day_numbers(h["changed_on"])
    h_partner, _ = pd.factorize(h["partner_id"])
    stage_code = {s: i for i, s in enumerate(STAGES)}
    h_stage = h["to_stage"].map(stage_code).fillna(-1).astype(int).to_numpy()
    state = np.full(len(set(h_partner.tolist())), -2)  # -2: not on the list yet
    connected = np.array([s in CONNECTED_STAGES for s in STAGES] + [False])
    dropped = stage_code["dropped"]

    r = data.referrals
    pair = r.groupby(["practice_id", "npi"], sort=False).ngroup().to_numpy()
    r_days = _day_numbers(r["referral_date"])
    order = np.argsort(r_days, kind="stable")
    r_days, pair = r_days[order], pair[order]

    rows, applied = [], 0
    for week in range(WEEKS + 1):
        on = start + timedelta(days=7 * week)
        if on > today:
            rows.append((week, on, math.nan, math.nan, math.nan))
            continue
        day = (on - _EPOCH).days
        upto = int(np.searchsorted(h_days, day, side="right"))
        for i in range(applied, upto):
            state[h_partner[i]] = h_stage[i]
        applied = upto
        listed = state[state != -2]
        lo = int(np.searchsorted(r_days, day - ACTIVE_WINDOW_DAYS + 1, side="left"))
        hi = int(np.searchsorted(r_days, day, side="right"))
        rows.append(
            (
                week,
                on,
                float(np.count_nonzero(listed != dropped)),
                float(np.count_nonzero(connected[listed])),
                float(np.unique(pair[lo:hi]).size),
            )
        )
    return pd.DataFrame(rows, columns=cols)


_EPOCH = date(1970, 1, 1)


def _day_numbers(series: pd.Series) -> np.ndarray:
    """Days since 1970 as integers (the frames hold day-precision datetimes)."""
    return series.to_numpy(dtype="datetime64[D]").astype(np.int64)
