"""Face CNNs: narula-2020's convolutional base and fully-connected stacks, a deeper VGG-style
identifier (the attacker standing in for ranade's VGG16), and ranade's denoising autoencoder.

narula-2020 §4.2: 3 convolutional then 3 fully-connected layers, 3x3 kernels, stride 1, ReLU, softmax
output. The node counts of its Fig. 1 are not in the text; ours are ``channels`` (32, 64, 128) with
2x2 max-pooling after each convolution, and ``hidden`` (256, 128) before the output layer.
"""

from __future__ import annotations

import torch
from torch import nn


def _act(leaky: float) -> nn.Module:
    return nn.LeakyReLU(leaky) if leaky > 0 else nn.ReLU()


class ConvBase(nn.Module):
    """``f_Wc``: 3x3 stride-1 convolutions, ReLU, 2x2 max-pool each; flattened output."""

    def __init__(self, in_ch: int = 1, size: int = 64, channels: tuple[int, ...] = (32, 64, 128),
                 leaky: float = 0.0) -> None:
        super().__init__()
        mods: list[nn.Module] = []
        c = in_ch
        for out in channels:
            mods += [nn.Conv2d(c, out, 3, stride=1, padding=1), _act(leaky), nn.MaxPool2d(2)]
            c = out
        self.net = nn.Sequential(*mods)
        side = size >> len(channels)
        if side < 1:
            raise ValueError(f"image size {size} too small for {len(channels)} pooling steps")
        self.out_dim = c * side * side

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).flatten(1)


class FCStack(nn.Module):
    """``f_We`` / ``f_Wi``: fully-connected layers (ReLU) ending in class logits (softmax in the loss)."""

    def __init__(self, n_in: int, n_out: int, hidden: tuple[int, ...] = (256, 128), dropout: float = 0.3) -> None:
        super().__init__()
        mods: list[nn.Module] = []
        d = n_in
        for h in hidden:
            mods += [nn.Linear(d, h), nn.ReLU(), nn.Dropout(dropout)]
            d = h
        mods.append(nn.Linear(d, n_out))
        self.net = nn.Sequential(*mods)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.net(h)


class Classifier(nn.Module):
    """A conv base and one FC stack (the Emotion, Face and X2Y models)."""

    def __init__(self, base: ConvBase | VGGBase, head: nn.Module) -> None:
        super().__init__()
        self.base, self.head = base, head
        self.out_dim: int = base.out_dim  # the base's output width

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.base(x))


class Hybrid(nn.Module):
    """narula-2020 Fig. 1d: one conv base ``Wc`` feeding an emotion stack ``We`` and an identity stack ``Wi``."""

    def __init__(self, in_ch: int, size: int, n_emotions: int, n_ids: int,
                 channels: tuple[int, ...] = (32, 64, 128), hidden: tuple[int, ...] = (256, 128),
                 leaky: float = 0.0) -> None:
        super().__init__()
        self.conv = ConvBase(in_ch, size, channels, leaky)
        self.emotion = FCStack(self.conv.out_dim, n_emotions, hidden)
        self.identity = FCStack(self.conv.out_dim, n_ids, hidden)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.conv(x)
        return self.emotion(h), self.identity(h)


class VGGBase(nn.Module):
    """A deeper VGG-style base: blocks of two 3x3 convolutions with batch norm, then max-pool."""

    def __init__(self, in_ch: int = 1, size: int = 64, channels: tuple[int, ...] = (32, 64, 128, 256)) -> None:
        super().__init__()
        mods: list[nn.Module] = []
        c = in_ch
        for out in channels:
            mods += [nn.Conv2d(c, out, 3, padding=1), nn.BatchNorm2d(out), nn.ReLU(),
                     nn.Conv2d(out, out, 3, padding=1), nn.BatchNorm2d(out), nn.ReLU(), nn.MaxPool2d(2)]
            c = out
        self.net = nn.Sequential(*mods, nn.AdaptiveAvgPool2d(2))
        if size >> len(channels) < 1:
            raise ValueError(f"image size {size} too small for {len(channels)} VGG blocks")
        self.out_dim = c * 4

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).flatten(1)


class DenoisingAE(nn.Module):
    """ranade's face autoencoder: strided-conv encoder to a ``latent``-d code, mirrored decoder, sigmoid."""

    def __init__(self, in_ch: int = 1, size: int = 64, latent: int = 300,
                 channels: tuple[int, ...] = (32, 64, 128)) -> None:
        super().__init__()
        side = size >> len(channels)
        if side < 1 or side << len(channels) != size:
            raise ValueError(f"autoencoder size {size} must be a multiple of {1 << len(channels)}")
        enc: list[nn.Module] = []
        c = in_ch
        for out in channels:
            enc += [nn.Conv2d(c, out, 4, stride=2, padding=1), nn.ReLU()]
            c = out
        self.encoder = nn.Sequential(*enc, nn.Flatten(), nn.Linear(c * side * side, latent))
        dec: list[nn.Module] = [nn.Linear(latent, c * side * side), nn.ReLU(), nn.Unflatten(1, (c, side, side))]
        for out in [*channels[::-1][1:], in_ch]:
            dec += [nn.ConvTranspose2d(c, out, 4, stride=2, padding=1), nn.ReLU()]
            c = out
        dec[-1] = nn.Sigmoid()
        self.decoder = nn.Sequential(*dec)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(x))
