"""Log Mel filterbank (MFB) and MFCC features in plain numpy.

MFB: 25 ms Hamming window, 10 ms step, 512-point FFT, power spectrum, ``n_mels`` triangular
filters on the HTK mel scale between 0 Hz and Nyquist, natural log with a floor (jaiswal-2020 §4.1).
MFCC: a type-II orthonormal DCT of the MFB, first ``n_mfcc`` coefficients.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from scipy.fft import dct, rfft


def hz_to_mel(f: np.ndarray | float) -> np.ndarray:
    return 2595.0 * np.log10(1.0 + np.asarray(f, dtype=np.float64) / 700.0)


def mel_to_hz(m: np.ndarray | float) -> np.ndarray:
    return 700.0 * (10.0 ** (np.asarray(m, dtype=np.float64) / 2595.0) - 1.0)


@lru_cache(maxsize=16)
def mel_filters(sr: int, n_fft: int, n_mels: int, fmin: float = 0.0, fmax: float | None = None) -> np.ndarray:
    """(n_mels, n_fft // 2 + 1) triangular filters, each peaking at 1."""
    fmax = fmax or sr / 2
    bins = np.linspace(0, sr / 2, n_fft // 2 + 1)
    edges = mel_to_hz(np.linspace(hz_to_mel(fmin), hz_to_mel(fmax), n_mels + 2))
    lo, mid, hi = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    up = (bins[None, :] - lo) / np.maximum(mid - lo, 1e-9)
    down = (hi - bins[None, :]) / np.maximum(hi - mid, 1e-9)
    return np.maximum(0.0, np.minimum(up, down)).astype(np.float32)


def frames(x: np.ndarray, win: int, hop: int) -> np.ndarray:
    """(T, win) frames; a signal shorter than one window is zero-padded to one frame."""
    if len(x) < win:
        x = np.pad(x, (0, win - len(x)))
    return sliding_window_view(x, win)[::hop]


@lru_cache(maxsize=16)
def _window(win: int) -> np.ndarray:
    return np.hamming(win).astype(np.float32)


@lru_cache(maxsize=16)
def _mel_t(sr: int, n_fft: int, n_mels: int) -> np.ndarray:
    return np.ascontiguousarray(mel_filters(sr, n_fft, n_mels).T)


def log_mel(x: np.ndarray, sr: int = 16000, n_mels: int = 40, win_ms: float = 25.0, hop_ms: float = 10.0,
            n_fft: int = 512, floor: float = 1e-10) -> np.ndarray:
    """(T, n_mels) float32 log Mel filterbank energies of mono ``x``.

    Single precision throughout (scipy's FFT keeps float32), the power spectrum as re^2 + im^2 and
    one matrix product with the cached filterbank (bench/bench_features.py compares it with librosa).
    """
    win, hop = int(round(sr * win_ms / 1000)), int(round(sr * hop_ms / 1000))
    n_fft = max(n_fft, 1 << (win - 1).bit_length())
    fr = frames(np.asarray(x, dtype=np.float32), win, hop) * _window(win)
    spec = rfft(fr, n=n_fft, axis=1)
    power = spec.real ** 2 + spec.imag ** 2
    return np.log(np.maximum(power @ _mel_t(sr, n_fft, n_mels), floor)).astype(np.float32)


def mfcc(x: np.ndarray, sr: int = 16000, n_mfcc: int = 13, n_mels: int = 40, **kw: Any) -> np.ndarray:
    """(T, n_mfcc) MFCCs."""
    return dct(log_mel(x, sr, n_mels, **kw), type=2, norm="ortho", axis=1)[:, :n_mfcc].astype(np.float32)
