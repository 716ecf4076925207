"""The task functions of the federated experiment: plain Python and torch, no Flower.

The Flower ClientApp and ServerApp (``client_app``, ``server_app``) are thin adapters around these,
and the centralised baselines (``centralised``) call the very same ``build_model``, ``train`` and
``evaluate``, so the federated and centralised figures differ only in where training happens.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from privemo._files import atomic_path, atomic_write
from privemo.errors import ConfigError
from privemo.metrics import confusion, uar
from privemo.models.training import class_weights, make_private, rdp_epsilon


@dataclass
class Partition:
    """One client's data (or the server's held-out speakers): features, integer labels, and which
    items are for local training (the rest: the client's local test items)."""

    X: np.ndarray
    y: np.ndarray
    train: np.ndarray  # bool mask
    speaker: str = ""
    gender: str = "?"

    def save(self, path: str | Path) -> None:
        with atomic_path(path) as tmp, open(tmp, "wb") as fh:
            np.savez(fh, X=self.X.astype(np.float32), y=self.y.astype(np.int64), train=self.train,
                     speaker=np.array(self.speaker), gender=np.array(self.gender))

    @classmethod
    def load(cls, path: str | Path) -> Partition:
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"{path}: partition file not found (was the federation's data prepared?)")
        try:
            with np.load(path, allow_pickle=False) as z:
                return cls(z["X"], z["y"], z["train"].astype(bool), str(z["speaker"]), str(z["gender"]))
        except (OSError, ValueError, KeyError) as exc:
            raise ConfigError(f"{path}: not a readable partition file ({exc})") from None


