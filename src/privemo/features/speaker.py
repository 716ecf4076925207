"""``resemblyzer``: the pretrained speaker encoder of the ``resemblyzer`` package (a GE2E d-vector,
256-d, L2-normalised), the verifier every voice attack uses. Weights ship inside the package;
nothing is downloaded. Its own preprocessing (resampling to 16 kHz, loudness normalisation, WebRTC
voice-activity trimming) is applied first.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import numpy as np

from privemo.errors import ConfigError
from privemo.features.extractors import Extractor
from privemo.registry import register

_ENCODER: Any = None


def speaker_encoder() -> Any:
    global _ENCODER
    if _ENCODER is None:
        os.environ.setdefault("KMP_WARNINGS", "0")
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                from resemblyzer import VoiceEncoder
        except ImportError as exc:
            raise ConfigError("the resemblyzer speaker encoder needs privemo[voice] "
                              "(pip install 'privemo[voice]')") from exc
        _ENCODER = VoiceEncoder("cpu", verbose=False)
    return _ENCODER


def embed(x: np.ndarray, sr: int) -> np.ndarray:
    from resemblyzer import preprocess_wav

    wav = preprocess_wav(np.asarray(x, dtype=np.float32), source_sr=sr)
    if len(wav) < sr // 4:  # the voice-activity trim left (almost) nothing: embed the raw clip
        wav = np.asarray(x, dtype=np.float32)
        if len(wav) < 16000 // 4:
            wav = np.pad(wav, (0, 16000 // 4 - len(wav)))
    return speaker_encoder().embed_utterance(wav).astype(np.float32)


@register("feature", "resemblyzer")
@dataclass
class Resemblyzer(Extractor):
    """256-d speaker embedding (resemblyzer's pretrained GE2E encoder)."""

    name: ClassVar[str] = "resemblyzer"
    kind: ClassVar[str] = "vector"
    sr: Literal[16000] = 16000  # resemblyzer's rate

    def compute(self, row):
        return embed(self._audio(row, self.sr), self.sr), {}
