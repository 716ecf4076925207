"""``pseudo_speaker``: every speaker re-voiced as a pseudo-speaker, emotion kept relative.

Our method (issue 4). With a WORLD vocoder (DIO and StoneMask from pyworld, CheapTrick and the
synthesis from privemo's numpy version, or all of it from pyworld) each clip is split into F0,
spectral envelope and aperiodicity; what carries identity is moved to a pseudo-speaker, what carries emotion
is kept *relative to the speaker*:

- **F0**: log-F0 is z-normalised with the speaker's own mean and spread (learned by ``fit`` over the
  speaker's clips) and re-scaled to the pseudo-speaker's (``f0_mean`` Hz, ``f0_std`` in log units;
  by default the corpus geometric mean, between the male and female ranges). An angry clip stays
  higher and wider than the same speaker's sad one; whose voice it was, and its gender, go.
- **Envelope**: the frequency axis is warped by the speaker's factor (found by ``fit``: the warp
  that best aligns the speaker's long-term average voiced envelope with the corpus average, a
  vocal-tract-length normalisation) and the remaining per-speaker average colour is equalised to the
  corpus average. With ``codebook_k`` > 0 the shape of every frame's normalised envelope (cepstral
  coefficients 1..``n_cep``; the frame's level c0 is kept) is then replaced by the nearest of k
  codewords pooled over all speakers, which removes the speaker's own way of shaping each sound.
- **Aperiodicity**: by default none of the clip's is analysed: every voiced frame gets the corpus's
  average band aperiodicity (``frame_aperiodicity: false``). With ``frame_aperiodicity`` (D4C per frame)
  and ``aperiodicity``, the speaker's average band aperiodicity (breathiness) is moved to the corpus
  average and the frame-to-frame changes stay.
- **Unvoiced frames** (``unvoiced_eq``): consonants and pauses (where the room and the microphone
  speak too) are equalised from the speaker's average unvoiced colour to the corpus's.
- **Loudness** (``speaker_level``): one gain per speaker, from its average voiced level to the
  corpus's, so a loud clip stays louder than the same speaker's quiet one (never clipped).
- **Per-clip pseudo-speaker**: the pseudo-speaker's F0 mean (``f0_jitter``) and vocal-tract length
  (``warp_jitter``: a warp of the final envelope) are drawn per clip (log-normal spreads, seeded by
  the clip's key), so two clips of one speaker do not share one new voice. ``tempo_jitter`` (off)
  re-times the speech per clip too, keeping the clip's length.
- **Speaking rate** (``speaker_rate``, off): one re-timing factor per speaker, from its average rate
  (voiced runs per second of speech) to the corpus's, so a speaker's pace goes and an emotion spoken
  faster than the same speaker's others stays faster (the clip keeps its length). Worse on every
  target on RAVDESS's selection half (docs/voice.md, round 4), so it stays off.
- **Speed**: F0 by DIO on a 4 x decimated signal (``f0_speed``; StoneMask refines it), the envelope and
  the synthesis by privemo's numpy WORLD-style vocoder (``vocoder: fast``; ``world``: pyworld's), no
  per-frame aperiodicity analysis (``frame_aperiodicity: false``: every voiced frame gets the corpus's
  average band aperiodicity, so none of the speaker's is left) and a 512-point synthesis grid
  (``synth_fft``): 0.93 x McAdams's time (``bench/bench_voice.py``; on pyworld with D4C, 2.38 x).
- **Level** (``level``): the anonymized clip keeps the original's energy (``rms``), before the
  speaker's gain; ``peak`` (the earlier rule) matched the original's peak, which let the level wander
  from clip to clip with the new waveform's peak-to-average ratio.

The defaults (f0 jitter 0.25, warp jitter 0.25, a 16-word codebook, unvoiced equalisation, speaker
level, the fast analysis, the numpy vocoder without per-frame aperiodicity, the rms level) were chosen
on one half of RAVDESS's actors (``configs/voice/ravdess_select.yaml``, rounds 1-7) and confirmed on the
other (``ravdess_confirm.yaml``); the default before 2026-12-07 is ``vocoder world,
frame_aperiodicity true, level peak``; the settings of issue 4 are that with ``warp_jitter 0,
codebook_k 32, f0_speed 1, synth_fft None, unvoiced_eq False, speaker_level False``.

Fit it on many speakers (the envelope target is their average); fitted on fewer than
``MIN_SPEAKERS`` the pitch target is ``NEUTRAL_F0`` and the envelope target is still only their
own average. Timing is untouched (unless ``tempo_jitter``). A clip of a speaker ``fit`` did not see is
normalised with its own statistics instead of its speaker's: weaker for emotion, since a clip's own
mean F0 and level are part of it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, Literal

import numpy as np
from pydantic import Field

from privemo._schema import NonNegFloat, PosInt
from privemo.anonymize._world import analyse
from privemo.anonymize.base import Clip, VoiceAnonymizer, clip_of, match_peak, sample_frames
from privemo.corpora.manifest import Manifest
from privemo.registry import register

MIN_SPEAKERS = 4  # fitted on fewer speakers, the pseudo-speaker's pitch is NEUTRAL_F0
NEUTRAL_F0 = 165.0  # Hz, between typical adult male and female means
RATE_RANGE = (0.67, 1.5)  # the most speaker_rate re-times a speaker's speech, slower or faster
_WARPS = np.exp(np.linspace(np.log(0.7), np.log(1.43), 61))


def _coded_ap(ap: np.ndarray, f0: np.ndarray, sr: int) -> np.ndarray:
    """Band aperiodicity (dB) of the voiced frames (all frames where none is voiced)."""
    import pyworld

    coded = pyworld.code_aperiodicity(np.ascontiguousarray(ap), sr)
    return coded[f0 > 0] if (f0 > 0).any() else coded


def warp_envelope(log_sp: np.ndarray, factor: float) -> np.ndarray:
    """``log_sp`` (T, bins) read at ``factor`` x frequency: factor > 1 moves formants down (linear
    interpolation between bins, as ``np.interp``, every frame at once; past the top bin, the top bin)."""
    bins = log_sp.shape[-1]
    src = np.arange(bins) * factor
    if log_sp.ndim == 1:
        return np.interp(src, np.arange(bins), log_sp)
    j = np.minimum(src.astype(np.int64), bins - 1)
    inside = j < bins - 1
    j0 = np.where(inside, j, bins - 2)
    lo, hi = log_sp[:, j0], log_sp[:, j0 + 1]
    out = (hi - lo) * (src - j0) + lo
    out[:, ~inside] = log_sp[:, -1:]
    return out


def retime(f0: np.ndarray, sp: np.ndarray, ap: np.ndarray | None, rate: float,
           margin: int = 5) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """WORLD frames with the speech (first to last voiced frame, ``margin`` frames each side) spoken
    ``rate`` x faster, starting where it started; the frames after it follow, and the clip keeps its
    number of frames (a slower speech eats into the trailing pause, never into itself beyond the
    clip's end). Envelope and aperiodicity are interpolated; F0 is interpolated in log where both
    neighbours are voiced, else taken from the nearer frame."""
    n = len(f0)
    voiced = np.flatnonzero(f0 > 0)
    if len(voiced) < 2 or n < 4:
        return f0, sp, ap
    if ap is None:  # no aperiodicity analysed: re-time the rest
        f0, sp, _ = retime(f0, sp, sp[:, :1], rate, margin)
        return f0, sp, None
    a, b = max(0, voiced[0] - margin), min(n - 1, voiced[-1] + margin)
    length = b - a + 1
    new_len = int(np.clip(round(length / rate), 2, n - a))
    pos = np.linspace(a, b, new_len)
    region_sp, region_ap = _lerp(sp, pos), _lerp(ap, pos)
    i0 = np.minimum(pos.astype(int), n - 2)
    frac = pos - i0
    lo, hi = f0[i0], f0[i0 + 1]
    both = (lo > 0) & (hi > 0)
    region_f0 = np.where(frac < 0.5, lo, hi)
    region_f0[both] = np.exp(np.log(lo[both]) * (1 - frac[both]) + np.log(hi[both]) * frac[both])
    tail = slice(b + 1, n)

    def joined(head: np.ndarray, region: np.ndarray, rest: np.ndarray) -> np.ndarray:
        out = np.concatenate([head, region, rest])[:n]
        if len(out) < n:  # a faster speech: the last frame (a pause) held
            out = np.concatenate([out, np.repeat(out[-1:], n - len(out), axis=0)])
        return np.ascontiguousarray(out)

    return (joined(f0[:a], region_f0, f0[tail]), joined(sp[:a], region_sp, sp[tail]),
            joined(ap[:a], region_ap, ap[tail]))


def _lerp(a: np.ndarray, pos: np.ndarray) -> np.ndarray:
    """``a`` read along its first axis at the fractional positions ``pos`` (linear interpolation)."""
    i0 = np.minimum(pos.astype(int), len(a) - 2)
    frac = (pos - i0).reshape(-1, *([1] * (a.ndim - 1)))
    return a[i0] * (1 - frac) + a[i0 + 1] * frac


def _match_rms(y: np.ndarray, x: np.ndarray) -> np.ndarray:
    """``y`` scaled to the energy of ``x``; a peak above 0.99 then scaled down to it."""
    ey, ex = float(np.sqrt(np.mean(np.square(y, dtype=np.float64)))), float(np.sqrt(np.mean(np.square(x, dtype=np.float64))))
    if ey < 1e-12:
        return y
    y = y * (ex / ey)
    peak = float(np.max(np.abs(y)))
    return y * (0.99 / peak) if peak > 0.99 else y


def _regrid(rows: np.ndarray, bins: int) -> np.ndarray:
    """(T, n) rows over 0..Nyquist read at ``bins`` evenly spaced frequencies (linear interpolation)."""
    return _lerp(rows.T, np.linspace(0.0, rows.shape[1] - 1, bins)).T


def _profile(f0s: list[np.ndarray], sps: list[np.ndarray]) -> dict[str, Any]:
    voiced = np.concatenate([f0[f0 > 0] for f0 in f0s]) if f0s else np.zeros(0)
    logf0 = np.log(voiced) if voiced.size else np.array([np.log(150.0)])
    env = np.concatenate([np.log(np.maximum(sp[f0 > 0], 1e-16)) for f0, sp in zip(f0s, sps, strict=True)])
    if len(env) == 0:
        env = np.concatenate([np.log(np.maximum(sp, 1e-16)) for sp in sps])
    uv = [np.log(np.maximum(sp[f0 == 0], 1e-16)) for f0, sp in zip(f0s, sps, strict=True)]
    uv_env = np.concatenate(uv) if uv else np.zeros((0, env.shape[1]))
    power = np.concatenate([sp[f0 > 0].sum(axis=1) for f0, sp in zip(f0s, sps, strict=True)]) if sps else np.zeros(0)
    level = float(np.mean(10 * np.log10(np.maximum(power, 1e-20)))) if power.size else 0.0
    rates = [r for r in (speech_rate(f0) for f0 in f0s) if r is not None]
    return {"mu": float(np.mean(logf0)), "sd": max(float(np.std(logf0)), 0.05), "ltas": env.mean(axis=0),
            "ltas_uv": uv_env.mean(axis=0) if len(uv_env) else env.mean(axis=0), "level": level,
            "log_rate": float(np.mean(np.log(rates))) if rates else None}


def speech_rate(f0: np.ndarray, min_run: int = 2) -> float | None:
    """Voiced runs (of at least ``min_run`` frames) per frame of the speech (first to last voiced
    frame): a text-independent speaking rate, in runs per frame; None without two such runs."""
    v = np.r_[False, f0 > 0, False].astype(np.int8)
    edges = np.flatnonzero(np.diff(v))
    starts, ends = edges[0::2], edges[1::2]
    runs = (ends - starts) >= min_run
    if runs.sum() < 2:
        return None
    return float(runs.sum() / (ends[runs][-1] - starts[runs][0]))


@register("anonymizer", "pseudo_speaker")
@dataclass
class PseudoSpeaker(VoiceAnonymizer):
    name: ClassVar[str] = "pseudo_speaker"
    f0_mean: Annotated[float, Field(ge=20, le=1000)] | None = None  # Hz; None: the corpus geometric mean of speaker means
    f0_std: NonNegFloat | None = None  # log units; None: the median speaker spread
    warp: bool = True
    equalise: bool = True
    f0_jitter: Annotated[float, Field(ge=0, le=5)] = 0.25  # per-clip spread (log units) of the pseudo-speaker's F0 mean
    warp_jitter: Annotated[float, Field(ge=0, le=5)] = 0.25  # per-clip spread (log units) of the pseudo-speaker's vocal-tract length
    # per-clip spread (log units) of the speaking rate: the speech (first to last voiced frame) is
    # re-timed by a factor drawn per clip and placed where it began; the clip keeps its length
    tempo_jitter: Annotated[float, Field(ge=0, le=1)] = 0.0
    band_hz: Annotated[float, Field(ge=100, le=100_000)] = 5000.0  # the band where envelopes are aligned
    frame_period: Annotated[float, Field(ge=1, le=100)] = 10.0
    clips_per_speaker: PosInt = 24  # clips per speaker that fit analyses
    codebook_k: Annotated[int, Field(ge=0, le=65536)] = 16  # > 0: each frame's normalised envelope shape -> nearest of k pooled codewords
    n_cep: Annotated[int, Field(ge=2, le=512)] = 40  # cepstral coefficients of the envelope shape that the codebook quantises
    aperiodicity: bool = True  # band aperiodicity moved from the speaker's average to the corpus average
    # speed: DIO's decimation for F0 (1 = none; StoneMask refines either way), and the FFT size of the
    # synthesis (None: the analysis size, 1024 at 16 kHz; 512 halves its cost, the envelope is smooth)
    f0_speed: Annotated[int, Field(ge=1, le=12)] = 4
    synth_fft: Literal[256, 512, 1024, 2048, 4096] | None = 512
    # the unvoiced frames (consonants, pauses: the room and the microphone too) get their own
    # equalisation, from the speaker's average unvoiced colour to the corpus's
    unvoiced_eq: bool = True
    # loudness relative to the speaker: every clip of a speaker gets one gain, from the speaker's
    # average voiced level to the corpus's (a loud clip stays louder than the same speaker's quiet one)
    speaker_level: bool = True
    # the speaking rate relative to the speaker: every clip of a speaker is re-timed by one factor, from
    # the speaker's average rate (voiced runs per second of speech) to the corpus's (an emotion spoken
    # faster than the same speaker's others stays faster); the clip keeps its length
    speaker_rate: bool = False
    # the analysis (CheapTrick) and synthesis: pyworld's ("world"), or privemo's WORLD-style vocoder in
    # numpy, every frame and pulse at once ("fast": several times faster; anonymize/_vocoder.py)
    vocoder: Literal["world", "fast"] = "fast"
    # False: no per-frame aperiodicity analysis (D4C, the costliest step) when anonymizing: every voiced
    # frame gets the corpus's average band aperiodicity (learned by fit), so none of the speaker's is left
    frame_aperiodicity: bool = False
    # the anonymized clip's level: the original's peak ("peak"; the level then varies from clip to clip
    # with the new waveform's peak-to-average ratio) or its energy ("rms": the clip's
    # loudness kept exactly, a peak above 0.99 scaled down), before the speaker's gain
    level: Literal["peak", "rms"] = "rms"

    def fit(self, manifest: Manifest, progress: Callable[[int, int], None] | None = None) -> PseudoSpeaker:
        df = manifest.df
        rng = np.random.default_rng(self.seed)
        picked = [idx for _, g in df.groupby("speaker", sort=True)
                  for idx in rng.permutation(g.index.to_numpy())[: self.clips_per_speaker]]
        rows = df.loc[sorted(picked)].to_dict("records")
        analysed: dict[str, tuple[list[np.ndarray], list[np.ndarray]]] = {}
        band_ap: dict[str, list[np.ndarray]] = {}
        for i, row in enumerate(rows):
            clip = clip_of(row)
            f0, sp, ap = analyse(clip.audio, clip.sr, self.frame_period, self.f0_speed, envelope=self.vocoder)
            assert ap is not None
            f0s, sps = analysed.setdefault(str(row["speaker"]), ([], []))
            band_ap.setdefault(str(row["speaker"]), []).append(_coded_ap(ap, f0, clip.sr))
            f0s.append(f0)
            sps.append(sp)
            self.sr_ = clip.sr
            if progress:
                progress(i + 1, len(rows))
        profiles = {spk: _profile(f0s, sps) for spk, (f0s, sps) in analysed.items()}
        mus = np.array([p["mu"] for p in profiles.values()])
        if self.f0_mean:
            self.target_mu_ = float(np.log(self.f0_mean))
        elif len(profiles) < MIN_SPEAKERS:  # too few voices to average: a gender-neutral pitch
            self.target_mu_ = float(np.log(NEUTRAL_F0))
        else:
            self.target_mu_ = float(np.mean(mus))
        self.target_sd_ = float(self.f0_std) if self.f0_std else float(np.median([p["sd"] for p in profiles.values()]))
        target = np.mean([p["ltas"] for p in profiles.values()], axis=0)
        for _ in range(2):  # the corpus average after warping every speaker to it, then again
            warped = [warp_envelope(p["ltas"], self._best_warp(p["ltas"], target)) for p in profiles.values()]
            target = np.mean(warped, axis=0)
        self.target_ltas_ = target
        self.target_uv_ = np.mean([p["ltas_uv"] for p in profiles.values()], axis=0)
        self.target_level_ = float(np.mean([p["level"] for p in profiles.values()]))
        rates = [p["log_rate"] for p in profiles.values() if p["log_rate"] is not None]
        self.target_rate_ = float(np.mean(rates)) if rates else None
        self.speakers_ = {spk: self._speaker_state(p) for spk, p in profiles.items()}
        ap_means = {spk: np.concatenate(v).mean(axis=0) for spk, v in band_ap.items()}
        self.target_ap_ = np.mean(list(ap_means.values()), axis=0)
        for spk, mean in ap_means.items():
            self.speakers_[spk]["ap"] = mean
        self.codebook_ = None
        if self.codebook_k > 0:  # codewords pooled over every speaker's normalised frames
            shapes = [self._cepstra(self._normalised(np.log(np.maximum(sp, 1e-16)), self.speakers_[spk], f0 > 0))[:, 1:]
                      for spk, (f0s, sps) in analysed.items() for f0, sp in zip(f0s, sps, strict=True)]
            from sklearn.cluster import KMeans

            data = sample_frames(shapes, 100_000, self.seed)
            km = KMeans(n_clusters=min(self.codebook_k, len(data)), n_init=1, random_state=self.seed, max_iter=100)
            self.codebook_ = km.fit(data).cluster_centers_
        return self

    def _normalised(self, log_sp: np.ndarray, state: dict[str, Any], voiced: np.ndarray) -> np.ndarray:
        out = warp_envelope(log_sp, state["warp"]) + state["eq"]
        if self.unvoiced_eq and (~voiced).any():
            out[~voiced] = log_sp[~voiced] + state["eq_uv"]
        return out

    def _cepstra(self, log_sp: np.ndarray) -> np.ndarray:
        from scipy.fft import dct

        return dct(log_sp, type=2, norm="ortho", axis=-1)[..., : self.n_cep]

    def _quantised(self, log_sp: np.ndarray) -> np.ndarray:
        from scipy.fft import idct

        cep = self._cepstra(log_sp)
        book = self.codebook_
        assert book is not None
        d = ((cep[:, None, 1:] - book[None, :, :]) ** 2).sum(-1)
        full = np.zeros_like(log_sp)
        full[:, 0] = cep[:, 0]  # the frame's level is kept
        full[:, 1: self.n_cep] = book[np.argmin(d, axis=1)]
        return idct(full, type=2, norm="ortho", axis=-1)

    def _band(self, bins: int) -> slice:
        return slice(1, max(2, int(bins * self.band_hz / (self.sr_ / 2))))

    def _best_warp(self, ltas: np.ndarray, target: np.ndarray) -> float:
        if not self.warp:
            return 1.0
        band = self._band(len(ltas))
        errs = []
        for w in _WARPS:
            d = warp_envelope(ltas, w)[band] - target[band]
            errs.append(np.mean((d - d.mean()) ** 2))
        return float(_WARPS[int(np.argmin(errs))])

    def _speaker_state(self, profile: dict[str, Any]) -> dict[str, Any]:
        w = self._best_warp(profile["ltas"], self.target_ltas_)
        eq = self.target_ltas_ - warp_envelope(profile["ltas"], w)
        eq = np.convolve(eq - eq.mean(), np.ones(9) / 9, mode="same") if self.equalise else np.zeros_like(eq)
        eq_uv = np.zeros_like(eq)
        if self.unvoiced_eq:
            d = self.target_uv_ - profile["ltas_uv"]
            eq_uv = np.convolve(d - d.mean(), np.ones(9) / 9, mode="same")
        gain = self.target_level_ - profile["level"] if self.speaker_level else 0.0
        tempo, target = 1.0, getattr(self, "target_rate_", None)
        if self.speaker_rate and target is not None and profile["log_rate"] is not None:
            tempo = float(np.clip(np.exp(target - profile["log_rate"]), *RATE_RANGE))
        return {"mu": profile["mu"], "sd": profile["sd"], "warp": w, "eq": eq, "eq_uv": eq_uv, "gain_db": gain,
                "tempo": tempo}

    def _moved_ap(self, ap: np.ndarray, f0: np.ndarray, sr: int, state: dict[str, Any],
                  fft: int | None = None) -> np.ndarray:
        import pyworld

        coded = pyworld.code_aperiodicity(np.ascontiguousarray(ap), sr)
        mean = state.get("ap")
        if mean is None:  # an unseen speaker: the clip's own voiced average
            mean = _coded_ap(ap, f0, sr).mean(axis=0)
        voiced = f0 > 0
        coded[voiced] = np.minimum(coded[voiced] - mean + self.target_ap_, 0.0)
        return pyworld.decode_aperiodicity(np.ascontiguousarray(coded), sr, fft or (ap.shape[1] - 1) * 2)

    def _corpus_ap(self, sr: int, fft: int) -> np.ndarray:
        """The corpus's average band aperiodicity on an ``fft``-point grid (one row)."""
        import pyworld

        return pyworld.decode_aperiodicity(np.ascontiguousarray(self.target_ap_[None, :]), sr, fft)[0]

    def _transform(self, x: np.ndarray, sr: int, clip: Clip) -> np.ndarray:
        import pyworld

        if not hasattr(self, "speakers_"):
            from privemo.errors import ConfigError

            raise ConfigError("pseudo_speaker: call fit(manifest) before transform (speaker statistics are learned)")
        if sr != self.sr_:  # the learned envelopes live on the fit's frequency grid
            from privemo.media.audio import resample

            inner = Clip(resample(x, sr, self.sr_), self.sr_, clip.speaker, clip.key)
            return resample(self._transform(inner.audio, self.sr_, inner), self.sr_, sr)
        f0, sp, ap = analyse(x, sr, self.frame_period, self.f0_speed, envelope=self.vocoder,
                             aperiodicity=self.frame_aperiodicity)
        state = self.speakers_.get(clip.speaker or "")
        if state is None:  # an unseen speaker: the clip's own statistics
            state = self._speaker_state(_profile([f0], [sp]))
        rng = self.rng(clip.key)
        shift = float(rng.normal(0.0, self.f0_jitter)) if self.f0_jitter > 0 else 0.0
        wj = float(rng.normal(0.0, self.warp_jitter)) if self.warp_jitter > 0 else 0.0
        tempo = float(np.exp(rng.normal(0.0, self.tempo_jitter))) if self.tempo_jitter > 0 else 1.0
        tempo *= state.get("tempo", 1.0)  # the speaker's rate moved to the corpus's (speaker_rate)
        if tempo != 1.0:
            f0, sp, ap = retime(f0, sp, ap, tempo)
        voiced = f0 > 0
        new_f0 = np.zeros_like(f0)
        z = (np.log(f0[voiced]) - state["mu"]) / state["sd"]
        new_f0[voiced] = np.exp(self.target_mu_ + shift + self.target_sd_ * z)
        log_sp = self._normalised(np.log(np.maximum(sp, 1e-16)), state, voiced)
        if self.codebook_ is not None:
            log_sp = self._quantised(log_sp)
        if wj:  # this clip's pseudo-speaker: its own vocal-tract length
            log_sp = warp_envelope(log_sp, float(np.exp(wj)))
        fft = self.synth_fft or (sp.shape[1] - 1) * 2
        if fft != (sp.shape[1] - 1) * 2:  # the smooth envelope read on the synthesis grid
            log_sp = _regrid(log_sp, fft // 2 + 1)
        if ap is None:  # no per-frame analysis: the corpus's average band aperiodicity where voiced
            ap = np.where(voiced[:, None], self._corpus_ap(sr, fft), 1.0)
        elif self.aperiodicity:
            ap = self._moved_ap(ap, f0, sr, state, fft)
        elif fft != (sp.shape[1] - 1) * 2:
            ap = np.ascontiguousarray(np.clip(_regrid(ap, fft // 2 + 1), 0.0, 1.0))
        env = np.ascontiguousarray(np.exp(log_sp))
        if self.vocoder == "fast":
            from privemo.anonymize._vocoder import synthesize

            y = synthesize(new_f0, env, ap, sr, self.frame_period, self.rng(clip.key, "vocoder"))
        else:
            y = pyworld.synthesize(new_f0, env, ap, sr, frame_period=self.frame_period)
        y = match_peak(y, x) if self.level == "peak" else _match_rms(y, x)
        if state.get("gain_db"):  # the speaker's level moved to the corpus's; never clipped
            y = y * 10 ** (state["gain_db"] / 20)
            peak = float(np.max(np.abs(y))) if y.size else 0.0
            if peak > 0.99:
                y = y * (0.99 / peak)
        return y
