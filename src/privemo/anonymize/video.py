"""Anonymize video clips with sound: every face in every frame and the voice in the audio track.

Per clip: the frames are decoded at the source rate (or a chosen ``fps``), faces are found by a face
front-end (dlib's HOG detector or MediaPipe's BlazeFace, :mod:`privemo.features.frontend`; on a copy
scaled down to ``detect_width`` pixels, every ``detect_every``-th frame) and
**tracked** (detections linked across frames by overlap, gaps of up to ``max_gap`` frames bridged by
interpolation, boxes smoothed over time so that the anonymized region does not jitter); each tracked
face is anonymized with any registered face anonymizer and pasted back with a soft edge
(:func:`privemo.anonymize.face_batch.anonymize_image`); a frame with no tracked face is handled by
``no_face`` ("whole": the whole frame is anonymized, privacy first; "keep": left as it is). The
audio track is anonymized with any registered voice anonymizer (at 16 kHz, then back to the track's
own rate). The output keeps the frame count and rate (so the duration), the frame size and an audio
track of the same length. The clip's key (its relative path) seeds every random draw, so a
PPRL-VGAN replacement identity stays the same through a clip.

Speed: within a clip the work overlaps (the result is the same as done one step after another):
the audio track is decoded and anonymized on a thread of its own; the front-end starts on each frame
as it is decoded (mediapipe on two threads, a graph each); each frame's faces are made on a thread
while the frame before is encoded; the encoder is x264 ``ultrafast`` on one thread with OpenCV's
colour conversions (``preset=None``: FFmpeg's and x264's defaults).

A folder is processed file by file into the same layout; a clip whose output exists is not redone
(resume), a stamp records both anonymizers' configuration, and each output is written to a temporary
name and renamed.
"""

from __future__ import annotations

import os
import queue
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from privemo.anonymize.base import Clip, VoiceAnonymizer
from privemo.anonymize.batch import check_stamp, destinations, record_unit, shipped, spill
from privemo.anonymize.face import FaceAnonymizer
from privemo.anonymize.face_batch import anonymize_image, frontend_spec
from privemo.errors import ConfigError, PrivemoError
from privemo.executors import Executor, LocalExecutor
from privemo.media import read_video, resample, write_video
from privemo.media._files import media_files
from privemo.media.video import CODECS, VIDEO_SUFFIXES, preset_problem, read_audio_track

Box = tuple[int, int, int, int]  # top, left, bottom, right
T = TypeVar("T")
FAST_PRESET = "ultrafast"  # the encoder's default: x264's fastest, with OpenCV's colour conversions
DETECT_THREADS = 2  # threads a front-end that runs in parallel (mediapipe) detects on


@dataclass
class TrackerConfig:
    """How faces are found and followed through a clip."""

    detect_every: int = 1  # run the detector on every k-th frame; boxes in between are interpolated
    detect_width: int = 320  # frames wider than this are scaled down for dlib's detection (speed; mediapipe scales itself)
    upsample: int = 1  # dlib's detector upsampling (1 finds faces down to about 40 px at detect_width)
    detector: str = "dlib"  # the face front-end (a registered face_detector: dlib, mediapipe)
    max_gap: int = 12  # frames without a detection that a track bridges (or holds at its ends)
    smooth: int = 2  # boxes are averaged over +- this many frames
    min_iou: float = 0.2  # a detection continues the track it overlaps at least this much


def _iou(a: Box, b: Box) -> float:
    t, lf, bt, r = max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3])
    inter = max(0, bt - t) * max(0, r - lf)
    area = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / area if area > 0 else 0.0


