"""The anonymizer contract (DESIGN.md, "Anonymizer") for voices.

``fit(manifest) -> self`` learns what the method needs from a corpus (codebooks, per-speaker
statistics; a no-op for most); ``transform(clip) -> clip`` returns a clip of the same sample rate and
length. Constructor arguments are the whole configuration, learned state ends in ``_``, and every
random draw comes from ``seed`` together with the clip's ``key`` (or its speaker, for per-speaker
draws), so the same clip anonymizes to the same samples whatever the order of the batch.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any, ClassVar

import numpy as np

from privemo._schema import Seed
from privemo.corpora.manifest import Manifest
from privemo.errors import MediaError
from privemo.media import read_audio
from privemo.registry import register


@dataclass
class Clip:
    """Mono float32 audio with what an anonymizer may use: its speaker (where known) and a key."""

    audio: np.ndarray
    sr: int
    speaker: str | None = None
    key: str = ""


@dataclass
class Anonymizer:
    """What every anonymizer shares: its ``media``, registered ``name``, ``seed``, its configuration
    as a mapping, and per-item random generators seeded by ``seed`` and the item's key."""

    media: ClassVar[str] = ""
    name: ClassVar[str] = ""
    seed: Seed = 0

    def config(self) -> dict[str, Any]:
        return {"type": self.name, **{f.name: getattr(self, f.name) for f in fields(self)}}

    def rng(self, *parts: str) -> np.random.Generator:
        """A generator seeded by ``seed`` and ``parts`` (a clip or image key, a speaker id)."""
        digest = hashlib.sha256("\x1f".join([str(self.seed), *parts]).encode()).digest()
        return np.random.default_rng(int.from_bytes(digest[:8], "little"))


@dataclass
class VoiceAnonymizer(Anonymizer):
    media: ClassVar[str] = "audio"

    def fit(self, manifest: Manifest, progress: Callable[[int, int], None] | None = None) -> VoiceAnonymizer:
        return self

    def transform(self, clip: Clip) -> Clip:
        from privemo.media.audio import MAX_RATE, MIN_RATE

        if not MIN_RATE <= int(clip.sr) <= MAX_RATE or np.asarray(clip.audio).size == 0:
            raise MediaError(clip.key or "<clip>", f"cannot anonymize {np.asarray(clip.audio).size} samples at "
                             f"{clip.sr} Hz (non-empty audio at {MIN_RATE}-{MAX_RATE} Hz)")
        out = self._transform(np.asarray(clip.audio, dtype=np.float32), clip.sr, clip)
        out = fit_length(np.nan_to_num(out.astype(np.float32)), len(clip.audio))
        return Clip(out, clip.sr, clip.speaker, clip.key)

    def _transform(self, x: np.ndarray, sr: int, clip: Clip) -> np.ndarray:
        raise NotImplementedError


@register("anonymizer", "original")
@dataclass
class Identity(VoiceAnonymizer):
    """No protection: the original audio (the reference row of every evaluation)."""

    name: ClassVar[str] = "original"

    def _transform(self, x, sr, clip):
        return x


def fit_length(y: np.ndarray, n: int) -> np.ndarray:
    """``y`` cut or zero-padded to ``n`` samples."""
    if len(y) >= n:
        return y[:n]
    return np.pad(y, (0, n - len(y)))


def match_peak(y: np.ndarray, x: np.ndarray) -> np.ndarray:
    """``y`` scaled to the peak level of ``x`` (re-synthesis must not clip nor go silent)."""
    peak_y, peak_x = float(np.max(np.abs(y))) if y.size else 0.0, float(np.max(np.abs(x))) if x.size else 0.0
    if peak_y < 1e-9:
        return y
    return y * (min(peak_x, 0.99) / peak_y)


def clip_of(row: dict[str, Any], sr: int = 16000) -> Clip:
    """The clip of a manifest row (audio at ``sr``)."""
    x, rate = read_audio(row["path"], sr)
    return Clip(x, rate, str(row.get("speaker")) if row.get("speaker") is not None else None, str(row["item_id"]))


def sample_frames(values: list[np.ndarray], max_frames: int, seed: int) -> np.ndarray:
    """At most ``max_frames`` rows drawn evenly at random from the stacked ``values``."""
    stacked = np.concatenate(values)
    if len(stacked) <= max_frames:
        return stacked
    idx = np.random.default_rng(seed).choice(len(stacked), max_frames, replace=False)
    return stacked[np.sort(idx)]


