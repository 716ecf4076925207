"""Classification heads: dense layers on a representation."""

from __future__ import annotations

import torch
from torch import nn


class MLPHead(nn.Module):
    """``layers`` dense layers of ``width`` units (ReLU, dropout), then a linear map to ``n_out``."""

    def __init__(self, n_in: int, n_out: int, layers: int = 1, width: int = 64, dropout: float = 0.2) -> None:
        super().__init__()
        mods: list[nn.Module] = []
        d = n_in
        for _ in range(layers):
            mods += [nn.Linear(d, width), nn.ReLU(), nn.Dropout(dropout)]
            d = width
        mods.append(nn.Linear(d, n_out))
        self.net = nn.Sequential(*mods)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.net(h)
