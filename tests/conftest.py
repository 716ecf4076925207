"""Shared fixtures: tiny generated media, and the path of the real corpora (../shared/data)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("PRIVEMO_DATA", ROOT.parent / "shared" / "data"))


@pytest.fixture(autouse=True)
def _private_cache(tmp_path_factory, monkeypatch):
    """Every test gets its own feature cache (the synthetic corpus is shared per session)."""
    monkeypatch.setenv("PRIVEMO_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))


def make_wav(path: Path, seconds: float = 0.3, sr: int = 16000, freq: float = 220.0, seed: int = 0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(seconds * sr)) / sr
    x = 0.3 * np.sin(2 * np.pi * freq * t) + 0.01 * np.random.default_rng(seed).standard_normal(len(t))
    sf.write(path, x.astype(np.float32), sr)
    return path


def make_image(path: Path, size: int = 32, mode: str = "L", fmt: str | None = None, seed: int = 0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    arr = np.random.default_rng(seed).integers(0, 255, (size, size) if mode in ("L", "P") else (size, size, 3))
    im = Image.fromarray(arr.astype(np.uint8), "L" if mode in ("L", "P") else "RGB")
    if mode == "P":
        im = im.convert("P")
    im.save(path, format=fmt)
    return path


def shared(*parts: str) -> Path:
    p = SHARED_DATA.joinpath(*parts)
    if not p.exists():
        pytest.skip(f"real corpus not available: {p} is absent (see ../shared/data/README.md)")
    return p


@pytest.fixture(scope="session")
def synth_root(tmp_path_factory) -> Path:
    """A small synthetic corpus (6 speakers x 6 emotions x 4 items, 1 video each), generated once."""
    from privemo.corpora.synthetic import generate

    return generate(tmp_path_factory.mktemp("synthetic"), n_speakers=6, items=4, videos=1, seed=3)


SYNTH_OPTS = {"n_speakers": 6, "items": 4, "videos": 1, "seed": 3}
