"""``voice_vq``: MFCC vector quantisation with re-synthesis (ranade, section 4.2).

``fit`` learns a k-means codebook (k = 16 by default) of frame MFCCs over the corpus (``codebook =
"global"``) or one per speaker (``"speaker"``; an unseen speaker then falls back to the global one);
``transform`` replaces each frame's MFCC vector by its nearest centroid and re-synthesises audio
from the quantised MFCCs (see :mod:`privemo.anonymize._mfcc_synth`: Griffin-Lim, fast Griffin-Lim,
or WORLD with the original's F0).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, ClassVar, Literal

import numpy as np
from pydantic import Field
from sklearn.cluster import KMeans

from privemo._schema import PosInt
from privemo.anonymize._mfcc_synth import corpus_mfccs, mfcc_frames, resynthesise
from privemo.anonymize.base import VoiceAnonymizer, match_peak, sample_frames
from privemo.corpora.manifest import Manifest
from privemo.errors import ConfigError
from privemo.registry import register


@register("anonymizer", "voice_vq")
@dataclass
class VoiceVQ(VoiceAnonymizer):
    name: ClassVar[str] = "voice_vq"
    k: Annotated[int, Field(ge=1, le=65536)] = 16
    codebook: Literal["global", "speaker"] = "global"  # or "speaker"
    n_mfcc: Annotated[int, Field(ge=1, le=128)] = 20
    n_mels: Annotated[int, Field(ge=2, le=256)] = 40
    vocoder: Literal["griffinlim", "world"] = "griffinlim"  # or "world" (original F0 and aperiodicity)
    n_iter: Annotated[int, Field(ge=1, le=1000)] = 32
    momentum: Annotated[float, Field(ge=0, lt=1)] = 0.99  # 0: plain Griffin-Lim
    max_frames: PosInt = 200_000  # frames drawn from the corpus for k-means

    def fit(self, manifest: Manifest, progress: Callable[[int, int], None] | None = None) -> VoiceVQ:
        if self.codebook not in ("global", "speaker"):
            raise ConfigError(f"voice_vq: codebook must be 'global' or 'speaker', not {self.codebook!r}")
        if self.k < 1:
            raise ConfigError(f"voice_vq: k must be at least 1, not {self.k}")
        per_item = corpus_mfccs(manifest, self.n_mfcc, self.n_mels, progress)
        self.centroids_ = self._kmeans([m for _, m in per_item])
        self.speaker_centroids_ = {}
        if self.codebook == "speaker":
            for spk in sorted({s for s, _ in per_item if s is not None}):
                self.speaker_centroids_[spk] = self._kmeans([m for s, m in per_item if s == spk])
        return self

    def _kmeans(self, values: list[np.ndarray]) -> np.ndarray:
        data = sample_frames(values, self.max_frames, self.seed)
        k = min(self.k, len(data))
        km = KMeans(n_clusters=k, n_init=1, random_state=self.seed, max_iter=100).fit(data)
        return km.cluster_centers_

    def quantise(self, coeffs: np.ndarray, speaker: str | None) -> np.ndarray:
        if not hasattr(self, "centroids_"):
            raise ConfigError("voice_vq: call fit(manifest) before transform (the codebook is learned)")
        book = self.speaker_centroids_.get(speaker, self.centroids_) if speaker else self.centroids_
        d = ((coeffs[:, None, :] - book[None, :, :]) ** 2).sum(-1)
        return book[np.argmin(d, axis=1)]

    def _transform(self, x, sr, clip):
        q = self.quantise(mfcc_frames(x, sr, self.n_mfcc, self.n_mels), clip.speaker)
        y = resynthesise(x, sr, q, self.n_mels, self.vocoder, self.n_iter, self.momentum, self.rng(clip.key))
        return match_peak(y, x)
