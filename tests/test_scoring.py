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


# --- the data-file signals ------------------------------------------------------------------


def test_each_signal_moves_the_score_and_reads_no_data_when_absent():
    base = score_parts("ortho", 1.0, 5.0)
    assert (base.procedure_factor, base.shared_factor) == (1.0, 1.0)
    rows = {part: (value, source) for part, value, source in base.explain()}
    assert rows["Volume factor"] == ("no data", "not loaded")
    assert rows["Procedure factor"] == ("no data", "not loaded")
    assert rows["Shared-patient factor"] == ("no data", "not loaded")

    busy = score_parts("ortho", 1.0, 5.0, tot_benes=4000)
    assert busy.total > base.total and busy.has_volume
    surgeon = score_parts("ortho", 1.0, 5.0, pt_procedures=400)
    assert surgeon.procedure_factor == pytest.approx(1.5) and surgeon.total > base.total
    assert score_parts("ortho", 1.0, 5.0, pt_procedures=200).procedure_factor == pytest.approx(1.25)
    assert score_parts("ortho", 1.0, 5.0, pt_procedures=10**5).procedure_factor == 1.5
    leak = score_parts("ortho", 1.0, 5.0, shared_label="opportunity")
    split = score_parts("ortho", 1.0, 5.0, shared_label="splitter")
    loyal = score_parts("ortho", 1.0, 5.0, shared_label="loyalist")
    assert leak.total > split.total > base.total > loyal.total
    # A signal loaded but unknown for this provider still reads "no data", with its source.
    sources = {"volume": "Medicare by Provider, 2023", "shared": "CMS Physician Shared "
               "Patient Patterns, 2015"}  # fmt: skip
    rows = {part: (value, source) for part, value, source in base.explain(sources)}
    assert rows["Volume factor"] == ("no data", "Medicare by Provider, 2023")
    rows = {part: (value, src) for part, value, src in leak.explain(sources)}
    assert rows["Shared-patient factor"] == ("1.30", "CMS Physician Shared Patient Patterns, 2015")


def test_suppressed_volume_is_no_data_not_zero():
    parts = score_parts("ortho", 1.0, 5.0, tot_benes=float("nan"))
    assert parts.volume_factor == 1.0 and not parts.has_volume
    assert dict(parts.as_rows())["Volume factor"] == "no data"


def test_table_order_agrees_with_the_card_with_every_signal():
    rng = np.random.default_rng(7)
    n = 300
    groups = ["ortho", "chiro", "pt", "primary", "sports", "pain"]
    labels = [None, "opportunity", "splitter", "loyalist"]
    df = pd.DataFrame(
        {
            "specialty_group": [groups[i % len(groups)] for i in range(n)],
            "distance_mi": rng.uniform(0, 8, n),
            "stage": [None, "target", "dropped", "formal"] * (n // 4),
            "active": rng.random(n) < 0.2,
            "tot_benes": np.where(rng.random(n) < 0.3, np.nan, rng.uniform(0, 3000, n)),
            "pt_procedures": np.where(rng.random(n) < 0.6, np.nan, rng.uniform(0, 800, n)),
            "shared_label": [labels[i % 4] for i in range(n)],
        }
    )
    df["score"] = score_frame(df, 5.0)
    table = df.sort_values("score", ascending=False, na_position="last").reset_index(drop=True)
    card_totals = []
    for row in table.itertuples():
        parts = score_parts(
            row.specialty_group, row.distance_mi, 5.0, row.stage, row.active,
            tot_benes=row.tot_benes, pt_procedures=row.pt_procedures,
            shared_label=row.shared_label,
        )  # fmt: skip
        card_totals.append(np.nan if parts.total is None else parts.total)
        if parts.total is not None:
            assert parts.total == pytest.approx(row.score)
            shown = dict(parts.as_rows())["Score (0–100)"]
            assert shown == f"{row.score:.0f}"
    scored = [t for t in card_totals if not np.isnan(t)]
    assert scored == sorted(scored, reverse=True)  # the card's totals read in the table's order
