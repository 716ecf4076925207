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


def prepared(x: np.ndarray, sr: int) -> np.ndarray:
    """resemblyzer's preprocessing of a 16 kHz clip (loudness, voice-activity trim); a clip the trim
    leaves (almost) empty is kept raw, padded to a quarter second."""
    from resemblyzer import preprocess_wav

    wav = preprocess_wav(np.asarray(x, dtype=np.float32), source_sr=sr)
    if len(wav) < sr // 4:  # the voice-activity trim left (almost) nothing: embed the raw clip
        wav = np.asarray(x, dtype=np.float32)
        if len(wav) < 16000 // 4:
            wav = np.pad(wav, (0, 16000 // 4 - len(wav)))
    return np.asarray(wav, dtype=np.float32)


def embed(x: np.ndarray, sr: int) -> np.ndarray:
    return speaker_encoder().embed_utterance(prepared(x, sr)).astype(np.float32)


@register("feature", "resemblyzer")
@dataclass
class Resemblyzer(Extractor):
    """256-d speaker embedding (resemblyzer's pretrained GE2E encoder)."""

    name: ClassVar[str] = "resemblyzer"
    kind: ClassVar[str] = "vector"
    sr: Literal[16000] = 16000  # resemblyzer's rate

    def compute(self, row):
        return embed(self._audio(row, self.sr), self.sr), {}


@register("feature", "resemblyzer_mel")
@dataclass
class ResemblyzerMel(Extractor):
    """The 40-band mel frames (10 ms) resemblyzer's encoder reads, after its preprocessing: what an
    attacker fine-tuning that encoder trains on (:mod:`privemo.attacks.finetuned`)."""

    name: ClassVar[str] = "resemblyzer_mel"
    kind: ClassVar[str] = "sequence"
    sr: Literal[16000] = 16000  # resemblyzer's rate

    def compute(self, row):
        from resemblyzer.audio import wav_to_mel_spectrogram

        return wav_to_mel_spectrogram(prepared(self._audio(row, self.sr), self.sr)).astype(np.float32), {}
