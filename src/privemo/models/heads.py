"""Classification heads: dense layers on a representation."""

from __future__ import annotations

from typing import Annotated

import torch
from pydantic import Field
from torch import nn


class MLPHead(nn.Module):
    """``layers`` dense layers of ``width`` units (ReLU, dropout), then a linear map to ``n_out``."""

    def __init__(self, n_in: int, n_out: int, layers: Annotated[int, Field(ge=0, le=32)] = 1,
                 width: Annotated[int, Field(ge=1, le=65536)] = 64,
                 dropout: Annotated[float, Field(ge=0, lt=1)] = 0.2) -> None:
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
