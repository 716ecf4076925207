"""narula-2020's table (Face, Emotion, Emotion2Face, Hybrid2Emotion, Hybrid2Face) for one fold.

Two protocols over the same augmented images; augmented copies of one original never straddle a split.

* ``paper`` (narula-2020 §4.2): random folds over the originals, dealt per subject so that every
  subject and emotion is in training; all five models train on the training images and are tested on
  the test images. Identity chance = 1 / subjects.
* ``subject``: subject-independent folds. Emotion and Hybrid2Emotion are tested on unseen subjects.
  Identity is probed on the unseen subjects (who the adversary never saw): each X2Face model keeps
  its convolutional base frozen and trains a fresh identity head on half of each test subject's
  originals (with their copies), tested on the other half; ``Face`` is a base trained for identity on
  the training subjects, probed the same way. Identity chance = 1 / test subjects.

With ``select: validation`` the Hybrid trains on the training side less one group fold of it, which
chooses its iteration; the probes still train on the whole training side.

Threat model of the identity columns: the attacker holds the convolutional base (the representation
that leaves the device, scenario III) and labelled images of the people to identify.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from privemo.corpora.splits import group_folds
from privemo.evaluators.cnn import TrainConfig, classifier, fit_classifier, predict
from privemo.experiments.face.config import NarulaConfig
from privemo.experiments.face.data import FaceSet, encode, to_tensor
from privemo.learners.narula import Algorithm1, probe
from privemo.metrics import uar
from privemo.models.face import Hybrid

COLUMNS = ("Face", "Emotion", "Emotion2Face", "Hybrid2Emotion", "Hybrid2Face")


def _score(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    return {"acc": float(np.mean(y_true == y_pred)), "uar": float(uar(y_true, y_pred))}


def narula_unit(data: FaceSet, protocol: str, fold: int, fold_of: np.ndarray, cfg: NarulaConfig, seed: int,
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
