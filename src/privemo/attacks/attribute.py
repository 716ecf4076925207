"""Attribute inference and closed-set re-identification on what leaves the device."""

from __future__ import annotations

from typing import Annotated, Any

import numpy as np
from pydantic import Field

from privemo.corpora.splits import item_split
from privemo.evaluators.base import Classifier, Evaluator, View, fit_predict
from privemo.evaluators.threat import ThreatModel
from privemo.metrics import accuracy, privacy_metric, uar
from privemo.registry import register


@register("evaluator", "gender_attacker")
class GenderAttacker(Evaluator):
    """Gender inference from the representation.

    Threat model: the attacker sees representations (raw features for an unprotected variant, the
    encoder's output for a learner) of items whose speakers' gender it knows: the fold's training
    speakers, or, with ``attacker_data: heldout`` in the experiment, only the held-out speakers D2
    that the learner never trained on (jaiswal-2020 §4.2). It never sees the test speakers' labels
    and is tested on the test speakers' items (D1). Figures: its UAR and P = 1 - UAR.

    ``classifier`` may name several attackers (e.g. ``[logreg, paper_mlp, wide_mlp, gbm]``): each is
    trained and tuned on the attacker's data alone, and the figure is the worst case, the highest
    UAR among them (``uar_<kind>`` keeps each one's).
    """

    name = "gender_attacker"
    role = "attack"
    threat = ThreatModel(
        "gender_attacker", "attack", "an attacker holding the released representations",
        "the representation (the features, or the learner's pooled encoder output) of every item",
        "the training speakers' items with their gender (with `attacker_data: heldout`, only held-out "
        "speakers D2 the learner never saw); tested on the unseen test speakers",
        "its UAR (0.5 = chance; P = 1 - UAR), the worst case over its classifiers")

    def __init__(self, classifier: Classifier | list[Classifier] = "logreg") -> None:
        self.classifier = classifier

    def evaluate(self, train: View, test: View) -> dict[str, Any]:
        train, test = train.known("gender"), test.known("gender")
        if len(test) == 0 or len(train) == 0:
            return {"uar": float("nan"), "privacy": float("nan"), "skipped": "no gender labels"}
        y_true = test.labels("gender").astype(str)
        kinds = [self.classifier] if isinstance(self.classifier, str) else list(self.classifier)
        per: dict[str, tuple[float, float]] = {}
        for kind in kinds:
            y_pred = fit_predict(kind, train.X, train.labels("gender").astype(str), test.X,
                                 seed=test.context.get("seed", 0)).astype(str)
            per[kind] = (uar(y_true, y_pred), accuracy(y_true, y_pred))
        strongest = max(per, key=lambda k: per[k][0])
        u, acc = per[strongest]
        out = {"uar": u, "accuracy": acc, "privacy": privacy_metric(u), "chance": 1.0 / len(np.unique(y_true)),
               "n_test": int(len(y_true)), "attacker": strongest}
        if len(kinds) > 1:
            out.update({f"uar_{k}": v[0] for k, v in per.items()})
        return out


@register("evaluator", "leakage")
class GenderLeakage(Evaluator):
    """Leakage L of jaiswal-2020: how well the model's own gender classifier does on the test speakers.

    For a ``Priv`` learner this is its gender adversary head (the worst case where there is one per
    stream); a model without one (``Gen``, or raw features) gets a ``classifier`` trained on the
    representations of the learner's own training speakers, standing in for the head it would have.
    L near 0.5 says the adversary was fooled, not that gender is gone: P (``gender_attacker``) asks a
    fresh attacker.
    """

    name = "leakage"
    role = "utility"
    threat = ThreatModel(
        "leakage", "attack", "the model's own gender adversary head (L of jaiswal-2020)",
        "the test speakers' representations", "nothing more than the learner's training",
        "its UAR; it says whether the adversary was fooled, not whether gender is gone (that is the "
        "gender_attacker's P)")

    def __init__(self, classifier: Classifier = "logreg") -> None:
        self.classifier = classifier

    def evaluate(self, train: View, test: View) -> dict[str, Any]:
        train, test = train.known("gender"), test.known("gender")
        if len(test) == 0:
            return {"uar": float("nan"), "skipped": "no gender labels"}
        y_true = test.labels("gender").astype(str)
        if test.adversary_pred:
            per = {k: uar(y_true, v.astype(str)) for k, v in test.adversary_pred.items()}
            source = max(per, key=lambda k: per[k])
            u = per[source]
        else:
            source = self.classifier
            u = uar(y_true, fit_predict(self.classifier, train.X, train.labels("gender").astype(str), test.X,
                                        seed=test.context.get("seed", 0)).astype(str))
        return {"uar": u, "chance": 1.0 / len(np.unique(y_true)), "n_test": int(len(y_true)), "source": source}


@register("evaluator", "speaker_id")
class SpeakerIdentification(Evaluator):
    """Closed-set speaker identification from the representation.

    Threat model: the attacker has the representation function and labelled items of every
    speaker (an enrolment set) and identifies other items of the same speakers. Items of all the
    fold's speakers (training, held-out D2 and test) are pooled and split within each speaker by ``group``
    (``folds`` parts, part = the run's fold index), so no original is on both sides.
    Figures: accuracy and UAR over speakers; chance = 1 / number of speakers.
    """

    name = "speaker_id"
    role = "reid"
    threat = ThreatModel(
        "speaker_id", "attack", "a closed-set identifier that already knows every speaker",
        "the representation of items of every speaker of the fold (training, held-out and test)",
        "a labelled enrolment part of every speaker's items (split within each speaker by recording group, "
        "so no original is on both sides); it identifies the other items of the same speakers",
        "its accuracy (chance = 1 / speakers)")

    def __init__(self, classifier: Classifier = "logreg", folds: Annotated[int, Field(ge=2, le=100)] = 2) -> None:
        self.classifier, self.folds = classifier, folds

    def evaluate(self, train: View, test: View) -> dict[str, Any]:
        every = View.concat(train, test)
        fold = int(test.context.get("fold", 0)) % self.folds
        tr, te = item_split(every.manifest, np.arange(len(every.X)), self.folds, fold,
                            seed=int(test.context.get("seed", 0)))
        y = every.labels("speaker").astype(str)
        y_pred = fit_predict(self.classifier, every.X[tr], y[tr], every.X[te],
                             seed=test.context.get("seed", 0)).astype(str)
        n = len(np.unique(y))
        return {"accuracy": accuracy(y[te], y_pred), "uar": uar(y[te], y_pred), "chance": 1.0 / n,
                "n_speakers": int(n), "n_test": int(len(te)), "attacker": self.classifier}