class FrameDetector:
    """The face front-end run on every ``detect_every``-th frame (and the last) as frames are handed
    to it, on ``DETECT_THREADS`` threads where the front-end runs in parallel (mediapipe); each
    frame's boxes alone, so the same on any thread. Use as a context manager."""

    def __init__(self, cfg: TrackerConfig) -> None:
        from privemo.features.frontend import get_frontend

        self.cfg, self.frontend = cfg, get_frontend(frontend_spec(cfg.detector, cfg.upsample))
        self.pool = ThreadPoolExecutor(DETECT_THREADS if self.frontend.threads_parallel else 1)
        self.jobs: dict[int, Future[list[Box]]] = {}

    def __enter__(self) -> FrameDetector:
        return self

    def __exit__(self, *exc: object) -> None:
        for job in self.jobs.values():
            job.cancel()
        self.pool.shutdown(wait=True)

    def _detect(self, frame: np.ndarray) -> list[Box]:
        import cv2

        h, w = frame.shape[:2]
        scale = 1.0 if self.frontend.fixed_input else min(1.0, self.cfg.detect_width / w)
        img = frame if scale == 1.0 else cv2.resize(frame, (round(w * scale), round(h * scale)),
                                                    interpolation=cv2.INTER_AREA)
        return [(int(t / scale), int(lf / scale), min(h, int(np.ceil(b / scale))), min(w, int(np.ceil(r / scale))))
                for t, lf, b, r in self.frontend.detect(img)]

    def add(self, i: int, frame: np.ndarray) -> None:
        """Frame ``i`` has been decoded (started now if the detector runs on it)."""
        if i % max(1, self.cfg.detect_every) == 0 and i not in self.jobs:
            self.jobs[i] = self.pool.submit(self._detect, frame)

    def result(self, frames: np.ndarray) -> dict[int, list[Box]]:
        """Boxes of every detected frame of the clip ``frames`` (those not yet handed over, and the last)."""
        n = len(frames)
        for i in range(0, n, max(1, self.cfg.detect_every)):
            self.add(i, frames[i])
        if n and n - 1 not in self.jobs:
            self.jobs[n - 1] = self.pool.submit(self._detect, frames[n - 1])
        return {i: self.jobs[i].result() for i in sorted(self.jobs)}


def detect_frames(frames: np.ndarray, cfg: TrackerConfig) -> dict[int, list[Box]]:
    """Detector boxes (in full-frame pixels) on every ``detect_every``-th frame (and the last)."""
    with FrameDetector(cfg) as detector:
        return detector.result(frames)


def track(detections: dict[int, list[Box]], n_frames: int, cfg: TrackerConfig) -> list[list[Box]]:
    """Per frame, the boxes of every face track alive there (see the module's description)."""
    tracks: list[dict[int, Box]] = []
    for f in sorted(detections):
        free = list(range(len(tracks)))
        for box in sorted(detections[f], key=lambda b: -(b[2] - b[0]) * (b[3] - b[1])):
            best, best_iou = None, cfg.min_iou
            for i in free:
                last = max(tracks[i])
                if f - last <= cfg.max_gap + max(1, cfg.detect_every):
                    iou = _iou(tracks[i][last], box)
                    if iou >= best_iou:
                        best, best_iou = i, iou
            if best is None:
                tracks.append({f: box})
            else:
                tracks[best][f] = box
                free.remove(best)
    per_frame: list[list[Box]] = [[] for _ in range(n_frames)]
    bridge = cfg.max_gap + max(1, cfg.detect_every)
    for tr in tracks:
        keys = np.array(sorted(tr))
        boxes = np.array([tr[k] for k in keys], dtype=float)
        frames = np.arange(max(0, keys[0] - cfg.max_gap), min(n_frames, keys[-1] + cfg.max_gap + 1))
        pos = np.searchsorted(keys, frames)
        nxt, prv = np.clip(pos, 0, len(keys) - 1), np.clip(pos - 1, 0, len(keys) - 1)
        gap = np.where((pos > 0) & (pos < len(keys)), keys[nxt] - keys[prv], 0)
        alive = gap <= bridge
        interp = np.stack([np.interp(frames, keys, boxes[:, j]) for j in range(4)], axis=1)
        if cfg.smooth > 0 and len(interp) > 1:
            k = np.ones(2 * cfg.smooth + 1) / (2 * cfg.smooth + 1)
            padded = np.pad(interp, ((cfg.smooth, cfg.smooth), (0, 0)), mode="edge")
            interp = np.stack([np.convolve(padded[:, j], k, mode="valid") for j in range(4)], axis=1)
        for f, box, ok in zip(frames, interp, alive, strict=True):
            if ok:
                per_frame[int(f)].append(tuple(int(round(v)) for v in box))  # type: ignore[arg-type]
    return per_frame


