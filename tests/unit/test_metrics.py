"""Metrics: UAR, EER, per-group UAR, statistics."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from privemo.metrics import (
    benjamini_hochberg,
    confusion,
    eer,
    paired_ttest,
    per_group_uar,
    privacy_metric,
    uar,
)


def test_uar_is_balanced():
    y = ["a"] * 90 + ["b"] * 10
    assert uar(y, ["a"] * 100) == 0.5
    assert uar(y, y) == 1.0
    assert privacy_metric(0.5) == 0.5


def test_confusion_and_groups():
    yt, yp = ["a", "a", "b", "b"], ["a", "b", "b", "b"]
    assert confusion(yt, yp, ["a", "b"]) == [[1, 1], [0, 2]]
    g = per_group_uar(yt, yp, ["m", "m", "f", "f"])
    assert g == {"f": 1.0, "m": 0.5}


def test_eer_known_values():
    assert eer([0.9, 0.8, 0.2, 0.1], [True, True, False, False]) == 0.0
    assert eer([0.1, 0.2, 0.8, 0.9], [True, True, False, False]) == 1.0


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.floats(-5, 5, allow_nan=False), st.booleans()), min_size=2, max_size=60))
def test_eer_in_unit_interval(pairs):
    same = [b for _, b in pairs]
    if all(same) or not any(same):
        return
    e = eer([s for s, _ in pairs], same)
    assert 0.0 <= e <= 1.0


def test_bh_and_ttest():
    adj = benjamini_hochberg([0.01, 0.04, 0.03, 0.5])
    assert np.allclose(adj, [0.04, 0.0533333, 0.0533333, 0.5], atol=1e-6)
    assert paired_ttest([1, 2, 3], [1, 2, 3]) == 1.0
    assert paired_ttest([0.9, 0.8, 0.85, 0.95], [0.5, 0.52, 0.49, 0.51]) < 0.01
