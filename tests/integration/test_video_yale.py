"""Video anonymization on REAL faces: clips made from Yale photographs (the face moves across a larger
frame, with a sound track), anonymized by ``privemo anonymize video``; dlib must find and track the
faces, and must no longer identify them (it does on the originals)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.stats import binomtest
from typer.testing import CliRunner

from privemo.cli.main import app
from privemo.media import read_image, read_video, write_video
from tests.conftest import shared

pytestmark = pytest.mark.integration
cli = CliRunner()


def _clip(face: np.ndarray, n: int = 10, size: tuple[int, int] = (300, 420)) -> np.ndarray:
    """``n`` frames of a gray background with the face moving a few pixels per frame."""
    h, w = face.shape[:2]
    frames = np.empty((n, *size, 3), np.uint8)
    for i in range(n):
        frame = np.full((*size, 3), 120, np.uint8)
        top, left = 20 + 2 * i, 40 + 4 * i
        frame[top:top + h, left:left + w] = face
        frames[i] = frame
    return frames


def test_real_faces_tracked_and_not_identified(tmp_path):
    from privemo.attacks.face import identify_pretrained
    from privemo.features.face import align, face_descriptors

    root = shared("yalefaces")
    subjects = [f"subject{i:02d}" for i in range(1, 16)]
    sr = 16000
    t = np.arange(int(sr * 10 / 25)) / sr
    for k, s in enumerate(subjects):
        face = np.repeat(read_image(root / f"{s}.normal")[..., None], 3, axis=2)
        audio = (0.2 * np.sin(2 * np.pi * (120 + 10 * k) * t)).astype(np.float32)
        write_video(tmp_path / "in" / f"{s}.mp4", _clip(face), 25, audio, sr)
    res = cli.invoke(app, ["anonymize", "video", str(tmp_path / "in"), str(tmp_path / "out"), "--face",
                           "face_pixelate", "--voice", "mcadams", "--detect-every", "2"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.output[res.output.index("{"):])["frames_without_face"] == 0  # every frame tracked

    gallery, gallery_ids = [], []
    for s in subjects:  # the attacker's photographs: other conditions of the same people
        for cond in ("happy", "sad", "sleepy", "surprised"):
            chip, found = align(np.repeat(read_image(root / f"{s}.{cond}")[..., None], 3, axis=2), 150)
            if found:
                gallery.append(chip)
                gallery_ids.append(s)
    g = face_descriptors(np.stack(gallery))
    scores = {}
    for label in ("in", "out"):
        probes, ids = [], []
        for s in subjects:
            clip = read_video(tmp_path / label / f"{s}.mp4", sr=None)
            assert clip.frames.shape == (10, 300, 420, 3) and clip.audio is not None
            for frame in clip.frames[::3]:
                chip, _ = align(frame, 150)  # where dlib finds no face on the output, the centre crop
                probes.append(chip)
                ids.append(s)
        out = identify_pretrained(g, np.array(gallery_ids), face_descriptors(np.stack(probes)), np.array(ids))
        correct = round(out["acc"] * len(ids))
        scores[label] = (out["acc"], binomtest(correct, len(ids), 1 / 15, alternative="greater").pvalue)
    print("dlib accuracy, binomial p (original, anonymized):", scores)
    assert scores["in"][0] > 0.6  # dlib identifies the original faces
    assert scores["out"][1] > 0.05, scores  # ... and not the anonymized ones above chance (1/15)
    orig, anon = read_video(tmp_path / "in" / "subject01.mp4"), read_video(tmp_path / "out" / "subject01.mp4")
    diff = np.abs(orig.frames.astype(int) - anon.frames)
    assert diff[:, :18].mean() < 2 and diff[:, 285:].mean() < 2  # the background is kept (codec noise only)
    assert diff[:, 100:200, 150:300].mean() > 10  # the face is not
