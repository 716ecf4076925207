"""The emotion judge of a voice anonymization evaluation, and what every voice attacker and judge
reads: the embeddings and features of the same items before (``o``) and after (``a``) anonymization
(``Side``) and who each item is (``Items``). Pure functions of arrays: no audio, no files.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.ensemble import RandomForestClassifier

from privemo.evaluators.base import fit_predict
from privemo.evaluators.judge import Column, Judge, JudgeInput
from privemo.evaluators.threat import ThreatModel, declare
from privemo.features.normalize import speaker_znorm
from privemo.metrics import confusion, per_class_recall, per_group_uar, uar
from privemo.registry import register

EMOTION = declare("voice.emotion", ThreatModel(
    "emotion", "utility", "emotion recognition on anonymized speech (UAR): logistic regression on speaker-"
    "normalised ComParE and ranade's random forest on eGeMAPS",
    "anonymized clips of speakers never seen in training",
    "original or anonymized audio of the other folds' speakers (trained on anonymized: the deployed model "
    "retrained on protected speech)", "UAR trained and tested on anonymized speech, against the original's"))


@dataclass
class Side:
    """What one version of the corpus (original or anonymized) gives."""

    emb: np.ndarray  # resemblyzer
    egemaps: np.ndarray
    emotion_X: np.ndarray  # the emotion features (ComParE), speaker-normalised


@dataclass
class Items:
    speaker: np.ndarray
    gender: np.ndarray
    emotion: np.ndarray
    enrol: np.ndarray  # bool
    fold: np.ndarray  # int per item
    fold_of: dict[str, int]


def speaker_normalised(X: np.ndarray, speakers: np.ndarray) -> np.ndarray:
    return np.stack(speaker_znorm(list(X), list(speakers))).astype(np.float32)  # type: ignore[arg-type]


def voice_side(manifest: Any, label: str, emotion_features: str, cache: Any, workers: int,
               progress: Callable[[int, int], None] | None = None) -> Side:
    """What the voice judges read of one version of a corpus (``label``: which one, for errors):
    resemblyzer and eGeMAPS, and the emotion features normalised per speaker; computed by
    ``workers`` processes into the feature cache."""
    from privemo.features.batch import extract_all, require

    specs = ["resemblyzer", "egemaps", emotion_features]
    feats = extract_all(manifest, specs, cache, workers, progress)
    require(manifest, feats, label)
    spk = manifest.df["speaker"].astype(str).to_numpy()
    emo = np.stack(feats[emotion_features]).astype(np.float32)  # type: ignore[arg-type]
    return Side(np.stack(feats["resemblyzer"]), np.stack(feats["egemaps"]),  # type: ignore[arg-type]
                speaker_normalised(emo, spk))


def _fold_predictions(jobs: list[tuple[str, np.ndarray, np.ndarray, np.ndarray, np.ndarray]], y: np.ndarray,
                      seed: int, n_jobs: int) -> list[np.ndarray]:
    """For each job (model, train X, test X, train mask, test mask): predictions at the test mask.
    Folds run in ``n_jobs`` processes (the classifiers are single-threaded), which end with this
    process: a killed evaluation leaves no worker computing on."""
    import os

    from joblib import Parallel, delayed

    from privemo._procs import exit_with_parent

    return Parallel(n_jobs=n_jobs, initializer=exit_with_parent, initargs=(os.getpid(),))(
        delayed(_fit_one)(model, Xtr, y[tr], Xte, seed) for model, Xtr, Xte, tr, _ in jobs)


def _fit_one(model: str, Xtr: np.ndarray, ytr: np.ndarray, Xte: np.ndarray, seed: int) -> np.ndarray:
    if model == "rf":
        rf = RandomForestClassifier(300, class_weight="balanced", random_state=seed, n_jobs=1)
        return rf.fit(Xtr, ytr).predict(Xte).astype(object)
    if model == "logreg_emotion":
        return fit_predict("logreg", Xtr, ytr, Xte, seed=seed, C=0.1)
    return fit_predict(model, Xtr, ytr, Xte, seed=seed)


def emotion_utility(o: Side, a: Side, items: Items, seed: int, reference: bool, n_jobs: int = 2) -> dict[str, Any]:
    """Emotion UAR on anonymized test speakers: logistic regression on speaker-normalised ComParE (our
    best speech model on functionals) and ranade's random forest on eGeMAPS; trained on original
    (``orig``) or on anonymized (``anon``) audio of the other folds' speakers."""
    y = items.emotion.astype(str)
    labels = sorted(set(y.tolist()))
    out: dict[str, Any] = {"labels": labels, "chance": 1.0 / len(labels)}
    sources = {"orig": o} if reference else {"orig": o, "anon": a}
    jobs, keys = [], []
    for src, train_side in sources.items():
        for model, feat in (("logreg", "emotion_X"), ("rf", "egemaps")):
            for f in sorted(set(items.fold.tolist())):
                test, train = items.fold == f, items.fold != f
                jobs.append(("logreg_emotion" if model == "logreg" else model, getattr(train_side, feat)[train],
                             getattr(a, feat)[test], train, test))
                keys.append(f"{model}_{src}")
    preds: dict[str, np.ndarray] = {}
    for key, job, p in zip(keys, jobs, _fold_predictions(jobs, y, seed, n_jobs), strict=True):
        preds.setdefault(key, np.empty(len(y), dtype=object))[job[4]] = p
    for key, pred in preds.items():
        p = pred.astype(str)
        out[f"{key}_uar"] = uar(y, p, labels)
        out[f"{key}_per_gender"] = per_group_uar(y, p, items.gender.astype(str))
        out[f"{key}_confusion"] = confusion(y, p, labels)
        out[f"{key}_recall"] = per_class_recall(y, p, labels)
    if reference:  # original audio: trained on original = trained on "anonymized"
        out.update({k.replace("_orig_", "_anon_", 1): v for k, v in list(out.items()) if "_orig_" in k})
    return out


@register("judge", "emotion")
@dataclass
class Emotion(Judge):
    """Emotion recognition on the protected speech (see :func:`emotion_utility`)."""

    medium = "voice"
    key = "emotion"
    threats = ("voice.emotion",)
    columns = (
        Column("emotion UAR, trained on original (logreg, ComParE)", "logreg_orig_uar"),
        Column("emotion UAR, trained on anonymized (logreg, ComParE)", "logreg_anon_uar", utility=True, target=0.9,
               relative=True, check="emotion >= 0.90 x original"),
        Column("emotion UAR, trained on anonymized (RF, eGeMAPS)", "rf_anon_uar"),
    )

    def __call__(self, j: JudgeInput) -> dict[str, Any]:
        return emotion_utility(j.original, j.side, j.items, j.seed, j.reference)
