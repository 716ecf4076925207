"""The figures of one voice anonymization method, from embeddings and features of the same items
before (``o``) and after (``a``) anonymization. Pure functions of arrays: no audio, no files.

Threat models (DESIGN.md vocabulary):

- verification (:mod:`privemo.attacks.verification`): the pretrained resemblyzer encoder; lazy-informed
  (enrolment original, trials anonymized) and semi-informed (both anonymized; with the LDA back-end
  also adapted on anonymized speech of speakers outside the test fold);
- closed-set speaker identification: scenario I ("naive": trained on original enrolment items,
  tested on anonymized trial items) and scenario II ("informed": trained on anonymized enrolment
  items of every speaker, tested on the other, anonymized, items);
- gender: trained on anonymized items of the other folds' speakers, tested on the fold's speakers
  (speaker-independent); the figure is the worst case over feature sets and classifiers;
- utility: emotion UAR over speaker-independent folds, trained on original or on anonymized audio,
  always tested on anonymized audio of unseen speakers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.ensemble import RandomForestClassifier

from privemo.evaluators.base import fit_predict
from privemo.features.normalize import speaker_znorm
from privemo.metrics import accuracy, confusion, per_group_uar, uar


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


def speaker_id(o: Side, a: Side, items: Items, seed: int) -> dict[str, Any]:
    out: dict[str, Any] = {"chance": 1.0 / len(set(items.speaker.tolist()))}
    e, t = items.enrol, ~items.enrol
    y = items.speaker.astype(str)
    for feat in ("emb", "egemaps"):
        Xo, Xa = getattr(o, feat), getattr(a, feat)
        name = "resemblyzer" if feat == "emb" else feat
        naive = fit_predict("logreg", Xo[e], y[e], Xa[t], seed=seed).astype(str)
        informed = fit_predict("logreg", Xa[e], y[e], Xa[t], seed=seed).astype(str)
        out[f"naive_{name}"] = accuracy(y[t], naive)
        out[f"informed_{name}"] = accuracy(y[t], informed)
    out["informed_worst"] = max(out["informed_resemblyzer"], out["informed_egemaps"])
    return out


def _fold_predictions(jobs: list[tuple[str, np.ndarray, np.ndarray, np.ndarray, np.ndarray]], y: np.ndarray,
                      seed: int, n_jobs: int) -> list[np.ndarray]:
    """For each job (model, train X, test X, train mask, test mask): predictions at the test mask.
    Folds run in ``n_jobs`` processes (the classifiers are single-threaded)."""
    from joblib import Parallel, delayed

    return Parallel(n_jobs=n_jobs)(delayed(_fit_one)(model, Xtr, y[tr], Xte, seed)
                                   for model, Xtr, Xte, tr, _ in jobs)


def _fit_one(model: str, Xtr: np.ndarray, ytr: np.ndarray, Xte: np.ndarray, seed: int) -> np.ndarray:
    if model == "rf":
        rf = RandomForestClassifier(300, class_weight="balanced", random_state=seed, n_jobs=1)
        return rf.fit(Xtr, ytr).predict(Xte).astype(object)
    if model == "logreg_emotion":
        return fit_predict("logreg", Xtr, ytr, Xte, seed=seed, C=0.1)
    return fit_predict(model, Xtr, ytr, Xte, seed=seed)


def gender_attack(a: Side, items: Items, kinds: list[str], seed: int, n_jobs: int = 2) -> dict[str, Any]:
    known = np.isin(items.gender, ["m", "f"])
    if known.sum() == 0 or len(set(items.gender[known].tolist())) < 2:
        return {"uar": float("nan"), "skipped": "no gender labels"}
    out: dict[str, Any] = {}
    y = items.gender.astype(str)
    jobs, names = [], []
    for feat in ("emb", "egemaps"):
        X = getattr(a, feat)
        for kind in kinds:
            for f in sorted(set(items.fold.tolist())):
                test, train = known & (items.fold == f), known & (items.fold != f)
                jobs.append((kind, X[train], X[test], train, test))
                names.append(f"uar_{'resemblyzer' if feat == 'emb' else feat}_{kind}")
    preds: dict[str, np.ndarray] = {}
    for name, job, p in zip(names, jobs, _fold_predictions(jobs, y, seed, n_jobs), strict=True):
        preds.setdefault(name, np.empty(len(y), dtype=object))[job[4]] = p
    for name, pred in preds.items():
        out[name] = uar(y[known], pred[known].astype(str))
    best = max(out, key=lambda k: out[k])
    out.update({"uar": out[best], "attacker": best[4:]})
    return out


def _pairs(X: np.ndarray, items: Items) -> np.ndarray:
    U = X / np.maximum(np.linalg.norm(X, axis=1, keepdims=True), 1e-12)
    scores = []
    for spk in sorted(set(items.speaker.tolist())):
        idx = np.flatnonzero(items.speaker == spk)
        s = U[idx] @ U[idx].T
        diff = items.emotion[idx][:, None] != items.emotion[idx][None, :]
        upper = np.triu(np.ones_like(diff), 1).astype(bool)
        scores.append(s[diff & upper])
    return np.concatenate(scores) if scores else np.zeros(0)


def _stats(x: np.ndarray) -> dict[str, float]:
    if x.size == 0:
        return {"mean": float("nan"), "median": float("nan"), "min": float("nan"), "max": float("nan")}
    return {"mean": float(np.mean(x)), "median": float(np.median(x)), "min": float(np.min(x)),
            "max": float(np.max(x))}


def similarity_table(o: Side, a: Side, items: Items) -> dict[str, Any]:
    """ranade's Table 1 with the resemblyzer cosine: R1, a speaker's clips of different emotions
    (original and anonymized); R2, each clip against its own anonymized version."""
    Uo = o.emb / np.maximum(np.linalg.norm(o.emb, axis=1, keepdims=True), 1e-12)
    Ua = a.emb / np.maximum(np.linalg.norm(a.emb, axis=1, keepdims=True), 1e-12)
    return {"r1_original": _stats(_pairs(o.emb, items)), "r1_anonymized": _stats(_pairs(a.emb, items)),
            "r2": _stats(np.sum(Uo * Ua, axis=1))}


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
    if reference:  # original audio: trained on original = trained on "anonymized"
        out.update({k.replace("_orig_", "_anon_", 1): v for k, v in list(out.items()) if "_orig_" in k})
    return out
