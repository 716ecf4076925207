"""A small source-filter voice for the demo corpus.

Identity lives in the speaker's F0 range, vocal-tract length (formant scaling), voice quality
(spectral tilt, breathiness, jitter) and speaking rate; emotion in F0 level and contour, tempo,
energy, spectral tilt and tremor. Text decides the vowel sequence, so a sentence sounds the same
across speakers apart from who says it and how.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
from scipy.signal import lfilter

SR = 16000
VOWELS = {  # F1, F2, F3 of an average adult male (Hz)
    "a": (730, 1090, 2440), "e": (530, 1840, 2480), "i": (270, 2290, 3010),
    "o": (570, 840, 2410), "u": (300, 870, 2240),
}
BANDWIDTHS = (80.0, 100.0, 140.0)


@dataclass(frozen=True)
class Voice:
    f0: float          # base F0 (Hz)
    formant_scale: float
    tilt: float        # one-pole low-pass coefficient on the source (higher = darker)
    breath: float      # aspiration noise share
    jitter: float      # relative F0 jitter
    rate: float        # syllables per second
    formant_bias: tuple[float, float, float]  # idiosyncratic per-formant factors (articulation habits)
    timbre: float      # an extra fixed resonance (Hz) of this vocal tract


@dataclass(frozen=True)
class Style:
    f0_scale: float
    f0_range: float    # relative size of the pitch movement
    contour: str       # "fall", "rise", "flat", "arch"
    rate_scale: float
    energy: float
    tilt_shift: float  # added to the voice's tilt (negative = brighter)
    breath_add: float
    tremor: float      # relative F0 tremor depth at ~7 Hz


STYLES = {
    "neutral": Style(1.00, 0.10, "fall", 1.00, 1.00, 0.00, 0.00, 0.00),
    "happy": Style(1.22, 0.35, "arch", 1.15, 1.35, -0.06, 0.00, 0.00),
    "sad": Style(0.88, 0.04, "fall", 0.72, 0.55, 0.05, 0.08, 0.00),
    "angry": Style(1.15, 0.25, "fall", 1.20, 1.90, -0.12, 0.00, 0.00),
    "fearful": Style(1.35, 0.15, "rise", 1.32, 0.85, -0.02, 0.05, 0.06),
    "disgust": Style(0.95, 0.20, "arch", 0.82, 1.05, 0.02, 0.03, 0.00),
}


def random_voice(rng: np.random.Generator, gender: str) -> Voice:
    male = gender == "m"
    return Voice(
        f0=float(rng.uniform(95, 135) if male else rng.uniform(180, 240)),
        formant_scale=float(rng.uniform(0.88, 0.98) if male else rng.uniform(1.08, 1.20)),
        tilt=float(rng.uniform(0.80, 0.93)),
        breath=float(rng.uniform(0.02, 0.15)),
        jitter=float(rng.uniform(0.003, 0.02)),
        rate=float(rng.uniform(3.6, 5.0)),
        formant_bias=tuple(float(v) for v in rng.uniform(0.9, 1.1, 3)),  # type: ignore[arg-type]
        timbre=float(rng.uniform(2800, 4200)),
    )


def syllables(text: str) -> list[str]:
    """The vowel of every syllable of ``text`` (vowel groups of each word; y counts as i)."""
    out = []
    for word in re.findall(r"[a-z']+", text.lower()):
        groups = re.findall(r"[aeiouy]+", word) or ["a"]
        out += [("i" if g[0] == "y" else g[0]) for g in groups]
    return out


def _resonate(x: np.ndarray, freq: float, bw: float) -> np.ndarray:
    r = np.exp(-np.pi * bw / SR)
    theta = 2 * np.pi * freq / SR
    a = [1.0, -2 * r * np.cos(theta), r * r]
    return lfilter([1.0 - r], a, x)


def _contour(n: int, kind: str, depth: float) -> np.ndarray:
    t = np.linspace(0.0, 1.0, n)
    shape = {"fall": 0.5 - t, "rise": t - 0.5, "flat": 0 * t, "arch": np.sin(np.pi * t) - 0.5}[kind]
    return 1.0 + depth * shape


def speak(text: str, voice: Voice, emotion: str, rng: np.random.Generator) -> np.ndarray:
    """Synthesize ``text`` in ``voice`` with ``emotion``; returns mono float32 at :data:`SR`."""
    style = STYLES[emotion]
    vowels = syllables(text)
    rate = voice.rate * style.rate_scale * rng.uniform(0.93, 1.07)
    dur = 1.0 / rate
    lens = (dur * rng.uniform(0.8, 1.2, len(vowels)) * SR).astype(int)
    total = int(lens.sum())
    # F0 track: base x style level x sentence contour x per-syllable accents x jitter x tremor
    f0 = voice.f0 * style.f0_scale * rng.uniform(0.96, 1.04) * _contour(total, style.contour, style.f0_range)
    t = np.arange(total) / SR
    f0 *= 1.0 + style.tremor * np.sin(2 * np.pi * rng.uniform(6, 8) * t)
    f0 *= 1.0 + voice.jitter * rng.standard_normal(total).cumsum() / np.sqrt(np.arange(1, total + 1))
    phase = np.cumsum(f0 / SR)
    source = 2.0 * (phase % 1.0) - 1.0  # sawtooth: all harmonics, -6 dB/oct
    tilt = np.clip(voice.tilt + style.tilt_shift, 0.5, 0.98)
    source = lfilter([1.0 - tilt], [1.0, -tilt], source)
    source += (voice.breath + style.breath_add) * rng.standard_normal(total) * 0.3
    out = np.zeros(total)
    pos = 0
    for vowel, n in zip(vowels, lens, strict=True):
        seg = source[pos:pos + n]
        y = np.zeros(n)
        for formant, bias, bw in zip(VOWELS[vowel], voice.formant_bias, BANDWIDTHS, strict=True):
            y += _resonate(seg, formant * voice.formant_scale * bias, bw)
        y += 0.5 * _resonate(seg, voice.timbre, 200.0)
        onset = min(n // 4, int(0.03 * SR))  # a short fricative onset
        y[:onset] += 0.2 * rng.standard_normal(onset) * np.linspace(1, 0, onset)
        env = np.ones(n)
        ramp = max(1, n // 5)
        env[:ramp] = np.linspace(0, 1, ramp)
        env[-ramp:] = np.linspace(1, 0, ramp)
        out[pos:pos + n] = y * env
        pos += n
    pad = np.zeros(int(rng.uniform(0.1, 0.2) * SR))
    out = np.concatenate([pad, out, pad])
    out = out / (np.max(np.abs(out)) + 1e-9) * 0.25 * style.energy * rng.uniform(0.9, 1.1)
    out += 1e-3 * rng.standard_normal(len(out))  # a quiet room
    return np.clip(out, -0.99, 0.99).astype(np.float32)


def envelope(x: np.ndarray, fps: float) -> np.ndarray:
    """RMS envelope of ``x`` at ``fps`` frames per second, scaled to [0, 1] (drives the mouth)."""
    hop = int(SR / fps)
    n = max(1, len(x) // hop)
    rms = np.sqrt(np.mean(x[: n * hop].reshape(n, hop) ** 2, axis=1))
    return rms / (rms.max() + 1e-9)