@dataclass
class ClipStats:
    """What anonymizing one clip did and cost (seconds of wall time per stage)."""

    frames: int = 0
    fps: float = 0.0
    duration_s: float = 0.0
    width: int = 0
    height: int = 0
    audio: bool = False
    detector_runs: int = 0  # frames the detector ran on (every detect_every-th)
    detected_frames: int = 0  # of those, frames where it found a face
    face_frames: int = 0  # frames with a tracked face (detected or bridged)
    whole_frames: int = 0  # frames anonymized as a whole (no face, no_face="whole")
    decode_s: float = 0.0
    detect_s: float = 0.0
    face_s: float = 0.0
    voice_s: float = 0.0  # runs beside decoding and detection, on a thread of its own
    encode_s: float = 0.0
    wall_s: float = 0.0  # the whole clip, start to written file (less than the stages' sum)

    def as_dict(self) -> dict[str, Any]:
        return {k: round(v, 4) if isinstance(v, float) else v for k, v in asdict(self).items()}


def find_faces(frames: np.ndarray, tracker: TrackerConfig, stats: ClipStats | None = None,
               detector: FrameDetector | None = None) -> list[list[Box]]:
    """Per frame, the boxes of the tracked faces (detection, then tracking); ``detector``: one
    already given some of the frames as they decoded."""
    stats = stats if stats is not None else ClipStats()
    t0 = time.perf_counter()
    if detector is None:
        dets = detect_frames(frames, tracker)
    else:
        dets = detector.result(frames)
    boxes = track(dets, len(frames), tracker)
    stats.detect_s += time.perf_counter() - t0
    stats.detector_runs = len(dets)
    stats.detected_frames = sum(1 for b in dets.values() if b)
    return boxes


def _anonymized(frames: np.ndarray, boxes: list[list[Box]], face: FaceAnonymizer, key: str, margin: float,
                no_face: str, stats: ClipStats) -> Iterator[np.ndarray]:
    for frame, fb in zip(frames, boxes, strict=True):
        t0 = time.perf_counter()
        out, _ = anonymize_image(face, frame, key, margin, no_face, boxes=fb)
        stats.face_frames += bool(fb)
        stats.whole_frames += (not fb) and no_face == "whole"
        stats.face_s += time.perf_counter() - t0
        yield out


def anonymize_frames(frames: np.ndarray, face: FaceAnonymizer, key: str, tracker: TrackerConfig,
                     margin: float = 0.25, no_face: str = "whole", stats: ClipStats | None = None,
                     boxes: list[list[Box]] | None = None) -> np.ndarray:
    """Every frame with its tracked faces anonymized (same shape and dtype)."""
    stats = stats if stats is not None else ClipStats()
    boxes = find_faces(frames, tracker, stats) if boxes is None else boxes
    out = np.empty_like(frames)
    for i, img in enumerate(_anonymized(frames, boxes, face, key, margin, no_face, stats)):
        out[i] = img
    return out


def ahead(items: Iterator[T], depth: int = 8) -> Iterator[T]:
    """``items`` made on a thread of their own, up to ``depth`` ahead of the reader (in order; an
    error there is raised here; a reader that stops early stops the thread)."""
    q: queue.Queue[tuple[str, Any]] = queue.Queue(depth)
    stop = threading.Event()

    def put(item: tuple[str, Any]) -> bool:
        while not stop.is_set():
            try:
                q.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def make() -> None:
        try:
            for item in items:
                if not put(("item", item)):
                    return
            put(("end", None))
        except BaseException as exc:  # handed to the reader
            put(("error", exc))

    worker = threading.Thread(target=make, daemon=True)
    worker.start()
    try:
        while True:
            kind, value = q.get()
            if kind == "end":
                return
            if kind == "error":
                raise value
            yield value
    finally:
        stop.set()
        worker.join()


