"""The standard learner (``Gen`` in jaiswal-2020): encoder + emotion head, one training loop.

RMSprop, class-weighted cross-entropy, at most ``epochs`` epochs, early stopping on the validation
emotion loss with ``patience``, and the weights of the best epoch restored at the end. Seeds make a
run repeatable on the CPU. Checkpoints are plain state dicts, loaded with ``weights_only=True``.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from privemo.errors import ConfigError
from privemo.learners.data import SeqData, batches, class_weights, pad
from privemo.metrics import uar
from privemo.models import AcousticEncoder, LexicalEncoder, MLPHead, grad_reverse
from privemo.registry import register

ENCODERS: dict[str, type[nn.Module]] = {"acoustic": AcousticEncoder, "lexical": LexicalEncoder}


class EmotionNet(nn.Module):
    """Encoder + emotion head, and optional adversary heads that read the representation through a
    gradient reversal layer (they learn the attribute; the encoder learns to hide it)."""

    def __init__(self, encoder: nn.Module, head: nn.Module, adversaries: dict[str, nn.Module] | None = None,
                 lambdas: dict[str, float] | None = None) -> None:
        super().__init__()
        self.encoder, self.head = encoder, head
        self.adversaries = nn.ModuleDict(adversaries or {})
        self.lambdas = dict(lambdas or {})

    def adversary_logits(self, h: torch.Tensor) -> dict[str, torch.Tensor]:
        return {k: head(grad_reverse(h, self.lambdas[k])) for k, head in self.adversaries.items()}

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.encoder(x, lengths)
        return h, self.head(h)


@register("learner", "standard")
class StandardLearner:
    """Encoder (``encoder={"type": "acoustic" | "lexical", ...}``) + MLP emotion head (``Gen``).

    Training crops each item to a random window of ``max_frames`` frames (3 s of MFB by default: an
    augmentation, and a faster epoch); inference encodes whole utterances. ``adversaries`` (a list
    of ``{"target": "gender" | "speaker", "lambda": 1.0, "layers": 1, "width": 64}``) adds heads
    behind gradient reversal: that is the ``Priv`` learner of jaiswal-2020 (registered as ``grl``).
    """

    def __init__(self, encoder: dict[str, Any] | None = None, head: dict[str, Any] | None = None,
                 epochs: int = 50, patience: int = 5, lr: float = 1e-3, batch_size: int = 32,
                 max_frames: int | None = 300, seed: int = 0, weighted: bool = True,
                 adversaries: list[dict[str, Any]] | None = None, chance_tolerance: float = 0.05,
                 on_epoch: Callable[[int, dict[str, float]], None] | None = None) -> None:
        self.encoder = dict(encoder or {"type": "acoustic"})
        self.head = dict(head or {})
        self.epochs, self.patience, self.lr = epochs, patience, lr
        self.batch_size, self.max_frames, self.seed, self.weighted = batch_size, max_frames, seed, weighted
        self.adversaries = [dict(a) for a in (adversaries or [])]
        self.chance_tolerance = chance_tolerance
        self.on_epoch = on_epoch
        for i, a in enumerate(self.adversaries):
            if a.get("target") not in ("gender", "speaker"):
                raise ConfigError(f"learner.adversaries.{i}.target: must be 'gender' or 'speaker', got {a.get('target')!r}")
            unknown = set(a) - {"target", "lambda", "layers", "width", "dropout"}
            if unknown:
                raise ConfigError(f"learner.adversaries.{i}: unknown keys {sorted(unknown)}")

    def get_config(self) -> dict[str, Any]:
        return {"type": "standard", "encoder": self.encoder, "head": self.head, "epochs": self.epochs,
                "patience": self.patience, "lr": self.lr, "batch_size": self.batch_size,
                "max_frames": self.max_frames, "seed": self.seed, "weighted": self.weighted,
                "adversaries": self.adversaries, "chance_tolerance": self.chance_tolerance}

    @property
    def targets(self) -> list[str]:
        """The attributes the adversaries need labels for (``SeqData.aux`` keys)."""
        return [a["target"] for a in self.adversaries]

    # -- building -------------------------------------------------------------------------------
    def _build(self, n_in: int, n_classes: int, n_aux: dict[str, int] | None = None) -> EmotionNet:
        cfg = dict(self.encoder)
        kind = cfg.pop("type", "acoustic")
        if kind not in ENCODERS:
            raise ConfigError(f"learner.encoder.type: unknown encoder {kind!r} (known: {sorted(ENCODERS)})")
        enc = ENCODERS[kind](n_in=n_in, **cfg)
        out_dim: int = enc.out_dim  # type: ignore[assignment]
        heads: dict[str, nn.Module] = {}
        lambdas: dict[str, float] = {}
        for a in self.adversaries:
            t = a["target"]
            heads[t] = MLPHead(out_dim, (n_aux or {})[t], layers=a.get("layers", 1), width=a.get("width", 64),
                               dropout=a.get("dropout", 0.2))
            lambdas[t] = float(a.get("lambda", 1.0))
        return EmotionNet(enc, MLPHead(out_dim, n_classes, **self.head), heads, lambdas)

    # -- training -------------------------------------------------------------------------------
    def fit(self, train: SeqData, valid: SeqData | None = None, n_classes: int | None = None) -> StandardLearner:
        if train.y is None or len(train) == 0:
            raise ConfigError("learner.fit needs labelled training data")
        missing = [t for t in self.targets if t not in train.aux]
        if missing:
            raise ConfigError(f"learner.fit: the adversaries need {missing} labels in the training data")
        torch.manual_seed(self.seed)
        rng = np.random.default_rng(self.seed)
        self.n_classes_ = int(n_classes or int(max(train.y.max(), valid.y.max() if valid and valid.y is not None
                                                    and len(valid) else 0)) + 1)
        self.n_aux_ = {t: int(train.aux[t].max()) + 1 for t in self.targets}
        self.n_in_ = int(np.asarray(train.x[0]).shape[-1])
        self.model_ = self._build(self.n_in_, self.n_classes_, self.n_aux_)
        loss_fn = nn.CrossEntropyLoss(weight=class_weights(train.y, self.n_classes_) if self.weighted else None)
        aux_fns = {t: nn.CrossEntropyLoss(weight=class_weights(train.aux[t][train.aux[t] >= 0], self.n_aux_[t])
                                          if self.weighted else None, ignore_index=-1) for t in self.targets}
        opt = torch.optim.RMSprop(self.model_.parameters(), lr=self.lr)
        best, best_state, bad, self.history_ = np.inf, None, 0, []
        best_private: tuple[float, Any, int] | None = None
        for epoch in range(self.epochs):
            t0 = time.perf_counter()
            self.model_.train()
            total, seen = 0.0, 0
            for idx in batches(len(train), self.batch_size, rng):
                x, lengths = pad([train.x[i] for i in idx], self.max_frames, rng)
                h, logits = self.model_(x, lengths)
                loss = loss_fn(logits, torch.as_tensor(train.y[idx], dtype=torch.long))
                for t, adv_logits in self.model_.adversary_logits(h).items():
                    loss = loss + aux_fns[t](adv_logits, torch.as_tensor(train.aux[t][idx], dtype=torch.long))
                opt.zero_grad()
                loss.backward()
                opt.step()
                total, seen = total + loss.item() * len(idx), seen + len(idx)
            record: dict[str, float] = {"epoch": epoch, "train_loss": total / max(seen, 1),
                                        "seconds": time.perf_counter() - t0}
            if valid is not None and len(valid):
                record.update(self._validate(valid, loss_fn))
            self.history_.append(record)
            if self.on_epoch:
                self.on_epoch(epoch, record)
            monitor = record.get("valid_loss", record["train_loss"])
            private = record.get("valid_gender_uar", 0.5) <= 0.5 + self.chance_tolerance
            if self.adversaries and private and (best_private is None or monitor < best_private[0]):
                best_private = (monitor, copy.deepcopy(self.model_.state_dict()), epoch)
            if monitor < best - 1e-6:
                best, best_state, bad, self.best_epoch_ = monitor, copy.deepcopy(self.model_.state_dict()), 0, epoch
            else:
                bad += 1
                if bad >= self.patience:
                    break
        if best_private is not None:  # Priv: prefer the best epoch whose adversary is at chance
            _, best_state, self.best_epoch_ = best_private
        self.private_checkpoint_ = best_private is not None
        if best_state is not None:
            self.model_.load_state_dict(best_state)
        self.model_.eval()
        return self

    @torch.no_grad()
    def _validate(self, data: SeqData, loss_fn: nn.Module) -> dict[str, float]:
        h, logits = self._forward(data.x)
        out = {"valid_loss": float(loss_fn(logits, torch.as_tensor(data.y, dtype=torch.long)))}
        if "gender" in self.model_.adversaries and "gender" in data.aux:
            y = data.aux["gender"]
            known = y >= 0
            if known.any():
                pred = self.model_.adversaries["gender"](h).argmax(1).numpy()
                out["valid_gender_uar"] = uar(y[known], pred[known])
        return out

    @torch.no_grad()
    def _forward(self, xs: Any, batch_size: int = 128) -> tuple[torch.Tensor, torch.Tensor]:
        self.model_.eval()
        hs, ls = [], []
        for i in range(0, len(xs), batch_size):
            x, lengths = pad(list(xs[i:i + batch_size]))  # whole utterances at inference
            h, logits = self.model_(x, lengths)
            hs.append(h)
            ls.append(logits)
        return torch.cat(hs), torch.cat(ls)

    # -- using ------------------------------------------------------------------------------------
    def encode(self, xs: Any) -> np.ndarray:
        """The representation that leaves the device: (N, D) pooled encoder outputs."""
        return self._forward(xs)[0].numpy()

    def predict_proba(self, xs: Any) -> np.ndarray:
        return torch.softmax(self._forward(xs)[1], dim=1).numpy()

    def predict(self, xs: Any) -> np.ndarray:
        return self.predict_proba(xs).argmax(1)

    # -- checkpoints ----------------------------------------------------------------------------
    def save(self, path: str | Path) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(path.suffix + ".tmp")
        torch.save({"state": self.model_.state_dict(), "n_in": self.n_in_, "n_classes": self.n_classes_,
                    "n_aux": self.n_aux_}, tmp)
        tmp.replace(path)

    def load(self, path: str | Path) -> StandardLearner:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
        self.n_in_, self.n_classes_ = int(ckpt["n_in"]), int(ckpt["n_classes"])
        self.n_aux_ = {k: int(v) for k, v in ckpt.get("n_aux", {}).items()}
        self.model_ = self._build(self.n_in_, self.n_classes_, self.n_aux_)
        self.model_.load_state_dict(ckpt["state"])
        self.model_.eval()
        return self


@register("learner", "grl")
class AdversarialLearner(StandardLearner):
    """``Priv`` (jaiswal-2020): the standard learner plus adversary heads behind gradient reversal.

    Default: one gender adversary with lambda 1. ``adversaries=[{"target": "gender", "lambda": 0.5},
    {"target": "speaker", "lambda": 0.3}]`` unlearns both, each with its own lambda.
    """

    def __init__(self, adversaries: list[dict[str, Any]] | None = None, **kw: Any) -> None:
        super().__init__(adversaries=adversaries or [{"target": "gender", "lambda": 1.0}], **kw)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "type": "grl"}
