"""Metrics: pure functions of predictions and labels (DESIGN.md, "Threat models and figures")."""

from privemo.metrics.scores import (
    accuracy,
    benjamini_hochberg,
    confusion,
    eer,
    mean_std,
    paired_ttest,
    per_class_recall,
    per_group_uar,
    privacy_metric,
    recall_drops,
    recall_from_confusion,
    uar,
)

__all__ = [
    "accuracy", "benjamini_hochberg", "confusion", "eer", "mean_std", "paired_ttest", "per_class_recall",
    "per_group_uar", "privacy_metric", "recall_drops", "recall_from_confusion", "uar",
]
