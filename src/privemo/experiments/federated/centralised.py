"""The paper's centralised baselines, with the federated task's own model and training functions.

* ``dependent``: every client speaker's items split 70:30 (the same local split the clients use),
  one model trained on all the 70% parts, tested on all the 30% parts: the speaker-dependent trial.
* ``independent``: the same training items, tested on the fold's held-out speakers: exactly what
  the federation is compared with on the server side.
* ``loso``: leave-one-speaker-out over the whole corpus (the paper's subject-independent trial):
  train on every other speaker's items, test on the left-out speaker's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from privemo.experiments.federated.data import CorpusData, FoldData, zscore
from privemo.learners.federated.task import Partition, build_model, evaluate, train, uar_of_confusion


def _fit(X: np.ndarray, y: np.ndarray, settings: dict[str, Any], n_in: int, n_classes: int, epochs: int,
         seed: int) -> Any:
    model = build_model(n_in, n_classes, settings["model"], seed)
    train(model, X, y, epochs=epochs, batch_size=settings["batch_size"], lr=settings["lr"],
          optimizer=settings["optimizer"], seed=seed, n_classes=n_classes)
    return model


def fold_baselines(fold: FoldData, settings: dict[str, Any], epochs: int, seed: int) -> dict[str, Any]:
    """Speaker-dependent and subject-independent (same split as the federation) results of one fold."""
    parts = [Partition.load(fold.dir / f"client{c['partition_id']:03d}.npz") for c in fold.clients]
    server = Partition.load(fold.dir / "server.npz")
    Xtr = np.concatenate([p.X[p.train] for p in parts])
    ytr = np.concatenate([p.y[p.train] for p in parts])
    Xte = np.concatenate([p.X[~p.train] for p in parts])
    yte = np.concatenate([p.y[~p.train] for p in parts])
    k = len(fold.labels)
    model = _fit(Xtr, ytr, settings, fold.n_in, k, epochs, seed)
    dep, ind = evaluate(model, Xte, yte, k), evaluate(model, server.X, server.y, k)
    return {"dependent": dep, "independent": ind, "n_train": int(len(ytr))}


def loso(data: CorpusData, settings: dict[str, Any], epochs: int, seed: int,
         progress: Callable[[int, int], None] | None = None, normalize: str = "speaker") -> dict[str, Any]:
    """Leave-one-speaker-out: per-speaker UAR and the confusion matrix summed over speakers
    (``normalize: global``: standardised with the training speakers' statistics each time)."""
    speakers = sorted(set(data.speaker))
    k = len(data.labels)
    total = np.zeros((k, k), dtype=np.int64)
    per_speaker = {}
    for i, spk in enumerate(speakers):
        test = data.speaker == spk
        X = zscore(data.X, data.X[~test]) if normalize == "global" else data.X
        model = _fit(X[~test], data.y[~test], settings, data.X.shape[1], k, epochs, seed)
        ev = evaluate(model, X[test], data.y[test], k)
        total += np.asarray(ev["confusion"], dtype=np.int64)
        per_speaker[spk] = ev["uar"]
        if progress:
            progress(i + 1, len(speakers))
    vals = np.array(list(per_speaker.values()))
    return {"uar": uar_of_confusion(total), "confusion": total.tolist(), "per_speaker_uar": per_speaker,
            "speaker_uar_mean": float(np.nanmean(vals)), "speaker_uar_std": float(np.nanstd(vals))}
