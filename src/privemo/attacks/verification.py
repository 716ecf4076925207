"""Speaker verification attacks with a pretrained speaker encoder (VoicePrivacy-style).

Each speaker's items are split into an enrolment half and a trial half (:func:`enrol_split`).

- **Centroid enrolment**: a speaker model is the mean embedding of its enrolment items; every trial
  item is scored against every test speaker's model (cosine); EER over genuine vs impostor trials.
- **Utterance pairs**: every pair (enrolment item, trial item) is a trial.
- **Lazy-informed** attacker: enrols on original audio, is tested with anonymized trials.
- **Semi-informed** attacker: knows the anonymizer, so enrols on anonymized audio too; with a
  back-end (``backend="lda"``) it also adapts the scoring to anonymized speech: a linear
  discriminant analysis fitted on anonymized embeddings of *other* speakers (never the test
  speakers), then cosine scoring in the LDA space.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis

from privemo._schema import PosInt
from privemo.evaluators.judge import Column, Judge, JudgeInput
from privemo.evaluators.threat import ThreatModel, declare
from privemo.metrics import eer
from privemo.registry import register

LAZY = declare("voice.lazy_verification", ThreatModel(
    "lazy-informed verification", "attack", "a verifier with the pretrained resemblyzer speaker encoder",
    "anonymized trial clips", "nothing: it enrols each speaker on ORIGINAL clips (centroid of the enrolment half)",
    "its EER (higher = more private; 50% = chance)"))
SEMI = declare("voice.semi_verification", ThreatModel(
    "semi-informed verification", "attack", "the same verifier, knowing the method",
    "anonymized trial clips", "nothing: it enrols each speaker on ANONYMIZED clips", "its EER"))
SEMI_LDA = declare("voice.semi_lda_verification", ThreatModel(
    "semi-informed verification + LDA", "attack", "the semi-informed verifier with an adapted back-end",
    "anonymized trial clips", "an LDA back-end fitted on anonymized speech of speakers outside the test fold "
    "(never a test speaker), enrolment on anonymized clips",
    "its EER; a table's verification headline is the lowest EER of the three"))


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def enrol_split(speakers: np.ndarray, groups: np.ndarray, seed: int = 0) -> np.ndarray:
    """A boolean mask: True for the enrolment half of each speaker's items (groups kept whole)."""
    rng = np.random.default_rng(seed)
    mask = np.zeros(len(speakers), dtype=bool)
    for spk in sorted(set(speakers.tolist())):
        idx = np.flatnonzero(speakers == spk)
        g = np.unique(groups[idx])
        chosen = set(rng.permutation(g)[: max(1, len(g) // 2)].tolist())
        mask[idx] = [groups[i] in chosen for i in idx]
    return mask


def centroid_scores(enrol_X: np.ndarray, enrol_spk: np.ndarray, trial_X: np.ndarray, trial_spk: np.ndarray
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Cosine scores of every trial against every enrolled speaker's centroid, and genuine flags."""
    models = sorted(set(enrol_spk.tolist()))
    cents = _unit(np.stack([enrol_X[enrol_spk == s].mean(axis=0) for s in models]))
    s = _unit(trial_X) @ cents.T
    same = trial_spk[:, None] == np.array(models, dtype=object)[None, :]
    return s.ravel(), same.ravel()


def pair_scores(enrol_X: np.ndarray, enrol_spk: np.ndarray, trial_X: np.ndarray, trial_spk: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray]:
    """Cosine scores of every (enrolment item, trial item) pair, and genuine flags."""
    s = _unit(trial_X) @ _unit(enrol_X).T
    same = trial_spk[:, None] == enrol_spk[None, :]
    return s.ravel(), same.ravel()


@dataclass
class Backend:
    """Scoring space: identity (the pretrained embedding) or LDA fitted on other speakers."""

    lda: LinearDiscriminantAnalysis | None = None

    @staticmethod
    def fit(X: np.ndarray, speakers: np.ndarray, kind: str = "none", dim: int = 100) -> Backend:
        if kind == "none":
            return Backend()
        if kind != "lda":
            raise ValueError(f"unknown back-end {kind!r} (none, lda)")
        n = min(dim, len(set(speakers.tolist())) - 1, X.shape[1])
        return Backend(LinearDiscriminantAnalysis(n_components=n, solver="eigen", shrinkage="auto").fit(
            _unit(X), speakers.astype(str)))

    def __call__(self, X: np.ndarray) -> np.ndarray:
        return _unit(X) if self.lda is None else self.lda.transform(_unit(X))


def verification_eers(enrol_X: np.ndarray, enrol_spk: np.ndarray, trial_X: np.ndarray, trial_spk: np.ndarray,
                      backend: Backend | None = None) -> dict[str, float]:
    """EER with centroid enrolment and with utterance pairs (percent-free fractions in [0, 1])."""
    b = backend or Backend()
    e, t = b(enrol_X), b(trial_X)
    return {"eer_centroid": eer(*centroid_scores(e, enrol_spk, t, trial_spk)),
            "eer_pairs": eer(*pair_scores(e, enrol_spk, t, trial_spk))}


def verification_attack(orig: np.ndarray, anon: np.ndarray, speakers: np.ndarray, enrol: np.ndarray,
                        fold_of: dict[str, int], backend_dim: int = 100) -> dict[str, Any]:
    """Every verification figure for one method.

    ``orig`` / ``anon``: embeddings of the same items, original and anonymized; ``enrol``: the
    enrolment mask; ``fold_of``: speaker -> fold. Lazy-informed and semi-informed figures pool all
    speakers; the semi-informed LDA figures are computed fold by fold (the back-end is fitted on the
    anonymized items of the other folds' speakers) and averaged.
    """
    trial = ~enrol
    out: dict[str, Any] = {}
    for name, value in verification_eers(orig[enrol], speakers[enrol], orig[trial], speakers[trial]).items():
        out[f"original_{name}"] = value
    for name, value in verification_eers(orig[enrol], speakers[enrol], anon[trial], speakers[trial]).items():
        out[f"lazy_{name}"] = value
    for name, value in verification_eers(anon[enrol], speakers[enrol], anon[trial], speakers[trial]).items():
        out[f"semi_{name}"] = value
    per_fold: dict[str, list[float]] = {}
    folds = np.array([fold_of[s] for s in speakers])
    for f in sorted(set(fold_of.values())):
        test, other = folds == f, folds != f
        backend = Backend.fit(anon[other], speakers[other], "lda", backend_dim)
        figs = verification_eers(anon[test & enrol], speakers[test & enrol], anon[test & trial],
                                 speakers[test & trial], backend)
        for name, value in figs.items():
            per_fold.setdefault(name, []).append(value)
    for name, values in per_fold.items():
        out[f"semi_lda_{name}"] = float(np.mean(values))
    out["semi_lda_test_speakers_per_fold"] = int(np.mean([(np.array(list(fold_of.values())) == f).sum()
                                                         for f in sorted(set(fold_of.values()))]))
    return out


VERIFY_CHECK = "EER >= 40% (strongest semi-informed)"  # the target check the semi-informed verifiers compete in
_EER = {"fmt": "pct", "threat": "voice verification", "chance": 0.5, "target": 0.40, "lower_is_private": False,
        "check": VERIFY_CHECK}


@register("judge", "verification")
@dataclass
class Verification(Judge):
    """Lazy- and semi-informed verification with resemblyzer, raw cosine and an LDA back-end
    (``backend_dim`` dimensions) fitted on the other folds' anonymized speech."""

    backend_dim: PosInt = 100

    medium = "voice"
    key = "verification"
    threats = ("voice.lazy_verification", "voice.semi_verification", "voice.semi_lda_verification")
    columns = (
        Column("semi-informed EER (centroid)", "semi_eer_centroid", attacker="semi-informed, resemblyzer",
               strongest=True, **_EER),  # type: ignore[arg-type]
        Column("semi-informed EER (centroid, LDA back-end)", "semi_lda_eer_centroid",
               attacker="semi-informed, resemblyzer + LDA", strongest=True, **_EER),  # type: ignore[arg-type]
        Column("semi-informed EER (pairs)", "semi_eer_pairs", "pct"),
        Column("lazy-informed EER (centroid)", "lazy_eer_centroid", attacker="lazy-informed, resemblyzer",
               **_EER),  # type: ignore[arg-type]
    )

    def __call__(self, j: JudgeInput) -> dict[str, Any]:
        return verification_attack(j.original.emb, j.side.emb, j.items.speaker, j.items.enrol, j.items.fold_of,
                                   self.backend_dim)
