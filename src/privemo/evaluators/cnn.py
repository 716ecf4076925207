"""Training and predicting with small torch classifiers on images (the face CNNs of narula-2020 and
the identity / expression CNNs that attack or measure anonymized faces)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from privemo.models.face import Classifier, ConvBase, FCStack, VGGBase


def set_trainable(module: nn.Module, on: bool) -> None:
    for p in module.parameters():
        p.requires_grad_(on)


def trainable(module: nn.Module) -> list[nn.Parameter]:
    return [p for p in module.parameters() if p.requires_grad]


@dataclass
class TrainConfig:
    epochs: int = 15
    lr: float = 1e-3
    batch: int = 64
    seed: int = 0
    weight_decay: float = 0.0


def batches(n: int, batch: int, gen: torch.Generator) -> Iterable[torch.Tensor]:
    order = torch.randperm(n, generator=gen)
    for i in range(0, n, batch):
        yield order[i:i + batch]


def fit_classifier(model: nn.Module, x: torch.Tensor, y: np.ndarray, cfg: TrainConfig,
                   epochs: int | None = None) -> list[float]:
    """Train ``model``'s trainable parameters with Adam and cross-entropy; per-epoch mean losses."""
    params = trainable(model)
    if not params:
        raise ValueError("nothing to train: every parameter is frozen")
    opt = torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    yt = torch.as_tensor(y, dtype=torch.long)
    gen = torch.Generator().manual_seed(cfg.seed)
    losses = []
    model.train()
    for _ in range(epochs if epochs is not None else cfg.epochs):
        total = 0.0
        for idx in batches(len(x), cfg.batch, gen):
            loss = nn.functional.cross_entropy(model(x[idx]), yt[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(idx)
        losses.append(total / len(x))
    model.eval()
    return losses


@torch.no_grad()
def predict(model: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, batch: int = 256) -> np.ndarray:
    if isinstance(model, nn.Module):
        model.eval()
    out = [model(x[i:i + batch]).argmax(1) for i in range(0, len(x), batch)]
    return torch.cat(out).numpy() if out else np.zeros(0, dtype=int)


def classifier(in_ch: int, size: int, n_out: int, channels: tuple[int, ...], hidden: tuple[int, ...],
               leaky: float = 0.0) -> Classifier:
    base = ConvBase(in_ch, size, channels, leaky)
    return Classifier(base, FCStack(base.out_dim, n_out, hidden))


def vgg_classifier(in_ch: int, size: int, n_out: int, channels: tuple[int, ...] = (16, 32, 64, 128)) -> Classifier:
    base = VGGBase(in_ch, size, channels)
    return Classifier(base, FCStack(base.out_dim, n_out, (256,), dropout=0.5))
