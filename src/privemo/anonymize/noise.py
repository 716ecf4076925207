"""``noise``: the Laplace mechanism on MFCCs, then re-synthesis (ranade, section 7).

Each frame's MFCC vector c (n_mfcc coefficients) is clipped coefficient-wise to the box [lo, hi]
learned by ``fit`` (the ``clip_quantile`` and 1 - ``clip_quantile`` quantiles over the corpus), so
replacing one frame by any other changes it by at most the L1 sensitivity
``Delta = sum_j (hi_j - lo_j)``; Laplace noise of scale ``Delta / epsilon`` is added to every
coefficient. This gives epsilon-differential privacy **per frame** (neighbouring inputs differ in one
frame's MFCCs); a clip of T frames composes to T * epsilon, and the box itself is learned from the
data, so it is a noise experiment in the paper's sense, not an utterance-level guarantee. The
audio is re-synthesised from the noised MFCCs as in ``voice_vq``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, ClassVar, Literal

import numpy as np
from pydantic import Field

from privemo._schema import PosFloat, PosInt
from privemo.anonymize._mfcc_synth import corpus_mfccs, mfcc_frames, resynthesise
from privemo.anonymize.base import VoiceAnonymizer, match_peak, sample_frames
from privemo.corpora.manifest import Manifest
from privemo.errors import ConfigError
from privemo.registry import register


@register("anonymizer", "noise")
@dataclass
class LaplaceMFCC(VoiceAnonymizer):
    name: ClassVar[str] = "noise"
    epsilon: PosFloat = 100.0
    clip_quantile: Annotated[float, Field(ge=0, lt=0.5)] = 0.01
    n_mfcc: Annotated[int, Field(ge=1, le=128)] = 20
    n_mels: Annotated[int, Field(ge=2, le=256)] = 40
    vocoder: Literal["griffinlim", "world"] = "griffinlim"
    n_iter: Annotated[int, Field(ge=1, le=1000)] = 32
    momentum: Annotated[float, Field(ge=0, lt=1)] = 0.99
    max_frames: PosInt = 200_000

    def fit(self, manifest: Manifest, progress: Callable[[int, int], None] | None = None) -> LaplaceMFCC:
        if self.epsilon <= 0:
            raise ConfigError(f"noise: epsilon must be positive, not {self.epsilon}")
        values = [m for _, m in corpus_mfccs(manifest, self.n_mfcc, self.n_mels, progress)]
        data = sample_frames(values, self.max_frames, self.seed)
        self.lo_ = np.quantile(data, self.clip_quantile, axis=0)
        self.hi_ = np.quantile(data, 1.0 - self.clip_quantile, axis=0)
        self.sensitivity_ = float(np.sum(self.hi_ - self.lo_))
        return self

    @property
    def scale(self) -> float:
        if not hasattr(self, "sensitivity_"):
            raise ConfigError("noise: call fit(manifest) before transform (the clipping box is learned)")
        return self.sensitivity_ / self.epsilon

    def _transform(self, x, sr, clip):
        coeffs = np.clip(mfcc_frames(x, sr, self.n_mfcc, self.n_mels), self.lo_, self.hi_)
        rng = self.rng(clip.key)
        noised = coeffs + rng.laplace(0.0, self.scale, size=coeffs.shape)
        y = resynthesise(x, sr, noised, self.n_mels, self.vocoder, self.n_iter, self.momentum, rng)
        return match_peak(y, x)
