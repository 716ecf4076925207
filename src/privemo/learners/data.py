"""Variable-length sequence data for the learners, and padding into batches."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch


@dataclass
class SeqData:
    """``x``: per-item (T_i, D) arrays (or, for several streams, per-item tuples of them); ``y``: integer labels (or ``None`` for unlabelled data);
    ``aux``: integer labels of other attributes (gender, speaker) for adversaries, -1 = unknown."""

    x: Sequence[Any]
    y: np.ndarray | None = None
    aux: dict[str, np.ndarray] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.x)


def pad(xs: Sequence[np.ndarray], max_frames: int | None = None, rng: np.random.Generator | None = None
        ) -> tuple[torch.Tensor, torch.Tensor]:
    """Zero-pad to (B, T, D) and return the lengths; longer items are cropped to ``max_frames``
    (a random window when ``rng`` is given, else the centre)."""
    crops = []
    for x in xs:
        x = np.asarray(x, dtype=np.float32)
        if x.ndim == 1:
            x = x[None, :]
        if max_frames and len(x) > max_frames:
            start = int(rng.integers(0, len(x) - max_frames + 1)) if rng is not None else (len(x) - max_frames) // 2
            x = x[start:start + max_frames]
        crops.append(x)
    lengths = torch.tensor([len(c) for c in crops], dtype=torch.long)
    out = np.zeros((len(crops), int(lengths.max()), crops[0].shape[1]), dtype=np.float32)
    for i, c in enumerate(crops):
        out[i, : len(c)] = c
    return torch.from_numpy(out), lengths


Inputs = list[tuple[torch.Tensor, torch.Tensor]]


def pad_streams(items: Sequence[object], max_frames: int | None = None, rng: np.random.Generator | None = None
                ) -> Inputs:
    """:func:`pad` for each stream: items that are tuples of arrays (one per stream) give one
    padded (x, lengths) per stream; plain arrays give a list of one."""
    if len(items) and isinstance(items[0], tuple):
        return [pad([it[k] for it in items], max_frames, rng) for k in range(len(items[0]))]  # type: ignore[index]
    return [pad(items, max_frames, rng)]  # type: ignore[arg-type]


def batches(n: int, batch_size: int, rng: np.random.Generator | None) -> Iterator[np.ndarray]:
    order = rng.permutation(n) if rng is not None else np.arange(n)
    for i in range(0, n, batch_size):
        yield order[i:i + batch_size]


def class_weights(y: np.ndarray, n_classes: int) -> torch.Tensor:
    """Inverse-frequency class weights (mean 1 over the classes present), for weighted cross-entropy."""
    counts = np.bincount(y, minlength=n_classes).astype(np.float64)
    w = np.where(counts > 0, counts.sum() / np.maximum(counts, 1) / max(1, (counts > 0).sum()), 0.0)
    return torch.tensor(w, dtype=torch.float32)
