"""Torch modules only: encoders and heads. They know no corpus and no runner."""

from privemo.models.encoders import (
    AcousticEncoder,
    FunctionalEncoder,
    LexicalEncoder,
    MultimodalEncoder,
    masked_mean,
)
from privemo.models.grl import GradientReversal, grad_reverse
from privemo.models.heads import MLPHead

__all__ = ["AcousticEncoder", "FunctionalEncoder", "GradientReversal", "LexicalEncoder", "MLPHead", "MultimodalEncoder", "grad_reverse", "masked_mean"]
