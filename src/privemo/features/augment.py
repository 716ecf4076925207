"""narula-2020 §4.1's augmentation of small face corpora: random rotation, horizontal flip and noise.

Every copy remembers its original (``source``), so splits can keep all copies of one original on one
side (``privemo.corpora.splits.group_folds``); the originals themselves are always kept.
"""

from __future__ import annotations

import numpy as np


def augment_faces(images: np.ndarray, target: int, seed: int = 0, max_rotation: float = 15.0,
                  flip: bool = True, noise: float = 8.0) -> tuple[np.ndarray, np.ndarray]:
    """``(images, source)``: the originals plus random copies up to ``target`` images in all.

    Copies are dealt round-robin over the originals (so each original has the same number of
    copies, give or take one); each is rotated by up to ``max_rotation`` degrees, mirrored with
    probability 0.5 (when ``flip``) and given Gaussian noise of std ``noise`` grey levels.
    ``source[i]`` is the index of the original image ``i`` was made from.
    """
    import cv2

    arr = np.asarray(images)
    if arr.ndim not in (3, 4) or len(arr) == 0:
        raise ValueError(f"expected a non-empty batch of images, got shape {arr.shape}")
    n = len(arr)
    extra = max(0, target - n)
    rng = np.random.default_rng(seed)
    src = np.concatenate([np.arange(n), rng.permutation(np.resize(np.arange(n), extra)) if extra else []]).astype(int)
    out = np.empty((n + extra, *arr.shape[1:]), dtype=arr.dtype)
    out[:n] = arr
    h, w = arr.shape[1:3]
    for j in range(n, n + extra):
        im = arr[src[j]].astype(np.float32)
        m = cv2.getRotationMatrix2D((w / 2, h / 2), float(rng.uniform(-max_rotation, max_rotation)), 1.0)
        im = cv2.warpAffine(im, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        if flip and rng.random() < 0.5:
            im = im[:, ::-1]
        im = im.reshape(arr.shape[1:]) + rng.normal(0.0, noise, arr.shape[1:])
        info = np.iinfo(arr.dtype) if np.issubdtype(arr.dtype, np.integer) else None
        out[j] = np.clip(im, info.min, info.max) if info else im
    return out, src
