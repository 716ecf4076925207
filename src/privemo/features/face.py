"""Face crops: a face front-end's detector (dlib's frontal detector or mediapipe's BlazeFace) + dlib's
5-point landmarks + aligned chip, with a centre-crop fallback.

The detectors and the landmark models ship in the packages dlib-bin, face_recognition_models and
mediapipe and load offline. An image where no face is found is centre-cropped and flagged (``notes["fallback"]``).
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

import numpy as np
from PIL import Image
from pydantic import Field

from privemo.errors import PrivemoError
from privemo.features.extractors import Extractor
from privemo.media import read_image
from privemo.registry import register


@lru_cache(maxsize=1)
def _dlib() -> tuple[Any, Any, Any]:
    try:
        import dlib
    except ImportError as exc:
        raise PrivemoError("face crops need dlib-bin and face_recognition_models (pip install privemo[face])") from exc
    return dlib, dlib.get_frontal_face_detector(), dlib.shape_predictor(model_path("shape_predictor_5_face_landmarks.dat"))


def model_path(name: str) -> str:
    """Path of a model file shipped by face_recognition_models (found without importing it: its
    ``__init__`` needs pkg_resources, which new setuptools no longer has)."""
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise PrivemoError("face models need the package face_recognition_models (pip install privemo[face])")
    path = Path(list(spec.submodule_search_locations)[0]) / "models" / name
    if not path.is_file():
        raise PrivemoError(f"{path}: model file missing from face_recognition_models")
    return str(path)


def centre_crop(img: np.ndarray, size: int) -> np.ndarray:
    h, w = img.shape[:2]
    s = min(h, w)
    top, left = (h - s) // 2, (w - s) // 2
    crop = img[top:top + s, left:left + s]
    return np.asarray(Image.fromarray(crop).resize((size, size), Image.Resampling.BILINEAR))


def align(img_rgb: np.ndarray, size: int = 64, padding: float = 0.25, upsample: int = 1,
          detector: str = "dlib") -> tuple[np.ndarray, bool]:
    """(aligned RGB chip of ``size``, found). The largest face the front-end ``detector`` finds
    (dlib's HOG detector with ``upsample``, or mediapipe's BlazeFace) is aligned by dlib's 5 landmarks.
    Without a detected face: a centre crop, found=False."""
    dlib, detector_, predictor = _dlib()
    if detector == "dlib":
        dets = list(detector_(img_rgb, upsample))
    else:
        from privemo.features.frontend import get_frontend

        dets = [dlib.rectangle(lf, t, r - 1, b - 1) for t, lf, b, r in get_frontend(detector).detect(img_rgb)]
    if len(dets) == 0:
        return centre_crop(img_rgb, size), False
    best = max(dets, key=lambda r: r.width() * r.height())
    shape = predictor(img_rgb, best)
    chip = dlib.get_face_chip(img_rgb, shape, size=size, padding=padding)
    return np.asarray(chip, dtype=np.uint8), True


@register("feature", "face_crop")
@dataclass
class FaceCrop(Extractor):
    """An aligned face crop (``size`` x ``size``, gray (H, W) or rgb (H, W, 3)) as float32 in [0, 1]."""

    media: ClassVar[str] = "image"
    kind: ClassVar[str] = "image"
    name: ClassVar[str] = "face_crop"
    size: Annotated[int, Field(ge=8, le=512)] = 64
    color: Literal["gray", "rgb"] = "gray"
    padding: Annotated[float, Field(ge=0, le=2)] = 0.25
    upsample: Annotated[int, Field(ge=0, le=3)] = 1
    detect: bool = True
    detector: Literal["dlib", "mediapipe"] = "dlib"  # the face front-end (privemo.features.frontend)

    def compute(self, row: dict[str, Any]) -> tuple[np.ndarray, dict[str, Any]]:
        img = read_image(row["path"], "rgb")
        if self.detect:
            chip, found = align(img, self.size, self.padding, self.upsample, self.detector)
        else:
            chip, found = centre_crop(img, self.size), False
        if self.color == "gray":
            chip = np.asarray(Image.fromarray(chip).convert("L"))
        return chip.astype(np.float32) / 255.0, {"fallback": not found}


@lru_cache(maxsize=1)
def _dlib_recogniser() -> tuple[Any, Any]:
    dlib, _, predictor = _dlib()
    return dlib.face_recognition_model_v1(model_path("dlib_face_recognition_resnet_model_v1.dat")), predictor


def face_descriptors(crops: np.ndarray, chip: int = 150) -> np.ndarray:
    """dlib's pretrained ResNet face descriptor (128-d) of each face crop (uint8, gray or colour).

    The crop is taken as the face box: it is upscaled to ``chip`` pixels, the 5 landmarks are found
    inside it and dlib's aligned chip is embedded, as dlib does after its own detector.
    """
    import cv2

    dlib, _, _ = _dlib()
    model, predictor = _dlib_recogniser()
    out = np.empty((len(crops), 128), dtype=np.float32)
    for i, im in enumerate(np.asarray(crops)):
        rgb = np.repeat(im[..., None], 3, axis=-1) if im.ndim == 2 else im
        rgb = np.ascontiguousarray(cv2.resize(rgb.astype(np.uint8), (chip, chip), interpolation=cv2.INTER_CUBIC))
        shape = predictor(rgb, dlib.rectangle(0, 0, chip - 1, chip - 1))
        out[i] = np.asarray(model.compute_face_descriptor(rgb, shape), dtype=np.float32)
    return out
