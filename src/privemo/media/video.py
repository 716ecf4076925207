"""Video in and out through PyAV (FFmpeg): frames at a requested fps plus the mono audio track."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator
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
               with_audio: bool = True, on_frame: Callable[[int, np.ndarray], None] | None = None,
               fast: bool = False) -> VideoClip:
    """Decode ``path``; frames resampled in time to ``fps`` (``None`` keeps the stream's rate).

    Frames are picked by timestamp (nearest earlier frame), so any source rate maps onto any
    target rate. Raises :class:`MediaError` for a missing, unreadable or frameless file.
    ``on_frame(i, frame)`` is called with each decoded frame as it comes (the stream's own frames,
    before any change of rate), so that work on the frames can start while the rest decode.
    ``fast``: YUV 4:2:0 frames are turned into RGB by OpenCV (faster than FFmpeg's conversion; its
    pixels differ from FFmpeg's by about one level on average).
    """
    import av

    cv = _opencv() if fast else None
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
                if cv is not None and frame.format.name == "yuv420p" and not (frame.width % 2 or frame.height % 2):
                    frames.append(cv.cvtColor(frame.to_ndarray(), cv.COLOR_YUV2RGB_I420))
                else:
                    frames.append(frame.to_ndarray(format="rgb24"))
                if on_frame is not None:
                    on_frame(len(frames) - 1, frames[-1])
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
        audio, rate = read_audio_track(path, sr)
    return VideoClip(arr, out_fps, audio, rate)


def read_audio_track(path: Path, sr: int | None = None) -> tuple[np.ndarray | None, int | None]:
    """A video's audio track (mono) at ``sr`` (``None``: its own rate), or (None, None) without one."""
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
X264_PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow",
                "placebo")
VIDEO_SUFFIXES = tuple(CODECS) + (".mpg", ".mpeg", ".ts", ".wmv", ".ogv", ".3gp")


def write_video(path: str | Path, frames: np.ndarray | Iterable[np.ndarray], fps: float,
                audio: np.ndarray | Callable[[], np.ndarray] | None = None, sr: int | None = None,
                codec: str | None = None, bit_rate: int = 2_000_000, preset: str | None = None,
                threads: int = 0) -> None:
    """Write ``frames`` (T, H, W[, 3]) uint8 and an optional mono audio track to ``path``, atomically.

    The codecs follow the container (:data:`CODECS`: H.264 + AAC for mp4 / mkv / mov, MPEG-4 + MP3
    for avi, FLV1 + MP3 for flv, VP8 + Opus for webm, which every browser plays); ``codec`` overrides
    the video codec. ``fps`` may be fractional (29.97). Odd frame sizes are padded by one pixel
    (yuv420p needs even sizes); audio is resampled where the audio codec needs another rate.
    ``preset`` chooses the fast path: x264's speed / compression trade-off (other codecs ignore it)
    and OpenCV's RGB -> YUV conversion (the same BT.601 studio range as FFmpeg's, within one level);
    ``bench/bench_video.py`` times it against FFmpeg's defaults. ``None``: FFmpeg's defaults
    throughout. ``threads``: the video encoder's threads (0: its own choice; 1 where the caller keeps
    the other cores busy).

    ``frames`` may also be an iterable of (H, W[, 3]) frames, each encoded as it comes (a pipeline
    can make the next frame while this one is encoded), and ``audio`` a function that returns the
    track, called once every frame is encoded (a track still being made on another thread).
    """
    import av

    cv = _opencv() if preset is not None else None
    path = Path(path)
    if preset_problem(preset):
        raise MediaError(path, str(preset_problem(preset)))
    vcodec, acodec, rates = CODECS.get(path.suffix.lower(), ("mpeg4", "aac", None))
    vcodec = codec or vcodec
    if not (np.isfinite(fps) and 0 < fps <= MAX_FPS):
        raise MediaError(path, f"cannot write at {fps} frames/s (more than 0, at most {MAX_FPS})")
    if audio is not None and (not sr or (not callable(audio) and not np.all(np.isfinite(audio)))):
        raise MediaError(path, "audio needs a sample rate and finite samples")
    if isinstance(frames, np.ndarray) or not isinstance(frames, Iterable):
        frames = np.asarray(frames)
        if frames.ndim not in (3, 4) or frames.shape[0] == 0 or (frames.ndim == 4 and frames.shape[3] != 3):
            raise MediaError(path, f"expected frames of shape (T, H, W, 3), got {frames.shape}")
    stream = iter(frames)
    first = next(stream, None)
    if first is None:
        raise MediaError(path, "expected frames of shape (T, H, W, 3), got no frame")
    shape = np.shape(first)
    if len(shape) not in (2, 3) or (len(shape) == 3 and shape[2] != 3):
        raise MediaError(path, f"expected frames of shape (H, W, 3), got {shape}")
    h, w = shape[:2]
    ph, pw = h % 2, w % 2

    def rgb(img: np.ndarray) -> np.ndarray:
        if np.shape(img) != shape:
            raise MediaError(path, f"frames of different sizes: {np.shape(img)} after {shape}")
        img = np.asarray(img).astype(np.uint8, copy=False)
        if img.ndim == 2:
            img = np.repeat(img[..., None], 3, axis=2)
        if ph or pw:
            img = np.pad(img, ((0, ph), (0, pw), (0, 0)), mode="edge")
        return np.ascontiguousarray(img)

    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with atomic_path(path) as tmp, av.open(str(tmp), mode="w") as container:
            options = {"preset": preset} if preset and vcodec == "libx264" else {}
            if threads > 0:
                options["threads"] = str(threads)
            vs: Any = container.add_stream(vcodec, rate=Fraction(fps).limit_denominator(1001), options=options)
            vs.width, vs.height = w + pw, h + ph
            vs.pix_fmt = "yuv420p"
            vs.bit_rate = bit_rate
            out_sr = int(sr or 0)
            if audio is not None and rates and out_sr not in rates:
                out_sr = min(rates, key=lambda r: (r < int(sr or 0), abs(r - int(sr or 0))))
            astream: Any = None
            if audio is not None:
                astream = container.add_stream(acodec, rate=out_sr)
                astream.layout = "mono"
            for img in itertools.chain([first], _upstream_iter(stream)):
                if cv is None:  # FFmpeg's own RGB -> YUV conversion
                    vf = av.VideoFrame.from_ndarray(rgb(img), format="rgb24")
                else:  # OpenCV's: faster, the same BT.601 studio range (within one level)
                    vf = av.VideoFrame.from_ndarray(cv.cvtColor(rgb(img), cv.COLOR_RGB2YUV_I420), format="yuv420p")
                for pkt in vs.encode(vf):
                    container.mux(pkt)
            for pkt in vs.encode(None):
                container.mux(pkt)
            if astream is not None and audio is not None:
                track = np.asarray(_upstream_call(audio) if callable(audio) else audio, dtype=np.float32)
                if callable(audio) and not np.all(np.isfinite(track)):  # an array was checked above
                    raise MediaError(path, "audio needs finite samples")
                if out_sr != sr:
                    track = resample(track, int(sr or 0), out_sr)
                samples = np.clip(track, -1, 1)[None, :]
                aframe = av.AudioFrame.from_ndarray(np.ascontiguousarray(samples), format="flt", layout="mono")
                aframe.sample_rate = out_sr
                aframe.pts = 0
                for pkt in astream.encode(aframe):
                    container.mux(pkt)
                for pkt in astream.encode(None):
                    container.mux(pkt)
    except _Upstream as up:  # the frames' or the track's maker failed: its own error, as it was
        raise up.__cause__ from None  # type: ignore[misc]
    except MediaError:
        raise
    except Exception as exc:
        raise MediaError(path, f"cannot write video: {exc}") from exc


def preset_problem(preset: str | None) -> str | None:
    """What is wrong with an x264 preset name (None: nothing; None as the preset means the defaults)."""
    if preset is None or preset in X264_PRESETS:
        return None
    return f"unknown x264 preset {preset!r}; known: {', '.join(X264_PRESETS)}"


def _opencv() -> Any:
    """OpenCV for the fast colour conversions, or None without it (the face extra installs it; without
    it the conversions are FFmpeg's)."""
    try:
        import cv2
    except ImportError:
        return None
    return cv2


class _Upstream(Exception):
    """An error of the code that makes the frames or the track (not the writer's): passed on as it is."""


def _upstream_iter(items: Iterator[np.ndarray]) -> Iterator[np.ndarray]:
    while True:
        try:
            item = next(items)
        except StopIteration:
            return
        except Exception as exc:
            raise _Upstream() from exc
        yield item


def _upstream_call(fn: Callable[[], np.ndarray]) -> np.ndarray:
    try:
        return fn()
    except Exception as exc:
        raise _Upstream() from exc
