"""Features: shapes, agreement with a reference implementation, the cache, lexical and face crops."""

from __future__ import annotations

import numpy as np
import pytest

from privemo.corpora import Manifest
from privemo.errors import MediaError
from privemo.features import FeatureCache, extract, log_mel, mfcc, pool, speaker_znorm
from privemo.features.lexical import embed, tokenize
from tests.conftest import make_image, make_wav


def manifest(paths, texts=None) -> Manifest:
    return Manifest([{"item_id": f"i{i}", "path": str(p), "media": "audio", "corpus": "t", "speaker": f"s{i % 2}",
                      "gender": "m", "emotion": "happy", "text": (texts[i] if texts else None)}
                     for i, p in enumerate(paths)])


def test_mfb_shape_and_frame_count():
    x = np.random.default_rng(0).standard_normal(16000).astype(np.float32)
    feats = log_mel(x)
    assert feats.shape == (1 + (16000 - 400) // 160, 40) and feats.dtype == np.float32
    assert mfcc(x).shape == (feats.shape[0], 13)
    assert log_mel(np.zeros(100, np.float32)).shape == (1, 40)  # shorter than one window


def test_mfb_matches_librosa():
    librosa = pytest.importorskip("librosa")
    x = np.random.default_rng(1).standard_normal(8000).astype(np.float32)
    ours = log_mel(x)
    # librosa centres the 400-sample window in each 512-sample frame: pad 56 samples so frames align
    ref = librosa.feature.melspectrogram(y=np.pad(x, (56, 0)), sr=16000, n_fft=512, win_length=400,
                                         hop_length=160, window=np.hamming(400), center=False, power=2.0,
                                         n_mels=40, htk=True, norm=None).T
    n = min(len(ours), len(ref))
    assert np.allclose(ours[:n], np.log(np.maximum(ref[:n], 1e-10)), atol=1e-3)


def test_cache_hits_and_config_key(tmp_path):
    paths = [make_wav(tmp_path / f"a{i}.wav", seed=i) for i in range(3)]
    m = manifest(paths)
    cache = FeatureCache(tmp_path / "cache")
    first = extract(m, "mfb", cache)
    assert (cache.hits, cache.misses) == (0, 3)
    second = extract(m, "mfb", cache)
    assert cache.hits == 3
    assert all(np.array_equal(a, b) for a, b in zip(first.values, second.values, strict=True))
    extract(m, {"type": "mfb", "n_mels": 24}, cache)  # another config: computed anew
    assert cache.misses == 6
    # the key is the content: a copy of a file under another name is a hit
    (tmp_path / "copy.wav").write_bytes(paths[0].read_bytes())
    extract(manifest([tmp_path / "copy.wav"]), "mfb", cache)
    assert cache.hits == 4


def test_damaged_cache_entry_is_recomputed(tmp_path):
    m = manifest([make_wav(tmp_path / "a.wav")])
    cache = FeatureCache(tmp_path / "cache")
    want = extract(m, "mfcc", cache).values[0]
    for entry in (tmp_path / "cache").rglob("*.npz"):
        entry.write_bytes(b"garbage")
    got = extract(m, "mfcc", cache).values[0]
    assert np.array_equal(want, got)


def test_bad_file_error_and_skip(tmp_path):
    good = make_wav(tmp_path / "a.wav")
    bad = tmp_path / "b.wav"
    bad.write_bytes(b"nope")
    m = manifest([good, bad])
    with pytest.raises(MediaError, match="b.wav"):
        extract(m, "mfb")
    feats = extract(m, "mfb", skip_bad=True)
    assert feats.values[1] is None and list(feats.ok()) == [True, False]
    assert feats.failed[0][0] == str(bad)


def test_opensmile_functionals_and_lld(tmp_path):
    m = manifest([make_wav(tmp_path / "a.wav", seconds=1.0)])
    assert extract(m, "egemaps").values[0].shape == (88,)
    lld = extract(m, "egemaps_lld").values[0]
    assert lld.ndim == 2 and lld.shape[1] == 25


def test_speaker_znorm_and_pool():
    rng = np.random.default_rng(0)
    vals = [rng.normal(5 if i % 2 else -5, 2, (10 + i, 3)).astype(np.float32) for i in range(6)]
    spk = ["a" if i % 2 else "b" for i in range(6)]
    normed = speaker_znorm(vals, spk)
    for s in "ab":
        stack = np.concatenate([normed[i] for i in range(6) if spk[i] == s])
        assert np.allclose(stack.mean(0), 0, atol=1e-5) and np.allclose(stack.std(0), 1, atol=1e-4)
    assert pool(normed).shape == (6, 6)
    assert speaker_znorm([None, vals[0]], ["a", "a"])[0] is None


def test_lexical_glove(tmp_path):
    assert tokenize("It's eleven o'clock!") == ["it's", "eleven", "o'clock", "!"]
    vecs, oov = embed(["the", "zzqxwv"])
    assert vecs.shape == (2, 50) and oov == 1
    m = manifest([tmp_path / "x.wav"], texts=["Kids are talking by the door"])
    out = extract(m, "glove")
    assert out.values[0].shape == (6, 50) and out.notes[0] == {"tokens": 6, "oov": 0}


def test_face_crop_fallback_is_flagged(tmp_path):
    p = make_image(tmp_path / "noise.png", size=80, mode="RGB")
    m = Manifest([{"item_id": "f", "path": str(p), "media": "image", "corpus": "t", "speaker": "s",
                   "gender": "f", "emotion": "happy"}])
    out = extract(m, {"type": "face_crop", "size": 48})
    assert out.values[0].shape == (48, 48) and out.notes[0]["fallback"] is True
    assert 0.0 <= out.values[0].min() and out.values[0].max() <= 1.0
