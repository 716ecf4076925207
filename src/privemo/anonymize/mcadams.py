"""``mcadams``: the VoicePrivacy Challenge B2 baseline (Patino et al., 2021).

Each 20 ms frame (10 ms hop, Hann analysis-synthesis windows) is modelled by linear prediction of
order 20; the angle phi of every complex pole is moved to phi ** alpha (the McAdams coefficient),
which shifts the formants, and the frame is re-synthesised by filtering its own LPC residual through
the warped all-pole filter; frames are overlap-added. ``alpha`` is fixed, or drawn per speaker from
``alpha_range`` (a pseudo-speaker per speaker, reproducible from ``seed``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, ClassVar

import numpy as np
from pydantic import Field
from scipy.signal import lfilter

from privemo.anonymize.base import VoiceAnonymizer, match_peak
from privemo.registry import register


def lpc(frames: np.ndarray, order: int) -> np.ndarray:
    """(N, order + 1) LPC polynomials [1, a1, ..., a_order] of (N, W) frames by the autocorrelation
    method (Levinson-Durbin, every frame at once)."""
    n = frames.shape[1]
    spec = np.fft.rfft(frames, 2 * n, axis=1)
    r = np.fft.irfft(np.abs(spec) ** 2, axis=1)[:, : order + 1]
    r[:, 0] *= 1.0 + 1e-9  # white-noise correction keeps the system solvable on silence
    a = np.zeros((len(frames), order + 1))
    a[:, 0] = 1.0
    ok = r[:, 0] > 0
    err = np.where(ok, r[:, 0], 1.0)
    for i in range(1, order + 1):
        k = -(a[:, :i] * r[:, i:0:-1]).sum(axis=1) / err
        k = np.where(ok & (err > 0), k, 0.0)
        a[:, 1:i + 1] = a[:, 1:i + 1] + k[:, None] * a[:, i - 1::-1][:, :i]
        err = err * (1.0 - k * k)
    return a


def warp_poles(a: np.ndarray, alpha: float) -> np.ndarray:
    """(N, order + 1) LPC polynomials whose complex poles have angles phi ** alpha (radii kept; real
    poles and conjugate pairs stay real and paired)."""
    order = a.shape[1] - 1
    companion = np.zeros((len(a), order, order))
    companion[:, 0, :] = -a[:, 1:]
    companion[:, np.arange(1, order), np.arange(order - 1)] = 1.0
    poles = np.linalg.eigvals(companion)
    angle = np.abs(np.angle(poles))
    moved = np.abs(poles) * np.exp(1j * np.sign(poles.imag) * np.clip(angle ** alpha, 0.0, np.pi))
    new = np.where(poles.imag == 0, poles, moved)
    out = np.zeros((len(a), order + 1), dtype=complex)
    out[:, 0] = 1.0
    for j in range(order):  # multiply out prod (1 - p z^-1), every frame at once
        out[:, 1:j + 2] = out[:, 1:j + 2] - new[:, j:j + 1] * out[:, 0:j + 1]
    return out.real


def mcadams_transform(x: np.ndarray, sr: int, alpha: float, win_ms: float = 20.0, hop_ms: float = 10.0,
                      order: int = 20) -> np.ndarray:
    eps = np.finfo(np.float32).eps
    x = np.asarray(x, dtype=np.float64) + eps
    win, hop = int(sr * win_ms / 1000), int(sr * hop_ms / 1000)
    if len(x) < win:  # shorter than one frame: one zero-padded frame (the caller cuts back)
        x = np.pad(x, (0, win - len(x)))
    hann = np.hanning(win)
    w = np.sqrt(hann / (hann.sum() / hop))  # analysis x synthesis = Hann, summing to one
    starts = np.arange(0, max(len(x) - win, 0) + 1, hop)
    frames = x[starts[:, None] + np.arange(win)] * w
    a = lpc(frames, order)
    warped = warp_poles(a, alpha)
    # the LPC residual (an FIR filter per frame: a sum of shifted copies), then the warped all-pole filter
    padded = np.pad(frames, ((0, 0), (order, 0)))
    residual = sum(a[:, k:k + 1] * padded[:, order - k: order - k + win] for k in range(order + 1))
    out = np.zeros(len(x))
    for i, start in enumerate(starts):
        out[start: start + win] += lfilter([1.0], warped[i], residual[i]) * w
    return out


@register("anonymizer", "mcadams")
@dataclass
class McAdams(VoiceAnonymizer):
    name: ClassVar[str] = "mcadams"
    alpha: Annotated[float, Field(gt=0, le=4)] = 0.8
    alpha_range: tuple[Annotated[float, Field(gt=0, le=4)], Annotated[float, Field(gt=0, le=4)]] | None = None  # e.g. (0.75, 0.9): one alpha per speaker
    win_ms: Annotated[float, Field(ge=2, le=1000)] = 20.0
    hop_ms: Annotated[float, Field(ge=1, le=1000)] = 10.0
    order: Annotated[int, Field(ge=1, le=100)] = 20

    def alpha_for(self, speaker: str | None, key: str) -> float:
        if self.alpha_range is None:
            return self.alpha
        lo, hi = self.alpha_range
        return float(self.rng("speaker", speaker or key).uniform(lo, hi))

    def _transform(self, x, sr, clip):
        y = mcadams_transform(x, sr, self.alpha_for(clip.speaker, clip.key), self.win_ms, self.hop_ms, self.order)
        return match_peak(y, x)
