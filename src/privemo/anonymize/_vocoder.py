"""A WORLD-style vocoder in numpy, every frame (and every pulse) of a clip at once.

pyworld's CheapTrick and synthesis work frame by frame and pulse by pulse in C; on a laptop CPU they are
most of ``pseudo_speaker``'s time. The same computations written over whole matrices run several
times faster with numpy's FFT:

- :func:`cheaptrick`: WORLD's CheapTrick (Morise, 2015): a window of three pitch periods, the power
  spectrum with its DC correction, the linear smoothing over 2/3 of F0, and the liftering with
  recovery (q1 = -0.15). It agrees with pyworld's to a fraction of a dB (tests/unit/test_vocoder.py).
- :func:`synthesize`: WORLD's source-filter synthesis, with two simplifications. The voiced part is
  WORLD's: a minimum-phase pulse per pitch period (its pulse times, fractional delays and DC removal),
  its spectrum ``sp (1 - ap^2)``; but the envelope between two frames is interpolated in the log
  domain (WORLD: linear), so that each frame's minimum-phase spectrum is computed once and not per
  pulse. Each voiced pulse also carries its period's white noise through the minimum-phase filter of
  ``sp ap^2`` (noise in step with the pitch, as WORLD's). Where unvoiced, the noise goes through the
  (zero-phase) magnitude of ``sp`` in fixed blocks of ``fft / 4`` samples (WORLD: one block per pulse
  of an assumed 500 Hz pitch). The noise is drawn from the caller's generator, so that the output is a
  pure function of the inputs and the seed.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import scipy.fft as sfft

SAFE = 1e-12  # WORLD's kMySafeGuardMinimum
DEFAULT_F0 = 500.0  # WORLD's kDefaultF0: the pitch assumed where a frame is unvoiced
F0_FLOOR = 71.0


def fft_size_for(sr: int, f0_floor: float = F0_FLOOR) -> int:
    """CheapTrick's FFT size at ``sr`` (1024 at 16 kHz)."""
    return int(2 ** (1 + int(np.log2(3.0 * sr / f0_floor + 1))))


def _round(x: np.ndarray) -> np.ndarray:
    """MATLAB's round (halves away from zero), as WORLD uses it."""
    return np.where(x >= 0, np.floor(x + 0.5), np.ceil(x - 0.5)).astype(np.int64)


def _interp_rows(y: np.ndarray, pos: np.ndarray) -> np.ndarray:
    """``y`` (T, n) read row by row at fractional positions ``pos`` (T, m) >= 0, as WORLD's interp1Q
    (y[k] + (y[k + 1] - y[k]) frac; the last sample's slope is zero)."""
    n = y.shape[1]
    k = np.minimum(pos.astype(np.int64), n - 1)
    frac = pos - k
    flat = y.ravel()
    at = k + (np.arange(len(y)) * n)[:, None]
    lo = flat.take(at)
    hi = flat.take(np.where(k + 1 < n, at + 1, at))
    return lo + (hi - lo) * frac


def _shifted_rows(y: np.ndarray, shift: np.ndarray, m: int) -> np.ndarray:
    """``_interp_rows(y, arange(m) + shift[:, None])`` for a shift >= 0 per row, by whole slices (rows that
    share a shift's integer part at once), with y[k + 1] in reach of every k read."""
    whole = shift.astype(np.int64)
    frac = (shift - whole)[:, None]
    out = np.empty((len(y), m))
    for k in np.unique(whole):
        rows = np.flatnonzero(whole == k)
        lo, hi = y[rows, k: k + m], y[rows, k + 1: k + 1 + m]
        out[rows] = lo + (hi - lo) * frac[rows]
    return out


def _cexp(z: np.ndarray) -> np.ndarray:
    """exp of a complex array in single precision (numpy's complex exp is not vectorised; its real
    exp, cos and sin in float32 are, several times faster)."""
    re, im = z.real.astype(np.float32), z.imag.astype(np.float32)
    mag = np.exp(re)
    out = np.empty(z.shape, np.complex64)
    out.real, out.imag = mag * np.cos(im), mag * np.sin(im)
    return out


