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
from scipy.linalg import solve_toeplitz
from scipy.signal import lfilter

from privemo.anonymize.base import VoiceAnonymizer, match_peak
from privemo.registry import register


def lpc(frame: np.ndarray, order: int) -> np.ndarray:
    """LPC polynomial [1, a1, ..., a_order] by the autocorrelation method."""
    n = len(frame)
    spec = np.fft.rfft(frame, 2 * n)
    r = np.fft.irfft(np.abs(spec) ** 2)[: order + 1]
    r[0] *= 1.0 + 1e-9  # white-noise correction keeps the system solvable on silence
    if r[0] <= 0:
        return np.r_[1.0, np.zeros(order)]
    a = solve_toeplitz(r[:order], -r[1: order + 1])
    return np.r_[1.0, a]


def warp_poles(a: np.ndarray, alpha: float) -> np.ndarray:
    """The LPC polynomial whose complex poles have angles phi ** alpha (radii kept)."""
    poles = np.roots(a)
    upper = np.imag(poles) > 0
    angles = np.clip(np.angle(poles[upper]) ** alpha, 0.0, np.pi)
    moved = np.abs(poles[upper]) * np.exp(1j * angles)
    new = np.concatenate([poles[~upper & (np.imag(poles) == 0)], moved, np.conj(moved)])
    return np.real(np.poly(new))


def mcadams_transform(x: np.ndarray, sr: int, alpha: float, win_ms: float = 20.0, hop_ms: float = 10.0,
                      order: int = 20) -> np.ndarray:
    eps = np.finfo(np.float32).eps
    x = np.asarray(x, dtype=np.float64) + eps
    win, hop = int(sr * win_ms / 1000), int(sr * hop_ms / 1000)
    if len(x) < win:  # shorter than one frame: one zero-padded frame (the caller cuts back)
        x = np.pad(x, (0, win - len(x)))
    hann = np.hanning(win)
    w = np.sqrt(hann / (hann.sum() / hop))  # analysis x synthesis = Hann, summing to one
    out = np.zeros(len(x))
    for start in range(0, max(len(x) - win, 0) + 1, hop):
        frame = x[start: start + win] * w
        a = lpc(frame, order)
        residual = lfilter(a, [1.0], frame)
        rebuilt = lfilter([1.0], warp_poles(a, alpha), residual) * w
        out[start: start + win] += rebuilt
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
