"""Media I/O: formats, rates, and one clear error for every kind of bad file."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
from hypothesis import given, settings
from hypothesis import strategies as st

from privemo.errors import MediaError
from privemo.media import read_audio, read_image, read_video, resample, write_audio, write_image, write_video
from tests.conftest import make_image, make_wav


@pytest.mark.parametrize("ext", [".wav", ".flac", ".ogg"])
def test_audio_roundtrip_any_container_and_rate(tmp_path, ext):
    t = np.arange(8000) / 8000
    stereo = np.stack([np.sin(2 * np.pi * 200 * t), np.sin(2 * np.pi * 200 * t)], 1) * 0.5
    sf.write(tmp_path / f"a{ext}", stereo.astype(np.float32), 8000)
    x, sr = read_audio(tmp_path / f"a{ext}", 16000)
    assert sr == 16000 and x.dtype == np.float32 and x.ndim == 1
    assert abs(len(x) - 16000) <= 2


def test_audio_in_mp4_container_read_through_av(tmp_path):
    frames = np.zeros((5, 16, 16, 3), np.uint8)
    audio = (0.3 * np.sin(2 * np.pi * 300 * np.arange(16000) / 16000)).astype(np.float32)
    write_video(tmp_path / "v.mp4", frames, 5, audio, 16000)
    x, sr = read_audio(tmp_path / "v.mp4", 16000)
    assert sr == 16000 and 0.9 < len(x) / 16000 < 1.2


@pytest.mark.parametrize("content,problem", [
    (b"", "empty"), (b"RIFF\x24\x00\x00\x00WAVEfmt ", "unreadable"), (b"hello world" * 10, "unreadable")])
def test_bad_audio_names_the_file(tmp_path, content, problem):
    p = tmp_path / "bad.wav"
    p.write_bytes(content)
    with pytest.raises(MediaError, match=problem) as info:
        read_audio(p)
    assert info.value.path == str(p)


def test_missing_zero_length_and_nan_audio(tmp_path):
    with pytest.raises(MediaError, match="no such file"):
        read_audio(tmp_path / "none.wav")
    sf.write(tmp_path / "zero.wav", np.zeros(0, np.float32), 16000)
    with pytest.raises(MediaError, match="zero length"):
        read_audio(tmp_path / "zero.wav")
    sf.write(tmp_path / "nan.wav", np.array([0.1, np.nan, 0.2], np.float32), 16000, subtype="FLOAT")
    with pytest.raises(MediaError, match="NaN"):
        read_audio(tmp_path / "nan.wav")


def test_truncated_flac(tmp_path):
    p = make_wav(tmp_path / "a.flac", seconds=1.0)
    data = p.read_bytes()
    p.write_bytes(data[: len(data) // 3])
    try:
        x, _ = read_audio(p)  # libsndfile may decode the frames that survive ...
        assert len(x) < 16000
    except MediaError as exc:  # ... or refuse the file; either way nothing silently wrong
        assert exc.path == str(p)


def test_write_audio_refuses_nan_and_keeps_old_file(tmp_path):
    p = make_wav(tmp_path / "keep.wav")
    before = p.read_bytes()
    with pytest.raises(MediaError):
        write_audio(p, np.array([0.0, np.nan], np.float32), 16000)
    assert p.read_bytes() == before
    assert [q.name for q in tmp_path.iterdir()] == ["keep.wav"]


@settings(max_examples=20, deadline=None)
@given(orig=st.sampled_from([8000, 11025, 16000, 22050, 44100, 48000]),
       target=st.sampled_from([8000, 16000, 22050]), n=st.integers(100, 5000))
def test_resample_length(orig, target, n):
    y = resample(np.zeros(n, np.float32), orig, target)
    assert abs(len(y) - n * target / orig) <= 1
    assert y.dtype == np.float32


@pytest.mark.parametrize("name,mode,fmt", [("a.gif", "L", "GIF"), ("b.tiff", "P", "TIFF"),
                                           ("c.png", "RGB", None), ("d.jpg", "RGB", "JPEG")])
def test_images(tmp_path, name, mode, fmt):
    p = make_image(tmp_path / name, mode=mode, fmt=fmt)
    assert read_image(p, "gray").shape == (32, 32)
    assert read_image(p, "rgb").shape == (32, 32, 3)


def test_bad_images(tmp_path):
    (tmp_path / "x.png").write_bytes(b"\x89PNG\r\n\x1a\nrubbish")
    with pytest.raises(MediaError, match="x.png"):
        read_image(tmp_path / "x.png")
    (tmp_path / "e.png").write_bytes(b"")
    with pytest.raises(MediaError, match="empty"):
        read_image(tmp_path / "e.png")
    p = make_image(tmp_path / "t.png", size=64, mode="RGB")
    p.write_bytes(p.read_bytes()[:200])
    with pytest.raises(MediaError, match="t.png"):
        read_image(p)


def test_image_roundtrip(tmp_path):
    img = np.random.default_rng(0).integers(0, 255, (10, 12, 3)).astype(np.uint8)
    write_image(tmp_path / "i.png", img)
    assert np.array_equal(read_image(tmp_path / "i.png", "rgb"), img)


def test_video_roundtrip_with_audio_and_fps(tmp_path):
    frames = np.stack([np.full((31, 40, 3), 10 * i, np.uint8) for i in range(20)])  # odd height is padded
    audio = (0.3 * np.sin(2 * np.pi * 440 * np.arange(32000) / 16000)).astype(np.float32)
    write_video(tmp_path / "v.mp4", frames, 10, audio, 16000)
    clip = read_video(tmp_path / "v.mp4", fps=5)
    assert clip.frames.shape[1:] == (32, 40, 3)
    assert len(clip.frames) == 10 and clip.fps == 5
    assert clip.sr == 16000 and abs(len(clip.audio) - 32000) < 3000
    assert abs(float(clip.frames[-1].mean()) - 180) < 25  # frame 18 of 20 (value 180) picked at t=1.8 s
    full = read_video(tmp_path / "v.mp4", fps=None, with_audio=False)
    assert len(full.frames) == 20 and full.audio is None


def test_bad_video(tmp_path):
    (tmp_path / "v.mp4").write_bytes(b"not a video at all")
    with pytest.raises(MediaError, match="v.mp4"):
        read_video(tmp_path / "v.mp4")
    with pytest.raises(MediaError, match="shape"):
        write_video(tmp_path / "w.mp4", np.zeros((0, 8, 8, 3), np.uint8), 5)
    assert not (tmp_path / "w.mp4").exists()


def test_written_files_get_the_permissions_of_a_plain_open(tmp_path):
    """Atomic writes go through a temporary file; what is renamed into place is not private (0600)."""
    import os
    import stat

    from privemo.experiments.store import atomic_write
    from privemo.media import write_image

    umask = os.umask(0)
    os.umask(umask)
    write_image(tmp_path / "a.png", np.zeros((4, 4), np.uint8))
    atomic_write(tmp_path / "b.txt", "x")
    (tmp_path / "c.txt").write_text("x")
    for name in ("a.png", "b.txt"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == stat.S_IMODE((tmp_path / "c.txt").stat().st_mode) \
            == 0o666 & ~umask
