"""The standard learner: it learns, stops early, restores its best epoch, is seeded, and round-trips."""

from __future__ import annotations

import numpy as np
import torch

from privemo.learners import SeqData, StandardLearner
from privemo.models import AcousticEncoder, masked_mean


def toy(n=60, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    x = [rng.normal(0, 1, (int(rng.integers(20, 40)), 8)).astype(np.float32) + y[i] for i in range(n)]
    return SeqData(x, y)


def small(**kw):
    base = {"encoder": {"type": "acoustic", "conv_layers": 1, "channels": 8, "gru_layers": 1, "gru_width": 8},
            "epochs": 8, "patience": 3, "batch_size": 16, "lr": 3e-3}
    return StandardLearner(**{**base, **kw})


def test_masked_mean_ignores_padding():
    h = torch.tensor([[[1.0], [3.0], [100.0]]])
    assert masked_mean(h, torch.tensor([2])).item() == 2.0


def test_encoder_output_independent_of_padding():
    enc = AcousticEncoder(n_in=4, conv_layers=1, channels=4, gru_layers=1, gru_width=4, stride=1).eval()
    x = torch.randn(1, 10, 4)
    padded = torch.cat([x, torch.zeros(1, 5, 4)], 1)
    a = enc(x, torch.tensor([10]))
    b = enc(padded, torch.tensor([10]))
    assert torch.allclose(a, b, atol=1e-5)


def test_learns_and_restores_best(tmp_path):
    train, valid = toy(90, 0), toy(30, 1)
    learner = small().fit(train, valid, n_classes=3)
    assert (learner.predict(valid.x) == valid.y).mean() > 0.8
    losses = [h["valid_loss"] for h in learner.history_]
    assert learner.best_epoch_ == int(np.argmin(losses))
    assert learner.encode(valid.x).shape == (30, 8)
    learner.save(tmp_path / "m.pt")
    again = small().load(tmp_path / "m.pt")
    assert np.allclose(again.predict_proba(valid.x), learner.predict_proba(valid.x), atol=1e-6)


def test_seeded_runs_are_identical():
    train, valid = toy(40, 0), toy(20, 1)
    a = small(epochs=2, seed=5).fit(train, valid).predict_proba(valid.x)
    b = small(epochs=2, seed=5).fit(train, valid).predict_proba(valid.x)
    assert np.allclose(a, b)


def test_early_stopping_stops():
    rng = np.random.default_rng(0)
    noise = SeqData([rng.normal(0, 1, (20, 8)).astype(np.float32) for _ in range(40)], rng.integers(0, 2, 40))
    learner = small(epochs=30, patience=2, lr=1e-2).fit(noise, SeqData(noise.x[:20], noise.y[:20][::-1].copy()))
    assert len(learner.history_) < 30


def test_dp_sgd_trains_reports_epsilon_and_round_trips(tmp_path):
    import pytest

    pytest.importorskip("opacus")
    train, valid = toy(90, 0), toy(30, 1)
    dp = {"noise_multiplier": 0.5, "max_grad_norm": 1.0, "delta": 1e-5}
    learner = small(epochs=6, patience=6, dp=dp).fit(train, valid, n_classes=3)
    eps = [h["epsilon"] for h in learner.history_]
    assert all(b > a > 0 for a, b in zip(eps, eps[1:], strict=False))  # privacy spent grows per epoch
    assert learner.epsilon_ == eps[-1]
    assert not any(isinstance(m, torch.nn.BatchNorm1d) for m in learner.model_.modules())
    assert (learner.predict(valid.x) == valid.y).mean() > 0.6  # an easy task survives the noise
    learner.save(tmp_path / "dp.pt")
    again = small(dp=dp).load(tmp_path / "dp.pt")
    assert np.allclose(again.predict_proba(valid.x), learner.predict_proba(valid.x), atol=1e-6)
    stronger = small(epochs=6, patience=6, dp={**dp, "noise_multiplier": 2.0}).fit(train, valid, n_classes=3)
    assert stronger.epsilon_ < learner.epsilon_  # more noise, less privacy spent


def test_dp_config_errors():
    import pytest

    from privemo.errors import ConfigError

    with pytest.raises(ConfigError, match="unknown keys"):
        small(dp={"noise": 1.0})
    with pytest.raises(ConfigError, match="must be > 0"):
        small(dp={"noise_multiplier": 0})
    with pytest.raises(ConfigError, match="adversary_steps"):
        small(dp={"noise_multiplier": 1.0}, adversary_steps=3)
