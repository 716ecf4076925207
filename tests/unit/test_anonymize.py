"""Voice anonymizers: the contract (length, rate, determinism), the batch writer, and resume."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from privemo.anonymize import Clip, create_anonymizer
from privemo.anonymize.batch import anonymize_files, folder_manifest
from privemo.errors import ConfigError
from privemo.media import read_audio, write_audio
from privemo.registry import names

METHODS = [
    {"type": "original"},
    {"type": "mcadams"},
    {"type": "mcadams", "alpha_range": (0.75, 0.9)},
    {"type": "voice_vq", "k": 4, "n_iter": 4},
    {"type": "voice_vq", "k": 4, "vocoder": "world", "codebook": "speaker"},
    {"type": "noise", "epsilon": 50.0, "n_iter": 4},
    {"type": "pseudo_speaker", "codebook_k": 8, "warp_jitter": 0.05},
    {"type": "pseudo_speaker", "codebook_k": 8, "f0_speed": 4, "synth_fft": 512, "aperiodicity": False,
     "tempo_jitter": 0.2, "unvoiced_eq": True, "speaker_level": True},
]


def _voice(sr: int, seconds: float, f0: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(sr * seconds)) / sr
    pitch = f0 * (1 + 0.1 * np.sin(2 * np.pi * 3 * t))
    phase = 2 * np.pi * np.cumsum(pitch) / sr
    x = sum(np.sin(k * phase) / k for k in range(1, 12)) * (0.5 + 0.5 * np.sin(2 * np.pi * 2 * t) ** 2)
    return (0.3 * x / np.max(np.abs(x)) + 0.005 * rng.standard_normal(len(t))).astype(np.float32)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("voices")
    for spk, f0 in (("a", 110.0), ("b", 210.0)):
        for i in range(2):
            write_audio(root / spk / f"{i}.wav", _voice(16000, 0.8, f0 * (1 + 0.05 * i), i), 16000)
    return root


@pytest.fixture(scope="module")
def fitted(corpus):
    files = sorted(corpus.rglob("*.wav"))
    manifest = folder_manifest(files, corpus, "parent")
    return {i: create_anonymizer(dict(spec)).fit(manifest) for i, spec in enumerate(METHODS)}


def test_every_registered_voice_anonymizer_is_covered():
    from privemo.registry import lookup

    voice = {n for n in names("anonymizer") if lookup("anonymizer", n).media == "audio"}
    assert {m["type"] for m in METHODS} == voice


def test_voice_commands_refuse_a_face_anonymizer():
    with pytest.raises(ConfigError, match="not a voice anonymizer"):
        create_anonymizer({"type": "face_blur"})


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(method=st.integers(0, len(METHODS) - 1), sr=st.sampled_from([8000, 16000]),
       seconds=st.floats(0.002, 0.7), f0=st.floats(90, 260), seed=st.integers(0, 3))
def test_length_rate_and_determinism(fitted, method, sr, seconds, f0, seed):
    anonymizer = fitted[method]
    x = _voice(sr, seconds, f0, seed)
    clip = Clip(x, sr, speaker="a" if seed % 2 else None, key=f"k{seed}")
    y1, y2 = anonymizer.transform(clip), anonymizer.transform(clip)
    assert y1.sr == sr and len(y1.audio) == len(x) and y1.audio.dtype == np.float32
    assert np.all(np.isfinite(y1.audio)) and np.max(np.abs(y1.audio)) <= 1.0
    if sr == 16000 or not _uses_world(METHODS[method]):
        # pyworld 0.3.5's D4C is rarely non-deterministic at 8 kHz (see privemo.anonymize._world)
        np.testing.assert_array_equal(y1.audio, y2.audio)


def _uses_world(spec):
    return spec["type"] == "pseudo_speaker" or spec.get("vocoder") == "world"


def test_methods_change_the_audio_and_seeds_matter(fitted):
    x = _voice(16000, 0.6, 150.0, 0)
    for i, spec in enumerate(METHODS):
        y = fitted[i].transform(Clip(x, 16000, "a", "k")).audio
        if spec["type"] == "original":
            np.testing.assert_array_equal(y, x)
        else:
            assert np.mean((y - x) ** 2) > 1e-6, spec
    a = create_anonymizer({"type": "noise", "epsilon": 10.0, "n_iter": 2, "seed": 1})
    b = create_anonymizer({"type": "noise", "epsilon": 10.0, "n_iter": 2, "seed": 2})
    a.lo_ = b.lo_ = fitted[5].lo_
    a.hi_ = b.hi_ = fitted[5].hi_
    a.sensitivity_ = b.sensitivity_ = fitted[5].sensitivity_
    assert not np.allclose(a.transform(Clip(x, 16000, "a", "k")).audio, b.transform(Clip(x, 16000, "a", "k")).audio)


def test_pseudo_speaker_moves_both_genders_to_one_pitch(fitted):
    ps = fitted[6]
    assert 110 < np.exp(ps.target_mu_) < 210  # between the two speakers
    assert ps.speakers_["a"]["mu"] < ps.speakers_["b"]["mu"]


def test_unfitted_methods_say_so():
    with pytest.raises(ConfigError, match="fit"):
        create_anonymizer({"type": "voice_vq"}).transform(Clip(np.zeros(1600, np.float32), 16000))
    with pytest.raises(ConfigError, match="unknown anonymizer"):
        create_anonymizer({"type": "nope"})


def test_batch_keeps_layout_resumes_and_reports_bad_files(corpus, tmp_path):
    src = tmp_path / "in"
    for p in corpus.rglob("*.wav"):
        (src / p.parent.name).mkdir(parents=True, exist_ok=True)
        (src / p.parent.name / p.name).write_bytes(p.read_bytes())
    (src / "b" / "broken.wav").write_bytes(b"RIFF not really")
    out = tmp_path / "out"
    an = create_anonymizer({"type": "mcadams"})
    r = anonymize_files(an, src, out, speaker_from="parent")
    assert r.written == 4 and len(r.failed) == 1 and "broken.wav" in r.failed[0][0]
    for p in sorted(src.rglob("[0-9].wav")):
        y, sr = read_audio(out / p.relative_to(src), sr=None)
        x, sr0 = read_audio(p, sr=None)
        assert sr == sr0 and len(y) == len(x)
    again = anonymize_files(an, src, out, speaker_from="parent")
    assert again.written == 0 and again.skipped == 4
    with pytest.raises(ConfigError, match="another output folder"):
        anonymize_files(create_anonymizer({"type": "mcadams", "alpha": 0.7}), src, out)


def test_silence_and_clips_shorter_than_a_frame(fitted):
    for anonymizer in fitted.values():
        for x in (np.zeros(1, np.float32), np.zeros(100, np.float32), np.zeros(16000, np.float32)):
            y = anonymizer.transform(Clip(x, 16000, None, "s")).audio
            assert len(y) == len(x) and np.all(np.isfinite(y)) and np.max(np.abs(y)) < 1e-3
