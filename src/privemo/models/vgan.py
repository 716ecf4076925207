"""The networks of PPRL-VGAN (chen-2018, Table 1): a VAE encoder, an identity-coded decoder and a
discriminator with three heads (real/fake, identity, expression) on shared layers.

Images are ``(N, C, S, S)`` tensors in [-1, 1] (the decoder ends in tanh); ``S`` is a multiple of 16
(64 in the paper; 48 and 32 work the same way: four stride-2 stages from ``S / 16``). Table 1 marks
no down-sampling in the discriminator's convolutions; like the authors' code, they have stride 2.
"""

from __future__ import annotations

import torch
from torch import nn

ENC_CHANNELS = (32, 64, 128, 256)
DEC_CHANNELS = (256, 128, 64)


def _down(cin: int, cout: int, slope: float, norm: bool = True) -> list[nn.Module]:
    layers: list[nn.Module] = [nn.Conv2d(cin, cout, 5, stride=2, padding=2)]
    if norm:
        layers.append(nn.BatchNorm2d(cout))
    return [*layers, nn.LeakyReLU(slope)]


def _convs(channels: int, size: int, widths: tuple[int, ...], slope: float) -> tuple[list[nn.Module], int]:
    """The stride-2 convolution stack of the encoder and the discriminator, and its flattened size."""
    s0 = _check_size(size)
    layers: list[nn.Module] = []
    cin = channels
    for w in widths:
        layers += _down(cin, w, slope)
        cin = w
    return layers, cin * s0 * s0


def _check_size(size: int) -> int:
    if size < 16 or size % 16:
        raise ValueError(f"PPRL-VGAN image size must be a multiple of 16 (32, 48, 64, ...), got {size}")
    return size // 16


class VganEncoder(nn.Module):
    """Four 5x5 stride-2 convolutions with batch norm and LeakyReLU, then the mean and log-variance of
    ``q(f(I) | I)`` (linear, ``latent``-d each)."""

    def __init__(self, channels: int = 3, size: int = 64, latent: int = 128,
                 widths: tuple[int, ...] = ENC_CHANNELS, slope: float = 0.2) -> None:
        super().__init__()
        layers, flat = _convs(channels, size, widths, slope)
        self.features = nn.Sequential(*layers, nn.Flatten())
        self.mean = nn.Linear(flat, latent)
        self.logvar = nn.Linear(flat, latent)
        self.latent = latent

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.features(x)
        return self.mean(h), self.logvar(h)


