"""The live search's progress bar estimates the time left from the pace of the current stage."""

from __future__ import annotations

from components.live_search import time_left


def test_time_left_follows_the_pace_so_far():
    assert time_left(10, 40, 5.0) == "about 15 s left"  # 0.5 s each, 30 to go
    assert time_left(100, 1300, 50.0) == "about 10 min left"
    assert time_left(99, 100, 0.1) == "about 1 s left"  # never "0 s"


def test_no_estimate_without_a_pace_or_when_done():
    assert time_left(0, 40, 5.0) == ""
    assert time_left(40, 40, 5.0) == ""
    assert time_left(5, 40, 0.0) == ""
