"""Gradient reversal and the adversarial (Priv) learner."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from privemo.errors import ConfigError
from privemo.learners import SeqData, StandardLearner
from privemo.learners.standard import AdversarialLearner
from privemo.models import grad_reverse


def test_gradient_reversal_flips_and_scales():
    x = torch.ones(3, requires_grad=True)
    y = grad_reverse(x, 0.5)
    assert torch.equal(y, x)
    (y * torch.tensor([1.0, 2.0, 3.0])).sum().backward()
    assert torch.allclose(x.grad, torch.tensor([-0.5, -1.0, -1.5]))


def _enc_grads(learner: StandardLearner, data: SeqData) -> list[torch.Tensor]:
    from privemo.learners.data import pad_streams

    model = learner.model_
    model.train()
    model.zero_grad()
    h, logits, parts = model(pad_streams(list(data.x)))
    loss = torch.nn.functional.cross_entropy(logits, torch.as_tensor(data.y))
    for t, adv in model.adversary_logits(h, parts).items():
        loss = loss + torch.nn.functional.cross_entropy(adv, torch.as_tensor(data.aux[t]))
    loss.backward()
    return [p.grad.clone() for p in model.encoder.parameters()]


def test_lambda_zero_adversary_leaves_the_encoder_as_gen():
    rng = np.random.default_rng(0)
    data = SeqData([rng.normal(0, 1, (12, 6)).astype(np.float32) for _ in range(8)], rng.integers(0, 2, 8),
                   {"gender": rng.integers(0, 2, 8)})
    enc = {"type": "acoustic", "conv_layers": 1, "channels": 4, "gru_layers": 1, "gru_width": 4, "dropout": 0.0}
    gen = StandardLearner(encoder=enc, head={"dropout": 0.0})
    priv = AdversarialLearner(adversaries=[{"target": "gender", "lambda": 0.0, "dropout": 0.0}], encoder=enc,
                              head={"dropout": 0.0})
    gen.model_ = gen._build(6, 2)
    priv.model_ = priv._build(6, 2, {"gender": 2})
    priv.model_.load_state_dict({**priv.model_.state_dict(), **gen.model_.state_dict()})
    for a, b in zip(_enc_grads(gen, data), _enc_grads(priv, data), strict=True):
        assert torch.allclose(a, b, atol=1e-7)
    priv.model_.lambdas["gender"] = 1.0  # with lambda > 0 the encoder is pushed elsewhere
    assert any(not torch.allclose(a, b) for a, b in zip(_enc_grads(gen, data), _enc_grads(priv, data), strict=True))


def test_bad_adversary_config():
    with pytest.raises(ConfigError, match="adversaries.0.target"):
        AdversarialLearner(adversaries=[{"target": "age"}])
    with pytest.raises(ConfigError, match="unknown keys"):
        AdversarialLearner(adversaries=[{"target": "gender", "lamda": 1}])
    with pytest.raises(ConfigError, match="need"):
        AdversarialLearner().fit(SeqData([np.zeros((5, 3), np.float32)] * 4, np.array([0, 1, 0, 1])))
