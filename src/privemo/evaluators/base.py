"""The evaluator contract and the classifiers evaluators train.

An evaluator is ``evaluate(train: View, test: View) -> dict`` of JSON-able figures. A :class:`View`
is what a party sees of a set of items: the representation ``X`` (features, or a learner's encoder
output), the manifest rows (labels), and, where a learner made them, its emotion predictions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC

from privemo.corpora.manifest import Manifest
from privemo.errors import ConfigError


@dataclass
class View:
    X: np.ndarray
    manifest: Manifest
    pred: np.ndarray | None = None  # a learner's emotion predictions (labels), test side only
    context: dict[str, Any] = field(default_factory=dict)  # fold, seed, variant
    proba: np.ndarray | None = None  # the learner's class probabilities (columns: proba_labels)
    proba_labels: list[str] | None = None
    adversary_pred: dict[str, np.ndarray] | None = None  # the learner's adversary heads, e.g. {"gender": ["m", ...]}

    def __post_init__(self) -> None:
        if len(self.X) != len(self.manifest):
            raise ValueError(f"View: {len(self.X)} rows of X for {len(self.manifest)} items")

    def __len__(self) -> int:
        return len(self.X)

    def labels(self, target: str) -> np.ndarray:
        return self.manifest.df[target].to_numpy(dtype=object)

    def known(self, target: str) -> View:
        mask = self.manifest.df[target].notna().to_numpy()
        return View(self.X[mask], self.manifest.subset(mask),
                    None if self.pred is None else self.pred[mask], self.context,
                    None if self.proba is None else self.proba[mask], self.proba_labels,
                    None if self.adversary_pred is None else {k: v[mask] for k, v in self.adversary_pred.items()})

    @staticmethod
    def concat(a: View, b: View) -> View:
        import pandas as pd

        return View(np.concatenate([a.X, b.X]), Manifest(pd.concat([a.manifest.df, b.manifest.df])), None,
                    a.context)


CLASSIFIERS = ("logreg", "svm", "mlp", "paper_mlp", "wide_mlp", "gbm")
# the classifier names as a parameter type (checked when a config is parsed)
Classifier = Literal["logreg", "svm", "mlp", "paper_mlp", "wide_mlp", "gbm"]
# the attacker grid of jaiswal-2020 (§4.3): 2-4 dense layers of width 32 or 64
PAPER_GRID = [(w,) * n for n in (2, 3, 4) for w in (32, 64)]


def make_classifier(kind: str = "logreg", seed: int = 0, C: float = 1.0, hidden: tuple[int, ...] = (64, 32),
                    max_iter: int = 2000) -> Pipeline:
    """A standardised classifier: logistic regression, linear SVM, MLP, the paper's MLP attacker
    (its width/depth grid tuned by 3-fold cross-validation on the training data only), a wide MLP,
    or gradient boosting."""
    if kind == "logreg":
        est: Any = LogisticRegression(C=C, max_iter=max_iter, class_weight="balanced", random_state=seed)
    elif kind == "svm":
        est = LinearSVC(C=C, class_weight="balanced", max_iter=max_iter, random_state=seed)
    elif kind == "mlp":
        est = MLPClassifier(hidden_layer_sizes=hidden, max_iter=max_iter, early_stopping=True, random_state=seed)
    elif kind == "paper_mlp":
        from sklearn.model_selection import GridSearchCV, StratifiedKFold

        mlp = make_pipeline(StandardScaler(), MLPClassifier(max_iter=max_iter, early_stopping=True,
                                                            random_state=seed))
        return GridSearchCV(mlp, {"mlpclassifier__hidden_layer_sizes": PAPER_GRID}, scoring="balanced_accuracy",
                            cv=StratifiedKFold(3, shuffle=True, random_state=seed))  # type: ignore[return-value]
    elif kind == "wide_mlp":
        est = MLPClassifier(hidden_layer_sizes=(256, 128), max_iter=max_iter, early_stopping=True, random_state=seed)
    elif kind == "gbm":
        est = HistGradientBoostingClassifier(class_weight="balanced", random_state=seed)
    else:
        raise ConfigError(f"classifier: unknown kind {kind!r} (known: {', '.join(CLASSIFIERS)})")
    return make_pipeline(StandardScaler(), est)


class Evaluator:
    """Base class: subclasses set ``name`` and implement :meth:`evaluate`.

    ``role`` says which data the runner gives as ``train``: "utility" evaluators get the learner's
    training speakers; "attack" evaluators get the attacker's data (the same speakers, or the
    held-out part D2 when the experiment sets ``attacker_data: heldout``); "reid" evaluators get
    every non-test speaker (training and D2), for closed-set re-identification.
    """

    name = "evaluator"
    role = "utility"

    def get_config(self) -> dict[str, Any]:
        return {"type": self.name, **{k: v for k, v in vars(self).items() if not k.endswith("_")}}

    def evaluate(self, train: View, test: View) -> dict[str, Any]:
        raise NotImplementedError


def fit_predict(kind: str, train_X: np.ndarray, train_y: np.ndarray, test_X: np.ndarray, seed: int = 0,
                **kw: Any) -> np.ndarray:
    """Train ``kind`` on (train_X, train_y) and predict test_X (a single class is predicted as-is)."""
    classes = np.unique(train_y)
    if len(classes) < 2:
        return np.full(len(test_X), classes[0] if len(classes) else None, dtype=object)
    clf = make_classifier(kind, seed, **kw)
    clf.fit(train_X, train_y.astype(str))
    return clf.predict(test_X).astype(object)
