"""Face front-ends: a face detector and dense landmarks from a model that ships inside its package
and runs offline on the CPU, as a registered choice (kind ``face_detector``).

* ``dlib``: dlib's HOG frontal detector and its 68-point shape predictor (dlib-bin +
  face_recognition_models);
* ``mediapipe``: MediaPipe's BlazeFace detector and its 468-point face mesh (mediapipe <= 0.10.21,
  whose wheel holds both models; later releases download them and do not work offline).

Boxes are (top, left, bottom, right) in pixels of the image given; landmarks are (P, 2) arrays of
(x, y) pixels. ``landmarks(img, box)`` always answers for dlib (its predictor fits a shape in any
box) and answers ``None`` where MediaPipe's mesh finds no face in the box.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, fields
from functools import lru_cache
from typing import Annotated, Any, ClassVar, Literal

import numpy as np
from pydantic import Field

from privemo.errors import PrivemoError
from privemo.registry import create, register

Box = tuple[int, int, int, int]


def _rgb(img: np.ndarray) -> np.ndarray:
    img = np.asarray(img)
    if img.ndim == 2:
        img = np.repeat(img[..., None], 3, axis=-1)
    if img.dtype != np.uint8:
        img = np.clip(np.rint(img), 0, 255).astype(np.uint8)
    return np.ascontiguousarray(img)


def _clip_box(t: float, lf: float, b: float, r: float, h: int, w: int) -> Box:
    return (max(0, int(round(t))), max(0, int(round(lf))), min(h, int(round(b))), min(w, int(round(r))))


@dataclass
class FaceFrontEnd:
    """A face detector with a landmark model."""

    name: ClassVar[str] = ""
    n_landmarks: ClassVar[int] = 0
    # calls from several threads at once run in parallel (the model releases the interpreter lock)
    threads_parallel: ClassVar[bool] = False
    # the detector scales its input to a fixed size itself (a smaller copy first saves nothing)
    fixed_input: ClassVar[bool] = False

    def config(self) -> dict[str, Any]:
        return {"type": self.name, **{f.name: getattr(self, f.name) for f in fields(self)}}

    def detect(self, img: np.ndarray) -> list[Box]:
        """Every face found in ``img`` (gray or RGB, uint8), largest first."""
        boxes = [b for b in self._detect(_rgb(img)) if b[2] - b[0] >= 2 and b[3] - b[1] >= 2]
        return sorted(boxes, key=lambda b: -(b[2] - b[0]) * (b[3] - b[1]))

    def landmarks(self, img: np.ndarray, box: Box | None = None) -> np.ndarray | None:
        """(n_landmarks, 2) float32 (x, y) of the face in ``box`` (default: the whole image)."""
        rgb = _rgb(img)
        h, w = rgb.shape[:2]
        return self._landmarks(rgb, box or (0, 0, h, w))

    def _detect(self, rgb: np.ndarray) -> list[Box]:
        raise NotImplementedError

    def _landmarks(self, rgb: np.ndarray, box: Box) -> np.ndarray | None:
        raise NotImplementedError


@lru_cache(maxsize=1)
def _dlib_models() -> tuple[Any, Any, Any]:
    from privemo.features.face import _dlib, model_path

    dlib, detector, _ = _dlib()
    return dlib, detector, dlib.shape_predictor(model_path("shape_predictor_68_face_landmarks.dat"))


@register("face_detector", "dlib")
@dataclass
class DlibFrontEnd(FaceFrontEnd):
    """dlib's HOG frontal face detector (``upsample``: image doublings before detection; 1 finds
    faces down to about 40 pixels) and its 68-point shape predictor."""

    name: ClassVar[str] = "dlib"
    n_landmarks: ClassVar[int] = 68
    upsample: Annotated[int, Field(ge=0, le=3)] = 1

    def _detect(self, rgb):
        _, detector, _ = _dlib_models()
        h, w = rgb.shape[:2]
        return [_clip_box(r.top(), r.left(), r.bottom(), r.right(), h, w) for r in detector(rgb, self.upsample)]

    def _landmarks(self, rgb, box):
        dlib, _, predictor = _dlib_models()
        t, lf, b, r = box
        shape = predictor(rgb, dlib.rectangle(int(lf), int(t), int(r) - 1, int(b) - 1))
        return np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float32)


_POOL: dict[tuple[str, int, float], list[Any]] = {}
_POOL_LOCK = threading.Lock()


@contextmanager
def _mediapipe(what: str, model: int, confidence: float) -> Iterator[Any]:
    """A MediaPipe graph of this kind to use alone: graphs are not safe to share between threads, so
    each thread takes a free one from a pool (made on first need: about a second) and gives it back."""
    key = (what, model, confidence)
    with _POOL_LOCK:
        free = _POOL.setdefault(key, [])
        graph = free.pop() if free else None
    if graph is None:
        graph = _new_graph(what, model, confidence)
    try:
        yield graph
    finally:
        with _POOL_LOCK:
            _POOL[key].append(graph)


def _new_graph(what: str, model: int, confidence: float) -> Any:
    try:
        from mediapipe.python.solutions import face_detection, face_mesh
    except ImportError as exc:
        raise PrivemoError("the mediapipe face front-end needs mediapipe==0.10.21 (make setup installs it; "
                           "later releases no longer ship their models)") from exc
    if what == "detect":
        return face_detection.FaceDetection(model_selection=model, min_detection_confidence=confidence)
    return face_mesh.FaceMesh(static_image_mode=True, max_num_faces=1, refine_landmarks=False,
                              min_detection_confidence=confidence)


@register("face_detector", "mediapipe")
@dataclass
class MediapipeFrontEnd(FaceFrontEnd):
    """MediaPipe's BlazeFace detector (``model``: ``short`` for faces within about 2 m, ``full`` for
    smaller, farther faces) and its 468-point face mesh, run on the box enlarged by ``mesh_margin``
    and scaled to ``mesh_size`` pixels."""

    name: ClassVar[str] = "mediapipe"
    n_landmarks: ClassVar[int] = 468
    threads_parallel: ClassVar[bool] = True  # one graph per thread (see _mediapipe)
    fixed_input: ClassVar[bool] = True  # BlazeFace sees 128 x 128 (short) or 192 x 192 (full)
    model: Literal["short", "full"] = "short"
    min_confidence: Annotated[float, Field(ge=0.0, le=1.0)] = 0.5
    mesh_margin: Annotated[float, Field(ge=0.0, le=1.0)] = 0.25
    mesh_size: Annotated[int, Field(ge=64, le=1024)] = 192

    def _detect(self, rgb):
        with _mediapipe("detect", int(self.model == "full"), self.min_confidence) as graph:
            res = graph.process(rgb)
        h, w = rgb.shape[:2]
        out = []
        for det in res.detections or []:
            bb = det.location_data.relative_bounding_box
            out.append(_clip_box(bb.ymin * h, bb.xmin * w, (bb.ymin + bb.height) * h, (bb.xmin + bb.width) * w, h, w))
        return out

    def _landmarks(self, rgb, box):
        import cv2

        t, lf, b, r = box
        side = max(b - t, r - lf) * (1 + 2 * self.mesh_margin)
        cy, cx = (t + b) / 2, (lf + r) / 2
        y0, x0 = cy - side / 2, cx - side / 2
        scale = self.mesh_size / max(side, 1.0)
        m = np.array([[scale, 0, -x0 * scale], [0, scale, -y0 * scale]], dtype=np.float64)
        patch = cv2.warpAffine(rgb, m, (self.mesh_size, self.mesh_size), flags=cv2.INTER_LINEAR,
                               borderMode=cv2.BORDER_REPLICATE)
        with _mediapipe("mesh", 0, self.min_confidence) as graph:
            res = graph.process(np.ascontiguousarray(patch))
        if not res.multi_face_landmarks:
            return None
        pts = np.array([(p.x, p.y) for p in res.multi_face_landmarks[0].landmark], dtype=np.float64)
        pts = pts * self.mesh_size / scale + np.array([x0, y0])
        return pts.astype(np.float32)


@lru_cache(maxsize=16)
def _frontend(spec: tuple[tuple[str, Any], ...]) -> FaceFrontEnd:
    return create("face_detector", **dict(spec))


def get_frontend(spec: str | dict[str, Any] | FaceFrontEnd = "dlib") -> FaceFrontEnd:
    """The front-end a spec names (``"mediapipe"`` or ``{type: mediapipe, model: full}``), one
    instance per configuration and process."""
    if isinstance(spec, FaceFrontEnd):
        return spec
    spec = {"type": spec} if isinstance(spec, str) else dict(spec)
    return _frontend(tuple(sorted(spec.items())))
