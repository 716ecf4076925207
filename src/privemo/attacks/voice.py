"""The voice attackers of an anonymization evaluation, beside the verification attacks
(:mod:`privemo.attacks.verification`): closed-set speaker identification, gender, and ranade's
similarity table. Pure functions of the embeddings and features of the same items before (``o``) and
after (``a``) anonymization (:mod:`privemo.evaluators.voice`). Each declares its threat model.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from privemo.evaluators.base import Classifier, fit_predict
from privemo.evaluators.judge import Column, Judge, JudgeInput
from privemo.evaluators.threat import ThreatModel, declare
from privemo.evaluators.voice import Items, Side, _fold_predictions
from privemo.metrics import accuracy, uar
from privemo.registry import register

NAIVE_ID = declare("voice.naive_id", ThreatModel(
    "naive speaker identification", "attack", "a closed-set identifier of every speaker (resemblyzer or eGeMAPS, "
    "logistic regression)", "anonymized trial clips", "the ORIGINAL enrolment clips of every speaker (each "
    "speaker's clips split in halves)", "its accuracy (chance = 1 / speakers)"))
INFORMED_ID = declare("voice.informed_id", ThreatModel(
    "informed speaker identification", "attack", "the same identifier, knowing the method",
    "anonymized trial clips", "ANONYMIZED enrolment clips of every speaker", "its accuracy (chance = 1 / speakers)"))
GENDER = declare("voice.gender", ThreatModel(
    "gender", "attack", "a gender classifier (logistic regression, gradient boosting... on resemblyzer and eGeMAPS)",
    "anonymized clips of the fold's unseen speakers", "anonymized clips of the other folds' speakers",
    "its UAR, the worst case over feature sets and classifiers (chance 0.5)"))
TRACK_LAZY_ID = declare("video.lazy_speaker_id", ThreatModel(
    "lazy speaker identification (tracks)", "attack", "a closed-set identifier with the pretrained resemblyzer "
    "encoder (nearest enrolment centroid)", "the anonymized voice tracks of trial clips",
    "nothing: it enrols each speaker on the ORIGINAL tracks of the enrolment clips",
    "accuracy per clip and per speaker (chance = 1 / speakers)"))
TRACK_INFORMED_ID = declare("video.informed_speaker_id", ThreatModel(
    "informed speaker identification (tracks)", "attack", "the same identifier, knowing the method",
    "the anonymized voice tracks of trial clips", "nothing: it enrols on the ANONYMIZED enrolment tracks",
    "accuracy per clip and per speaker"))
SIMILARITY = declare("voice.similarity", ThreatModel(
    "similarity (ranade Table 1)", "attack", "the pretrained resemblyzer encoder as a judge",
    "original and anonymized clips", "nothing (pretrained)",
    "cosine R1 between a speaker's clips of different emotions, R2 between a clip and its anonymized version"))


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




# eGeMAPS's parameter groups (Eyben et al. 2016), by the functionals' names
EGEMAPS_GROUPS = {"pitch": r"^F0semitone", "voice quality": r"^(jitter|shimmer|HNR|logRelF0)",
                  "formants": r"^F[123]", "spectral balance": r"^(alphaRatio|hammarberg|slope|spectralFlux)",
                  "MFCC 1-4": r"^mfcc", "loudness": r"^(loudness_|equivalentSound)",
                  "timing": r"(PerSec|SegmentLength)"}


def id_groups(a: Side, items: Items, names: list[str], seed: int) -> dict[str, Any]:
    """The informed eGeMAPS identifier (:func:`speaker_id`) on each parameter group alone and on every
    feature but that group: which of the anonymized speech's properties still name the speaker."""
    import re

    from privemo.errors import ConfigError

    if a.egemaps.shape[1] != len(names):
        raise ConfigError(f"judge id_groups: eGeMAPS has {len(names)} functionals, the features have "
                          f"{a.egemaps.shape[1]}")
    e, t = items.enrol, ~items.enrol
    y = items.speaker.astype(str)

    def acc(cols: np.ndarray) -> float:
        if len(cols) == 0:  # no feature of the group (or only the group)
            return float("nan")
        return accuracy(y[t], fit_predict("logreg", a.egemaps[e][:, cols], y[e], a.egemaps[t][:, cols],
                                          seed=seed).astype(str))

    every = np.arange(len(names))
    out: dict[str, Any] = {"chance": 1.0 / len(set(y.tolist())), "all": acc(every), "groups": {}}
    for group, pattern in EGEMAPS_GROUPS.items():
        cols = np.array([i for i, n in enumerate(names) if re.search(pattern, n)], dtype=int)
        out["groups"][group] = {"n": len(cols), "alone": acc(cols), "without": acc(np.setdiff1d(every, cols))}
    return out