def reparameterize(mean: torch.Tensor, logvar: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """A sample ``mean + exp(logvar / 2) * eps`` of ``q(f(I) | I)``, eps ~ N(0, I)."""
    eps = torch.randn(mean.shape, generator=generator, dtype=mean.dtype)
    return mean + torch.exp(0.5 * logvar) * eps


def kl_divergence(mean: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(q(f | I) || N(0, I)) summed over the latent dimensions, averaged over the batch."""
    return (-0.5 * (1 + logvar - mean.pow(2) - logvar.exp()).sum(1)).mean()


class VganDecoder(nn.Module):
    """``f(I)`` concatenated with a one-hot identity code -> FC to ``S/16 x S/16 x 128`` (LeakyReLU) ->
    three 5x5 stride-2 transposed convolutions 256/128/64 with batch norm and LeakyReLU -> a 5x5
    stride-2 transposed convolution to ``channels``, tanh."""

    def __init__(self, n_identities: int, channels: int = 3, size: int = 64, latent: int = 128,
                 widths: tuple[int, ...] = DEC_CHANNELS, base: int = 128, slope: float = 0.2) -> None:
        super().__init__()
        self.s0 = _check_size(size)
        self.base = base
        self.n_identities = n_identities
        self.fc = nn.Sequential(nn.Linear(latent + n_identities, base * self.s0 * self.s0), nn.LeakyReLU(slope))
        layers: list[nn.Module] = []
        cin = base
        for w in widths:
            layers += [nn.ConvTranspose2d(cin, w, 5, stride=2, padding=2, output_padding=1), nn.BatchNorm2d(w),
                       nn.LeakyReLU(slope)]
            cin = w
        layers += [nn.ConvTranspose2d(cin, channels, 5, stride=2, padding=2, output_padding=1), nn.Tanh()]
        self.deconv = nn.Sequential(*layers)

    def forward(self, f: torch.Tensor, code: torch.Tensor) -> torch.Tensor:
        """``code``: identity indices ``(N,)`` (long) or one-hot / soft codes ``(N, n_identities)``."""
        if code.ndim == 1:
            code = nn.functional.one_hot(code.long(), self.n_identities).to(f.dtype)
        h = self.fc(torch.cat([f, code], 1)).view(len(f), self.base, self.s0, self.s0)
        return self.deconv(h)


class VganDiscriminator(nn.Module):
    """Shared 5x5 stride-2 convolutions 32/64/128/256 (batch norm, LeakyReLU) and a shared FC 256
    (LeakyReLU); heads D1 (real/fake logit), D2 (``n_identities`` logits), D3 (``n_expressions``)."""

    def __init__(self, n_identities: int, n_expressions: int, channels: int = 3, size: int = 64,
                 widths: tuple[int, ...] = ENC_CHANNELS, hidden: int = 256, slope: float = 0.2) -> None:
        super().__init__()
        self.shared = _trunk(channels, size, widths, hidden, slope)
        self.real = nn.Linear(hidden, 1)
        self.identity = nn.Linear(hidden, n_identities)
        self.expression = nn.Linear(hidden, n_expressions)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        h = self.shared(x)
        return self.real(h)[:, 0], self.identity(h), self.expression(h)


def _trunk(channels: int, size: int, widths: tuple[int, ...], hidden: int, slope: float) -> nn.Sequential:
    layers, flat = _convs(channels, size, widths, slope)
    return nn.Sequential(*layers, nn.Flatten(), nn.Linear(flat, hidden), nn.LeakyReLU(slope))


class VganClassifier(nn.Module):
    """The discriminator's structure with one head: the identifiers and expression classifiers of
    chen-2018's scenarios I and II ("the same structure as D2" / "as D3")."""

    def __init__(self, n_out: int, channels: int = 3, size: int = 64, widths: tuple[int, ...] = ENC_CHANNELS,
                 hidden: int = 256, slope: float = 0.2) -> None:
        super().__init__()
        self.shared = _trunk(channels, size, widths, hidden, slope)
        self.head = nn.Linear(hidden, n_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.shared(x))


def init_weights(module: nn.Module, std: float = 0.01) -> None:
    """chen-2018 §5.2: every convolution and fully-connected weight from N(0, std), biases zero."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, std)
            if m.bias is not None:
                nn.init.zeros_(m.bias)


class LatentMLP(nn.Module):
    """Scenario III's attacker on ``f(I)`` (chen-2018 §5.4): 3 hidden layers of 256."""

    def __init__(self, latent: int, n_out: int, hidden: int = 256, layers: int = 3, dropout: float = 0.3) -> None:
        super().__init__()
        mods: list[nn.Module] = []
        cin = latent
        for _ in range(layers):
            mods += [nn.Linear(cin, hidden), nn.ReLU(), nn.Dropout(dropout)]
            cin = hidden
        self.net = nn.Sequential(*mods, nn.Linear(cin, n_out))

    def forward(self, f: torch.Tensor) -> torch.Tensor:
        return self.net(f)


class LatentCNN(nn.Module):
    """Scenario III's 1-D ConvNet on ``f(I)`` seen as a one-channel sequence."""

    def __init__(self, latent: int, n_out: int, channels: tuple[int, ...] = (16, 32), hidden: int = 128) -> None:
        super().__init__()
        mods: list[nn.Module] = []
        cin, length = 1, latent
        for c in channels:
            mods += [nn.Conv1d(cin, c, 5, padding=2), nn.BatchNorm1d(c), nn.ReLU(), nn.MaxPool1d(2)]
            cin, length = c, length // 2
        self.net = nn.Sequential(*mods, nn.Flatten(), nn.Linear(cin * length, hidden), nn.ReLU(), nn.Dropout(0.3),
                                 nn.Linear(hidden, n_out))

    def forward(self, f: torch.Tensor) -> torch.Tensor:
        return self.net(f[:, None])
