"""Conformance of every registered component (in the spirit of scikit-learn's check_estimator):
config round-trip through the registry, determinism under a seed, and the shape contracts."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from privemo.corpora import Manifest
from privemo.evaluators import View
from privemo.learners import SeqData
from privemo.registry import create, names


@pytest.mark.parametrize("name", names("feature"))
def test_feature_config_round_trip(name):
    ex = create("feature", type=name)
    again = create("feature", **ex.config())
    assert again.config() == ex.config()
    assert ex.kind in ("sequence", "vector", "image") and ex.media in ("audio", "image", "text")


@pytest.mark.parametrize("name", names("learner"))
def test_learner_round_trip_determinism_and_shapes(name):
    tiny = {"encoder": {"type": "acoustic", "conv_layers": 1, "channels": 4, "gru_layers": 1, "gru_width": 4},
            "epochs": 2, "batch_size": 8}
    learner = create("learner", type=name, **tiny)
    cfg = learner.get_config()
    assert cfg["type"] == name
    assert create("learner", **cfg).get_config() == cfg
    rng = np.random.default_rng(0)
    x = [rng.normal(0, 1, (int(rng.integers(8, 16)), 5)).astype(np.float32) for _ in range(24)]
    aux = {"gender": np.tile([0, 1], 12), "speaker": np.repeat(np.arange(4), 6)}
    data = SeqData(x, np.tile([0, 1, 2], 8), aux)
    a = create("learner", **cfg).fit(data, data)
    b = create("learner", **cfg).fit(data, data)
    assert np.allclose(a.predict_proba(x), b.predict_proba(x))
    assert a.encode(x).shape == (24, 4) and a.predict(x).shape == (24,)


def _views():
    rng = np.random.default_rng(0)
    rows = [{"item_id": f"i{i}", "path": f"/x/{i}", "media": "audio", "corpus": "t", "speaker": f"s{i % 8}",
             "gender": "m" if (i % 8) < 4 else "f", "emotion": ["happy", "sad"][i % 2], "member": int((i % 8) in (0, 1, 4, 5))} for i in range(64)]
    m = Manifest(pd.DataFrame(rows))
    X = rng.normal(0, 1, (64, 6)) + (m["gender"] == "m").to_numpy()[:, None] + (m["emotion"] == "sad").to_numpy()[:, None]
    tr = (m["speaker"].isin(["s0", "s1", "s4", "s5", "s6", "s2"])).to_numpy()
    ctx = {"fold": 0, "seed": 0}
    return View(X[tr], m.subset(tr), None, ctx), View(X[~tr], m.subset(~tr), None, ctx)


@pytest.mark.parametrize("name", names("evaluator"))
def test_evaluator_round_trip_determinism_and_figures(name):
    ev = create("evaluator", type=name)
    cfg = ev.get_config()
    assert cfg["type"] == name and create("evaluator", **cfg).get_config() == cfg
    train, test = _views()
    a, b = ev.evaluate(train, test), create("evaluator", **cfg).evaluate(train, test)
    assert a == b
    assert 0.0 <= a["uar"] <= 1.0 and 0.0 < a["chance"] <= 1.0