ID_CHECK = "speaker ID <= 25% (strongest informed)"  # the target check the informed identifiers compete in
_ID = {"fmt": "pct", "threat": "voice identification", "chance": "speakers", "target": 0.25, "check": ID_CHECK}


@register("judge", "speaker_id")
@dataclass
class SpeakerId(Judge):
    """Closed-set speaker identification (logistic regression on resemblyzer and eGeMAPS), naive and informed."""

    medium = "voice"
    key = "speaker_id"
    threats = ("voice.naive_id", "voice.informed_id")
    columns = (
        Column("speaker ID naive (resemblyzer)", "naive_resemblyzer", attacker="naive, resemblyzer",
               **_ID),  # type: ignore[arg-type]
        Column("speaker ID informed (resemblyzer)", "informed_resemblyzer", attacker="informed, resemblyzer",
               strongest=True, **_ID),  # type: ignore[arg-type]
        Column("speaker ID informed (eGeMAPS)", "informed_egemaps", attacker="informed, eGeMAPS", strongest=True,
               **_ID),  # type: ignore[arg-type]
    )

    def __call__(self, j: JudgeInput) -> dict[str, Any]:
        return speaker_id(j.original, j.side, j.items, j.seed)


@register("judge", "gender")
@dataclass
class Gender(Judge):
    """The gender attacker, the worst case over ``attackers`` and feature sets."""

    attackers: list[Classifier] = field(default_factory=lambda: ["logreg", "gbm"])

    medium = "voice"
    key = "gender"
    threats = ("voice.gender",)
    columns = (Column("gender attacker UAR", "uar", threat="gender", attacker="gender attacker (worst case), UAR",
                      check="gender attacker <= 0.70",
                      chance=0.5, target=0.70, strongest=True),)

    def __call__(self, j: JudgeInput) -> dict[str, Any]:
        return gender_attack(j.side, j.items, list(self.attackers), j.seed)


@register("judge", "id_groups")
@dataclass
class IdGroups(Judge):
    """What still names the speaker: the informed eGeMAPS identifier on each eGeMAPS parameter group
    (pitch, voice quality, formants, spectral balance, MFCC 1-4, loudness, timing) alone and without
    it. A diagnostic beside the table (no column of its own); ``names``: the functionals' names (none:
    eGeMAPSv02's, from openSMILE)."""

    names: list[str] | None = None

    medium = "voice"
    key = "id_groups"
    threats = ("voice.informed_id",)

    def __call__(self, j: JudgeInput) -> dict[str, Any]:
        from privemo.features.extractors import egemaps_names

        return id_groups(j.side, j.items, list(self.names) if self.names else egemaps_names(), j.seed)


@register("judge", "similarity")
@dataclass
class Similarity(Judge):
    """ranade's Table 1: resemblyzer cosine within and across versions."""

    medium = "voice"
    key = "similarity"
    threats = ("voice.similarity",)

    def __call__(self, j: JudgeInput) -> dict[str, Any]:
        return similarity_table(j.original, j.side, j.items)
