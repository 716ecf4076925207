"""narula-2020: the Emotion, Face and Emotion2Face models, the Hybrid model trained by Algorithm 1,
and the Hybrid2Emotion / Hybrid2Face probes.

Images are float tensors ``(N, C, H, W)`` in [0, 1]; labels are integer arrays. Freezing is done by
``requires_grad`` and by giving the optimizer only the trainable parameters, so a frozen block's
weights cannot change in a step (``tests/unit/test_narula.py`` checks this parameter by parameter).

Algorithm 1 (α, β, T):
  1. multi-task initialisation: min over Wc, We, Wi of  Le + α Li;
  2. for t = 1..T: freeze Wi, min over Wc, We of  Le − β Li  (``adv_epochs``);
     freeze Wc and We, min over Wi of  Li  until convergence (at most ``id_epochs``).

Beyond the paper (both off by default): ``reinit_identity`` re-initialises Wi before each of its
re-trainings, and ``fit(..., valid=...)`` keeps the iteration that does best on held-out faces of the
training subjects (emotion head accuracy minus identity head accuracy), instead of the last.

Eq. 2 as printed (``adversary_loss: negative_ce``) diverged in our runs: on Yale the identity loss
reached 120 within the first adversarial epoch and the conv base collapsed to a constant (every
probe at chance, emotion too). The default, ``confusion``, replaces −β Li by β times the cross-entropy
of Wi's prediction against the uniform distribution: bounded, and minimised exactly when Wi can tell
no one apart, which is what eq. 2 aims at.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from privemo.corpora.splits import group_folds
from privemo.evaluators.cnn import (
    TrainConfig,
    batches,
    classifier,
    fit_classifier,
    predict,
    set_trainable,
    trainable,
)
from privemo.evaluators.threat import ThreatModel, declare
from privemo.features.faceset import FaceSet, encode, to_tensor
from privemo.metrics import uar
from privemo.models.face import FCStack, Hybrid

PROBES = declare("face.narula_probes", ThreatModel(
    "narula-2020 probes", "attack", "heads trained on a frozen representation (Emotion2Face, Hybrid2Face: who it "
    "is from the emotion or the hybrid representation; Hybrid2Emotion: the expression it keeps)",
    "the representation of held-out faces", "the representation of the training faces with their labels",
    "probe accuracy (Hybrid2Face near chance: identity removed; Hybrid2Emotion high: expression kept)"))

Log = Callable[[dict[str, Any]], None]


def probe(base: nn.Module, out_dim: int, x_train: torch.Tensor, y_train: np.ndarray, x_test: torch.Tensor,
          n_out: int, hidden: tuple[int, ...], cfg: TrainConfig) -> np.ndarray:
    """A fresh FC stack trained on the frozen ``base`` (Emotion2Face, Hybrid2Emotion, Hybrid2Face)."""
    set_trainable(base, False)
    base.eval()
    with torch.no_grad():
        h_train = torch.cat([base(x_train[i:i + 512]) for i in range(0, len(x_train), 512)])
        h_test = torch.cat([base(x_test[i:i + 512]) for i in range(0, len(x_test), 512)])
    torch.manual_seed(cfg.seed + 7)
    head = FCStack(out_dim, n_out, hidden)
    fit_classifier(head, h_train, y_train, cfg)
    return predict(head, h_test)


@dataclass
class Algorithm1:
    """narula-2020 Algorithm 1 with the paper's α = 0.5, β = 1; ``T`` iterations."""

    alpha: float = 0.5
    beta: float = 1.0
    T: int = 20
    init_epochs: int = 10
    adv_epochs: int = 1
    id_epochs: int = 5  # "to convergence": stops earlier once the identity loss stops falling
    # "negative_ce": eq. 2 as printed, Le - beta Li (unbounded: Li can grow without limit by making the
    # identity head confidently wrong, which wrecks the conv base); "confusion": Le + beta CE(Wi, uniform),
    # the bounded form whose optimum is the same identity-blind base (an identity head at chance)
    adversary_loss: str = "confusion"
    adv_lr: float | None = None  # learning rate of the adversarial steps (default: train.lr)
    # beyond the paper: re-initialise the identity stack Wi before each of its re-trainings (the
    # adversary the next step fights is a fresh one trained to convergence, not the last one's
    # confused weights); fit(..., valid=...) keeps the iteration that does best on validation faces
    reinit_identity: bool = False
    train: TrainConfig = field(default_factory=TrainConfig)
    history: list[dict[str, Any]] = field(default_factory=list)
    chosen: int | None = None  # the iteration kept by fit(..., valid=...) (None: the last)

    def fit(self, model: Hybrid, x: torch.Tensor, y_emotion: np.ndarray, y_id: np.ndarray,
            log: Log | None = None, on_step: Callable[[str, Hybrid], None] | None = None,
            valid: tuple[torch.Tensor, np.ndarray, np.ndarray] | None = None) -> Hybrid:
        """Train ``model`` in place. ``on_step(name, model)`` is called before and after each step.
        With ``valid`` (images, emotions, identities of held-out faces of the training subjects), each
        iteration's model is scored there after its identity re-training, by its own emotion head's
        accuracy minus its (converged) identity head's, and the best iteration is kept."""
        ye = torch.as_tensor(y_emotion, dtype=torch.long)
        yi = torch.as_tensor(y_id, dtype=torch.long)
        best: tuple[float, int, dict[str, torch.Tensor]] | None = None
        self.chosen = None
        gen = torch.Generator().manual_seed(self.train.seed)
        hook = on_step or (lambda name, m: None)
        self.history = []

        def run(name: str, blocks: list[nn.Module], epochs: int, loss_fn: Callable[..., torch.Tensor],
                until_converged: bool = False, lr: float | None = None) -> None:
            set_trainable(model, False)
            for b in blocks:
                set_trainable(b, True)
            hook(f"{name}:before", model)
            opt = torch.optim.Adam(trainable(model), lr=lr or self.train.lr)
            t0, prev = time.perf_counter(), float("inf")
            frozen_conv = not any(p.requires_grad for p in model.conv.parameters())
            if frozen_conv:  # Wc fixed for the whole step: its output is computed once (same result)
                with torch.no_grad():
                    h_all = torch.cat([model.conv(x[i:i + 512]) for i in range(0, len(x), 512)])
            for _epoch in range(epochs):
                model.train()
                sums = np.zeros(3)
                for idx in batches(len(x), self.train.batch, gen):
                    if frozen_conv:
                        h = h_all[idx]
                        le_logits, li_logits = model.emotion(h), model.identity(h)
                    else:
                        le_logits, li_logits = model(x[idx])
                    le = nn.functional.cross_entropy(le_logits, ye[idx])
                    li = nn.functional.cross_entropy(li_logits, yi[idx])
                    loss = loss_fn(le, li, li_logits)
                    opt.zero_grad()
                    loss.backward()
                    opt.step()
                    sums += np.array([float(le.detach()), float(li.detach()), 1.0]) * len(idx)
                le_m, li_m = sums[0] / sums[2], sums[1] / sums[2]
                if until_converged and prev - li_m < 1e-3 * max(prev, 1e-6):
                    break
                prev = li_m
            model.eval()
            hook(f"{name}:after", model)
            row = {"step": name, "Le": round(le_m, 4), "Li": round(li_m, 4),
                   "seconds": time.perf_counter() - t0}
            self.history.append(row)
            if log:
                log(row)

        if self.adversary_loss not in ("negative_ce", "confusion"):
            raise ValueError(f"adversary_loss must be negative_ce or confusion, got {self.adversary_loss!r}")

        def adversarial(le: torch.Tensor, li: torch.Tensor, li_logits: torch.Tensor) -> torch.Tensor:
            if self.adversary_loss == "negative_ce":
                return le - self.beta * li
            return le - self.beta * li_logits.log_softmax(1).mean(1).mean()

        run("init", [model], self.init_epochs, lambda le, li, _: le + self.alpha * li)
        for t in range(1, self.T + 1):
            run(f"adv{t}", [model.conv, model.emotion], self.adv_epochs, adversarial, lr=self.adv_lr)
            if self.reinit_identity:
                for m in model.identity.modules():
                    reset = getattr(m, "reset_parameters", None)
                    if m is not model.identity and callable(reset):
                        reset()  # drawn from torch's generator, seeded by the caller
            run(f"id{t}", [model.identity], self.id_epochs, lambda le, li, _: li, until_converged=True)
            if valid is not None:
                emo_acc, id_acc = _accuracies(model, *valid)
                self.history[-1].update(valid_emotion=round(emo_acc, 4), valid_identity=round(id_acc, 4))
                if best is None or emo_acc - id_acc > best[0]:
                    best = (emo_acc - id_acc, t, {k: v.detach().clone() for k, v in model.state_dict().items()})
        if best is not None:
            model.load_state_dict(best[2])
            self.chosen = best[1]
        set_trainable(model, True)
        return model


