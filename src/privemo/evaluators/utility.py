"""Utility: how well emotion is recognised, overall and per gender."""

from __future__ import annotations

from typing import Any, Literal

import numpy as np

from privemo._schema import PosFloat
from privemo.evaluators.base import Classifier, Evaluator, View, fit_predict
from privemo.evaluators.threat import ThreatModel
from privemo.metrics import accuracy, confusion, per_group_uar, uar
from privemo.registry import register


@register("evaluator", "emotion")
class EmotionUtility(Evaluator):
    """Emotion recognition on the test speakers (speaker-independent).

    With ``source="learner"`` the learner's own emotion head predicts (the figure of a trained
    model); with ``source="classifier"`` a ``classifier`` (logreg, svm, mlp, gbm) is trained on the
    training side's representation. ``"auto"`` uses the learner where there is one. ``target`` may
    be ``emotion``, ``activation`` or ``valence``.
    """

    name = "emotion"
    threat = ThreatModel(
        "emotion", "utility", "emotion recognition (UAR, balanced accuracy)",
        "the representation (the features, or the learner's own emotion head) of the test speakers",
        "the fold's training speakers, never a test speaker",
        "UAR on speakers never seen in training")

    def __init__(self, classifier: Classifier = "logreg", source: Literal["auto", "learner", "classifier"] = "auto",
                 target: str = "emotion", C: PosFloat = 1.0) -> None:
        self.classifier, self.source, self.target, self.C = classifier, source, target, C

    def evaluate(self, train: View, test: View) -> dict[str, Any]:
        train, test = train.known(self.target), test.known(self.target)
        y_true = test.labels(self.target).astype(str)
        use_learner = self.source == "learner" or (self.source == "auto" and test.pred is not None)
        if use_learner:
            if test.pred is None:
                raise ValueError("emotion evaluator: source='learner' but the variant has no learner")
            y_pred = test.pred.astype(str)
        else:
            kw = {"C": self.C} if self.classifier in ("logreg", "svm") else {}
            y_pred = fit_predict(self.classifier, train.X, train.labels(self.target).astype(str), test.X,
                                 seed=test.context.get("seed", 0), **kw).astype(str)
        labels = sorted(set(train.labels(self.target).astype(str)) | set(y_true))
        groups = per_group_uar(y_true, y_pred, test.manifest.df["gender"].to_numpy(dtype=object))
        out: dict[str, Any] = {}
        if use_learner and test.proba is not None:  # kept so that seeds' predictions can be averaged
            out = {"proba": np.round(test.proba, 4).tolist(), "proba_labels": test.proba_labels,
                   "y_true": y_true.tolist(), "groups": [str(g) for g in test.manifest.df["gender"]]}
        return {
            **out,
            "uar": uar(y_true, y_pred), "accuracy": accuracy(y_true, y_pred),
            **{f"uar_{g}": v for g, v in groups.items()},
            "chance": 1.0 / len(np.unique(y_true)), "n_test": int(len(y_true)),
            "labels": labels, "confusion": confusion(y_true, y_pred, labels),
            "predictor": "learner" if use_learner else self.classifier,
        }
