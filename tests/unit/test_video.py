"""Video anonymization: face tracking, clips in and out (timing, size, audio), the CLI, containers."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from privemo.anonymize import create_anonymizer
from privemo.anonymize.face import create_face_anonymizer
from privemo.anonymize.video import (
    TrackerConfig,
    anonymize_frames,
    anonymize_video,
    anonymize_video_files,
    track,
)
from privemo.cli.main import app
from privemo.corpora import load
from privemo.errors import ConfigError, MediaError
from privemo.media import read_video, write_video

cli = CliRunner()


def test_tracker_bridges_gaps_smooths_and_separates_faces():
    cfg = TrackerConfig(max_gap=3, smooth=1)
    a, b = (10, 10, 50, 50), (10, 100, 50, 140)
    dets = {0: [a, b], 1: [a], 2: [], 3: [(12, 12, 52, 52), b], 4: [], 5: [], 6: [], 7: [], 8: [],
            9: [(10, 200, 50, 240)]}
    boxes = track(dets, 12, cfg)
    assert len(boxes[2]) == 2  # the gap of face a (frame 2) and of face b (frames 1-2) bridged
    assert all(abs(x - y) <= 2 for x, y in zip(boxes[2][0], a, strict=True))
    assert len(boxes[5]) == 2  # both held up to max_gap frames after their last detection (frame 3)
    assert len(boxes[7]) == 1 and boxes[7][0][1] > 150  # a and b gone; the far-away face of frame 9 is a new
    assert len(boxes[9]) == 1  # track, held max_gap frames before its first detection (privacy first)
    assert boxes[11] and len(boxes) == 12  # ... and to the end of the clip


def test_no_face_whole_frame_and_keep(synth_root):
    clip = read_video(load("synthetic", synth_root, media="video", n_speakers=6, items=4, videos=1,
                           seed=3)["path"].iloc[0], with_audio=False)
    face = create_face_anonymizer({"type": "face_pixelate", "block": 16})
    out = anonymize_frames(clip.frames, face, "k", TrackerConfig(), no_face="whole")
    assert out.shape == clip.frames.shape and out.dtype == np.uint8
    assert np.abs(out.astype(int) - clip.frames).mean() > 2  # drawn faces: no detection, whole frame anonymized
    kept = anonymize_frames(clip.frames, face, "k", TrackerConfig(), no_face="keep")
    assert np.array_equal(kept, clip.frames)


def test_paste_back_follows_the_tracked_box():
    frames = np.full((6, 80, 120, 3), 90, np.uint8)
    rng = np.random.default_rng(0)
    frames[:, 20:60, 40:80] = rng.integers(0, 255, (6, 40, 40, 3))
    boxes = [[(25, 45, 55, 75)]] * 6
    out = anonymize_frames(frames, create_face_anonymizer({"type": "face_blur", "sigma": 6}), "k", TrackerConfig(),
                           margin=0.1, boxes=boxes)
    assert np.array_equal(out[:, :, :30], frames[:, :, :30]) and np.array_equal(out[:, :, 95:], frames[:, :, 95:])
    assert np.abs(out[:, 30:50, 50:70].astype(int) - frames[:, 30:50, 50:70]).mean() > 20


@pytest.mark.parametrize("suffix", [".mp4", ".flv", ".avi", ".mkv"])
def test_clip_keeps_duration_size_and_audio(synth_root, tmp_path, suffix):
    src_mp4 = load("synthetic", synth_root, media="video", n_speakers=6, items=4, videos=1, seed=3)["path"].iloc[0]
    orig = read_video(src_mp4, sr=None)
    src = tmp_path / f"in{suffix}"
    write_video(src, orig.frames, orig.fps, orig.audio, orig.sr)
    before = read_video(src, sr=None)
    voice = create_anonymizer({"type": "mcadams"})
    stats = anonymize_video(src, tmp_path / f"out{suffix}", create_face_anonymizer("face_blur"), voice, "clip")
    after = read_video(tmp_path / f"out{suffix}", sr=None)  # PyAV reads it back
    assert after.frames.shape == before.frames.shape
    assert abs(after.duration - before.duration) <= 1 / before.fps + 1e-9
    assert after.audio is not None and abs(len(after.audio) / after.sr - len(before.audio) / before.sr) <= 1 / before.fps
    assert stats.frames == len(before.frames) and stats.audio and stats.whole_frames == stats.frames
    assert np.corrcoef(after.audio[: len(before.audio)][:8000], before.audio[:8000])[0, 1] < 0.95  # voice changed


def test_fractional_fps_and_webm(tmp_path):
    frames = np.random.default_rng(0).integers(0, 255, (30, 48, 64, 3)).astype(np.uint8)
    audio = (0.2 * np.sin(np.arange(16000) / 16000 * 2 * np.pi * 200)).astype(np.float32)
    for name in ("a.mp4", "a.webm"):
        write_video(tmp_path / name, frames, 29.97, audio, 16000)
        clip = read_video(tmp_path / name, sr=None)
        assert clip.frames.shape == frames.shape and abs(clip.fps - 29.97) < 0.01 and clip.audio is not None


def test_folder_resume_stamp_and_bad_file(synth_root, tmp_path):
    m = load("synthetic", synth_root, media="video", n_speakers=6, items=4, videos=1, seed=3)
    src = tmp_path / "in"
    for p in m["path"].iloc[:2]:
        (src / Path(p).parent.name).mkdir(parents=True, exist_ok=True)
        (src / Path(p).parent.name / Path(p).name).write_bytes(Path(p).read_bytes())
    (src / "broken.mp4").write_bytes(b"not a video")
    face, voice = create_face_anonymizer("face_pixelate"), create_anonymizer("mcadams")
    res = anonymize_video_files(face, voice, src, tmp_path / "out")
    assert res.written == 2 and len(res.failed) == 1 and "broken.mp4" in res.failed[0][0]
    t = res.totals()  # the batch's own wall time beside the clips' (one worker: at least their sum)
    assert t["elapsed_s"] >= sum(c["wall_s"] for c in res.clips) - 0.01 and t["elapsed_rtf"] >= t["rtf"] - 0.01
    assert not (tmp_path / "out" / "broken.mp4").exists()
    assert not [p for p in (tmp_path / "out").rglob(".*") if p.name != ".privemo-anonymizer.json"]  # no temp files
    again = anonymize_video_files(face, voice, src, tmp_path / "out")
    assert again.written == 0 and again.skipped == 2
    with pytest.raises(ConfigError, match="anonymized with"):
        anonymize_video_files(create_face_anonymizer("face_blur"), voice, src, tmp_path / "out")
    with pytest.raises(MediaError, match="broken.mp4"):
        anonymize_video_files(face, voice, src / "broken.mp4", tmp_path / "one.mp4", skip_bad=False)


def test_cli_anonymize_video(synth_root, tmp_path):
    src = load("synthetic", synth_root, media="video", n_speakers=6, items=4, videos=1, seed=3)["path"].iloc[3]
    out = tmp_path / "anon.mkv"
    res = cli.invoke(app, ["anonymize", "video", src, str(out), "--face", "face_blur", "-P", "sigma=5",
                           "--voice", "mcadams", "-p", "alpha=0.75", "--detect-every", "3", "--upsample", "0"])
    assert res.exit_code == 0, res.output
    totals = json.loads(res.output[res.output.index("{"):])
    assert totals["written"] == 1 and totals["frames"] > 0 and totals["rtf"] > 0
    a, b = read_video(src, sr=None), read_video(out, sr=None)
    assert a.frames.shape == b.frames.shape and abs(a.duration - b.duration) <= 1 / a.fps and b.audio is not None
    stamp = json.loads((tmp_path / ".anon.mkv.privemo-anonymizer.json").read_text())  # one file: its own stamp
    assert stamp["face"]["sigma"] == 5 and stamp["voice"]["alpha"] == 0.75
    assert stamp["tracker"]["upsample"] == 0 and stamp["tracker"]["detect_every"] == 3
    res = cli.invoke(app, ["anonymize", "video", src, str(tmp_path / "x.mp4"), "--face", "mcadams"])
    assert res.exit_code == 2 and "not a face anonymizer" in res.output


@pytest.mark.slow
def test_evaluate_video_end_to_end_resume_and_report_page(tmp_path):
    import yaml

    from privemo.experiments.store import read_results
    from tests.conftest import assert_report_page

    cfg = {"name": "t", "corpus": {"type": "synthetic", "root": str(tmp_path / "synth"),
                                   "options": {"media": "video", "n_speakers": 6, "items": 1, "videos": 1, "seed": 1}},
           "analysis_fps": 3, "face_size": 32, "detect": False, "folds": 3, "epochs": 2, "workers": 1,
           "emotion_features": "egemaps", "examples": 1, "fusion": {"tune": True},
           "methods": [{"name": "pix+mc", "face": {"type": "face_pixelate", "block": 16},
                        "voice": {"type": "mcadams"}}]}
    path = tmp_path / "video.yaml"
    path.write_text(yaml.safe_dump(cfg))
    out = tmp_path / "run"
    res = cli.invoke(app, ["evaluate", "video", str(path), "--out", str(out)])
    assert res.exit_code == 0, res.output
    rows = {r["method"]: r for r in read_results(out)}
    assert set(rows) == {"original", "pix+mc"}
    for r in rows.values():
        e = r["emotion"]
        assert all(0 <= e[k]["uar"] <= 1 for k in ("face_fer", "face_cnn", "voice", "fused", "fused_tuned"))
        assert e["fused"]["weight"] == 0.6 and len(e["weight_curve"]) == 11
        for k in ("dlib", "cnn_I", "cnn_II"):
            assert 0 <= r["face_id"][k]["clip"] <= 1 and 0 <= r["face_id"][k]["speaker"] <= 1
        assert 0 <= r["speaker"]["informed"]["speaker"] <= 1
    assert rows["original"]["speaker"]["similarity"]["r2"]["mean"] == pytest.approx(1.0, abs=1e-4)
    b = rows["pix+mc"]["batch"]
    assert b["clips"] == 36 and b["frames_per_s"] > 0 and b["rtf"] > 0 and b["whole_frames"] + b["face_frames"] == b["frames"]
    md = (out / "report.md").read_text()
    assert "ranade §5" in md and "| fused |" in md and "pix+mc (after)" in md
    info = assert_report_page(out / "report.html", min_tables=4)
    assert info["images"] >= 4 and sum(m["tag"] == "VIDEO" for m in info["media"]) == 2  # original + anonymized
    before = (out / "units" / "pix+mc.json").stat().st_mtime_ns
    res = cli.invoke(app, ["evaluate", "video", str(path), "--out", str(out)])  # resume: nothing redone
    assert res.exit_code == 0 and (out / "units" / "pix+mc.json").stat().st_mtime_ns == before
    cfg["folds"] = 2  # tuning the fusion weight needs inner folds: a clear error naming the file
    path.write_text(yaml.safe_dump(cfg))
    res = cli.invoke(app, ["evaluate", "video", str(path), "--out", str(tmp_path / "other")])
    assert res.exit_code == 2 and "folds >= 3" in res.output and "video.yaml" in res.output
    cfg["folds"], cfg["epochs"] = 3, 3  # another configuration in the same run folder is refused
    path.write_text(yaml.safe_dump(cfg))
    res = cli.invoke(app, ["evaluate", "video", str(path), "--out", str(out)])
    assert res.exit_code == 2 and "another configuration" in res.output and "shared.epochs" in res.output
    assert (out / "units" / "pix+mc.json").stat().st_mtime_ns == before  # refused: nothing dropped


def test_fusion_calibration_and_weight_choice():
    from privemo.evaluators.video import calibrate, temperature, tuned_weight

    rng = np.random.default_rng(0)
    y = rng.integers(0, 4, 200)
    voice = np.full((200, 4), 0.1)
    voice[np.arange(200), y] = 0.7  # right, moderately confident
    face = np.eye(4)[rng.integers(0, 4, 200)] * 0.97 + 0.01  # confidently wrong 3 times in 4
    t = temperature(y, face)
    assert t > 3 and calibrate(face, t).max() < 0.5  # an uninformative modality is flattened
    assert np.allclose(calibrate(face, np.inf), 0.25)  # ... or left out
    assert np.allclose(calibrate(voice, 1.0), voice / voice.sum(1, keepdims=True))
    w, curve = tuned_weight(y, face, voice)
    assert w < 0.5 and curve[0] == 1.0 and curve[-1] < 0.5  # the weight goes to the modality that knows
    w_cal, _ = tuned_weight(y, calibrate(face, t), voice)
    assert w_cal >= w  # once calibrated, the face may carry weight without overruling the voice


def test_tuned_fusion_never_sees_the_test_fold(tmp_path):
    from privemo.evaluators.video import Items, Models, VideoSide, emotion_figures
    from privemo.experiments.video.config import VideoEvalConfig

    rng = np.random.default_rng(0)
    spk = np.repeat([f"s{i}" for i in range(6)], 6)
    emo = np.tile(["happy", "sad", "angry"], 12)
    fold = np.repeat([0, 0, 1, 1, 2, 2], 6)
    items = Items(spk, np.repeat(["m", "f"] * 3, 6), emo, ["angry", "happy", "sad"], np.tile([True, False], 18),
                  fold, {f"s{i}": int(i // 2) for i in range(6)})
    n = len(spk)
    side = VideoSide(rng.integers(0, 255, (2 * n, 16, 16, 3)).astype(np.uint8), np.repeat(np.arange(n), 2),
                     rng.normal(size=(n, 128)), np.arange(n), rng.dirichlet(np.ones(7), 2 * n), np.zeros(2 * n, bool),
                     rng.normal(size=(n, 256)), rng.normal(size=(n, 88)), rng.normal(size=(n, 10)))
    cfg = VideoEvalConfig(name="t", corpus={"type": "synthetic"}, face_size=16, folds=3, epochs=1,
                          fusion={"tune": True}, methods=[{"name": "blur", "face": {"type": "face_blur"},
                                                           "voice": {"type": "original"}}])
    models = Models(cfg, items, side, tmp_path)
    seen = []
    real = models._predict

    def spy(side_, clips, without, x):
        seen.append((set(fold[clips].tolist()), without))
        return real(side_, clips, without, x)

    models._predict = spy  # type: ignore[method-assign]
    out = emotion_figures(models, side)
    assert set(out["fused_tuned"]["weights"]) == {"0", "1", "2"}
    for folds, without in seen:
        assert folds <= set(without)  # no clip is predicted by a model trained on its own fold
    _, val = models.emotion_probs(side)
    for f, v in val.items():  # each fold's weight is chosen on its training folds' clips only
        assert v["clips"].any() and not (v["clips"] & (fold == f)).any()
    assert {w for _, w in seen} == {(0,), (1,), (2,), (0, 1), (0, 2), (1, 2)}  # k outer + k(k-1)/2 inner models


def test_streamed_writing_equals_the_array_and_names_bad_frames(tmp_path):
    rng = np.random.default_rng(1)
    frames = rng.integers(0, 255, (12, 48, 64, 3)).astype(np.uint8)
    audio = (0.2 * np.sin(np.arange(8000) / 16000 * 2 * np.pi * 300)).astype(np.float32)
    write_video(tmp_path / "a.mp4", frames, 25, audio, 16000)
    write_video(tmp_path / "b.mp4", iter(list(frames)), 25, lambda: audio, 16000)  # frames and track as they come
    a, b = read_video(tmp_path / "a.mp4", sr=None), read_video(tmp_path / "b.mp4", sr=None)
    assert np.array_equal(a.frames, b.frames) and np.array_equal(a.audio, b.audio)
    bad = [frames[0], frames[1][:40]]
    with pytest.raises(MediaError, match="c.mp4.*different sizes"):
        write_video(tmp_path / "c.mp4", iter(bad), 25)
    assert not (tmp_path / "c.mp4").exists()

    def broken():  # the maker's own error comes through as it was, and nothing is left behind
        yield frames[0]
        raise ValueError("the face model failed")
    with pytest.raises(ValueError, match="face model failed"):
        write_video(tmp_path / "d.mp4", broken(), 25)
    with pytest.raises(MediaError, match="unknown x264 preset 'fastest'"):
        write_video(tmp_path / "e.mp4", frames, 25, preset="fastest")
    assert not list(tmp_path.glob("[cde]*")) and not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_fast_colour_paths_stay_within_a_few_levels(tmp_path):
    y, x = np.mgrid[0:48, 0:64]
    frames = np.stack([np.stack([(x * 4 + i) % 256, (y * 5) % 256, ((x + y) * 2) % 256], -1)
                       for i in range(8)]).astype(np.uint8)  # smooth colour ramps
    write_video(tmp_path / "exact.mp4", frames, 25, bit_rate=8_000_000)
    write_video(tmp_path / "fast.mp4", frames, 25, bit_rate=8_000_000, preset="ultrafast", threads=1)
    exact = read_video(tmp_path / "exact.mp4", with_audio=False).frames.astype(int)
    fast = read_video(tmp_path / "fast.mp4", with_audio=False).frames.astype(int)
    fast_in = read_video(tmp_path / "exact.mp4", with_audio=False, fast=True).frames.astype(int)
    assert np.abs(exact - frames).mean() < 4 and np.abs(fast - frames).mean() < 4
    assert np.abs(fast_in - exact).mean() < 2
    import privemo.media.video as mv  # without OpenCV (no face extra) the fast path keeps FFmpeg's conversions
    real = mv._opencv
    try:
        mv._opencv = lambda: None
        write_video(tmp_path / "plain.mp4", frames, 25, bit_rate=8_000_000, preset="ultrafast")
        plain_in = read_video(tmp_path / "exact.mp4", with_audio=False, fast=True).frames.astype(int)
    finally:
        mv._opencv = real
    assert np.array_equal(plain_in, exact)
    assert np.abs(read_video(tmp_path / "plain.mp4", with_audio=False).frames.astype(int) - frames).mean() < 4


def test_ahead_keeps_order_passes_errors_and_stops_with_its_reader():
    from privemo.anonymize.video import ahead

    assert list(ahead(iter(range(50)), depth=3)) == list(range(50))

    def failing():
        yield 1
        raise KeyError("made on the other thread")
    with pytest.raises(KeyError, match="other thread"):
        list(ahead(failing()))
    made = []

    def endless():
        i = 0
        while True:
            made.append(i)
            yield i
            i += 1
    reader = ahead(endless(), depth=2)
    assert next(reader) == 0
    reader.close()  # the thread is stopped and joined: nothing more is made
    n = len(made)
    import time
    time.sleep(0.3)
    assert len(made) == n <= 5


def test_detection_as_frames_decode_equals_detection_afterwards():
    from privemo.anonymize.video import FrameDetector, detect_frames

    rng = np.random.default_rng(2)
    frames = rng.integers(0, 255, (9, 40, 60, 3)).astype(np.uint8)
    frames[:, 10:30, 20:40] = 200
    cfg = TrackerConfig(detect_every=4)
    with FrameDetector(cfg) as det:
        for i, f in enumerate(frames):
            det.add(i, f)
        streamed = det.result(frames)
    assert sorted(streamed) == [0, 4, 8] and streamed == detect_frames(frames, cfg)
    with FrameDetector(TrackerConfig(detect_every=3)) as det:  # none handed over: the last frame too
        assert sorted(det.result(frames[:8])) == [0, 3, 6, 7]


def test_the_switch_interval_is_restored_after_clips_even_overlapping_ones():
    import sys

    from privemo.anonymize.video import _quick_switching

    before = sys.getswitchinterval()
    with _quick_switching():
        assert sys.getswitchinterval() < before
        with _quick_switching():
            pass
        assert sys.getswitchinterval() < before  # another clip still in progress
    assert sys.getswitchinterval() == before


def test_cli_encoder_preset_is_checked_before_work_and_used(synth_root, tmp_path):
    src = load("synthetic", synth_root, media="video", n_speakers=6, items=4, videos=1, seed=3)["path"].iloc[0]
    r = cli.invoke(app, ["anonymize", "video", str(src), str(tmp_path / "a.mp4"), "--preset", "fastest"])
    assert r.exit_code != 0 and "fastest" in r.output and not (tmp_path / "a.mp4").exists()
    for preset in ("ffmpeg", "veryfast"):
        out = tmp_path / f"{preset}.mp4"
        r = cli.invoke(app, ["anonymize", "video", str(src), str(out), "--preset", preset])
        assert r.exit_code == 0, r.output
        assert read_video(out, with_audio=False).frames.shape == read_video(src, with_audio=False).frames.shape
    with pytest.raises(ConfigError, match="unknown x264 preset"):
        anonymize_video_files(create_face_anonymizer("face_pixelate"), create_anonymizer("mcadams"), src,
                              tmp_path / "b.mp4", preset="nope")
    with pytest.raises(ConfigError, match="unknown x264 preset"):
        anonymize_video(src, tmp_path / "b.mp4", create_face_anonymizer("face_pixelate"), create_anonymizer("mcadams"),
                        preset="nope")
    assert not (tmp_path / "b.mp4").exists()
