"""The torch core every trainer shares: seeded batching (fixed or Poisson-sampled), inverse-frequency
class weights, the Opacus DP-SGD wrapper with its RDP accountant, and training / predicting a small
classifier. Used by the learners (Gen, Priv, narula-2020), the federated clients and the CNN
attackers, so that one change here reaches all of them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from privemo.errors import ConfigError

__all__ = ["TrainConfig", "accountant_for", "batches", "class_weights", "fit_classifier", "make_private",
           "poisson_batches", "predict", "rdp_epsilon", "torch_batches"]


def batches(n: int, batch_size: int, rng: np.random.Generator | None) -> Iterator[np.ndarray]:
    """One epoch of fixed-size batches of ``range(n)``, shuffled by ``rng`` (in order without one)."""
    order = rng.permutation(n) if rng is not None else np.arange(n)
    for i in range(0, n, batch_size):
        yield order[i:i + batch_size]


def poisson_batches(n: int, batch_size: int, rng: np.random.Generator) -> Iterator[np.ndarray]:
    """As many batches as an epoch of fixed batches, each item drawn with probability
    batch_size / n (the sampling the privacy accountant assumes); empty draws are skipped."""
    q = min(1.0, batch_size / n)
    for _ in range(max(1, round(n / batch_size))):
        idx = np.flatnonzero(rng.random(n) < q)
        if len(idx):
            yield idx


def torch_batches(n: int, batch: int, gen: torch.Generator) -> Iterable[torch.Tensor]:
    """One shuffled epoch of batches drawn with a torch generator (the image CNNs)."""
    order = torch.randperm(n, generator=gen)
    for i in range(0, n, batch):
        yield order[i:i + batch]


def class_weights(y: np.ndarray, n_classes: int, over: str = "present") -> torch.Tensor:
    """Inverse-frequency class weights for weighted cross-entropy: mean 1 over the classes present
    (``over="present"``), or count-sum / (count x n_classes) over all classes (``over="all"``, the
    federated clients', which may lack a class)."""
    counts = np.bincount(y, minlength=n_classes).astype(np.float64)
    norm = n_classes if over == "all" else max(1, (counts > 0).sum())
    w = np.where(counts > 0, counts.sum() / np.maximum(counts, 1) / norm, 0.0)
    return torch.tensor(w, dtype=torch.float32)


def make_private(model: nn.Module, optimizer: torch.optim.Optimizer, dp: dict[str, Any], batch_size: int,
                 what: str = "dp") -> tuple[nn.Module, torch.optim.Optimizer]:
    """Opacus DP-SGD: ``model`` wrapped for per-sample gradients and ``optimizer`` clipping each to
    ``max_grad_norm`` and adding Gaussian noise of ``noise_multiplier`` x that norm (losses are means
    over the expected batch size)."""
    try:
        from opacus import GradSampleModule
        from opacus.optimizers import DPOptimizer
    except ImportError as exc:
        raise ConfigError(f"{what} needs the package opacus (pip install privemo[dp])") from exc
    import warnings

    # the inputs never require gradients; Opacus's hooks fire on module outputs, as they should
    warnings.filterwarnings("ignore", message="Full backward hook is firing when gradients are computed")
    net = GradSampleModule(model, loss_reduction="mean")
    dp_opt = DPOptimizer(optimizer, noise_multiplier=float(dp.get("noise_multiplier", 1.0)),
                         max_grad_norm=float(dp.get("max_grad_norm", 1.0)), expected_batch_size=batch_size,
                         loss_reduction="mean")
    return net, dp_opt


def accountant_for(optimizer: Any, sample_rate: float) -> Any:
    """An RDP accountant that counts every step of the DP optimizer at ``sample_rate``."""
    from opacus.accountants import RDPAccountant

    accountant = RDPAccountant()
    optimizer.attach_step_hook(accountant.get_optimizer_hook_fn(sample_rate=min(1.0, sample_rate)))
    return accountant


def rdp_epsilon(noise_multiplier: float, sample_rate: float, steps: int, delta: float) -> float:
    """Epsilon of ``steps`` DP-SGD steps at ``sample_rate`` (Opacus's RDP accountant)."""
    from opacus.accountants import RDPAccountant

    acc = RDPAccountant()
    acc.history = [(float(noise_multiplier), float(sample_rate), int(steps))]
    return float(acc.get_epsilon(delta=float(delta)))


@dataclass
class TrainConfig:
    epochs: int = 15
    lr: float = 1e-3
    batch: int = 64
    seed: int = 0
    weight_decay: float = 0.0


def trainable(module: nn.Module) -> list[nn.Parameter]:
    return [p for p in module.parameters() if p.requires_grad]


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
        for idx in torch_batches(len(x), cfg.batch, gen):
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
