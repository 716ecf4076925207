"""Evaluators: the contract (``evaluate(train, test) -> dict``), the View they receive, and utility."""

from privemo.evaluators.base import CLASSIFIERS, Evaluator, View, fit_predict, make_classifier
from privemo.evaluators.utility import EmotionUtility

__all__ = ["CLASSIFIERS", "EmotionUtility", "Evaluator", "View", "fit_predict", "make_classifier"]