def write_atomic(path: str | Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file, so a reader never sees half a file."""
    atomic_write(path, text)


def build_model(n_in: int, n_classes: int, model: dict[str, Any], seed: int = 0) -> nn.Module:
    """The emotion classifier over functionals: an MLP or logistic regression, seeded."""
    torch.manual_seed(seed)
    if model.get("type", "mlp") == "logreg":
        return nn.Sequential(nn.Linear(n_in, n_classes))
    layers: list[nn.Module] = []
    width = n_in
    for h in model.get("hidden", [256]):
        layers += [nn.Linear(width, h), nn.ReLU(), nn.Dropout(model.get("dropout", 0.3))]
        width = h
    layers.append(nn.Linear(width, n_classes))
    return nn.Sequential(*layers)


def get_weights(model: nn.Module) -> list[np.ndarray]:
    return [v.detach().cpu().numpy().copy() for v in model.state_dict().values()]


def set_weights(model: nn.Module, weights: list[np.ndarray]) -> None:
    keys = list(model.state_dict())
    if len(keys) != len(weights):
        raise ValueError(f"model has {len(keys)} tensors, got {len(weights)} arrays")
    model.load_state_dict({k: torch.as_tensor(np.asarray(w)) for k, w in zip(keys, weights, strict=True)})


def flat_update(new: list[np.ndarray], old: list[np.ndarray]) -> np.ndarray:
    """The update a client sends, as one flat vector (new weights minus the global ones)."""
    return np.concatenate([(np.asarray(a, dtype=np.float32) - np.asarray(b, dtype=np.float32)).ravel()
                           for a, b in zip(new, old, strict=True)])


def _batches(n: int, batch_size: int, rng: np.random.Generator, poisson: bool) -> Any:
    from privemo.models.training import batches, poisson_batches

    return poisson_batches(n, batch_size, rng) if poisson else batches(n, batch_size, rng)


def train(model: nn.Module, X: np.ndarray, y: np.ndarray, *, epochs: int = 1, batch_size: int = 16,
          lr: float = 1e-3, optimizer: str = "adam", seed: int = 0, proximal_mu: float = 0.0,
          dp: dict[str, Any] | None = None, dp_steps_before: int = 0, n_classes: int | None = None
          ) -> dict[str, float]:
    """Train ``model`` in place on (X, y) for ``epochs`` passes with class-weighted cross-entropy.

    ``proximal_mu`` > 0 adds FedProx's (mu / 2) ||w - w_start||^2 (w_start: the weights on entry,
    i.e. the global model). ``dp`` ({noise_multiplier, max_grad_norm, delta}) trains with Opacus
    DP-SGD; ``dp_steps_before`` counts this data's earlier DP steps (earlier rounds), so the
    returned ``epsilon`` covers everything this data has been used for. Returns the mean loss, the
    number of steps taken and, with DP, epsilon and delta.
    """
    if len(X) == 0:
        raise ValueError("train: no training items")
    n_classes = n_classes or int(y.max()) + 1
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    weight = class_weights(y, n_classes, over="all")
    loss_fn = nn.CrossEntropyLoss(weight=weight, reduction="none")
    start = [p.detach().clone() for p in model.parameters()]
    opt: torch.optim.Optimizer = (torch.optim.Adam(model.parameters(), lr=lr) if optimizer == "adam"
                                  else torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9))
    net: nn.Module = model
    sample_rate = min(1.0, batch_size / len(X))
    if dp is not None:
        net, opt = make_private(model, opt, dp, batch_size, "federated dp")
    Xt = torch.as_tensor(X, dtype=torch.float32)
    yt = torch.as_tensor(y, dtype=torch.long)
    w_items = weight[yt]
    net.train()
    total, seen, steps = 0.0, 0, 0
    for _ in range(epochs):
        for idx in _batches(len(X), batch_size, rng, poisson=dp is not None):
            logits = net(Xt[idx])
            per_item = loss_fn(logits, yt[idx])
            # with DP every item's loss must not depend on the others: weighted sum / expected size
            loss = (per_item.sum() / batch_size if dp is not None
                    else per_item.sum() / w_items[idx].sum().clamp_min(1e-8))
            if proximal_mu > 0:
                prox = sum(((p - s) ** 2).sum() for p, s in zip(model.parameters(), start, strict=True))
                loss = loss + proximal_mu / 2 * prox
            opt.zero_grad()
            loss.backward()
            opt.step()
            total, seen, steps = total + float(loss.detach()) * len(idx), seen + len(idx), steps + 1
    if dp is not None:
        net._close()  # type: ignore[operator]  # Opacus's hooks off: the plain model goes back
        for p in model.parameters():
            p.grad_sample = None  # type: ignore[attr-defined]
    model.eval()
    out = {"train_loss": total / max(seen, 1), "steps": float(steps)}
    if dp is not None:
        out["epsilon"] = dp_epsilon(dp, sample_rate, dp_steps_before + steps)
        out["delta"] = float(dp.get("delta", 1e-5))
    return out


def dp_epsilon(dp: dict[str, Any], sample_rate: float, steps: int) -> float:
    """Epsilon of ``steps`` DP-SGD steps at ``sample_rate`` (Opacus's RDP accountant)."""
    return rdp_epsilon(float(dp["noise_multiplier"]), sample_rate, steps, float(dp.get("delta", 1e-5)))


@torch.no_grad()
def predict_proba(model: nn.Module, X: np.ndarray) -> np.ndarray:
    model.eval()
    return torch.softmax(model(torch.as_tensor(X, dtype=torch.float32)), dim=1).numpy()


def evaluate(model: nn.Module, X: np.ndarray, y: np.ndarray, n_classes: int) -> dict[str, Any]:
    """Loss, UAR, accuracy and the confusion matrix (rows: true class) of ``model`` on (X, y)."""
    if len(X) == 0:
        return {"loss": float("nan"), "uar": float("nan"), "accuracy": float("nan"), "n": 0,
                "confusion": [[0] * n_classes for _ in range(n_classes)]}
    proba = predict_proba(model, X)
    pred = proba.argmax(1)
    loss = float(-np.log(np.clip(proba[np.arange(len(y)), y], 1e-12, None)).mean())
    return {"loss": loss, "uar": uar(y, pred), "accuracy": float(np.mean(pred == y)), "n": int(len(y)),
            "confusion": confusion(y, pred, list(range(n_classes)))}


def uar_of_confusion(cm: np.ndarray | list[list[int]]) -> float:
    """UAR from a confusion matrix (classes with no true items left out)."""
    cm = np.asarray(cm, dtype=np.float64)
    support = cm.sum(1)
    present = support > 0
    return float(np.mean(np.diag(cm)[present] / support[present])) if present.any() else float("nan")