def anonymize_track(audio: np.ndarray, sr: int, voice: VoiceAnonymizer, key: str, speaker: str | None = None,
                    work_sr: int = 16000) -> np.ndarray:
    """The audio track anonymized at ``work_sr`` and returned at ``sr``, same length."""
    x = resample(audio, sr, work_sr) if sr != work_sr else audio
    y = voice.transform(Clip(np.asarray(x, dtype=np.float32), work_sr, speaker, key)).audio
    y = resample(y, work_sr, sr) if sr != work_sr else y
    y = y[: len(audio)] if len(y) >= len(audio) else np.pad(y, (0, len(audio) - len(y)))
    return np.clip(y, -1.0, 1.0).astype(np.float32)


_SWITCHING: list[float] = []  # the interpreter's switch interval before the first clip in progress
_SWITCHING_LOCK = threading.Lock()


@contextmanager
def _quick_switching(interval: float = 0.0005) -> Iterator[None]:
    """The interpreter hands its lock between threads every ``interval`` s (default 5 ms) while a clip
    is in progress: the encoder, which takes the lock back after each frame, then waits less for the
    thread making faces. Restored when the last clip ends."""
    with _SWITCHING_LOCK:
        _SWITCHING.append(sys.getswitchinterval())
        sys.setswitchinterval(min(interval, _SWITCHING[0]))
    try:
        yield
    finally:
        with _SWITCHING_LOCK:
            first = _SWITCHING[0]
            _SWITCHING.pop()
            if not _SWITCHING:
                sys.setswitchinterval(first)


def anonymize_video(src: str | Path, dst: str | Path, face: FaceAnonymizer, voice: VoiceAnonymizer, key: str = "",
                    speaker: str | None = None, fps: float | None = None, tracker: TrackerConfig | None = None,
                    margin: float = 0.25, no_face: str = "whole", preset: str | None = FAST_PRESET) -> ClipStats:
    """Anonymize one clip into ``dst`` (written atomically); the fitted anonymizers are used as they are.
    ``preset``: x264's (for mp4 / mkv / mov outputs), with OpenCV's colour conversions on the way in
    and out (see :func:`read_video` and :func:`write_video`); ``None``: FFmpeg's and x264's defaults."""
    if no_face not in ("whole", "keep"):
        raise ConfigError(f"no_face must be whole or keep for video, got {no_face!r}")
    if preset_problem(preset):
        raise ConfigError(preset_problem(preset))
    tracker = tracker or TrackerConfig()
    stats = ClipStats()
    start = time.perf_counter()
    src = Path(src)

    def voice_track() -> tuple[np.ndarray, int] | None:
        audio, sr = read_audio_track(src)
        if audio is None or not sr or not len(audio):
            return None
        t0 = time.perf_counter()
        out = anonymize_track(audio, sr, voice, key, speaker)
        stats.voice_s, stats.audio = time.perf_counter() - t0, True
        return out, sr

    # overlapping streams, the output the same as one after the other: the audio track decoded and
    # anonymized on a thread of its own (it does not depend on the frames); the face front-end started
    # on each frame as it decodes (mediapipe on two threads); then each frame anonymized on a thread
    # while the one before it is encoded here (numpy, OpenCV, torch, the front-ends, the decoder and
    # the encoder release the interpreter lock in their inner loops)
    with _quick_switching(), ThreadPoolExecutor(1) as pool, FrameDetector(tracker) as detector:
        audio_job = pool.submit(voice_track)
        t0 = time.perf_counter()
        clip = read_video(src, fps=fps, sr=None, with_audio=False, on_frame=None if fps else detector.add,
                          fast=preset is not None)
        stats.decode_s = time.perf_counter() - t0
        stats.frames, stats.fps, stats.duration_s = len(clip.frames), clip.fps, clip.duration
        stats.height, stats.width = clip.frames.shape[1:3]
        boxes = find_faces(clip.frames, tracker, stats, detector)
        frames = clip.frames[..., :3] if clip.frames.ndim == 4 else clip.frames
        voiced = audio_job.result()  # its error, if any, comes here: before the output is begun
        t0 = time.perf_counter()
        write_video(dst, ahead(_anonymized(frames, boxes, face, key, margin, no_face, stats)), clip.fps,
                    None if voiced is None else voiced[0], None if voiced is None else voiced[1], preset=preset,
                    threads=1)  # the faces are made on another thread meanwhile
    # the encoder's own share: its wall time less the faces made meanwhile (they overlap)
    stats.encode_s = max(0.0, time.perf_counter() - t0 - stats.face_s)
    stats.wall_s = time.perf_counter() - start
    return stats


