"""Variable-length sequence data for the learners, and padding into batches."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from privemo.models.training import batches, class_weights  # noqa: F401 - re-exported


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


