"""WORLD (pyworld) analysis, made deterministic.

pyworld 0.3.5's D4C is not a pure function: it draws from a process-wide random generator that only
WORLD's synthesis re-seeds, and the first call at a sample rate in a process differs from the
following ones. So the same clip's aperiodicity (and its voicing decisions) depended on what the
process had analysed before. :func:`analyse` warms D4C up once per sample rate on a fixed signal and
re-seeds the generator (by a tiny synthesis) before every D4C, so a clip analyses identically in any
order, batch or worker (tests/unit/test_anonymize.py checks it at 16 kHz). At 8 kHz a rare clip
still analyses differently from one call to the next (uninitialised memory inside pyworld's D4C, as
far as we can tell); the methods built on WORLD are deterministic at 16 kHz, where we measured them.
"""

from __future__ import annotations

import numpy as np


def _reseed() -> None:
    import pyworld

    pyworld.synthesize(np.zeros(2), np.ones((2, 513)), np.ones((2, 513)), 16000, frame_period=5.0)


_WARM: set[int] = set()


def _warm_up(sr: int) -> None:
    import pyworld

    if sr in _WARM:
        return
    _WARM.add(sr)
    t = np.arange(sr // 2) / sr
    sig = 0.3 * np.sin(2 * np.pi * 140.0 * t) + 0.01 * np.random.default_rng(0).standard_normal(len(t))
    f0, times = pyworld.dio(sig, sr)
    _reseed()
    pyworld.d4c(sig, f0, times, sr)


def analyse(x: np.ndarray, sr: int, frame_period: float, f0_speed: int = 1, envelope: str = "world",
            aperiodicity: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """F0 (DIO + StoneMask), spectral envelope (CheapTrick: pyworld's, ``envelope="world"``, or
    :func:`privemo.anonymize._vocoder.cheaptrick`, ``"fast"``) and aperiodicity (D4C; None without
    ``aperiodicity``) of ``x``. ``f0_speed`` > 1: DIO on a signal decimated that many times (faster;
    StoneMask refines it)."""
    import pyworld

    x64 = np.asarray(x, dtype=np.float64)
    f0, t = pyworld.dio(x64, sr, frame_period=frame_period, speed=f0_speed)
    f0 = pyworld.stonemask(x64, f0, t, sr)
    if envelope == "fast":
        from privemo.anonymize._vocoder import cheaptrick

        sp = cheaptrick(x64, f0, sr, frame_period)
    else:
        sp = pyworld.cheaptrick(x64, f0, t, sr)
    if not aperiodicity:
        return f0, sp, None
    _warm_up(sr)
    _reseed()
    ap = pyworld.d4c(x64, f0, t, sr)
    return f0, sp, ap