def cheaptrick(x: np.ndarray, f0: np.ndarray, sr: int, frame_period: float, fft_size: int | None = None,
               q1: float = -0.15, f0_floor: float = F0_FLOOR) -> np.ndarray:
    """(T, fft / 2 + 1) spectral envelope (power) of ``x`` at the frames of ``f0`` (``frame_period`` ms)."""
    x = np.asarray(x, dtype=np.float64)
    f0 = np.asarray(f0, dtype=np.float64)
    fft = fft_size or fft_size_for(sr, f0_floor)
    nb = fft // 2 + 1
    df = sr / fft
    f = np.where(f0 <= f0_floor, DEFAULT_F0, f0)  # (T,)
    # the F0-adaptive window: three periods of a Hann shape, unit energy, its DC removed (computed on
    # each frame's own span only)
    half = _round(1.5 * sr / f)
    big = int(half.max())
    base = np.arange(-big, big + 1)
    inside = np.abs(base)[None, :] <= half[:, None]
    rows, cols = np.nonzero(inside)
    window = np.zeros(inside.shape)
    phase = (np.pi / (1.5 * sr)) * base[cols] * f[rows]
    window[rows, cols] = 0.5 * np.cos(phase.astype(np.float32)) + 0.5
    window /= np.sqrt((window ** 2).sum(1, keepdims=True))
    centre = _round(np.arange(len(f0)) * frame_period / 1000.0 * sr)
    wave = x[np.clip(centre[:, None] + base[None, :], 0, len(x) - 1)] * window
    wave -= window * (wave.sum(1, keepdims=True) / window.sum(1, keepdims=True))
    spec = sfft.rfft(wave.astype(np.float32), fft, axis=1)
    power = (spec.real.astype(np.float64) ** 2 + spec.imag.astype(np.float64) ** 2)
    # DC correction: below F0, the power mirrored about F0 is added
    upper = 2 + (f * fft / sr).astype(np.int64)  # per frame
    k = np.arange(int(upper.max()) - 1)
    replica = _interp_rows(power, np.maximum(f[:, None] / df - k[None, :], 0.0))
    power[:, : len(k)] += np.where(k[None, :] < (upper - 1)[:, None], replica, 0.0)
    # linear smoothing over 2/3 of F0: differences of the cumulative spectrum, mirrored at both ends
    width = 2.0 * f / 3.0
    b = int((width.max() * fft) / sr) + 2
    src = np.abs(np.arange(-b, nb + b))
    src = np.where(src > fft // 2, fft - src, src)
    segment = np.cumsum(power[:, src] * df, axis=1)
    shift = b - 0.5 - width / (2 * df)  # the band's lower edge, in segment columns past each bin
    low = _shifted_rows(segment, shift, nb)
    high = _shifted_rows(segment, shift + width / df, nb)
    smooth = np.maximum((high - low) / width[:, None], 1e-30) + np.finfo(np.float64).eps
    # liftering in the cepstrum: the smoothing lifter (sinc) with the recovery lifter (q1); one row per
    # distinct F0 (every unvoiced frame shares the default's)
    quef = (np.arange(nb) / sr).astype(np.float32)
    levels, which = np.unique(f, return_inverse=True)
    fq = levels.astype(np.float32)[:, None] * quef[None, :]
    lifter = (np.sinc(fq) * ((1.0 - 2.0 * q1) + 2.0 * q1 * np.cos(2.0 * np.pi * fq)))[which.ravel()]
    # the cepstrum of a spectrum symmetric about Nyquist, and back: DCT-I over the nb bins (= fft x the
    # inverse real FFT's first nb values, at about a third of its cost)
    cep = sfft.dct(np.log(smooth.astype(np.float32)), type=1, axis=1)
    return np.exp(sfft.dct(cep * lifter, type=1, axis=1) / fft).astype(np.float64)


def _min_phase_log(log_mag: np.ndarray, fft: int) -> np.ndarray:
    """The complex log spectrum of the minimum-phase filter whose log magnitude is ``log_mag`` (T, nb):
    the real cepstrum folded onto positive quefrencies."""
    c = sfft.irfft(log_mag, fft, axis=1)
    c[:, 1: fft // 2] *= 2.0
    c[:, fft // 2 + 1:] = 0.0
    return sfft.rfft(c, axis=1)


@lru_cache(maxsize=4)
def _dc_remover(fft: int) -> np.ndarray:
    i = np.arange(fft // 2)
    half = 0.5 - 0.5 * np.cos(2.0 * np.pi * (i + 1.0) / (1.0 + fft))
    full = np.concatenate([half, half[::-1]])
    return full / (2.0 * half.sum())


def _pulses(f0: np.ndarray, sr: int, frame_period: float, y_len: int, lowest_f0: float
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """WORLD's time base: pulse samples, their fractional delays (in samples) and whether each is voiced."""
    fp = frame_period / 1000.0
    cf0 = np.where(f0 < lowest_f0, 0.0, f0)
    cvuv = (cf0 > 0).astype(np.float64)
    if len(f0) >= 2:  # one more frame, extrapolated
        cf0 = np.append(cf0, 2 * cf0[-1] - cf0[-2])
        cvuv = np.append(cvuv, 2 * cvuv[-1] - cvuv[-2])
    else:
        cf0, cvuv = np.append(cf0, cf0[-1:]), np.append(cvuv, cvuv[-1:])
    coarse_t = np.arange(len(cf0)) * fp
    t = np.arange(y_len) / sr
    vuv = np.interp(t, coarse_t, cvuv) > 0.5
    f = np.where(vuv, np.interp(t, coarse_t, cf0), DEFAULT_F0)
    wrap = np.mod(np.cumsum(2.0 * np.pi * f / sr), 2.0 * np.pi)
    at = np.flatnonzero(np.abs(np.diff(wrap)) > np.pi)
    y1, y2 = wrap[at] - 2.0 * np.pi, wrap[at + 1]
    return at, -y1 / (y2 - y1), vuv[at]


def _frame_mix(table: np.ndarray, times: np.ndarray, fp: float) -> np.ndarray:
    """Rows of ``table`` (frames) interpolated linearly at ``times`` (s)."""
    lo, hi, a = _frame_pos(times, fp, len(table))
    return table[lo] * (1.0 - a)[:, None] + table[hi] * a[:, None]


def _frame_pos(times: np.ndarray, fp: float, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    pos = times / fp
    lo = np.minimum(np.floor(pos).astype(np.int64), n - 1)
    hi = np.minimum(np.ceil(pos).astype(np.int64), n - 1)
    return lo, hi, (pos - lo).astype(np.float32)


_SHIFTS = 64  # fractional pulse delays are rounded to 1/64 of a sample


@lru_cache(maxsize=4)
def _ramps(fft: int) -> np.ndarray:
    k = np.arange(fft // 2 + 1)
    q = np.arange(_SHIFTS + 1)[:, None] / _SHIFTS
    return np.exp(-2j * np.pi * q * k[None, :] / fft).astype(np.complex64)


def synthesize(f0: np.ndarray, sp: np.ndarray, ap: np.ndarray, sr: int, frame_period: float,
               rng: np.random.Generator) -> np.ndarray:
    """A waveform from F0 (Hz, 0 = unvoiced), the spectral envelope (power) and the aperiodicity
    (0..1), both (T, fft / 2 + 1), as WORLD's synthesis does (see the module's description)."""
    f0 = np.asarray(f0, dtype=np.float64)
    fft = (sp.shape[1] - 1) * 2
    fp = frame_period / 1000.0
    y_len = int(len(f0) * frame_period * sr / 1000)
    ratio = np.clip(np.asarray(ap, dtype=np.float64), 0.001, 0.999999999999) ** 2
    ratio[f0 == 0] = 1.0  # an unvoiced frame: noise only
    sp = np.abs(np.asarray(sp, dtype=np.float64))
    block = fft // 4
    lead = 2 * fft  # y[lead + s] is sample s
    y = np.zeros(y_len + 4 * fft, np.float32)
    n_blocks = -(-y_len // block)
    noise = rng.standard_normal(n_blocks * block, dtype=np.float32)
    # voiced pulses (WORLD's): each carries a minimum-phase pulse of sp (1 - ap^2) (each frame's filter
    # computed once), weighted by the square root of the period, delayed by its fraction of a sample,
    # its DC removed, and the noise of its period through the minimum-phase filter of sp ap^2 (noise
    # in step with the pitch)
    at, shift, voiced = _pulses(f0, sr, frame_period, y_len, sr / fft + 1.0)
    period = np.minimum(np.diff(at, append=at[-1:]), fft)  # samples to the next pulse (the last: none)
    lo, hi, a = _frame_pos(at / sr, fp, len(f0))
    keep = voiced & ((ratio[lo, 0] * (1 - a) + ratio[hi, 0] * a) <= 0.999)  # a periodic part
    synced = np.zeros(len(noise) + 1, np.int64)  # samples whose noise a voiced pulse carries
    if voiced.any():
        vp = np.flatnonzero(voiced)
        lo, hi, a = lo[vp], hi[vp], a[vp]
        used = np.unique(np.concatenate([lo, hi]))
        cols = np.arange(fft)
        inside = cols[None, :] < period[vp][:, None]
        seg = np.where(inside, noise[np.minimum(at[vp][:, None] + cols[None, :], len(noise) - 1)], 0.0)
        seg -= inside * (seg.sum(1) / np.maximum(period[vp], 1))[:, None]
        np.add.at(synced, at[vp], 1)
        np.add.at(synced, np.minimum(at[vp] + period[vp], len(noise)), -1)
        filters = np.zeros((len(f0), fft // 2 + 1), np.complex64)
        filters[used] = _cexp(_min_phase_log(np.log(sp[used] * ratio[used] + SAFE) / 2.0, fft))
        spec = (filters[lo] * (1.0 - a)[:, None] + filters[hi] * a[:, None]) * sfft.rfft(seg.astype(np.float32),
                                                                                            axis=1)
        resp = np.roll(sfft.irfft(spec, fft, axis=1), fft // 2, axis=1)
        pk = keep[vp]
        if pk.any():
            filters[used] = _cexp(_min_phase_log(np.log(sp[used] * (1.0 - ratio[used]) + SAFE) / 2.0, fft))
            spec = filters[lo[pk]] * (1.0 - a[pk])[:, None] + filters[hi[pk]] * a[pk][:, None]
            spec *= _ramps(fft)[np.rint(shift[vp][pk] * _SHIFTS).astype(np.int64)]
            per = np.roll(sfft.irfft(spec, fft, axis=1), fft // 2, axis=1)
            rem = _dc_remover(fft).astype(np.float32)
            dc = per[:, fft // 2:].sum(1, keepdims=True)
            per[:, : fft // 2] = -dc * rem[None, : fft // 2]
            per[:, fft // 2:] -= dc * rem[None, fft // 2:]
            resp[pk] += per * np.sqrt(period[vp][pk]).astype(np.float32)[:, None]
        for start, row in zip(at[vp] - fft // 2 + 1 + lead, resp, strict=True):
            y[start: start + fft] += row
    # the rest (unvoiced): white noise in blocks of fft / 4 samples, each through the (zero-phase)
    # magnitude of its frames' sp, the block placed a block into its buffer so that the filter does not wrap
    free = np.cumsum(synced[:-1]) <= 0
    rest = (noise * free).reshape(n_blocks, block)
    count = free.reshape(n_blocks, block).sum(1, keepdims=True)
    rest -= free.reshape(n_blocks, block) * (rest.sum(1, keepdims=True) / np.maximum(count, 1))
    buf = np.zeros((n_blocks, fft), np.float32)
    buf[:, block: 2 * block] = rest
    mag = np.sqrt(sp * ratio).astype(np.float32)
    resp = sfft.irfft(sfft.rfft(buf, axis=1) * _frame_mix(mag, (np.arange(n_blocks) + 0.5) * block / sr, fp), fft,
                      axis=1)
    parts = fft // block
    acc = np.zeros((n_blocks + parts, block), np.float32)
    for s in range(parts):  # piece s of block b lands on block b + s - 1
        acc[s: s + n_blocks] += resp[:, s * block: (s + 1) * block]
    start = lead - block
    y[start: start + acc.size] += acc.ravel()
    return y[lead: lead + y_len].astype(np.float64)
