"""Anonymize the faces in whole images (files or folders), resumably.

Each face found by the face front-end (dlib or mediapipe) is enlarged by ``margin``, cut out as a
square, anonymized and pasted back with a soft (feathered) edge; the rest of the image is untouched. An image where no face
is found is, by default, anonymized as a whole (``no_face="whole"``: privacy first), or kept as it is
(``"keep"``), or reported and skipped (``"skip"``). Outputs keep the input's layout and names; a
stamp records the configuration and a resume with another one is refused; each output is written
to a temporary name and renamed.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from privemo.anonymize.batch import check_stamp, destinations, record_unit, shipped, spill
from privemo.anonymize.face import FaceAnonymizer
from privemo.errors import ConfigError, MediaError, PrivemoError
from privemo.executors import Executor, LocalExecutor
from privemo.media import read_image, write_image
from privemo.media._files import media_files

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".gif", ".pgm", ".ppm", ".webp")
_KEEP = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")


@dataclass
class FaceBatchResult:
    written: int = 0
    skipped: int = 0  # already there (resume)
    faces: int = 0
    no_face: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"written": self.written, "skipped": self.skipped, "faces": self.faces,
                "no_face": len(self.no_face), "failed": len(self.failed)}


def detect_faces(img: np.ndarray, upsample: int = 1, detector: str = "dlib") -> list[tuple[int, int, int, int]]:
    """(top, left, bottom, right) of every face the front-end ``detector`` finds (a registered
    ``face_detector``: dlib's HOG frontal detector, with ``upsample``, or mediapipe's BlazeFace)."""
    from privemo.features.frontend import get_frontend

    return get_frontend(frontend_spec(detector, upsample)).detect(img)


def frontend_spec(detector: str = "dlib", upsample: int = 1) -> dict[str, Any]:
    """The face front-end a detector name means (dlib with its ``upsample``)."""
    return {"type": "dlib", "upsample": upsample} if detector == "dlib" else {"type": detector}


def _ramp(n: int, edge: float) -> np.ndarray:
    """0 at both ends rising to 1 over ``edge`` pixels: one axis of the soft paste-back mask."""
    return np.clip((np.minimum(np.arange(n), np.arange(n)[::-1]) + 1) / max(edge, 1.0), 0, 1)


def anonymize_image(anonymizer: FaceAnonymizer, img: np.ndarray, key: str = "", margin: float = 0.25,
                    no_face: str = "whole", boxes: list[tuple[int, int, int, int]] | None = None,
                    detector: str = "dlib") -> tuple[np.ndarray, int]:
    """(the image with every face anonymized, number of faces). Same shape and dtype as ``img``."""
    boxes = detect_faces(img, detector=detector) if boxes is None else boxes
    if not boxes:
        if no_face == "whole":
            return anonymizer.transform(img, key), 0
        return img.copy(), 0
    h, w = img.shape[:2]
    rects = []
    for i, (top, left, bottom, right) in enumerate(boxes):
        side = int(round(max(bottom - top, right - left) * (1 + 2 * margin)))
        cy, cx = (top + bottom) // 2, (left + right) // 2
        t, lft = max(0, cy - side // 2), max(0, cx - side // 2)
        b, r = min(h, t + side), min(w, lft + side)
        if b - t >= 2 and r - lft >= 2:
            rects.append((i, side, t, lft, b, r))
    result = img.copy()
    if not rects:
        return result, len(boxes)
    # only the pixels under some face change: blend in float there (the rest stays as it was)
    y0, x0 = min(q[2] for q in rects), min(q[3] for q in rects)
    y1, x1 = max(q[4] for q in rects), max(q[5] for q in rects)
    out = img[y0:y1, x0:x1].astype(np.float32)
    for i, side, t, lft, b, r in rects:
        region = img[t:b, lft:r]
        anon = anonymizer.transform(region, f"{key}#{i}").astype(np.float32)
        alpha = np.outer(_ramp(b - t, 0.08 * side), _ramp(r - lft, 0.08 * side))
        if img.ndim == 3:
            alpha = alpha[..., None]
        part = out[t - y0:b - y0, lft - x0:r - x0]
        out[t - y0:b - y0, lft - x0:r - x0] = alpha * anon + (1 - alpha) * part
    info = np.iinfo(img.dtype) if np.issubdtype(img.dtype, np.integer) else None
    out = np.clip(np.rint(out), info.min, info.max) if info else out
    result[y0:y1, x0:x1] = out.astype(img.dtype)
    return result, len(boxes)


def image_files(path: Path) -> tuple[list[Path], Path]:
    return media_files(path, IMAGE_SUFFIXES, "images")


def _output(src: Path, root: Path, out_dir: Path) -> Path:
    rel = src.relative_to(root) if src.is_relative_to(root) else Path(src.name)
    return out_dir / (rel if rel.suffix.lower() in _KEEP else rel.with_suffix(".png"))


def fit_faces(anonymizer: FaceAnonymizer, files: list[Path], size: int = 64,
              progress: Callable[[int, int], None] | None = None, subjects: list[str] | None = None,
              crops: bool = False) -> None:
    """Fit a learning anonymizer on the aligned face crops of ``files`` (images without a face are left
    out), or on the images themselves scaled to ``size`` where they are face crops already (``crops``);
    ``subjects`` names each file's person (for an anonymizer that uses them)."""
    import cv2

    from privemo.features.face import align

    faces, kept = [], []
    unreadable: list[str] = []
    for i, p in enumerate(files):
        try:
            img = read_image(p, "rgb")
        except MediaError as exc:
            unreadable.append(str(exc))
            continue
        if crops:
            chip, found = cv2.resize(img, (size, size), interpolation=cv2.INTER_AREA), True
        else:
            chip, found = align(img, size)
        if found:
            faces.append(chip)
            kept.append(subjects[i] if subjects is not None else str(i))
        if progress:
            progress(i + 1, len(files))
    if not faces:
        where = str(files[0]) if len(files) == 1 else f"{len(files)} images ({files[0]}, ...)"
        why = f"; unreadable: {'; '.join(unreadable[:3])}" if unreadable else ""
        raise ConfigError(f"{where}: no face found to fit the anonymizer on{why} (give --fit-on a folder of faces, "
                          "or --model a fitted one)")
    anonymizer.fit(np.stack(faces), subjects=kept if subjects is not None else None)


