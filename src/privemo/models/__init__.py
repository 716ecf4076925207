"""Torch modules only: encoders and heads. They know no corpus and no runner."""

from privemo.models.encoders import AcousticEncoder, LexicalEncoder, masked_mean
from privemo.models.heads import MLPHead

__all__ = ["AcousticEncoder", "LexicalEncoder", "MLPHead", "masked_mean"]
