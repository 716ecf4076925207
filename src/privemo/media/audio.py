"""Audio in and out: any common container and rate -> mono float32 at the rate asked for."""

from __future__ import annotations

from math import gcd
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly

from privemo._files import atomic_path
from privemo.errors import MediaError
from privemo.media._files import existing_file

MIN_RATE, MAX_RATE = 1000, 768_000  # Hz: below or above this a file is not speech audio privemo can use
MAX_SAMPLES = 2**31 // 4  # per channel: about 9 h at 16 kHz (a header claiming more is refused, not read)


def read_audio(path: str | Path, sr: int | None = 16000) -> tuple[np.ndarray, int]:
    """Read ``path`` as mono float32 in [-1, 1] at rate ``sr`` (``None`` keeps the file's rate).

    WAV, FLAC, OGG and (with a recent libsndfile) MP3 are read by soundfile; other containers
    (m4a, mp4, webm, ...) through PyAV. Raises :class:`MediaError` naming the file when it is
    missing, unreadable, truncated, empty or holds non-finite samples.
    """
    path = existing_file(path)
    if sr is not None and not MIN_RATE <= sr <= MAX_RATE:
        raise MediaError(path, f"cannot read at {sr} Hz (a rate from {MIN_RATE} to {MAX_RATE} Hz)")
    try:
        with sf.SoundFile(str(path)) as fh:  # one open: the header is checked before the samples are read
            _check_rate(path, fh.samplerate)
            if fh.frames > MAX_SAMPLES or fh.channels > 64:
                raise MediaError(path, f"{fh.frames} samples x {fh.channels} channels is more audio than privemo "
                                 f"reads at once (at most {MAX_SAMPLES} samples, 64 channels)")
            data, rate = fh.read(dtype="float32", always_2d=True), fh.samplerate
    except MediaError:
        raise
    except MemoryError:
        raise MediaError(path, "too large to read into memory") from None
    except Exception as sf_exc:  # soundfile cannot read it: try FFmpeg through PyAV
        try:
            data, rate = _read_with_av(path)
        except MediaError:
            raise
        except Exception as av_exc:
            raise MediaError(path, f"unreadable audio ({sf_exc}; {av_exc})") from av_exc
    return _finish(path, data, rate, sr)


def _check_rate(path: Path, rate: float | int | None) -> None:
    if rate is None or not MIN_RATE <= rate <= MAX_RATE:
        raise MediaError(path, f"sample rate {rate} Hz is outside {MIN_RATE}-{MAX_RATE} Hz")


def _finish(path: Path, data: np.ndarray, rate: int, sr: int | None) -> tuple[np.ndarray, int]:
    _check_rate(path, rate)
    if data.size == 0 or data.shape[0] == 0:
        raise MediaError(path, "audio has zero length")
    mono = data.mean(axis=1) if data.ndim == 2 else data
    if not np.all(np.isfinite(mono)):
        raise MediaError(path, "audio holds NaN or infinite samples")
    mono = mono.astype(np.float32, copy=False)
    if sr is not None and sr != rate:
        mono = resample(mono, rate, sr)
        rate = sr
    return mono, int(rate)


def _read_with_av(path: Path) -> tuple[np.ndarray, int]:
    audio, rate = decode_audio_stream(path)
    if audio is None or rate is None:
        raise MediaError(path, "no audio stream, or an empty one")
    return audio[:, None], rate


def decode_audio_stream(path: Path) -> tuple[np.ndarray | None, int | None]:
    """The first audio stream of any FFmpeg container as mono float32 at its own rate; (None, None)
    where there is no audio stream or it holds no samples."""
    import av

    try:
        container = av.open(str(path))
    except Exception as exc:
        raise MediaError(path, f"unreadable media: {exc}") from exc
    with container:
        if not container.streams.audio:
            return None, None
        stream = container.streams.audio[0]
        rate = int(stream.rate or stream.codec_context.sample_rate or 0)
        _check_rate(path, rate)
        resampler = av.AudioResampler(format="flt", layout="mono", rate=rate)
        chunks = []
        try:
            for frame in container.decode(stream):
                for out in resampler.resample(frame):
                    chunks.append(out.to_ndarray().reshape(-1))
        except Exception as exc:
            raise MediaError(path, f"truncated or corrupt audio: {exc}") from exc
    if not chunks:
        return None, None
    return np.concatenate(chunks).astype(np.float32), rate


def resample(x: np.ndarray, orig_sr: int, target_sr: int) -> np.ndarray:
    """Polyphase resampling (anti-aliased) from ``orig_sr`` to ``target_sr``."""
    if orig_sr == target_sr:
        return x.astype(np.float32, copy=False)
    g = gcd(int(orig_sr), int(target_sr))
    return resample_poly(x, target_sr // g, orig_sr // g).astype(np.float32)


def probe_audio(path: str | Path) -> None:
    """Check that ``path`` is a readable, non-empty audio file without decoding all of it."""
    path = existing_file(path)
    try:
        info = sf.info(str(path))
    except Exception:
        read_audio(path, sr=None)  # let the full reader decide (other containers)
        return
    if info.frames == 0:
        raise MediaError(path, "audio has zero length")


def write_audio(path: str | Path, x: np.ndarray, sr: int) -> None:
    """Write mono float audio as 16-bit PCM (format from the suffix: .wav, .flac, .ogg), atomically."""
    path = Path(path)
    x = np.asarray(x, dtype=np.float32)
    if x.ndim != 1 or x.size == 0:
        raise MediaError(path, f"expected non-empty mono audio, got shape {x.shape}")
    if not np.all(np.isfinite(x)):
        raise MediaError(path, "refusing to write NaN or infinite samples")
    if not MIN_RATE <= int(sr) <= MAX_RATE:
        raise MediaError(path, f"cannot write at {sr} Hz (a rate from {MIN_RATE} to {MAX_RATE} Hz)")
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        subtype = "PCM_16" if path.suffix.lower() in (".wav", ".flac") else None
        with atomic_path(path) as tmp:
            sf.write(tmp, np.clip(x, -1.0, 1.0), sr, subtype=subtype)
    except Exception as exc:
        raise MediaError(path, f"cannot write audio: {exc}") from exc
