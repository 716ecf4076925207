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
from privemo.models import AcousticEncoder, LexicalEncoder, MLPHead
from privemo.registry import register

ENCODERS: dict[str, type[nn.Module]] = {"acoustic": AcousticEncoder, "lexical": LexicalEncoder}


class EmotionNet(nn.Module):
    def __init__(self, encoder: nn.Module, head: nn.Module) -> None:
        super().__init__()
        self.encoder, self.head = encoder, head

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.encoder(x, lengths)
        return h, self.head(h)


@register("learner", "standard")
class StandardLearner:
    """Encoder (``encoder={"type": "acoustic" | "lexical", ...}``) + MLP emotion head.

    Training crops each item to a random window of ``max_frames`` frames (3 s of MFB by default: an
    augmentation, and a faster epoch); inference encodes whole utterances.
    """

    def __init__(self, encoder: dict[str, Any] | None = None, head: dict[str, Any] | None = None,
                 epochs: int = 50, patience: int = 5, lr: float = 1e-3, batch_size: int = 32,
                 max_frames: int | None = 300, seed: int = 0, weighted: bool = True,
                 on_epoch: Callable[[int, dict[str, float]], None] | None = None) -> None:
        self.encoder = dict(encoder or {"type": "acoustic"})
        self.head = dict(head or {})
        self.epochs, self.patience, self.lr = epochs, patience, lr
        self.batch_size, self.max_frames, self.seed, self.weighted = batch_size, max_frames, seed, weighted
        self.on_epoch = on_epoch

    def get_config(self) -> dict[str, Any]:
        return {"type": "standard", "encoder": self.encoder, "head": self.head, "epochs": self.epochs,
                "patience": self.patience, "lr": self.lr, "batch_size": self.batch_size,
                "max_frames": self.max_frames, "seed": self.seed, "weighted": self.weighted}

    # -- building -------------------------------------------------------------------------------
    def _build(self, n_in: int, n_classes: int) -> EmotionNet:
        cfg = dict(self.encoder)
        kind = cfg.pop("type", "acoustic")
        if kind not in ENCODERS:
            raise ConfigError(f"learner.encoder.type: unknown encoder {kind!r} (known: {sorted(ENCODERS)})")
        enc = ENCODERS[kind](n_in=n_in, **cfg)
        out_dim: int = enc.out_dim  # type: ignore[assignment]
        return EmotionNet(enc, MLPHead(out_dim, n_classes, **self.head))

    # -- training -------------------------------------------------------------------------------
    def fit(self, train: SeqData, valid: SeqData | None = None, n_classes: int | None = None) -> StandardLearner:
        if train.y is None or len(train) == 0:
            raise ConfigError("learner.fit needs labelled training data")
        torch.manual_seed(self.seed)
        rng = np.random.default_rng(self.seed)
        self.n_classes_ = int(n_classes or int(max(train.y.max(), valid.y.max() if valid and valid.y is not None
                                                    and len(valid) else 0)) + 1)
        self.n_in_ = int(np.asarray(train.x[0]).shape[-1])
        self.model_ = self._build(self.n_in_, self.n_classes_)
        weight = class_weights(train.y, self.n_classes_) if self.weighted else None
        loss_fn = nn.CrossEntropyLoss(weight=weight)
        opt = torch.optim.RMSprop(self.model_.parameters(), lr=self.lr)
        best, best_state, bad, self.history_ = np.inf, None, 0, []
        for epoch in range(self.epochs):
            t0 = time.perf_counter()
            self.model_.train()
            total, seen = 0.0, 0
            for idx in batches(len(train), self.batch_size, rng):
                x, lengths = pad([train.x[i] for i in idx], self.max_frames, rng)
                _, logits = self.model_(x, lengths)
                loss = loss_fn(logits, torch.as_tensor(train.y[idx], dtype=torch.long))
                opt.zero_grad()
                loss.backward()
                opt.step()
                total, seen = total + loss.item() * len(idx), seen + len(idx)
            record = {"epoch": epoch, "train_loss": total / max(seen, 1), "seconds": time.perf_counter() - t0}
            if valid is not None and len(valid):
                record["valid_loss"] = self._loss(valid, loss_fn)
            self.history_.append(record)
            if self.on_epoch:
                self.on_epoch(epoch, record)
            monitor = record.get("valid_loss", record["train_loss"])
            if monitor < best - 1e-6:
                best, best_state, bad, self.best_epoch_ = monitor, copy.deepcopy(self.model_.state_dict()), 0, epoch
            else:
                bad += 1
                if bad >= self.patience:
                    break
        if best_state is not None:
            self.model_.load_state_dict(best_state)
        self.model_.eval()
        return self

    @torch.no_grad()
    def _loss(self, data: SeqData, loss_fn: nn.Module) -> float:
        self.model_.eval()
        logits = self._forward(data.x)[1]
        return float(loss_fn(logits, torch.as_tensor(data.y, dtype=torch.long)))

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
        torch.save({"state": self.model_.state_dict(), "n_in": self.n_in_, "n_classes": self.n_classes_}, tmp)
        tmp.replace(path)

    def load(self, path: str | Path) -> StandardLearner:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
        self.n_in_, self.n_classes_ = int(ckpt["n_in"]), int(ckpt["n_classes"])
        self.model_ = self._build(self.n_in_, self.n_classes_)
        self.model_.load_state_dict(ckpt["state"])
        self.model_.eval()
        return self
