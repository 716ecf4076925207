"""Issue 21: LEACE concept erasure, the functional (MLP) encoder, adversary ensembles re-initialised in
turn, and checkpoint selection by fresh probes that never read a test speaker."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.metrics import balanced_accuracy_score

from privemo.errors import ConfigError
from privemo.learners import SeqData
from privemo.learners.erasure import LeaceEraser
from privemo.registry import create
from tests.unit.test_runner import config


def _data(n=400, d=24, seed=0):
    rng = np.random.default_rng(seed)
    g, spk = rng.integers(0, 2, n), rng.integers(0, 6, n)
    X = rng.normal(size=(n, d))
    X[:, 0] += 3 * g
    X[:, 1] += 0.8 * spk
    X = X @ rng.normal(size=(d, d))  # the concepts spread over every coordinate
    return X, g, spk


def test_eraser_leaves_no_linear_signal_on_its_training_data():
    X, g, spk = _data()
    before = balanced_accuracy_score(g, LogisticRegression(max_iter=5000).fit(X, g).predict(X))
    assert before > 0.9
    Y = LeaceEraser().fit(X, {"gender": g, "speaker": spk}).transform(X)
    # a least-squares probe predicts a constant: its predictions do not vary with the item
    for z in [g, *(spk == s for s in range(6))]:
        p = LinearRegression().fit(Y, z).predict(Y)
        assert np.ptp(p) < 1e-8
    assert balanced_accuracy_score(g, LogisticRegression(max_iter=5000).fit(Y, g).predict(Y)) <= 0.55
    # the cross-covariance with the concept is zero, and the eraser moved X as little as it had to
    assert np.abs((Y - Y.mean(0)).T @ (g - g.mean())).max() < 1e-8 * len(g)
    assert np.linalg.norm(Y - X) < np.linalg.norm(X - X.mean(0))


def test_eraser_torch_form_unknown_labels_and_bad_input():
    X, g, _ = _data()
    g = g.copy()
    g[:30] = -1  # unknown gender: no part in the fit
    e = LeaceEraser().fit(X, g)
    A, b = e.as_torch()
    np.testing.assert_allclose((torch.tensor(X, dtype=torch.float32) @ A + b).numpy(), e.transform(X), atol=1e-3)
    assert e.rank_ == 1
    with pytest.raises(ConfigError, match="labels for"):
        LeaceEraser().fit(X, g[:10])
    with pytest.raises(ConfigError, match="N >= 2"):
        LeaceEraser().fit(X[:1], g[:1])


def _seq(X, g, spk):
    return SeqData(list(X.astype(np.float32)), (X[:, 2] > 0).astype(int), {"gender": g, "speaker": spk})


def test_post_hoc_eraser_of_a_trained_representation_and_checkpoint_round_trip(tmp_path):
    X, g, spk = _data()
    cfg = {"type": "standard", "encoder": {"type": "functional", "width": 16}, "epochs": 3,
           "erase": ["gender"], "erase_during_training": False}
    learner = create("learner", **cfg).fit(_seq(X, g, spk))
    H = learner.encode(list(X.astype(np.float32)))
    assert LinearRegression().fit(H, g).predict(H).std() < 1e-3
    learner.save(tmp_path / "m.pt")
    again = create("learner", **cfg).load(tmp_path / "m.pt")
    np.testing.assert_allclose(again.encode(list(X[:20].astype(np.float32))), H[:20], atol=1e-5)
    assert learner.get_config()["erase"] == ["gender"]


def test_ensembles_reinitialise_one_member_in_turn(monkeypatch):
    from privemo.learners.standard import AdversaryEnsemble

    turns = []
    real = AdversaryEnsemble.reset
    monkeypatch.setattr(AdversaryEnsemble, "reset", lambda self, j: turns.append(j) or real(self, j))
    X, g, spk = _data(200)
    learner = create("learner", type="grl", encoder={"type": "functional", "width": 8}, epochs=5, patience=10,
                     adversaries=[{"target": "gender", "ensemble": 3}], reinit_every=2, erase=["gender"])
    learner.fit(_seq(X, g, spk))
    assert turns == [0, 1]  # epochs 2 and 4, members 0 then 1
    head = learner.model_.adversaries["gender"]
    assert isinstance(head, AdversaryEnsemble) and len(head.members) == 3
    assert learner.adversary_predict(list(X[:7].astype(np.float32)))["gender"].shape == (7,)


def test_reinit_and_erasure_are_refused_with_dp():
    with pytest.raises(ConfigError, match="dp"):
        create("learner", type="grl", dp={"noise_multiplier": 1.0}, erase=["gender"])
    with pytest.raises(ConfigError, match="erase"):
        create("learner", type="standard", erase=["age"])


def test_checkpoint_selection_never_reads_a_test_speaker(tmp_path, synth_root, monkeypatch):
    """A spy on every batch the learner builds while fitting (training, validation, fresh probes,
    the eraser): no item of a fold's test speakers is among them; validation items are."""
    import privemo.experiments.runner as runner_mod
    import privemo.learners.standard as std

    state = {"fitting": False}
    seen: set[int] = set()
    real_pad = std.pad_streams
    monkeypatch.setattr(std, "pad_streams", lambda items, *a, **k: (
        seen.update(id(x) for x in items) if state["fitting"] else None) or real_pad(items, *a, **k))
    real_fit = std.StandardLearner.fit

    def spy_fit(self, *a, **k):
        state["fitting"] = True
        try:
            return real_fit(self, *a, **k)
        finally:
            state["fitting"] = False

    monkeypatch.setattr(std.StandardLearner, "fit", spy_fit)
    checks = []
    real_unit = runner_mod.run_unit

    def spy_unit(cfg, unit, data, fold, manifest, *a, **k):
        seen.clear()
        out = real_unit(cfg, unit, data, fold, manifest, *a, **k)
        ids = lambda ix: {id(data["values"][i]) for i in ix}  # noqa: E731
        checks.append((seen & ids(fold.test), seen & ids(fold.valid)))
        return out

    monkeypatch.setattr(runner_mod, "run_unit", spy_unit)
    learner = {"type": "grl", "encoder": {"type": "functional", "width": 8}, "epochs": 3, "patience": 5,
               "adversaries": [{"target": "gender", "ensemble": 2}, {"target": "speaker"}], "reinit_every": 1,
               "erase": ["gender", "speaker"], "select": "probe", "probe": ["logreg", "mlp"],
               "probe_targets": ["gender", "speaker"]}
    cfg = config(synth_root, folds=3, valid_speakers=2, attacker_data="heldout", heldout_fraction=0.34,
                 variants=[{"name": "priv", "features": {"type": "mfcc"}, "normalize": "speaker", "learner": learner}],
                 evaluators=[{"type": "emotion"}, {"type": "gender_attacker"}, {"type": "speaker_id"}])
    rows = runner_mod.Runner(cfg, out=tmp_path / "run").run()
    assert len(checks) == 3
    for test_seen, valid_seen in checks:
        assert not test_seen
        assert valid_seen
    emo = [r for r in rows if r["evaluator"] == "emotion"]
    assert all(r["erasure"] == "gender+speaker" and "private_checkpoint" in r for r in emo)
    # the erasure's cost is recorded: directions removed of the representation's 8
    assert all(r["representation_dims"] == 8 and 1 <= r["erased_dims"] <= 8 for r in emo)
