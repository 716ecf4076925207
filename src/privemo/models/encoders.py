"""Encoders of jaiswal-2020 (after Aldeneh et al. 2017): acoustic conv+GRU and lexical GRU, mean-pooled."""

from __future__ import annotations

from typing import Annotated

import torch
from pydantic import Field
from torch import nn


def masked_mean(h: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Mean over the first ``lengths[b]`` steps of ``h`` (B, T, D) for each b."""
    t = torch.arange(h.shape[1], device=h.device)[None, :]
    mask = (t < lengths[:, None]).to(h.dtype)[..., None]
    return (h * mask).sum(1) / mask.sum(1).clamp_min(1.0)


def _gru(n_in: int, width: int, layers: int, dropout: float, dp: bool) -> nn.Module:
    """``nn.GRU``, or with ``dp`` Opacus's ``DPGRU`` (same interface, per-sample gradients)."""
    if dp:
        from opacus.layers import DPGRU

        return DPGRU(n_in, width, num_layers=layers, batch_first=True, dropout=dropout if layers > 1 else 0.0)
    return nn.GRU(n_in, width, num_layers=layers, batch_first=True, dropout=dropout if layers > 1 else 0.0)


class AcousticEncoder(nn.Module):
    """Conv1d layers over (B, T, n_in) frames, then GRU layers, then mean pooling over valid frames.

    Hyperparameters follow the paper's grid: ``conv_layers`` {3, 4}, ``kernel`` (conv width) {2, 3},
    ``channels`` {32, 64, 128}, ``gru_layers`` {2, 3}, ``gru_width`` 32. ``stride`` > 1 max-pools
    time once after the convolutions (fewer GRU steps; faster on a CPU). ``dp`` builds the
    DP-SGD-compatible variant (GroupNorm, Opacus DPGRU).
    """

    def __init__(self, n_in: int = 40, conv_layers: Annotated[int, Field(ge=1, le=32)] = 3,
                 kernel: Annotated[int, Field(ge=1, le=64)] = 3, channels: Annotated[int, Field(ge=1, le=4096)] = 64,
                 gru_layers: Annotated[int, Field(ge=1, le=16)] = 2, gru_width: Annotated[int, Field(ge=1, le=4096)] = 32,
                 stride: Annotated[int, Field(ge=1, le=64)] = 2, dropout: Annotated[float, Field(ge=0, lt=1)] = 0.2,
                 dp: bool = False) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c_in = n_in
        for _ in range(conv_layers):
            # DP-SGD needs per-sample gradients: GroupNorm instead of BatchNorm (which mixes samples)
            norm = nn.GroupNorm(1, channels) if dp else nn.BatchNorm1d(channels)
            layers += [nn.Conv1d(c_in, channels, kernel, padding="same"), norm, nn.ReLU()]
            c_in = channels
        self.conv = nn.Sequential(*layers)
        self.stride = stride
        self.gru = _gru(channels, gru_width, gru_layers, dropout, dp)
        self.out_dim = gru_width

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        h = self.conv(x.transpose(1, 2))
        if self.stride > 1:
            h = nn.functional.max_pool1d(h, self.stride, self.stride, ceil_mode=True)
            lengths = torch.div(lengths + self.stride - 1, self.stride, rounding_mode="floor")
        h, _ = self.gru(h.transpose(1, 2))
        return masked_mean(h, lengths)


class LexicalEncoder(nn.Module):
    """GRU layers over (B, T, n_in) word vectors, mean-pooled over the words."""

    def __init__(self, n_in: int = 50, gru_layers: Annotated[int, Field(ge=1, le=16)] = 2,
                 gru_width: Annotated[int, Field(ge=1, le=4096)] = 32, dropout: Annotated[float, Field(ge=0, lt=1)] = 0.2,
                 dp: bool = False) -> None:
        super().__init__()
        self.gru = _gru(n_in, gru_width, gru_layers, dropout, dp)
        self.out_dim = gru_width

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        h, _ = self.gru(x)
        return masked_mean(h, lengths)


class FunctionalEncoder(nn.Module):
    """An MLP over per-utterance feature vectors (openSMILE functionals such as ComParE or eGeMAPS):
    the (B, T, n_in) input is mean-pooled over its valid steps first (T = 1 for functionals), so
    frame-level inputs work too. Training-time augmentation: ``input_dropout`` drops input features
    at random and ``noise`` adds Gaussian noise of that standard deviation (the inputs are
    z-normalised). ``layers`` dense layers of ``width`` units (ReLU, ``dropout``); the last layer's
    output is the representation."""

    def __init__(self, n_in: int = 88, layers: Annotated[int, Field(ge=1, le=16)] = 2,
                 width: Annotated[int, Field(ge=1, le=65536)] = 128, dropout: Annotated[float, Field(ge=0, lt=1)] = 0.3,
                 input_dropout: Annotated[float, Field(ge=0, lt=1)] = 0.1,
                 noise: Annotated[float, Field(ge=0, le=100)] = 0.0, dp: bool = False) -> None:
        super().__init__()
        mods: list[nn.Module] = [nn.Dropout(input_dropout)] if input_dropout else []
        d = n_in
        for i in range(layers):
            mods += [nn.Linear(d, width), nn.ReLU()]
            if dropout and i < layers - 1:
                mods.append(nn.Dropout(dropout))
            d = width
        self.net = nn.Sequential(*mods)
        self.noise = float(noise)
        self.out_dim = width

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        h = masked_mean(x, lengths)
        if self.training and self.noise:
            h = h + self.noise * torch.randn_like(h)
        return self.net(h)


class MultimodalEncoder(nn.Module):
    """One encoder per named stream (e.g. ``acoustic`` and ``lexical``), each mean-pooled; the
    representation is their concatenation (early fusion of the pooled streams, jaiswal-2020 Fig. 1).
    :meth:`parts` gives each stream's pooled vector, for adversaries placed before fusion."""

    def __init__(self, streams: dict[str, nn.Module]) -> None:
        super().__init__()
        self.streams = nn.ModuleDict(streams)
        self.out_dim: int = sum(int(m.out_dim) for m in streams.values())  # type: ignore[arg-type,misc]

    def parts(self, inputs: list[tuple[torch.Tensor, torch.Tensor]]) -> dict[str, torch.Tensor]:
        return {name: enc(x, lengths) for (name, enc), (x, lengths) in zip(self.streams.items(), inputs, strict=True)}

    def forward(self, inputs: list[tuple[torch.Tensor, torch.Tensor]]) -> torch.Tensor:
        return torch.cat(list(self.parts(inputs).values()), dim=1)