def video_files(path: Path) -> tuple[list[Path], Path]:
    """The video files under ``path`` (a file or a folder, recursively) and their common root."""
    return media_files(path, VIDEO_SUFFIXES, "videos")


def output_path(src: Path, root: Path, out_dir: Path) -> Path:
    rel = src.relative_to(root) if src.is_relative_to(root) else Path(src.name)
    return out_dir / (rel if rel.suffix.lower() in CODECS else rel.with_suffix(".mp4"))


@dataclass
class VideoBatchResult:
    written: int = 0
    skipped: int = 0  # already there (resume)
    failed: list[tuple[str, str]] = field(default_factory=list)
    clips: list[dict[str, Any]] = field(default_factory=list)  # ClipStats of each clip written
    elapsed_s: float = 0.0  # the batch's own wall time (several workers: less than the clips' sum)

    def totals(self) -> dict[str, Any]:
        t = clip_totals(self.clips)
        media = t["media_s"]
        return {"written": self.written, "skipped": self.skipped, "failed": len(self.failed),
                **{k: t[k] for k in ("frames", "media_s", "seconds", "frames_per_s", "rtf", "detect_s")},
                "elapsed_s": round(self.elapsed_s, 2),
                "elapsed_rtf": round(self.elapsed_s / media, 3) if media and self.elapsed_s else None,
                "frames_without_face": t["frames"] - t["face_frames"]}


STAGES = ("decode_s", "detect_s", "face_s", "voice_s", "encode_s")


def clip_totals(clips: list[dict[str, Any]]) -> dict[str, Any]:
    """Frames, media seconds, wall seconds per stage and in all, frames/s and RTF of clips' stats."""
    frames = sum(c["frames"] for c in clips)
    media = sum(c["duration_s"] for c in clips)
    stages = {k: sum(c[k] for c in clips) for k in STAGES}
    # wall time (the voice overlaps the faces); stats written before wall_s existed: the stages' sum
    total = sum(c.get("wall_s") or sum(c[k] for k in STAGES) for c in clips)
    return {"clips": len(clips), "frames": frames, "media_s": round(media, 2), "seconds": round(total, 2),
            "frames_per_s": round(frames / total, 2) if total else None, "rtf": round(total / media, 3) if media else None,
            **{k: round(v, 2) for k, v in stages.items()},
            "face_frames": sum(c["face_frames"] for c in clips), "whole_frames": sum(c["whole_frames"] for c in clips)}


class VideoStamp:
    """The stamp's configuration: both anonymizers and how faces are found and pasted."""

    def __init__(self, face: FaceAnonymizer, voice: VoiceAnonymizer, fps: float | None, tracker: TrackerConfig,
                 margin: float, no_face: str) -> None:
        self.cfg = {"face": face.config(), "voice": voice.config(), "fps": fps, "tracker": asdict(tracker),
                    "margin": margin, "no_face": no_face}

    def config(self) -> dict[str, Any]:
        return self.cfg


def _video_unit(shared: tuple[FaceAnonymizer, VoiceAnonymizer, float | None, TrackerConfig, float, str, str | None],
                item: tuple[str, str | bytes, str, str, str | None]) -> tuple[str, bytes | None, dict[str, Any], str | None]:
    """One clip, on any worker: (source label, its media as a path or bytes, output suffix, key,
    speaker) -> (label, the output file's bytes, its ClipStats, error)."""
    face, voice, fps, tracker, margin, no_face, preset = shared
    label, media, suffix, key, speaker = item
    with tempfile.TemporaryDirectory(prefix="privemo-unit-") as tmp:
        src = media if isinstance(media, str) else spill(tmp, label, media)
        out = Path(tmp) / f"out{suffix}"
        try:
            stats = anonymize_video(src, out, face, voice, key, speaker, fps, tracker, margin, no_face, preset)
            return label, out.read_bytes(), stats.as_dict(), None
        except (PrivemoError, OSError, ValueError) as exc:
            return label, None, {}, str(exc).replace(str(src), label).replace(str(out), label)