def pool_files(fit_on: Path, corpus: str | None = None) -> tuple[list[Path], list[str]]:
    """The images of a folder of other people's faces and who each is: the corpus loader's speaker
    (``corpus``: a registered corpus type reading ``fit_on``), else each image's folder (one
    subfolder per person; an image directly in ``fit_on`` is its own person)."""
    if corpus:
        from privemo.corpora import load

        df = load(corpus, fit_on).df
        df = df[df["media"] == "image"]
        if df.empty:
            raise ConfigError(f"{fit_on}: the {corpus} corpus there has no images")
        return [Path(p) for p in df["path"]], df["speaker"].astype(str).tolist()
    files, root = image_files(fit_on)
    return files, [str(p.parent.relative_to(root)) if p.parent != root else p.stem for p in files]


def load_face_model(path: Path, overrides: dict[str, Any] | None = None, expected: str = "face") -> FaceAnonymizer:
    """A fitted face anonymizer written by ``--save-model`` (face_autoencoder, pseudo_face), with
    ``overrides`` of the parameters that only act when anonymizing (its ``transform_params``); a
    different value of a parameter the model was fitted with is a ConfigError naming it."""
    import torch

    from privemo.registry import create, lookup

    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        config = dict(state["config"])
    except Exception as exc:  # any unreadable or foreign file  # noqa: BLE001
        raise ConfigError(f"{path}: not a {expected} model written by --save-model ({exc})") from exc
    if expected != "face" and config.get("type") != expected:
        raise ConfigError(f"{path}: a {config.get('type')} model, not a {expected} model")
    free = set(getattr(lookup("anonymizer", config["type"]), "transform_params", ()))
    for key, value in (overrides or {}).items():
        if key not in free and config.get(key) != value:
            raise ConfigError(f"{path}: the model was fitted with {key}={config.get(key)!r}; {key}={value!r} needs "
                              f"a new fit (only {', '.join(sorted(free)) or 'nothing'} may change with --model)")
    try:
        anonymizer = create("anonymizer", **{**config, **(overrides or {})})
        return anonymizer.load_state(state)
    except ConfigError:
        raise
    except Exception as exc:  # noqa: BLE001
        raise ConfigError(f"{path}: not a {expected} model written by --save-model ({exc})") from exc


