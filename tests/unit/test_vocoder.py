"""privemo's numpy WORLD-style vocoder (anonymize/_vocoder.py) against pyworld's C one, and
pseudo_speaker with it."""

from __future__ import annotations

import numpy as np
import pytest

from privemo.anonymize import _vocoder as voc
from tests.unit.test_anonymize import _voice


def _analysed(f0_hz: float, seconds: float = 0.8, seed: int = 0, sr: int = 16000):
    import pyworld

    x = _voice(sr, seconds, f0_hz, seed).astype(np.float64)
    f0, t = pyworld.dio(x, sr, frame_period=10.0)
    f0 = pyworld.stonemask(x, f0, t, sr)
    return x, f0, t, sr


@pytest.mark.parametrize("f0_hz", [95.0, 140.0, 230.0])
def test_cheaptrick_agrees_with_pyworlds(f0_hz):
    import pyworld

    x, f0, t, sr = _analysed(f0_hz)
    assert (f0 > 0).mean() > 0.5  # voiced frames and unvoiced ones (the edges) both compared
    ref = pyworld.cheaptrick(x, f0, t, sr)
    ours = voc.cheaptrick(x, f0, sr, 10.0)
    assert ours.shape == ref.shape == (len(f0), voc.fft_size_for(sr) // 2 + 1)
    db = np.abs(10 * np.log10(ours / ref))
    assert np.median(db) < 0.3 and np.mean(db) < 0.6


def _level_db(y: np.ndarray) -> float:
    return float(20 * np.log10(np.std(y) + 1e-12))


@pytest.mark.parametrize("f0_hz", [110.0, 210.0])
def test_synthesis_keeps_pitch_level_and_spectrum_of_pyworlds(f0_hz):
    import pyworld
    from scipy.signal import welch

    x, f0, t, sr = _analysed(f0_hz)
    sp = pyworld.cheaptrick(x, f0, t, sr)
    ap = pyworld.d4c(x, f0, t, sr)
    ref = pyworld.synthesize(f0, sp, ap, sr, frame_period=10.0)
    ours = voc.synthesize(f0, sp, ap, sr, 10.0, np.random.default_rng(0))
    assert len(ours) == len(ref) == int(len(f0) * 10.0 * sr / 1000)
    assert abs(_level_db(ours) - _level_db(ref)) < 0.5
    psd = [10 * np.log10(welch(v, sr, nperseg=512)[1][2:200] + 1e-20) for v in (ours, ref)]  # 60 Hz - 6.2 kHz
    assert np.corrcoef(*psd)[0, 1] > 0.99 and np.abs(psd[0] - psd[1]).mean() < 1.5
    # the pitch: the autocorrelation's peak in the voiced middle is at the period
    mid = ours[len(ours) // 4: 3 * len(ours) // 4]
    ac = np.correlate(mid, mid, "full")[len(mid) - 1:]
    lo, hi = int(sr / 400), int(sr / 60)
    assert abs(sr / (lo + int(np.argmax(ac[lo:hi]))) - f0_hz) < 0.06 * f0_hz


def test_synthesis_is_a_function_of_its_inputs_and_seed():
    import pyworld

    x, f0, t, sr = _analysed(150.0)
    sp = voc.cheaptrick(x, f0, sr, 10.0)
    ap = pyworld.d4c(x, f0, t, sr)
    a = voc.synthesize(f0, sp, ap, sr, 10.0, np.random.default_rng(3))
    b = voc.synthesize(f0, sp, ap, sr, 10.0, np.random.default_rng(3))
    c = voc.synthesize(f0, sp, ap, sr, 10.0, np.random.default_rng(4))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)  # the noise is the seed's
    silent = voc.synthesize(np.zeros_like(f0), np.full_like(sp, 1e-20), np.ones_like(ap), sr, 10.0,
                            np.random.default_rng(0))
    assert np.isfinite(silent).all() and np.abs(silent).max() < 1e-6


def test_pseudo_speaker_with_the_fast_vocoder_keeps_the_contract(tmp_path):
    """Deterministic per key, the clip's length and rate, and close to the previous default (pyworld)."""
    from privemo.anonymize import Clip, create_anonymizer
    from privemo.anonymize.batch import folder_manifest
    from privemo.media import write_audio

    for spk, f0 in (("a", 110.0), ("b", 210.0)):
        for i in range(2):
            write_audio(tmp_path / spk / f"{i}.wav", _voice(16000, 0.8, f0 * (1 + 0.05 * i), i), 16000)
    manifest = folder_manifest(sorted(tmp_path.rglob("*.wav")), tmp_path, "parent")
    world = create_anonymizer({"type": "pseudo_speaker", "vocoder": "world", "frame_aperiodicity": True,
                               "level": "peak"}).fit(manifest)  # the default before 2026-12-07
    for spec in ({"vocoder": "fast", "frame_aperiodicity": True, "level": "peak"}, {}):  # {}: the default
        an = create_anonymizer({"type": "pseudo_speaker", **spec}).fit(manifest)
        for sr, seconds in ((16000, 0.9), (16000, 0.31), (22050, 0.5)):
            x = _voice(sr, seconds, 150.0, 3)
            y1, y2 = an.transform(Clip(x, sr, "a", "key1")), an.transform(Clip(x, sr, "a", "key1"))
            assert y1.sr == sr and len(y1.audio) == len(x)
            np.testing.assert_array_equal(y1.audio, y2.audio)
        x = _voice(16000, 0.9, 150.0, 3)
        a, b = (m.transform(Clip(x, 16000, "a", "key1")).audio for m in (an, world))
        spec_ab = [np.log(np.abs(np.fft.rfft(v)) + 1e-6) for v in (a, b)]
        assert np.corrcoef(*spec_ab)[0, 1] > 0.85
        if spec:  # the same level rule (the peak): about the same level
            assert abs(_level_db(a) - _level_db(b)) < 2.0
        else:  # level rms: the input's energy, moved by the speaker's gain
            assert _level_db(a) == pytest.approx(_level_db(x) + an.speakers_["a"]["gain_db"], abs=0.2)


def test_level_rms_keeps_each_clips_energy_relative_to_the_speaker(tmp_path):
    from privemo.anonymize import Clip, create_anonymizer
    from privemo.anonymize.batch import folder_manifest
    from privemo.media import write_audio

    for spk, f0 in (("a", 110.0), ("b", 210.0)):
        for i in range(2):
            write_audio(tmp_path / spk / f"{i}.wav", _voice(16000, 0.8, f0 * (1 + 0.05 * i), i), 16000)
    manifest = folder_manifest(sorted(tmp_path.rglob("*.wav")), tmp_path, "parent")
    an = create_anonymizer({"type": "pseudo_speaker", "vocoder": "fast", "level": "rms"}).fit(manifest)
    x = _voice(16000, 0.9, 150.0, 3)
    rms = [float(np.sqrt(np.mean(an.transform(Clip(x * g, 16000, "a", "k")).audio.astype(np.float64) ** 2)))
           for g in (0.3, 1.0)]
    gain = 10 ** (an.speakers_["a"]["gain_db"] / 20)
    assert rms[1] == pytest.approx(float(np.sqrt(np.mean(x.astype(np.float64) ** 2))) * gain, rel=0.01)  # (the clip cut to length after)
    assert rms[1] / rms[0] == pytest.approx(1 / 0.3, rel=0.01)  # a quieter clip stays as much quieter
    loud = an.transform(Clip(np.clip(x * 3.0, -1, 1), 16000, "a", "k")).audio
    assert np.abs(loud).max() <= 0.99 + 1e-6  # never clipped
