"""Training and predicting with small torch classifiers on images (the face CNNs of narula-2020 and
the identity / expression CNNs that attack or measure anonymized faces)."""

from __future__ import annotations

from torch import nn

from privemo.models.face import Classifier, ConvBase, FCStack, VGGBase
from privemo.models.training import TrainConfig, fit_classifier, predict, trainable
from privemo.models.training import torch_batches as batches

__all__ = ["TrainConfig", "batches", "classifier", "fit_classifier", "predict", "set_trainable", "trainable",
           "vgg_classifier"]


def set_trainable(module: nn.Module, on: bool) -> None:
    for p in module.parameters():
        p.requires_grad_(on)


def classifier(in_ch: int, size: int, n_out: int, channels: tuple[int, ...], hidden: tuple[int, ...],
               leaky: float = 0.0) -> Classifier:
    base = ConvBase(in_ch, size, channels, leaky)
    return Classifier(base, FCStack(base.out_dim, n_out, hidden))


def vgg_classifier(in_ch: int, size: int, n_out: int, channels: tuple[int, ...] = (16, 32, 64, 128)) -> Classifier:
    base = VGGBase(in_ch, size, channels)
    return Classifier(base, FCStack(base.out_dim, n_out, (256,), dropout=0.5))
