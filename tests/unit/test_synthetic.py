"""The built-in demo corpus: deterministic, and emotion, gender and identity are in the signal."""

from __future__ import annotations

import numpy as np

from privemo.corpora import load_synthetic
from privemo.corpora.synthetic import generate
from privemo.evaluators import fit_predict
from privemo.features import extract, pool
from privemo.media import read_image, read_video
from privemo.metrics import uar
from tests.conftest import SYNTH_OPTS


def _cv_uar(X, y, groups, seed=0):
    """UAR of a logistic regression, 2-fold over ``groups`` (speakers or items)."""
    ug = np.unique(groups)
    rng = np.random.default_rng(seed)
    half = set(rng.permutation(ug)[: len(ug) // 2])
    a = np.array([g in half for g in groups])
    preds = np.empty(len(y), dtype=object)
    preds[a] = fit_predict("logreg", X[~a], y[~a], X[a])
    preds[~a] = fit_predict("logreg", X[a], y[a], X[~a])
    return uar(y, preds)


def test_generation_is_deterministic(tmp_path, synth_root):
    other = generate(tmp_path / "again", **SYNTH_OPTS)
    for rel in ("audio/spk01/spk01_angry_02.wav", "faces/spk04/spk04_sad_00.png"):
        assert (other / rel).read_bytes() == (synth_root / rel).read_bytes()


def test_manifest(synth_root):
    m = load_synthetic(synth_root, media="all", **SYNTH_OPTS)
    s = m.summary()
    assert s["speakers"] == 6 and s["speakers_by_gender"] == {"m": 3, "f": 3, "unknown": 0}
    assert s["media"] == {"audio": 144, "image": 144, "video": 36}
    assert set(s["emotions"]) == {"neutral", "happy", "sad", "angry", "fearful", "disgust"}


def test_speech_carries_emotion_gender_and_identity(synth_root):
    m = load_synthetic(synth_root, media="audio", **SYNTH_OPTS)
    X = pool([v for v in extract(m, "mfcc").values])
    spk = m["speaker"].to_numpy(dtype=object)
    items = m["item_id"].to_numpy(dtype=object)
    assert _cv_uar(X, m["emotion"].to_numpy(dtype=object), spk) > 0.5  # unseen speakers; chance 1/6
    assert _cv_uar(X, m["gender"].to_numpy(dtype=object), spk) > 0.8   # unseen speakers; chance 1/2
    assert _cv_uar(X, spk, items) > 0.6                                # other items; chance 1/6


def test_faces_carry_emotion_and_identity(synth_root):
    m = load_synthetic(synth_root, media="image", **SYNTH_OPTS)
    X = np.stack([read_image(p, "gray")[::2, ::2].reshape(-1) / 255.0 for p in m["path"]])
    spk = m["speaker"].to_numpy(dtype=object)
    assert _cv_uar(X, m["emotion"].to_numpy(dtype=object), spk) > 0.4
    assert _cv_uar(X, spk, m["item_id"].to_numpy(dtype=object)) > 0.6


def test_talking_face_video(synth_root):
    m = load_synthetic(synth_root, media="video", **SYNTH_OPTS)
    clip = read_video(m["path"].iloc[0])
    assert clip.frames.shape[1:] == (64, 64, 3) and clip.audio is not None and clip.sr == 16000
    assert abs(clip.duration - len(clip.audio) / clip.sr) < 0.3
    mouth = clip.frames[:, 44:56, 24:40].astype(float).mean(axis=(1, 2, 3))
    assert mouth.std() > 0.5  # the mouth moves with the speech
