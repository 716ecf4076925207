"""Membership identification (jaiswal-2020 §4.2): was a speaker in the encoder's training set?"""

from __future__ import annotations

from typing import Any

import numpy as np

from privemo.evaluators.base import Classifier, Evaluator, View, fit_predict
from privemo.evaluators.threat import ThreatModel
from privemo.metrics import uar
from privemo.registry import register


@register("evaluator", "membership")
class MembershipAttacker(Evaluator):
    """Speaker-level membership identification on representations.

    Threat model (run with ``protocol: membership``): the attacker has the encoder's
    representations of items it knows were in training (label 1), and of unused items of speakers
    of one held-out fold (s4) whose membership it knows (selected speakers 1, others 0). It predicts
    membership for the speakers of another fold (s5), about whom it knows nothing. Figures: UAR over
    s5 items, and over s5 speakers (majority vote of their items); chance 0.5.
    """

    name = "membership"
    role = "membership"
    threat = ThreatModel(
        "membership", "attack", "an attacker asking whether a speaker was in the training data",
        "the representations of a speaker's items",
        "which speakers of one held-out fold were in training (jaiswal-2020 §4.2); tested on another fold's speakers",
        "its UAR (chance 0.5)")

    def __init__(self, classifier: Classifier = "mlp") -> None:
        self.classifier = classifier

    def evaluate(self, train: View, test: View) -> dict[str, Any]:
        y_train = train.labels("member").astype(int).astype(str)
        y_true = test.labels("member").astype(int).astype(str)
        y_pred = fit_predict(self.classifier, train.X, y_train, test.X, seed=test.context.get("seed", 0)).astype(str)
        spk = test.labels("speaker")
        speakers = sorted(set(spk))
        vote = [str(int(np.mean(y_pred[spk == s] == "1") > 0.5)) for s in speakers]
        truth = [y_true[spk == s][0] for s in speakers]
        return {"uar": uar(y_true, y_pred), "uar_speakers": uar(truth, vote), "chance": 0.5,
                "n_test": int(len(y_true)), "n_speakers": len(speakers), "attacker": self.classifier}
