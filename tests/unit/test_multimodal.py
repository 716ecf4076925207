"""Multimodal fusion (acoustic + lexical streams) and adversaries placed per stream."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from privemo.errors import ConfigError
from privemo.experiments.config import parse_config
from privemo.learners import SeqData, StandardLearner
from privemo.learners.data import pad_streams

ENC = {"type": "multimodal", "streams": {
    "acoustic": {"type": "acoustic", "conv_layers": 1, "channels": 8, "gru_layers": 1, "gru_width": 8},
    "lexical": {"type": "lexical", "gru_layers": 1, "gru_width": 6}}}


def two_streams(n=60, seed=0):
    """Emotion only in the lexical stream, gender only in the acoustic one."""
    rng = np.random.default_rng(seed)
    y, g = rng.integers(0, 2, n), rng.integers(0, 2, n)
    x = [(rng.normal(0, 1, (int(rng.integers(20, 40)), 5)).astype(np.float32) + 2 * g[i],
          rng.normal(0, 1, (int(rng.integers(3, 8)), 4)).astype(np.float32) + 2 * y[i]) for i in range(n)]
    return SeqData(x, y, {"gender": g})


def test_streams_pad_separately():
    data = two_streams(4)
    inputs = pad_streams(list(data.x))
    assert len(inputs) == 2 and inputs[0][0].shape[2] == 5 and inputs[1][0].shape[2] == 4
    assert inputs[1][1].tolist() == [len(x[1]) for x in data.x]


def test_fusion_learns_from_the_informative_stream_and_round_trips(tmp_path):
    train, valid = two_streams(80, 0), two_streams(30, 1)
    learner = StandardLearner(encoder=ENC, epochs=10, patience=4, batch_size=16, lr=3e-3).fit(train, valid)
    assert (learner.predict(valid.x) == valid.y).mean() > 0.8
    assert learner.encode(valid.x).shape == (30, 14)  # 8 acoustic + 6 lexical, concatenated
    learner.save(tmp_path / "m.pt")
    again = StandardLearner(encoder=ENC).load(tmp_path / "m.pt")
    assert np.allclose(again.predict_proba(valid.x), learner.predict_proba(valid.x), atol=1e-6)


def test_per_stream_adversary_reads_only_its_stream():
    learner = StandardLearner(encoder=ENC, adversaries=[{"target": "gender", "stream": "acoustic", "lambda": 1.0}])
    learner.model_ = learner._build([5, 4], 2, {"gender": 2})
    model = learner.model_
    assert list(model.adversaries) == ["gender:acoustic"]
    data = two_streams(8)
    h, _, parts = model(pad_streams(list(data.x)))
    adv = model.adversary_logits(h, parts)["gender:acoustic"]
    model.zero_grad()
    adv.sum().backward()
    lexical = model.encoder.streams["lexical"]
    acoustic = model.encoder.streams["acoustic"]
    assert all(p.grad is None or torch.all(p.grad == 0) for p in lexical.parameters())
    assert any(p.grad is not None and torch.any(p.grad != 0) for p in acoustic.parameters())


def test_bad_multimodal_configs():
    with pytest.raises(ConfigError, match="not a stream"):
        StandardLearner(encoder=ENC, adversaries=[{"target": "gender", "stream": "video"}])._build([5, 4], 2,
                                                                                                  {"gender": 2})
    with pytest.raises(ConfigError, match="multimodal"):
        StandardLearner(encoder={"type": "acoustic"})._build([5, 4], 2)
    base = {"name": "x", "corpus": {"type": "synthetic"}, "evaluators": [{"type": "emotion"}]}
    streams = {"acoustic": {"features": {"type": "mfb"}}, "lexical": {"features": {"type": "glove"}}}
    with pytest.raises(ConfigError, match="same order"):
        parse_config({**base, "variants": [{"name": "v", "streams": streams, "learner": {
            "type": "standard", "encoder": {"type": "multimodal", "streams": {"lexical": {}, "acoustic": {}}}}}]})
    with pytest.raises(ConfigError, match="either 'features' or 'streams'"):
        parse_config({**base, "variants": [{"name": "v", "streams": streams, "features": {"type": "mfb"}}]})
    cfg = parse_config({**base, "variants": [{"name": "v", "streams": streams}]})
    assert list(cfg.variants[0].stream_configs()) == ["acoustic", "lexical"]