def _face_unit(shared: tuple[FaceAnonymizer, float, str, str], item: tuple[str, str | bytes, str, str]
               ) -> tuple[str, bytes | None, int, str | None]:
    """One image, on any worker: (source label, its media as a path or bytes, output suffix, key) ->
    (label, the output file's bytes or None (no face and 'skip'), faces found, error)."""
    anonymizer, margin, no_face, detector = shared
    label, media, suffix, key = item
    with tempfile.TemporaryDirectory(prefix="privemo-unit-") as tmp:
        src = media if isinstance(media, str) else spill(tmp, label, media)
        try:
            img = read_image(src, "rgb")
            anon, n = anonymize_image(anonymizer, img, key, margin, no_face, detector=detector)
            if n == 0 and no_face == "skip":
                return label, None, 0, None
            gray = bool(np.array_equal(img[..., 0], img[..., 1]) and np.array_equal(img[..., 1], img[..., 2]))
            out = Path(tmp) / f"out{suffix}"
            write_image(out, np.rint(anon.mean(axis=-1)).astype(np.uint8) if gray else anon)  # gray stays gray
            return label, out.read_bytes(), n, None
        except (PrivemoError, OSError, ValueError) as exc:
            return label, None, 0, str(exc).replace(str(src), label).replace(str(Path(tmp) / "out"), label)


def anonymize_face_files(anonymizer: FaceAnonymizer, src: str | Path, out: str | Path, no_face: str = "whole",
                         margin: float = 0.25, skip_bad: bool = True,
                         progress: Callable[[int, int], None] | None = None,
                         detector: str = "dlib", executor: Executor | None = None) -> FaceBatchResult:
    """Anonymize a file (``out`` is the output file) or a folder (``out`` a folder, layout kept), on
    ``executor`` (default: this process); each output is written here as it comes back.
    The anonymizer must already be fitted where it learns."""
    if no_face not in ("whole", "keep", "skip"):
        raise ConfigError(f"no_face must be whole, keep or skip, got {no_face!r}")
    executor = executor or LocalExecutor(1)
    src, out = Path(src), Path(out)
    files, root = image_files(src)
    out_dir, dst = destinations(src, out, files, root, _output)
    check_stamp(out_dir, anonymizer, dst, single=src.is_file())
    result = FaceBatchResult()
    todo = [(p, d) for p, d in zip(files, dst, strict=True) if not d.is_file()]
    result.skipped = len(files) - len(todo)
    dst_of = {str(p): d for p, d in todo}
    done = result.skipped
    if progress:
        progress(done, len(files))
    items = ((str(p), shipped(str(p), executor), d.suffix.lower(),
              str(p.relative_to(root)) if p.is_relative_to(root) else p.name) for p, d in todo)
    for label, data, n, err in executor.imap(_face_unit, (anonymizer, margin, no_face, detector), items, chunk=4):
        done += 1
        if record_unit(dst_of[label], label, data, err, result.failed, skip_bad):
            if n == 0:
                result.no_face.append(label)
            if data is not None:
                result.written += 1
                result.faces += n
        if progress:
            progress(done, len(files))
    return result


CROP_CHUNK = 256  # face crops per work unit of `anonymize_crops`


def _crops_unit(anonymizer: FaceAnonymizer, item: tuple[int, np.ndarray, list[str]]) -> tuple[int, np.ndarray]:
    start, images, keys = item
    return start, anonymizer.transform_batch(images, keys)


def anonymize_crops(anonymizer: FaceAnonymizer, images: np.ndarray, keys: list[str],
                    executor: Executor | None = None, chunk: int = CROP_CHUNK) -> np.ndarray:
    """``anonymizer.transform_batch`` of ``images`` (with their ``keys``) in chunks of ``chunk``, on an
    executor: the fitted anonymizer is sent to the workers once, the crops travel as arrays and come
    back to this process. The chunks are the same on every executor (a batched network may round the
    last bit by batch), so the result does not depend on where it ran (tested); no executor: this
    process."""
    if len(images) != len(keys):
        raise ValueError(f"{len(images)} images but {len(keys)} keys")
    items = ((s, images[s:s + chunk], list(keys[s:s + chunk])) for s in range(0, len(images), chunk))
    out: np.ndarray | None = None
    results = executor.imap(_crops_unit, anonymizer, items) if executor is not None else \
        (_crops_unit(anonymizer, it) for it in items)
    for start, res in results:
        if out is None:
            out = np.empty((len(images), *res.shape[1:]), dtype=res.dtype)
        out[start:start + len(res)] = res
    return out if out is not None else anonymizer.transform_batch(images, keys)