def anonymize_video_files(face: FaceAnonymizer, voice: VoiceAnonymizer, src: str | Path, out: str | Path,
                          fps: float | None = None, tracker: TrackerConfig | None = None, margin: float = 0.25,
                          no_face: str = "whole", speaker_from: str = "none", skip_bad: bool = True,
                          progress: Callable[..., None] | None = None,
                          executor: Executor | None = None, preset: str | None = FAST_PRESET) -> VideoBatchResult:
    """Anonymize a file (``out`` the output file, or a folder to put it in) or a folder (``out`` a
    folder; layout and names kept), on ``executor`` (default: this process); each output is written
    here as it comes back. Both anonymizers must already be fitted where they learn. ``preset``: the
    encoder's (see :func:`anonymize_video`)."""
    tracker = tracker or TrackerConfig()
    executor = executor or LocalExecutor(1)
    src, out = Path(src), Path(out)
    files, root = video_files(src)
    out_dir, dst = destinations(src, out, files, root, output_path)
    check_stamp(out_dir, VideoStamp(face, voice, fps, tracker, margin, no_face), dst, single=src.is_file())
    result = VideoBatchResult()
    todo = [(p, d) for p, d in zip(files, dst, strict=True) if not d.is_file()]
    result.skipped = len(files) - len(todo)
    dst_of = {str(p): d for p, d in todo}
    done = result.skipped
    items = ((str(p), shipped(str(p), executor), d.suffix.lower(),
              str(p.relative_to(root)) if p.is_relative_to(root) else p.name,
              p.parent.name if speaker_from == "parent" else None) for p, d in todo)
    start = time.perf_counter()
    if preset_problem(preset):  # before any work
        raise ConfigError(preset_problem(preset))
    shared = (face, voice, fps, tracker, margin, no_face, preset)
    for label, data, stats, err in executor.imap(_video_unit, shared, items):
        result.elapsed_s = time.perf_counter() - start
        done += 1
        if record_unit(dst_of[label], label, data, err, result.failed, skip_bad):
            result.written += 1
            result.clips.append({"file": label, **stats})
        if progress:
            t = result.totals()
            progress(done, len(files), f"{t['frames_per_s']} frames/s" if t["frames_per_s"] else "")
    return result


def fit_on_videos(face: FaceAnonymizer, voice: VoiceAnonymizer, files: list[Path], every: int = 10, size: int = 64,
                  speaker_from: str = "none", progress: Callable[[int, int], None] | None = None,
                  fit_face: bool = True) -> None:
    """Fit learning anonymizers on clips: the face anonymizer on aligned face crops of every
    ``every``-th frame (unless ``fit_face`` is False: fitted already, as pseudo_face must be on other
    people's faces), the voice anonymizer on the audio tracks."""
    from privemo.anonymize.batch import folder_manifest
    from privemo.anonymize.face import FaceAutoencoder
    from privemo.features.face import align

    if fit_face and isinstance(face, FaceAutoencoder):
        crops: list[np.ndarray] = []
        frames_: list[np.ndarray] = []
        for i, p in enumerate(files):
            clip = read_video(p, with_audio=False)
            for frame in clip.frames[::every]:
                chip, found = align(frame, size)
                (crops if found else frames_).append(chip)
            if progress:
                progress(i + 1, len(files))
        # no face anywhere: frames are anonymized whole (no_face="whole"), so it learns whole frames
        face.fit(np.stack(crops or frames_))
    elif fit_face:
        face.fit([])
    voice.fit(folder_manifest(files, Path(os.path.commonpath([str(p.parent) for p in files])), speaker_from))
