"""Images in and out: tiff (palette mode too), gif, png, jpg, pgm -> gray or RGB uint8 arrays."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np
from PIL import Image, UnidentifiedImageError

from privemo._files import atomic_path
from privemo.errors import MediaError
from privemo.media._files import existing_file

MAX_PIXELS = 50_000_000  # larger images (or headers claiming so: decompression bombs) are refused unread


def read_image(path: str | Path, mode: Literal["gray", "rgb"] = "gray") -> np.ndarray:
    """Read ``path`` as ``(H, W)`` uint8 (gray) or ``(H, W, 3)`` uint8 (rgb); the first frame of a GIF.

    Palette and 16-bit images are converted. Raises :class:`MediaError` for a missing, empty,
    truncated or unrecognised file.
    """
    path = existing_file(path)
    try:
        with Image.open(path) as src:
            w, h = src.size
            if w <= 0 or h <= 0 or w * h > MAX_PIXELS:
                raise MediaError(path, f"a {w}x{h} image is outside what privemo reads (at most {MAX_PIXELS} pixels)")
            src.seek(0)
            src.load()
            im: Image.Image = src
            if im.mode in ("I;16", "I;16B", "I;16L", "I"):
                arr = np.asarray(im, dtype=np.float64)
                hi = arr.max() or 1.0
                im = Image.fromarray((arr / hi * 255).astype(np.uint8))
            out = np.asarray(im.convert("L" if mode == "gray" else "RGB"), dtype=np.uint8).copy()
    except MediaError:
        raise
    except UnidentifiedImageError as exc:
        raise MediaError(path, "not a readable image") from exc
    except Image.DecompressionBombError as exc:
        raise MediaError(path, f"refused as a decompression bomb: {exc}") from exc
    except MemoryError:
        raise MediaError(path, "too large to read into memory") from None
    except Exception as exc:  # any other decoder failure (OSError, ValueError, SyntaxError, struct.error...)
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
    try:
        with atomic_path(path) as tmp:
            Image.fromarray(arr).save(tmp)
    except Exception as exc:
        raise MediaError(path, f"cannot write image: {exc}") from exc


GRAY_WEIGHTS = np.array([0.299, 0.587, 0.114], dtype=np.float32)


def conform_images(images: np.ndarray, size: int, channels: int) -> np.ndarray:
    """A batch (N, H, W[, 1 | 3]) as float32 (N, size, size) for ``channels`` 1 or (N, size, size, 3)
    for 3: colour and gray converted, resized with area averaging; values kept (0..255 stays)."""
    import cv2

    arr = np.asarray(images, dtype=np.float32)
    if arr.ndim == 4 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    if arr.ndim == 4 and channels == 1:
        arr = arr @ GRAY_WEIGHTS
    elif arr.ndim == 3 and channels == 3:
        arr = np.repeat(arr[..., None], 3, axis=-1)
    if arr.shape[1:3] != (size, size):
        arr = np.stack([cv2.resize(im, (size, size), interpolation=cv2.INTER_AREA) for im in arr]).reshape(
            len(arr), size, size, *arr.shape[3:])
    return np.ascontiguousarray(arr)


def restore_images(images: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Float model-sized images (N, S, S[, 3]) resized (bilinear) and converted to the gray or colour
    layout of one image of ``shape`` ((H, W), (H, W, 1) or (H, W, 3)): (N, *shape), float32."""
    import cv2

    h, w = shape[:2]
    arr = np.asarray(images, dtype=np.float32)
    if arr.shape[1:3] != (h, w):
        arr = np.stack([cv2.resize(im, (w, h), interpolation=cv2.INTER_LINEAR) for im in arr]).reshape(
            len(arr), h, w, *arr.shape[3:])
    colour = len(shape) == 3 and shape[-1] == 3
    if colour and arr.ndim == 3:
        arr = np.repeat(arr[..., None], 3, axis=-1)
    elif not colour and arr.ndim == 4:
        arr = arr @ GRAY_WEIGHTS
    return arr.reshape(len(arr), *shape)
