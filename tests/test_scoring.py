from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from services.scoring import score_frame, score_parts


def test_parts_multiply_to_the_total():
    parts = score_parts("ortho", 0.0, 5.0)
    assert (parts.specialty_weight, parts.distance_decay) == (1.0, 1.0)
    assert (parts.volume_factor, parts.relationship_factor) == (1.0, 1.0)
    assert parts.total == 100.0
    chiro = score_parts("chiro", 2.5, 5.0)
    assert chiro.distance_decay == pytest.approx(2**-0.5)
    assert chiro.total == pytest.approx(round(100 * 0.4 * 2**-0.5, 1))


def test_distance_decay_is_half_at_the_radius_edge():
    assert score_parts("sports", 5.0, 5.0).distance_decay == pytest.approx(0.5)
    assert score_parts("sports", 10.0, 10.0).distance_decay == pytest.approx(0.5)


def test_relationship_and_volume_factors():
    assert score_parts("ortho", 1, 5, stage="connected", active=True).relationship_factor == 0.5
    assert score_parts("ortho", 1, 5, stage="dropped").total == 0.0
    assert score_parts("ortho", 1, 5, stage="target").relationship_factor == 1.0
    assert score_parts("ortho", 0, 5, tot_benes=250).volume_factor == pytest.approx(1.0)
    assert score_parts("ortho", 0, 5, tot_benes=10**6).volume_factor == 1.4
    assert score_parts("ortho", 0, 5, tot_benes=0).volume_factor == 0.6


def test_competitors_and_unknown_groups_are_not_scored():
    pt = score_parts("pt", 1.0, 5.0)
    assert pt.total is None and not pt.scored
    assert score_parts(None, 1.0, 5.0).total is None
    assert ("Score (0–100)", "not scored") in pt.as_rows()


def test_vectorized_scores_match_the_card():
    df = pd.DataFrame(
        {
            "specialty_group": ["ortho", "chiro", "pt", "ortho", "primary"],
            "distance_mi": [0.5, 3.0, 1.0, 2.0, 4.9],
            "stage": [None, "dropped", None, "formal", "target"],
            "active": [False, False, False, True, False],
        }
    )
    got = score_frame(df, 5.0)
    for i, row in df.iterrows():
        expected = score_parts(row.specialty_group, row.distance_mi, 5.0, row.stage, row.active)
        if expected.total is None:
            assert np.isnan(got[i])
        else:
            assert got[i] == pytest.approx(expected.total)
