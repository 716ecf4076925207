"""Issue 20: the attacker fine-tuned on anonymized speech never hears a test speaker, per-emotion
recall against brute force, the halves of the speakers, and the default anonymizer's contract."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from privemo.attacks import finetuned as ft
from privemo.attacks import verification as ver
from privemo.evaluators import voice as ev
from privemo.metrics import per_class_recall, recall_drops


def _items(n_spk=6, per=4, folds=3):
    spk = np.repeat([f"s{i}" for i in range(n_spk)], per)
    gender = np.where(np.repeat(np.arange(n_spk) % 2, per) == 0, "m", "f")
    emotion = np.tile(["happy", "sad"], n_spk * per // 2)
    groups = np.array([f"g{i}" for i in range(len(spk))])
    fold_of = {f"s{i}": i % folds for i in range(n_spk)}
    return ev.Items(spk, gender, emotion, ver.enrol_split(spk, groups, 0), np.array([fold_of[s] for s in spk]),
                    fold_of)


def test_the_fine_tuned_attacker_never_trains_on_a_test_speaker(monkeypatch):
    items = _items()
    rng = np.random.default_rng(0)
    # each clip's first mel value names it: we can see which clips a fine-tuning saw
    mels = [np.concatenate([np.full((1, 40), i, np.float32), rng.normal(size=(170, 40)).astype(np.float32)])
            for i in range(len(items.speaker))]
    seen = []
    real = ft.fine_tune

    def spy(m, speakers, cfg, seed, progress=None):
        seen.append(({int(x[0, 0]) for x in m}, set(speakers.tolist())))
        return real(m, speakers, cfg, seed, progress)

    monkeypatch.setattr(ft, "fine_tune", spy)
    out = ft.finetuned_attack(mels, items, ft.FineTune(steps=2, speakers=3, clips=2), 0)
    assert len(seen) == 3 and len(out["per_fold"]) == 3
    for f, (clips, speakers) in enumerate(seen):
        test = {s for s, k in items.fold_of.items() if k == f}
        assert speakers and not speakers & test
        assert {items.speaker[i] for i in clips} == speakers  # the clips are the training speakers' own
        assert out["per_fold"][f]["train_speakers"] == sorted(speakers)
        assert out["per_fold"][f]["loss_first"] is not None
    assert 0 <= out["eer_centroid"] <= 1 and 0 <= out["id_accuracy"] <= 1
    assert out["chance"] == pytest.approx(1 / 6)


def test_ge2e_loss_agrees_with_a_loop():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    e = torch.nn.functional.normalize(torch.from_numpy(rng.normal(size=(3, 4, 5))), dim=2)
    w, b = torch.tensor(10.0, dtype=e.dtype), torch.tensor(-5.0, dtype=e.dtype)
    total = 0.0
    for j in range(3):
        for i in range(4):
            logits = []
            for k in range(3):
                others = [e[k, m] for m in range(4) if not (k == j and m == i)]
                c = torch.stack(others).mean(0)
                logits.append(w * torch.dot(e[j, i], c / c.norm()) + b)
            total += float(-torch.log_softmax(torch.stack(logits), 0)[j])
    assert float(ft.ge2e_loss(e, w, b)) == pytest.approx(total / 12, rel=1e-6)


def test_fine_tune_settings_are_checked():
    for bad in ({"steps": -1}, {"speakers": 1}, {"clips": 1}, {"lr": 0}, {"steps": 1.5}):
        with pytest.raises(ValueError):
            ft.FineTune(**bad)


@settings(max_examples=80, deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 60), st.integers(2, 6))
def test_per_class_recall_agrees_with_brute_force(seed, n, k):
    rng = np.random.default_rng(seed)
    labels = [f"c{i}" for i in range(k)]
    y = rng.choice(labels, n)
    p = np.where(rng.random(n) < 0.5, y, rng.choice(labels, n))
    got = per_class_recall(y, p, labels)
    for c in labels:
        hits = [pi == c for yi, pi in zip(y, p, strict=True) if yi == c]
        if hits:
            assert got[c] == pytest.approx(sum(hits) / len(hits))
        else:
            assert got[c] != got[c]  # absent: NaN
    present = [got[c] for c in labels if got[c] == got[c]]
    from privemo.metrics import uar

    assert np.mean(present) == pytest.approx(uar(y, p, labels))


def test_recall_drops_flags_below_the_ratio_only():
    orig = {"sad": 0.6, "happy": 0.5, "calm": 0.0, "angry": 0.8}
    anon = {"sad": 0.01, "happy": 0.36, "calm": 0.0, "angry": 0.55}
    assert recall_drops(orig, anon, 0.7) == ["sad", "angry"]  # 0.36 >= 0.35; calm was never recognised


def test_halves_of_the_speakers_split_each_gender():
    from privemo.experiments.voice.runner import half_of_speakers

    spk = [f"a{i:02d}" for i in range(1, 13)]
    df = pd.DataFrame({"speaker": spk * 2, "gender": ["m" if i % 2 else "f" for i in range(1, 13)] * 2})
    even, odd = half_of_speakers(df, "even"), half_of_speakers(df, "odd")
    assert not even & odd and even | odd == set(spk) and len(even) == len(odd) == 6
    g = dict(zip(df["speaker"], df["gender"], strict=False))
    assert sorted(g[s] for s in even) == ["f"] * 3 + ["m"] * 3


def test_voice_config_refuses_bad_halves_and_fine_tuning():
    from pydantic import ValidationError

    from privemo.experiments.voice import VoiceEvalConfig

    base = {"name": "x", "corpus": {"type": "synthetic"}, "methods": [{"name": "m", "anonymizer": {"type": "mcadams"}}]}
    for bad in ({"speakers": "third"}, {"finetune": {"steps": -1}}, {"finetune": {"clips": 1}},
                {"finetune": {"lr": 1.0}}, {"finetune": {"epochs": 3}}, {"max_items_per_speaker": 0}):
        with pytest.raises(ValidationError):
            VoiceEvalConfig.model_validate({**base, **bad})
    assert VoiceEvalConfig.model_validate(base).finetune.steps > 0  # on unless turned off


def test_the_default_pseudo_speaker_is_deterministic_per_key_and_keeps_length_and_rate(tmp_path):
    from privemo.anonymize import Clip, create_anonymizer
    from privemo.anonymize.batch import folder_manifest
    from privemo.media import write_audio
    from tests.unit.test_anonymize import _voice

    for spk, f0 in (("a", 110.0), ("b", 210.0)):
        for i in range(2):
            write_audio(tmp_path / spk / f"{i}.wav", _voice(16000, 0.8, f0 * (1 + 0.05 * i), i), 16000)
    manifest = folder_manifest(sorted(tmp_path.rglob("*.wav")), tmp_path, "parent")
    an = create_anonymizer({"type": "pseudo_speaker"}).fit(manifest)  # the default setting
    for sr, seconds in ((16000, 0.9), (16000, 0.31), (22050, 0.5)):
        x = _voice(sr, seconds, 150.0, 3)
        y1, y2 = an.transform(Clip(x, sr, "a", "key1")), an.transform(Clip(x, sr, "a", "key1"))
        assert y1.sr == sr and len(y1.audio) == len(x)
        np.testing.assert_array_equal(y1.audio, y2.audio)  # the same key: the same pseudo-speaker
    x = _voice(16000, 0.9, 150.0, 3)
    other = an.transform(Clip(x, 16000, "a", "key2")).audio
    assert not np.allclose(other, an.transform(Clip(x, 16000, "a", "key1")).audio)  # another key: another voice


def test_listening_stats_catch_silence_clipping_and_buzz(tmp_path):
    from privemo.experiments.voice.report import audio_stats, listening_md
    from privemo.media import write_audio

    sr = 16000
    t = np.arange(sr) / sr
    speechlike = np.random.default_rng(0).normal(0, 0.1, sr) * (np.sin(2 * np.pi * 3 * t) > 0)
    cases = {"silence": np.zeros(sr), "clipped": np.clip(3 * np.sin(2 * np.pi * 200 * t), -1, 1),
             "buzz": 0.3 * np.sin(2 * np.pi * 100 * t), "speechlike": speechlike}
    for name, x in cases.items():
        write_audio(tmp_path / "examples" / name / "a.wav", x.astype(np.float32), sr)
    st = {n: audio_stats(tmp_path / "examples" / n / "a.wav") for n in cases}
    assert st["silence"]["silent_frames"] == 1.0 and st["silence"]["peak_dbfs"] < -100
    assert st["clipped"]["clipped"] > 0.3 and st["speechlike"]["clipped"] == 0.0
    assert st["buzz"]["top1pct_energy"] > 0.9 > st["speechlike"]["top1pct_energy"]
    assert 0.4 < st["speechlike"]["silent_frames"] < 0.6 and st["speechlike"]["seconds"] == pytest.approx(1.0)
    md = listening_md(tmp_path)
    assert md.count("| a |") == 4 and "Listening checks" in md


def test_the_fast_pseudo_speaker_sounds_like_the_full_one(tmp_path):
    """DIO decimated 4 x and a 512-point synthesis: the same voice within a few per cent."""
    from privemo.anonymize import Clip, create_anonymizer
    from privemo.anonymize.batch import folder_manifest
    from privemo.media import write_audio
    from tests.unit.test_anonymize import _voice

    for spk, f0 in (("a", 110.0), ("b", 210.0)):
        write_audio(tmp_path / spk / "0.wav", _voice(16000, 0.8, f0, 0), 16000)
    manifest = folder_manifest(sorted(tmp_path.rglob("*.wav")), tmp_path, "parent")
    full = create_anonymizer({"type": "pseudo_speaker", "codebook_k": 0}).fit(manifest)
    fast = create_anonymizer({"type": "pseudo_speaker", "codebook_k": 0, "f0_speed": 4, "synth_fft": 512}).fit(manifest)
    x = _voice(16000, 0.8, 130.0, 1)
    a, b = (an.transform(Clip(x, 16000, "a", "k")).audio for an in (full, fast))
    assert len(a) == len(b) == len(x)
    spec = [np.log(np.abs(np.fft.rfft(v)) + 1e-6) for v in (a, b)]
    assert np.corrcoef(*spec)[0, 1] > 0.9
    assert abs(np.std(a) - np.std(b)) < 0.1 * np.std(a)


@pytest.mark.parametrize("rate", [0.5, 0.8, 1.0, 1.25, 3.0])
def test_retime_keeps_the_frames_and_scales_the_speech(rate):
    from privemo.anonymize.pseudo_speaker import retime

    f0 = np.r_[np.zeros(20), np.full(50, 120.0), np.zeros(10), np.full(30, 130.0), np.zeros(40)]
    sp = np.tile(np.arange(150.0)[:, None] + 1, (1, 5))
    ap = np.full((150, 5), 0.5)
    g, s, a = retime(f0, sp, ap, rate, margin=0)
    assert g.shape == f0.shape and s.shape == sp.shape and a.shape == ap.shape
    v = np.flatnonzero(g > 0)
    span = v[-1] - v[0] + 1
    assert v[0] in (19, 20, 21)  # the speech starts where it started
    assert abs(span - min(90 / rate, 130)) <= 2  # spoken rate x faster, never past the clip's end
    assert np.all(np.isin(np.round(g[g > 0], 6), [120.0, 130.0]))  # within each voiced run F0 is its own
    assert np.all(np.diff(s[:, 0][20:20 + int(span)]) >= -1e-9)  # time runs forward


def test_speaker_level_gives_each_speaker_one_gain(tmp_path):
    """speaker_level: a speaker recorded 12 dB quieter comes out at the corpus level, and two clips
    of one speaker keep their difference in level."""
    from privemo.anonymize import Clip, create_anonymizer
    from privemo.anonymize.batch import folder_manifest
    from privemo.media import write_audio
    from tests.unit.test_anonymize import _voice

    for spk, f0, gain in (("a", 110.0, 1.0), ("b", 210.0, 0.25), ("c", 150.0, 0.5), ("d", 180.0, 1.0)):
        for i in range(2):
            write_audio(tmp_path / spk / f"{i}.wav", gain * _voice(16000, 0.8, f0 * (1 + 0.05 * i), i), 16000)
    manifest = folder_manifest(sorted(tmp_path.rglob("*.wav")), tmp_path, "parent")
    an = create_anonymizer({"type": "pseudo_speaker", "codebook_k": 0, "f0_jitter": 0.0, "speaker_level": True,
                            "unvoiced_eq": True}).fit(manifest)
    rms = lambda v: float(np.sqrt(np.mean(v ** 2)))  # noqa: E731
    x = _voice(16000, 0.8, 200.0, 5)
    loud_b = an.transform(Clip(0.25 * x, 16000, "b", "k")).audio
    quiet_b = an.transform(Clip(0.125 * x, 16000, "b", "k")).audio
    loud_a = an.transform(Clip(x, 16000, "a", "k")).audio
    assert 20 * np.log10(rms(loud_b) / rms(quiet_b)) == pytest.approx(6.02, abs=0.5)  # kept relative
    assert abs(20 * np.log10(rms(loud_b) / (0.25 * rms(x)))) > 3  # b's quiet recording raised
    assert np.max(np.abs(loud_a)) <= 0.99 and len(loud_a) == len(x)


def _bursts(sr: int, seconds: float, f0: float, on: float, off: float, seed: int) -> np.ndarray:
    """A voice in syllable-like bursts (``on`` s voiced, ``off`` s of faint noise): its speaking rate."""
    from tests.unit.test_anonymize import _voice

    x = _voice(sr, seconds, f0, seed)
    t = np.arange(len(x)) / sr
    gate = (np.mod(t - 0.1, on + off) < on) & (t >= 0.1) & (t < seconds - 0.2)
    return np.where(gate, x, 0.005 * np.random.default_rng(seed).standard_normal(len(x))).astype(np.float32)


def test_speaker_rate_moves_each_speaker_to_the_corpus_pace(tmp_path):
    """speaker_rate: a slow speaker's speech comes out faster and a fast one's slower, by one factor per
    speaker; the clip keeps its length; off, the timing is untouched."""
    from privemo.anonymize import Clip, create_anonymizer
    from privemo.anonymize._world import analyse
    from privemo.anonymize.batch import folder_manifest
    from privemo.anonymize.pseudo_speaker import speech_rate
    from privemo.media import write_audio

    pace = {"fast": (0.10, 0.06), "slow": (0.20, 0.12), "mid1": (0.14, 0.09), "mid2": (0.15, 0.08)}
    for spk, (on, off) in pace.items():
        for i in range(2):
            write_audio(tmp_path / spk / f"{i}.wav", _bursts(16000, 1.6, 140.0 + 10 * i, on, off, i), 16000)
    manifest = folder_manifest(sorted(tmp_path.rglob("*.wav")), tmp_path, "parent")
    params = {"type": "pseudo_speaker", "codebook_k": 0, "f0_jitter": 0.0, "warp_jitter": 0.0}
    an = create_anonymizer({**params, "speaker_rate": True}).fit(manifest)
    assert an.speakers_["slow"]["tempo"] > 1.2 > 1 / 1.2 > an.speakers_["fast"]["tempo"]
    rate = lambda v: speech_rate(analyse(v, 16000, 10.0)[0])  # noqa: E731
    x = _bursts(16000, 1.6, 150.0, *pace["slow"], 7)
    out = an.transform(Clip(x, 16000, "slow", "k")).audio
    assert len(out) == len(x)
    assert rate(out) > 1.2 * rate(x)  # the slow speaker now speaks faster
    plain = create_anonymizer(params).fit(manifest).transform(Clip(x, 16000, "slow", "k")).audio
    assert rate(plain) == pytest.approx(rate(x), rel=0.1)
    assert "tempo" in an.speakers_["fast"] and an.speakers_["mid1"]["tempo"] == pytest.approx(1.0, abs=0.3)


def test_id_groups_names_what_still_carries_the_speaker():
    """The per-group identifier finds the one group that carries the speaker (alone: high; every
    feature without it: near chance), and the voice report shows the groups."""
    from privemo.attacks.voice import id_groups
    from privemo.evaluators.voice import Items, Side
    from privemo.experiments.voice.report import markdown
    from privemo.features.extractors import egemaps_names

    names = egemaps_names()
    rng = np.random.default_rng(0)
    who = np.repeat(np.arange(6), 10)
    spk = np.array([f"s{i}" for i in who])
    X = rng.normal(0, 1, (60, len(names)))
    formants = [i for i, n in enumerate(names) if n.startswith(("F1", "F2", "F3"))]
    X[:, formants] += rng.normal(0, 3, (6, len(formants)))[who]
    items = Items(spk, np.where(who < 3, "m", "f"), np.tile(["happy", "sad"], 30), np.tile([True] * 5 + [False] * 5, 6),
                  who % 3, {f"s{i}": i % 3 for i in range(6)})
    out = id_groups(Side(np.zeros((60, 4)), X, np.zeros((60, 2))), items, names, 0)
    g = out["groups"]
    assert g["formants"]["n"] == 18 and sum(v["n"] for v in g.values()) == len(names)
    assert out["all"] > 0.8 and g["formants"]["alone"] > 0.9 and g["formants"]["without"] < 0.5
    assert all(v["alone"] < 0.5 for k, v in g.items() if k != "formants")
    md = markdown([{"method": "original", "n_items": 60, "n_speakers": 6, "id_groups": out}])
    assert "What still names the speaker" in md and f"{100 * g['formants']['alone']:.1f}%" in md
