"""MFCC analysis and re-synthesis for the MFCC-domain anonymizers (``voice_vq``, ``noise``).

Analysis: centred frames (25 ms Hamming, 10 ms hop, 512-point FFT), power spectrum, ``n_mels``
triangular HTK-mel filters, natural log, orthonormal DCT-II, first ``n_mfcc`` coefficients.
Re-synthesis inverts each step as far as it can be inverted: the truncated DCT by zero-padding, the
mel filterbank by its pseudo-inverse (clipped at a floor), then the phase, which MFCCs do not hold:
either Griffin-Lim (``"griffinlim"``; with ``momentum`` > 0 the fast variant of Perraudin et al.,
2013) or the WORLD vocoder (``"world"``) driven by the original's F0 and aperiodicity with the
spectral envelope taken from the (quantised or noised) MFCCs.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any

import numpy as np
from scipy.fft import dct, idct, irfft, rfft

from privemo.features.acoustic import mel_filters

WIN_MS, HOP_MS, N_FFT = 25.0, 10.0, 512
_FLOOR = 1e-10


def _sizes(sr: int) -> tuple[int, int]:
    return int(round(sr * WIN_MS / 1000)), int(round(sr * HOP_MS / 1000))


@lru_cache(maxsize=8)
def _pinv(sr: int, n_mels: int) -> np.ndarray:
    return np.linalg.pinv(mel_filters(sr, N_FFT, n_mels).astype(np.float64))


def stft(x: np.ndarray, sr: int) -> np.ndarray:
    """(T, N_FFT // 2 + 1) complex STFT of centred frames (reflect-padded by half a window)."""
    win, hop = _sizes(sr)
    xp = np.pad(np.asarray(x, dtype=np.float64), (win // 2, win // 2 + hop), mode="reflect" if len(x) > win else "constant")
    n_frames = 1 + (len(xp) - win) // hop
    idx = np.arange(win)[None, :] + hop * np.arange(n_frames)[:, None]
    return rfft(xp[idx] * np.hamming(win), n=N_FFT, axis=1)


def istft(spec: np.ndarray, sr: int, length: int) -> np.ndarray:
    """Least-squares overlap-add inverse of :func:`stft` (window-normalised), cut to ``length``."""
    win, hop = _sizes(sr)
    w = np.hamming(win)
    frames = irfft(spec, n=N_FFT, axis=1)[:, :win] * w
    idx = (np.arange(win)[None, :] + hop * np.arange(len(spec))[:, None]).ravel()
    total = int(idx.max()) + 1
    summed = np.bincount(idx, weights=frames.ravel(), minlength=total)
    norm = np.bincount(idx, weights=np.tile(w * w, len(spec)), minlength=total)
    return (summed / np.maximum(norm, 1e-8))[win // 2: win // 2 + length]


def mfcc_frames(x: np.ndarray, sr: int, n_mfcc: int = 20, n_mels: int = 40) -> np.ndarray:
    """(T, n_mfcc) MFCCs of centred frames (one frame per 10 ms, the first centred on sample 0)."""
    power = np.abs(stft(x, sr)) ** 2
    mel = np.log(np.maximum(power @ mel_filters(sr, N_FFT, n_mels).T.astype(np.float64), _FLOOR))
    return dct(mel, type=2, norm="ortho", axis=1)[:, :n_mfcc]


def mfcc_to_power(coeffs: np.ndarray, sr: int, n_mels: int = 40) -> np.ndarray:
    """(T, N_FFT // 2 + 1) linear power spectra whose MFCCs approximate ``coeffs``."""
    padded = np.zeros((len(coeffs), n_mels))
    padded[:, : coeffs.shape[1]] = coeffs
    mel = np.exp(np.clip(idct(padded, type=2, norm="ortho", axis=1), -30.0, 30.0))
    return np.maximum(mel @ _pinv(sr, n_mels).T, _FLOOR)


def griffin_lim(mag: np.ndarray, sr: int, length: int, n_iter: int = 32, momentum: float = 0.99,
                rng: np.random.Generator | None = None) -> np.ndarray:
    """A signal of ``length`` samples whose STFT magnitude approximates ``mag`` (T, bins)."""
    rng = rng or np.random.default_rng(0)
    angles = np.exp(2j * np.pi * rng.random(mag.shape))
    previous = np.zeros_like(angles)
    for _ in range(n_iter):
        y = istft(mag * angles, sr, length)
        rebuilt = stft(y, sr)[: len(mag)]
        accel = rebuilt - (momentum / (1.0 + momentum)) * previous if momentum > 0 else rebuilt
        angles = accel / np.maximum(np.abs(accel), 1e-16)
        previous = rebuilt
    return istft(mag * angles, sr, length)


def world_synth(x: np.ndarray, sr: int, power: np.ndarray, frame_period: float = HOP_MS) -> np.ndarray:
    """WORLD synthesis with the original's F0 and aperiodicity and the envelope from ``power``
    (T, N_FFT // 2 + 1), resampled onto WORLD's frequency grid and its frames."""
    import pyworld

    from privemo.anonymize._world import analyse

    f0, sp, ap = analyse(x, sr, frame_period)
    assert ap is not None
    env = _regrid(power, len(f0), sp.shape[1])
    return pyworld.synthesize(f0, np.ascontiguousarray(env), ap, sr, frame_period=frame_period)


def _regrid(power: np.ndarray, n_frames: int, n_bins: int) -> np.ndarray:
    src_f = np.linspace(0.0, 1.0, power.shape[1])
    dst_f = np.linspace(0.0, 1.0, n_bins)
    on_bins = np.stack([np.interp(dst_f, src_f, row) for row in power])
    src_t = np.linspace(0.0, 1.0, len(on_bins))
    dst_t = np.linspace(0.0, 1.0, n_frames)
    out = np.empty((n_frames, n_bins))
    for j in range(n_bins):
        out[:, j] = np.interp(dst_t, src_t, on_bins[:, j])
    return np.maximum(out, _FLOOR)


def resynthesise(x: np.ndarray, sr: int, coeffs: np.ndarray, n_mels: int, vocoder: str, n_iter: int,
                 momentum: float, rng: np.random.Generator) -> np.ndarray:
    """Audio of ``len(x)`` samples from the MFCCs ``coeffs`` (T, n_mfcc) of ``x``'s frames."""
    power = mfcc_to_power(coeffs, sr, n_mels)
    if vocoder == "world":
        return world_synth(x, sr, power)
    if vocoder != "griffinlim":
        raise ValueError(f"unknown vocoder {vocoder!r} (griffinlim, world)")
    return griffin_lim(np.sqrt(power), sr, len(x), n_iter, momentum, rng)


def corpus_mfccs(manifest: Any, n_mfcc: int, n_mels: int,
                 progress: Callable[[int, int], None] | None = None) -> list[tuple[str | None, np.ndarray]]:
    """(speaker, MFCC frames) of every item of ``manifest``: what the MFCC-domain methods fit on."""
    from privemo.anonymize.base import clip_of

    rows = manifest.df.to_dict("records")
    out = []
    for i, row in enumerate(rows):
        clip = clip_of(row)
        out.append((clip.speaker, mfcc_frames(clip.audio, clip.sr, n_mfcc, n_mels)))
        if progress:
            progress(i + 1, len(rows))
    return out
