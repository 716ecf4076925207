"""UAR, accuracy, confusion, per-group UAR, EER, the privacy metric and simple statistics."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats


def uar(y_true: ArrayLike, y_pred: ArrayLike, labels: Sequence[Any] | None = None) -> float:
    """Unweighted average recall: the mean over the classes present in ``y_true`` of their recall.

    Chance is 1 / number of classes. ``labels`` restricts the classes averaged over.
    """
    yt, yp = np.asarray(y_true), np.asarray(y_pred)
    if len(yt) != len(yp):
        raise ValueError(f"y_true has {len(yt)} items, y_pred {len(yp)}")
    if len(yt) == 0:
        return float("nan")
    classes = [c for c in (labels if labels is not None else np.unique(yt)) if np.any(yt == c)]
    return float(np.mean([np.mean(yp[yt == c] == c) for c in classes]))


def accuracy(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    yt, yp = np.asarray(y_true), np.asarray(y_pred)
    return float(np.mean(yt == yp)) if len(yt) else float("nan")


def confusion(y_true: ArrayLike, y_pred: ArrayLike, labels: Sequence[Any]) -> list[list[int]]:
    """Counts, rows = true label, columns = predicted label, in the order of ``labels``."""
    yt, yp = np.asarray(y_true), np.asarray(y_pred)
    return [[int(np.sum((yt == a) & (yp == b))) for b in labels] for a in labels]


def per_class_recall(y_true: ArrayLike, y_pred: ArrayLike, labels: Sequence[Any]) -> dict[str, float]:
    """Recall of each class of ``labels`` (the share of its items predicted as it; NaN where absent),
    vectorised over the confusion counts."""
    yt, yp = np.asarray(y_true), np.asarray(y_pred)
    if len(yt) != len(yp):
        raise ValueError(f"y_true has {len(yt)} items, y_pred {len(yp)}")
    return recall_from_confusion(confusion(yt, yp, labels), labels)


def recall_from_confusion(counts: Sequence[Sequence[int]], labels: Sequence[Any]) -> dict[str, float]:
    """Recall of each class from confusion counts (rows = true label, in the order of ``labels``)."""
    cm = np.asarray(counts, dtype=float).reshape(len(labels), len(labels))
    n = cm.sum(axis=1)
    rec = np.divide(np.diag(cm), n, out=np.full(len(labels), np.nan), where=n > 0)
    return {str(lab): float(r) for lab, r in zip(labels, rec, strict=True)}


def recall_drops(original: dict[str, float], anonymized: dict[str, float], ratio: float = 0.7) -> list[str]:
    """The classes whose anonymized recall is below ``ratio`` x their original recall (a class the
    original already never recognised cannot drop)."""
    return [c for c, r0 in original.items()
            if r0 == r0 and r0 > 0 and anonymized.get(c, float("nan")) == anonymized.get(c, float("nan"))
            and anonymized[c] < ratio * r0]


def per_group_uar(y_true: ArrayLike, y_pred: ArrayLike, groups: ArrayLike) -> dict[str, float]:
    """UAR within each group (e.g. male and female speakers); missing groups are left out."""
    yt, yp, g = np.asarray(y_true), np.asarray(y_pred), np.asarray(groups, dtype=object)
    out = {}
    for grp in sorted({x for x in g if isinstance(x, str)}):
        mask = g == grp
        out[grp] = uar(yt[mask], yp[mask])
    return out


def privacy_metric(attacker_uar: float) -> float:
    """P = 1 - UAR of the attacker (0 = the attacker is always right; 0.5 = chance for two classes)."""
    return 1.0 - attacker_uar


def eer(scores: ArrayLike, same: ArrayLike) -> float:
    """Equal error rate of a verifier: ``scores`` higher for same-identity trials. In [0, 1]."""
    s, y = np.asarray(scores, dtype=float), np.asarray(same, dtype=bool)
    if y.all() or (~y).all():
        raise ValueError("EER needs both same-identity and different-identity trials")
    order = np.argsort(-s, kind="mergesort")
    s, y = s[order], y[order]
    tp = np.cumsum(y) / y.sum()          # accepted genuine (threshold just below each score)
    fp = np.cumsum(~y) / (~y).sum()      # accepted impostors
    frr = np.concatenate([[1.0], 1 - tp])
    far = np.concatenate([[0.0], fp])
    i = int(np.argmin(np.abs(frr - far)))
    return float(np.clip((frr[i] + far[i]) / 2, 0.0, 1.0))


def mean_std(values: Sequence[float]) -> tuple[float, float]:
    v = np.asarray([x for x in values if x is not None and not np.isnan(x)], dtype=float)
    if len(v) == 0:
        return float("nan"), float("nan")
    return float(v.mean()), float(v.std(ddof=1)) if len(v) > 1 else 0.0


def paired_ttest(a: ArrayLike, b: ArrayLike) -> float:
    """Two-sided p-value of a paired t-test (e.g. two methods over the same folds)."""
    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if len(x) != len(y) or len(x) < 2 or np.allclose(x - y, 0):
        return 1.0
    return float(stats.ttest_rel(x, y).pvalue)


def benjamini_hochberg(pvalues: Sequence[float]) -> list[float]:
    """Benjamini-Hochberg adjusted p-values (same order as given)."""
    p = np.asarray(pvalues, dtype=float)
    n = len(p)
    if n == 0:
        return []
    order = np.argsort(p)
    ranked = p[order] * n / np.arange(1, n + 1)
    adj = np.minimum.accumulate(ranked[::-1])[::-1]
    out = np.empty(n)
    out[order] = np.minimum(adj, 1.0)
    return out.tolist()