def _accuracies(model: Hybrid, x: torch.Tensor, y_emotion: np.ndarray, y_id: np.ndarray) -> tuple[float, float]:
    """The model's own emotion and identity heads' accuracies on (held-out) faces."""
    model.eval()
    with torch.no_grad():
        outs = [model(x[i:i + 512]) for i in range(0, len(x), 512)]
    e = torch.cat([o[0] for o in outs]).argmax(1).numpy()
    i = torch.cat([o[1] for o in outs]).argmax(1).numpy()
    return float(np.mean(e == np.asarray(y_emotion))), float(np.mean(i == np.asarray(y_id)))


# ---- narula-2020's table: one fold of either protocol ----------------------------------------
# narula-2020's table (Face, Emotion, Emotion2Face, Hybrid2Emotion, Hybrid2Face) for one fold.
#
# Two protocols over the same augmented images; augmented copies of one original never straddle a split.
#
# * ``paper`` (narula-2020 §4.2): random folds over the originals, dealt per subject so that every
#   subject and emotion is in training; all five models train on the training images and are tested on
#   the test images. Identity chance = 1 / subjects.
# * ``subject``: subject-independent folds. Emotion and Hybrid2Emotion are tested on unseen subjects.
#   Identity is probed on the unseen subjects (who the adversary never saw): each X2Face model keeps
#   its convolutional base frozen and trains a fresh identity head on half of each test subject's
#   originals (with their copies), tested on the other half; ``Face`` is a base trained for identity on
#   the training subjects, probed the same way. Identity chance = 1 / test subjects.
#
# With ``select: validation`` the Hybrid trains on the training side less one group fold of it, which
# chooses its iteration; the probes still train on the whole training side.
#
# Threat model of the identity columns: the attacker holds the convolutional base (the representation
# that leaves the device, scenario III) and labelled images of the people to identify.

