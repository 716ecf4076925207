"""Per-speaker z-normalisation.

An explicit option, not a default: it needs to know which items share a speaker. On a device that
knows its one user this is free (the device keeps running statistics of its owner); in a
corpus experiment it uses every item of each speaker, test speakers included, which is the
standard protocol of the emotion literature (jaiswal-2020 §4.1 normalises MFB by speaker).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def speaker_znorm(values: Sequence[np.ndarray | None], speakers: Sequence[str], eps: float = 1e-8
                  ) -> list[np.ndarray | None]:
    """z-normalise each feature dimension with its speaker's mean and std.

    Sequence features (T, D) use the statistics over all frames of the speaker; vector features
    (D,) the statistics over the speaker's items. ``None`` entries (failed items) stay ``None``.
    """
    values = list(values)
    out: list[np.ndarray | None] = list(values)
    spk = np.asarray(speakers)
    for s in np.unique(spk):
        idx = [int(i) for i in np.flatnonzero(spk == s) if values[int(i)] is not None]
        if not idx:
            continue
        stack = np.concatenate([np.atleast_2d(np.asarray(values[i])) for i in idx], axis=0).astype(np.float64)
        mu, sd = stack.mean(axis=0), stack.std(axis=0)
        sd = np.where(sd < eps, 1.0, sd)
        for i in idx:
            out[i] = ((np.asarray(values[i]) - mu) / sd).astype(np.float32)
    return out


def pool(values: Sequence[np.ndarray], stats: Sequence[str] = ("mean", "std")) -> np.ndarray:
    """(N, D x len(stats)) fixed-length vectors from sequence (T, D) or vector (D,) features."""
    rows = []
    for v in values:
        v = np.asarray(v, dtype=np.float32)
        if v.ndim == 1:
            rows.append(v)
            continue
        if v.ndim > 2:
            rows.append(v.reshape(-1))
            continue
        parts = {"mean": v.mean(0), "std": v.std(0), "min": v.min(0), "max": v.max(0)}
        rows.append(np.concatenate([parts[s] for s in stats]))
    return np.stack(rows)
