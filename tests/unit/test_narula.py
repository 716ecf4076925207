"""narula-2020: Algorithm 1 freezes exactly the named weights at each step; augmentation and the
protocol splits never put copies of one original on both sides; the table runs end to end."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from privemo.corpora.splits import group_folds
from privemo.evaluators.cnn import TrainConfig
from privemo.experiments.face.config import NarulaConfig
from privemo.features.augment import augment_faces
from privemo.features.faceset import FaceSet
from privemo.learners.narula import Algorithm1, narula_unit, protocol_folds
from privemo.models.face import ConvBase, DenoisingAE, Hybrid, VGGBase


def _snapshot(module: torch.nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in module.parameters()]


def _changed(before: list[torch.Tensor], module: torch.nn.Module) -> list[bool]:
    return [not torch.equal(a, b) for a, b in zip(before, module.parameters(), strict=True)]


@pytest.mark.parametrize("loss", ["confusion", "negative_ce"])
def test_algorithm1_freezes_exactly_the_named_weights(loss):
    torch.manual_seed(0)
    x = torch.rand(40, 1, 16, 16)
    ye, yi = np.arange(40) % 3, np.arange(40) % 4
    model = Hybrid(1, 16, 3, 4, channels=(4, 8), hidden=(8,))
    blocks = {"conv": model.conv, "emotion": model.emotion, "identity": model.identity}
    snaps: dict[str, dict[str, list[torch.Tensor]]] = {}
    seen: list[str] = []

    def on_step(name: str, m: Hybrid) -> None:
        step, when = name.split(":")
        if when == "before":
            snaps[step] = {k: _snapshot(b) for k, b in blocks.items()}
            return
        seen.append(step)
        moved = {k: any(_changed(snaps[step][k], b)) for k, b in blocks.items()}
        if step == "init":
            assert moved == {"conv": True, "emotion": True, "identity": True}
        elif step.startswith("adv"):  # Wi frozen: exactly Wc and We learn
            assert moved == {"conv": True, "emotion": True, "identity": False}
            assert all(not p.requires_grad for p in m.identity.parameters())
        else:  # Wc and We frozen: exactly Wi learns
            assert moved == {"conv": False, "emotion": False, "identity": True}
            assert all(not p.requires_grad for p in m.conv.parameters())

    algo = Algorithm1(T=2, init_epochs=1, adv_epochs=1, id_epochs=2, adversary_loss=loss,
                      train=TrainConfig(batch=16, seed=0))
    algo.fit(model, x, ye, yi, on_step=on_step)
    assert seen == ["init", "adv1", "id1", "adv2", "id2"]
    assert all(p.requires_grad for p in model.parameters())
    assert [h["step"] for h in algo.history] == seen


def test_algorithm1_is_deterministic_under_a_seed():
    x = torch.rand(24, 1, 16, 16)
    ye, yi = np.arange(24) % 2, np.arange(24) % 3
    outs = []
    for _ in range(2):
        torch.manual_seed(3)
        m = Hybrid(1, 16, 2, 3, channels=(4, 8), hidden=(8,))
        Algorithm1(T=1, init_epochs=1, id_epochs=1, train=TrainConfig(batch=8, seed=1)).fit(m, x, ye, yi)
        outs.append(m.conv(x))
    torch.testing.assert_close(outs[0], outs[1])


def test_unknown_adversary_loss_is_refused():
    m = Hybrid(1, 16, 2, 2, channels=(4,), hidden=(4,))
    with pytest.raises(ValueError, match="adversary_loss"):
        Algorithm1(T=1, adversary_loss="nope").fit(m, torch.rand(4, 1, 16, 16), np.array([0, 1, 0, 1]),
                                                   np.array([0, 1, 0, 1]))


def test_module_shapes():
    assert ConvBase(1, 48, (16, 32, 64))(torch.rand(2, 1, 48, 48)).shape == (2, 64 * 6 * 6)
    assert VGGBase(3, 32, (8, 16))(torch.rand(2, 3, 32, 32)).shape == (2, 16 * 4)
    ae = DenoisingAE(3, 32, 50)
    assert ae(torch.rand(2, 3, 32, 32)).shape == (2, 3, 32, 32)
    with pytest.raises(ValueError):
        DenoisingAE(1, 20)


@settings(max_examples=30, deadline=None)
@given(n=st.integers(4, 30), target=st.integers(0, 200), k=st.integers(2, 5), seed=st.integers(0, 99))
def test_augmented_copies_never_straddle_a_split(n, target, k, seed):
    rng = np.random.default_rng(seed)
    imgs = rng.integers(0, 256, (n, 8, 8)).astype(np.uint8)
    aug, src = augment_faces(imgs, target, seed)
    assert len(aug) == max(n, target) and aug.dtype == np.uint8
    np.testing.assert_array_equal(aug[:n], imgs)
    counts = np.bincount(src, minlength=n)
    assert counts.max() - counts.min() <= 1  # copies dealt evenly
    subjects = src % 3
    k = min(k, n)
    folds = group_folds(src, k, seed, strata=subjects)
    for g in range(n):
        assert len(set(folds[src == g].tolist())) == 1
    subj = group_folds(subjects, min(k, 3), seed)
    for s in range(3):
        assert len(set(subj[subjects == s].tolist())) == 1


def test_paper_protocol_keeps_every_subject_in_training():
    subjects = np.repeat(np.arange(5), 4)
    src = np.arange(20)
    folds = group_folds(src, 4, 0, strata=subjects)
    for f in range(4):
        assert set(subjects[folds != f].tolist()) == set(range(5))


def _tiny_set(n_subjects: int = 4, per: int = 6) -> FaceSet:
    rng = np.random.default_rng(0)
    n = n_subjects * per
    subject = np.repeat([f"s{i}" for i in range(n_subjects)], per)
    emotion = np.tile(["happy", "sad", "neutral"], n // 3)
    images = rng.integers(0, 256, (n, 16, 16)).astype(np.uint8)
    images[:, :4, :4] = (np.repeat(np.arange(n_subjects), per) * 60)[:, None, None]  # identity cue
    return FaceSet(images, subject, emotion, np.full(n, "?"), np.arange(n), np.array([str(i) for i in range(n)]),
                   np.ones(n, bool))


@pytest.mark.parametrize("protocol", ["paper", "subject"])
def test_narula_unit_reports_every_column(protocol):
    data = _tiny_set()
    folds = protocol_folds(data, protocol, 2, 0)
    cfg = NarulaConfig(channels=[4, 8], hidden=[8], epochs=2, T=1, init_epochs=1, id_epochs=1)
    row = narula_unit(data, protocol, 0, folds, cfg, 0)
    for c in ("Face", "Emotion", "Emotion2Face", "Hybrid2Emotion", "Hybrid2Face"):
        assert 0.0 <= row[c]["acc"] <= 1.0
    assert row["id_chance"] == (0.25 if protocol == "paper" else 0.5)
    assert row["hybrid_seconds_per_iteration"] > 0


@pytest.mark.parametrize("reinit", [False, True])
def test_reinit_identity_draws_a_fresh_identity_stack_before_each_retraining(reinit):
    torch.manual_seed(0)
    x = torch.rand(40, 1, 16, 16)
    ye, yi = np.arange(40) % 3, np.arange(40) % 4
    model = Hybrid(1, 16, 3, 4, channels=(4, 8), hidden=(8,))
    left: list[list[torch.Tensor]] = []  # Wi as each adversarial step left it
    start: list[list[torch.Tensor]] = []  # Wi as each identity re-training began

    def on_step(name: str, m: Hybrid) -> None:
        if name.startswith("adv") and name.endswith("after"):
            left.append(_snapshot(m.identity))
        if name.startswith("id") and name.endswith("before"):
            start.append(_snapshot(m.identity))

    Algorithm1(T=2, init_epochs=1, id_epochs=1, reinit_identity=reinit,
               train=TrainConfig(batch=16, seed=0)).fit(model, x, ye, yi, on_step=on_step)
    fresh = [any(not torch.equal(a, b) for a, b in zip(p, q, strict=True)) for p, q in zip(left, start, strict=True)]
    assert fresh == [reinit, reinit]


def test_validation_keeps_the_best_iteration_and_its_weights():
    torch.manual_seed(0)
    x = torch.rand(48, 1, 16, 16)
    ye, yi = np.arange(48) % 3, np.arange(48) % 4
    valid = (x[36:], ye[36:], yi[36:])
    model = Hybrid(1, 16, 3, 4, channels=(4, 8), hidden=(8,))
    kept: dict[int, dict[str, torch.Tensor]] = {}

    def on_step(name: str, m: Hybrid) -> None:
        if name.startswith("id") and name.endswith("after"):
            kept[int(name[2:].split(":")[0])] = {k: v.clone() for k, v in m.state_dict().items()}

    algo = Algorithm1(T=3, init_epochs=1, id_epochs=1, train=TrainConfig(batch=16, seed=0))
    algo.fit(model, x[:36], ye[:36], yi[:36], on_step=on_step, valid=valid)
    rows = [h for h in algo.history if h["step"].startswith("id")]
    scores = [r["valid_emotion"] - r["valid_identity"] for r in rows]
    assert algo.chosen == 1 + int(np.argmax(scores))  # the first of the best, by the recorded scores
    assert all(torch.equal(v, kept[algo.chosen][k]) for k, v in model.state_dict().items())


def test_narula_unit_with_the_levers_records_its_choice():
    data = _tiny_set(4, 12)
    folds = protocol_folds(data, "paper", 2, 0)
    cfg = NarulaConfig(channels=[4, 8], hidden=[8], epochs=1, T=2, init_epochs=1, id_epochs=1,
                       reinit_identity=True, select="validation", valid_folds=3)
    row = narula_unit(data, "paper", 0, folds, cfg, 0)
    assert row["hybrid_iteration"] in (1, 2) and 0 < row["n_valid"] < row["n_train"]
