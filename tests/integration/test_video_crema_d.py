"""`anonymize video` on the real CREMA-D talking-face clips (../shared/data/crema-d-sample): mediapipe
finds the face in every frame, pseudo_face (its pool: CK+48, other people) replaces it, McAdams the
voice; the clip keeps its timing, frame size and audio, and dlib no longer recognises the actor."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from privemo.anonymize import create_anonymizer
from privemo.anonymize.face_batch import fit_faces, pool_files
from privemo.anonymize.face_pseudo import PseudoFace
from privemo.anonymize.video import TrackerConfig, anonymize_video, detect_frames, fit_on_videos
from privemo.features.face import face_descriptors
from privemo.media import read_video
from tests.conftest import shared

pytestmark = pytest.mark.integration


def _crops(frames: np.ndarray, boxes: list[tuple[int, int, int, int]]) -> np.ndarray:
    import cv2

    return np.stack([cv2.resize(f[t:b, lf:r], (150, 150), interpolation=cv2.INTER_AREA)
                     for f, (t, lf, b, r) in zip(frames, boxes, strict=True)])


def test_crema_d_clips_keep_their_form_and_lose_the_actor(tmp_path):
    clips = sorted(shared("crema-d-sample", "VideoFlash").glob("*.flv"))[:2]
    pool = shared("ckplus48")
    files, subjects = pool_files(pool, "ckplus")
    face = PseudoFace(region="face", colour="mean")
    fit_faces(face, files, 64, subjects=subjects, crops=True)
    voice = create_anonymizer({"type": "mcadams"})
    fit_on_videos(face, voice, clips, fit_face=False)
    tracker = TrackerConfig(detector="mediapipe")
    originals, anonymized, boxes = [], [], []
    for clip in clips:
        src = tmp_path / clip.name
        shutil.copy(clip, src)
        dst = tmp_path / f"{clip.stem}_anon.mp4"
        stats = anonymize_video(src, dst, face, voice, key=clip.name, tracker=tracker)
        a, b = read_video(src), read_video(dst)
        assert b.frames.shape == a.frames.shape  # frame count (so duration at the same rate) and size
        assert abs(b.fps - a.fps) < 1e-3
        assert b.audio is not None and a.audio is not None
        assert abs(len(b.audio) / b.sr - len(a.audio) / a.sr) < 0.05
        assert stats.face_frames == stats.frames  # a tracked face in every frame
        assert stats.detected_frames == stats.detector_runs  # mediapipe found it in every frame it looked at
        dets = detect_frames(a.frames, TrackerConfig(detector="dlib"))
        picks = [f for f in range(0, len(a.frames), 6) if dets.get(f)]
        assert len(picks) >= 5
        originals.append(_crops(a.frames[picks], [dets[f][0] for f in picks]))
        anonymized.append(_crops(b.frames[picks], [dets[f][0] for f in picks]))
        boxes += picks
    orig = face_descriptors(np.concatenate(originals))
    anon = face_descriptors(np.concatenate(anonymized))
    centre = orig.mean(0)
    # dlib's own rule: the same person below a distance of 0.6
    assert np.mean(np.linalg.norm(orig - centre, axis=1) < 0.6) > 0.9
    assert np.mean(np.linalg.norm(anon - centre, axis=1) < 0.6) <= 0.1
