"""Images in and out: tiff (palette mode too), gif, png, jpg, pgm -> gray or RGB uint8 arrays."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

import numpy as np
from PIL import Image, UnidentifiedImageError

from privemo._files import mkstemp_public
from privemo.errors import MediaError
from privemo.media._files import existing_file


def read_image(path: str | Path, mode: Literal["gray", "rgb"] = "gray") -> np.ndarray:
    """Read ``path`` as ``(H, W)`` uint8 (gray) or ``(H, W, 3)`` uint8 (rgb); the first frame of a GIF.

    Palette and 16-bit images are converted. Raises :class:`MediaError` for a missing, empty,
    truncated or unrecognised file.
    """
    path = existing_file(path)
    try:
        with Image.open(path) as src:
            src.seek(0)
            src.load()
            im: Image.Image = src
            if im.mode in ("I;16", "I;16B", "I;16L", "I"):
                arr = np.asarray(im, dtype=np.float64)
                hi = arr.max() or 1.0
                im = Image.fromarray((arr / hi * 255).astype(np.uint8))
            out = np.asarray(im.convert("L" if mode == "gray" else "RGB"), dtype=np.uint8).copy()
    except UnidentifiedImageError as exc:
        raise MediaError(path, "not a readable image") from exc
    except (OSError, ValueError, SyntaxError) as exc:
        raise MediaError(path, f"truncated or corrupt image: {exc}") from exc
    if out.size == 0:
        raise MediaError(path, "image has zero size")
    return out


def write_image(path: str | Path, img: np.ndarray) -> None:
    """Write a uint8 gray or RGB array (format from the suffix), atomically."""
    path = Path(path)
    arr = np.asarray(img)
    if arr.dtype != np.uint8:
        arr = np.clip(arr, 0, 255).astype(np.uint8)
    if arr.ndim not in (2, 3) or arr.size == 0:
        raise MediaError(path, f"expected a gray or RGB image, got shape {arr.shape}")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = mkstemp_public(dir=path.parent, prefix=f".{path.stem}.", suffix=path.suffix)
    os.close(fd)
    try:
        Image.fromarray(arr).save(tmp)
        os.replace(tmp, path)
    except Exception as exc:
        Path(tmp).unlink(missing_ok=True)
        raise MediaError(path, f"cannot write image: {exc}") from exc