COLUMNS = ("Face", "Emotion", "Emotion2Face", "Hybrid2Emotion", "Hybrid2Face")


def _score(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    return {"acc": float(np.mean(y_true == y_pred)), "uar": float(uar(y_true, y_pred))}


def narula_unit(data: FaceSet, protocol: str, fold: int, fold_of: np.ndarray, cfg: Any, seed: int,
                log: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Train and test every model of the table on one fold; figures are accuracies and UARs."""
    say = log or (lambda m: None)
    t_start = time.perf_counter()
    test = np.flatnonzero(fold_of == fold)
    train = np.flatnonzero(fold_of != fold)
    x = to_tensor(data.images)
    ye, emotions = encode(data.emotion)
    yi, subjects = encode(data.subject)
    in_ch, size = x.shape[1], x.shape[-1]
    channels, hidden = tuple(cfg.channels), tuple(cfg.hidden)
    tc = TrainConfig(epochs=cfg.epochs, lr=cfg.lr, batch=cfg.batch, seed=seed + 1000 * fold)
    n_id = len(subjects)
    if protocol == "subject":  # identity probes on the unseen subjects: enrol half / probe half
        halves = group_folds(data.group[test], 2, seed + fold, strata=data.subject[test])
        id_train, id_test = test[halves == 1], test[halves == 0]
        id_chance = 1.0 / len(set(data.subject[test].tolist()))
    else:
        id_train, id_test = train, test
        id_chance = 1.0 / n_id
    row: dict[str, Any] = {"protocol": protocol, "fold": fold, "seed": seed, "n_train": len(train),
                           "n_test": len(test), "emotion_chance": 1.0 / len(emotions), "id_chance": id_chance,
                           "n_subjects": n_id, "emotions": emotions}

    def model_seed(k: int) -> None:
        torch.manual_seed(seed * 7919 + fold * 31 + k)

    # Emotion, and Emotion2Face on its frozen base
    model_seed(1)
    emo = classifier(in_ch, size, len(emotions), channels, hidden, cfg.leaky)
    fit_classifier(emo, x[train], ye[train], tc)
    row["Emotion"] = _score(ye[test], predict(emo, x[test]))
    row["Emotion2Face"] = _score(yi[id_test], probe(emo.base, emo.out_dim, x[id_train], yi[id_train],
                                                    x[id_test], n_id, hidden, tc))
    say(f"{protocol} fold {fold}: Emotion {row['Emotion']['acc']:.3f}, Emotion2Face {row['Emotion2Face']['acc']:.3f}")
    # Face: trained for identity on the training images (paper) or training subjects (subject)
    model_seed(2)
    face = classifier(in_ch, size, n_id, channels, hidden, cfg.leaky)
    fit_classifier(face, x[train], yi[train], tc)
    if protocol == "subject":
        row["Face"] = _score(yi[id_test], probe(face.base, face.out_dim, x[id_train], yi[id_train],
                                                x[id_test], n_id, hidden, tc))
    else:
        row["Face"] = _score(yi[test], predict(face, x[test]))
    # Hybrid by Algorithm 1, then fresh heads on its frozen base
    model_seed(3)
    hybrid = Hybrid(in_ch, size, len(emotions), n_id, channels, hidden, cfg.leaky)
    algo = Algorithm1(alpha=cfg.alpha, beta=cfg.beta, T=cfg.T, init_epochs=cfg.init_epochs, adv_epochs=cfg.adv_epochs,
                      id_epochs=cfg.id_epochs, adversary_loss=cfg.adversary_loss, adv_lr=cfg.adv_lr,
                      reinit_identity=cfg.reinit_identity, train=tc)
    t0 = time.perf_counter()
    fit_on, valid = train, None
    if cfg.select == "validation":  # held-out recording groups of the training subjects choose the iteration
        part = group_folds(data.group[train], cfg.valid_folds, seed + 77 + fold, strata=data.subject[train])
        fit_on, held = train[part != 0], train[part == 0]
        valid = (x[held], ye[held], yi[held])
        row["n_valid"] = len(held)
    algo.fit(hybrid, x[fit_on], ye[fit_on], yi[fit_on], valid=valid)
    row["hybrid_iteration"] = algo.chosen if algo.chosen is not None else cfg.T
    row["hybrid_seconds"] = time.perf_counter() - t0
    row["hybrid_seconds_per_iteration"] = (sum(h["seconds"] for h in algo.history if h["step"] != "init")
                                           / max(cfg.T, 1))
    row["hybrid_history"] = algo.history
    row["Hybrid2Emotion"] = _score(ye[test], probe(hybrid.conv, hybrid.conv.out_dim, x[train], ye[train], x[test],
                                                   len(emotions), hidden, tc))
    row["Hybrid2Face"] = _score(yi[id_test], probe(hybrid.conv, hybrid.conv.out_dim, x[id_train], yi[id_train],
                                                   x[id_test], n_id, hidden, tc))
    row["wall_s"] = time.perf_counter() - t_start
    say(f"{protocol} fold {fold}: Face {row['Face']['acc']:.3f}, Hybrid2Emotion {row['Hybrid2Emotion']['acc']:.3f}, "
        f"Hybrid2Face {row['Hybrid2Face']['acc']:.3f} ({row['wall_s']:.0f} s)")
    return row


def protocol_folds(data: FaceSet, protocol: str, k: int, seed: int) -> np.ndarray:
    if protocol == "subject":
        return group_folds(data.subject, k, seed)
    return group_folds(data.group, k, seed, strata=data.subject)
