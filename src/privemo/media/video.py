"""Video in and out through PyAV (FFmpeg): frames at a requested fps plus the mono audio track."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from privemo._files import atomic_path
from privemo.errors import MediaError
from privemo.media._files import existing_file
from privemo.media.audio import decode_audio_stream, resample

MAX_FPS = 1000.0
MAX_FRAME_PIXELS = 8192 * 8192
MAX_VIDEO_BYTES = 8 * 2**30


@dataclass
class VideoClip:
    """Decoded video: ``frames`` (T, H, W, 3) uint8 at ``fps``; ``audio`` mono float32 at ``sr``."""

    frames: np.ndarray
    fps: float
    audio: np.ndarray | None
    sr: int | None

    @property
    def duration(self) -> float:
        return len(self.frames) / self.fps if self.fps else 0.0


def read_video(path: str | Path, fps: float | None = None, sr: int | None = 16000,
               with_audio: bool = True) -> VideoClip:
    """Decode ``path``; frames resampled in time to ``fps`` (``None`` keeps the stream's rate).

    Frames are picked by timestamp (nearest earlier frame), so any source rate maps onto any
    target rate. Raises :class:`MediaError` for a missing, unreadable or frameless file.
    """
    import av

    path = existing_file(path)
    try:
        container = av.open(str(path))
    except Exception as exc:
        raise MediaError(path, f"unreadable video: {exc}") from exc
    if fps is not None and not 0 < fps <= MAX_FPS:
        raise MediaError(path, f"cannot read at {fps} frames/s (more than 0, at most {MAX_FPS})")
    with container:
        if not container.streams.video:
            raise MediaError(path, "no video stream")
        vstream = container.streams.video[0]
        w, h = int(vstream.codec_context.width or 0), int(vstream.codec_context.height or 0)
        if w * h > MAX_FRAME_PIXELS:
            raise MediaError(path, f"{w}x{h} frames are larger than privemo reads (at most {MAX_FRAME_PIXELS} pixels)")
        src_fps = float(vstream.average_rate or vstream.guessed_rate or 25)
        if not 0 < src_fps <= MAX_FPS:
            src_fps = 25.0
        frames: list[np.ndarray] = []
        times: list[float] = []
        try:
            for frame in container.decode(vstream):
                if len(frames) * w * h * 3 > MAX_VIDEO_BYTES:
                    raise MediaError(path, f"longer than privemo decodes at once ({MAX_VIDEO_BYTES // 2**30} GiB of "
                                     "frames): cut it into clips")
                frames.append(frame.to_ndarray(format="rgb24"))
                times.append(float(frame.time) if frame.time is not None else len(times) / src_fps)
        except MediaError:
            raise
        except Exception as exc:
            if not frames:
                raise MediaError(path, f"corrupt video: {exc}") from exc
    if not frames:
        raise MediaError(path, "video has no frames")
    arr = np.stack(frames)
    out_fps = float(fps) if fps else src_fps
    if fps:
        t = np.asarray(times) - times[0]
        duration = t[-1] + 1.0 / src_fps
        want = np.arange(0.0, duration - 1e-9, 1.0 / out_fps)
        idx = np.clip(np.searchsorted(t, want + 1e-6, side="right") - 1, 0, len(arr) - 1)
        arr = arr[idx]
    audio, rate = (None, None)
    if with_audio:
        audio, rate = _read_audio_track(path, sr)
    return VideoClip(arr, out_fps, audio, rate)


def _read_audio_track(path: Path, sr: int | None) -> tuple[np.ndarray | None, int | None]:
    audio, rate = decode_audio_stream(path)
    if audio is None or rate is None:
        return None, None
    if sr and sr != rate:
        audio, rate = resample(audio, rate, sr), sr
    return audio, rate


# video codec, audio codec and the audio sample rates the audio codec takes, by container
CODECS = {
    ".mp4": ("libx264", "aac", None), ".m4v": ("libx264", "aac", None), ".mov": ("libx264", "aac", None),
    ".mkv": ("libx264", "aac", None), ".avi": ("mpeg4", "mp3", (16000, 22050, 24000, 32000, 44100, 48000)),
    ".flv": ("flv", "mp3", (22050, 44100)), ".webm": ("libvpx", "libopus", (48000,)),
}
VIDEO_SUFFIXES = tuple(CODECS) + (".mpg", ".mpeg", ".ts", ".wmv", ".ogv", ".3gp")


def write_video(path: str | Path, frames: np.ndarray, fps: float, audio: np.ndarray | None = None,
                sr: int | None = None, codec: str | None = None,
                bit_rate: int = 2_000_000) -> None:
    """Write ``frames`` (T, H, W[, 3]) uint8 and an optional mono audio track to ``path``, atomically.

    The codecs follow the container (:data:`CODECS`: H.264 + AAC for mp4 / mkv / mov, MPEG-4 + MP3
    for avi, FLV1 + MP3 for flv, VP8 + Opus for webm, which every browser plays); ``codec`` overrides
    the video codec. ``fps`` may be fractional (29.97). Odd frame sizes are padded by one pixel
    (yuv420p needs even sizes); audio is resampled where the audio codec needs another rate.
    """
    import av

    path = Path(path)
    vcodec, acodec, rates = CODECS.get(path.suffix.lower(), ("mpeg4", "aac", None))
    vcodec = codec or vcodec
    if audio is not None and sr and rates and sr not in rates:
        target = min(rates, key=lambda r: (r < sr, abs(r - sr)))
        audio, sr = resample(np.asarray(audio, dtype=np.float32), sr, target), target
    frames = np.asarray(frames)
    if frames.ndim == 3:
        frames = np.repeat(frames[..., None], 3, axis=3)
    if frames.ndim != 4 or frames.shape[0] == 0 or frames.shape[3] != 3:
        raise MediaError(path, f"expected frames of shape (T, H, W, 3), got {frames.shape}")
    if audio is not None and (sr is None or not np.all(np.isfinite(audio))):
        raise MediaError(path, "audio needs a sample rate and finite samples")
    if not (np.isfinite(fps) and 0 < fps <= MAX_FPS):
        raise MediaError(path, f"cannot write at {fps} frames/s (more than 0, at most {MAX_FPS})")
    h, w = frames.shape[1:3]
    ph, pw = h % 2, w % 2
    if ph or pw:
        frames = np.pad(frames, ((0, 0), (0, ph), (0, pw), (0, 0)), mode="edge")
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with atomic_path(path) as tmp, av.open(str(tmp), mode="w") as container:
            vs: Any = container.add_stream(vcodec, rate=Fraction(fps).limit_denominator(1001))
            vs.width, vs.height = frames.shape[2], frames.shape[1]
            vs.pix_fmt = "yuv420p"
            vs.bit_rate = bit_rate
            astream: Any = None
            if audio is not None:
                astream = container.add_stream(acodec, rate=int(sr or 0))
                astream.layout = "mono"
            for img in frames.astype(np.uint8):
                for pkt in vs.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(img), format="rgb24")):
                    container.mux(pkt)
            for pkt in vs.encode(None):
                container.mux(pkt)
            if astream is not None and audio is not None:
                samples = np.clip(np.asarray(audio, dtype=np.float32), -1, 1)[None, :]
                aframe = av.AudioFrame.from_ndarray(np.ascontiguousarray(samples), format="flt", layout="mono")
                aframe.sample_rate = int(sr)  # type: ignore[arg-type]
                aframe.pts = 0
                for pkt in astream.encode(aframe):
                    container.mux(pkt)
                for pkt in astream.encode(None):
                    container.mux(pkt)
    except MediaError:
        raise
    except Exception as exc:
        raise MediaError(path, f"cannot write video: {exc}") from exc
