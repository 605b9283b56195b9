"""The suggested target list: best first, spread across groups, nobody already on the list."""

from __future__ import annotations

import numpy as np
import pandas as pd

from services.suggest import MINIMUM, PER_GROUP, SIZE, suggest_targets


def _near(rows: list[tuple[str, str, float | None, float, bool]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["npi", "specialty_group", "score", "distance_mi", "on_list"])


def _many(groups: dict[str, int]) -> pd.DataFrame:
    rows = []
    for g_i, (group, n) in enumerate(groups.items()):
        for i in range(n):
            rows.append((f"{g_i}{i:09d}", group, 90.0 - i - g_i * 0.1, 1.0 + i, False))
    return _near(rows)


def test_the_list_is_15_to_20_best_first_with_at_most_5_per_group():
    near = _many({"ortho": 12, "sports": 9, "pain": 7, "primary": 8, "podiatry": 4})
    chosen = suggest_targets(near)
    assert MINIMUM <= len(chosen) <= SIZE == 20
    groups = near.set_index("npi").loc[chosen, "specialty_group"]
    assert groups.value_counts().max() <= PER_GROUP == 5
    scores = near.set_index("npi").loc[chosen, "score"].tolist()
    assert scores == sorted(scores, reverse=True)
    # the best provider of every group with candidates is in
    for group in ("ortho", "sports", "pain", "primary", "podiatry"):
        assert group in set(groups)


def test_providers_on_the_list_dropped_or_unscored_are_left_out():
    near = _near(
        [
            ("1000000001", "ortho", 99.0, 1.0, True),  # a target already
            ("1000000002", "ortho", 98.0, 1.0, True),  # dropped: still a partner row
            ("1000000003", "pt", None, 0.5, False),  # a competitor: shown, never scored
            ("1000000004", "ortho", 50.0, 2.0, False),
            ("1000000005", "sports", 40.0, 2.0, False),
        ]
    )
    assert suggest_targets(near) == ["1000000004", "1000000005"]
    assert suggest_targets(near, exclude=["1000000004"]) == ["1000000005"]


def test_ties_go_to_the_nearer_provider_then_the_lower_npi():
    near = _near(
        [
            ("1000000009", "ortho", 70.0, 3.0, False),
            ("1000000008", "ortho", 70.0, 1.0, False),
            ("1000000007", "ortho", 70.0, 3.0, False),
        ]
    )
    assert suggest_targets(near) == ["1000000008", "1000000007", "1000000009"]
    # the same input always gives the same list
    assert suggest_targets(near.sample(frac=1, random_state=3)) == suggest_targets(near)


def test_fewer_than_15_candidates_gives_all_of_them_within_the_cap():
    near = _many({"ortho": 8, "sports": 3})
    chosen = suggest_targets(near)
    assert len(chosen) == 5 + 3 < MINIMUM
    assert suggest_targets(near.iloc[0:0]) == []
    assert suggest_targets(near, size=0) == []


def test_size_and_cap_are_parameters():
    near = _many({"ortho": 10, "sports": 10, "pain": 10})
    assert len(suggest_targets(near, size=15, per_group=10)) == 15
    assert len(suggest_targets(near, per_group=2)) == 6
    assert np.all(near["score"].notna())
