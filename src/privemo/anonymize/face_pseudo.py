"""``pseudo_face``: privemo's expression-preserving identity replacement (no GAN weights needed).

The expression is carried by the face's landmark geometry; the identity by the rest. Fitting, on the
face crops of training subjects (never the people to be anonymized):

1. the landmarks of every face (a face front-end: dlib's 68 points or mediapipe's 468), aligned to
   their mean shape by similarity Procrustes (pose and scale removed);
2. an **expression basis**: the principal directions of each face's deviation from its *own
   subject's* mean shape (``components`` of them), so that the between-subject (identity) part of
   face shape is left out of what is kept; with ``identity_components`` > 0, the principal directions
   of how the subjects' mean shapes differ are projected out of it as well (off by default: on CK+48's
   selection half 4 of them took the informed attacker lower but the expression with it);
3. a **pool**: every training face warped piecewise-affinely onto the mean shape (its texture in a
   common frame), with its expression coefficients.

Anonymizing a face: its landmarks are aligned to the mean shape and only their projection on the
expression basis is kept (target shape = mean + expression); a **pseudo-identity** is the average
of ``k`` pool faces of ``k`` different subjects whose expressions are nearest to this face's
(k-Same-Select; the ``k`` are drawn, per image key, among the ``k * candidates`` nearest subjects);
the average is warped onto the target shape left in the pool's mean pose (``pose: canonical``, the
default since 2026-12-08: a person's position, size and tilt in the crop are constant enough over a
recording session to name them to an attacker trained on protected faces) or put back in the face's
own pose (``keep``: the face follows the head's tilt within its box); with ``geometry: pool`` the
expression kept is the average of the k pool faces' own (nothing of the face but which pool faces it
picked reaches the output; on CK+48's selection half the informed attacker 4.0% -> 3.5%, but fer's
expression 0.91 x -> 0.85 x, so off by default); its colour left as the pool's or matched to the face's
(``colour``: mean, or mean and spread, per channel), and it replaces the crop (the face-batch and
video paths paste it back with a soft edge). Deterministic per ``seed`` and key.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Annotated, Any, ClassVar, Literal

import numpy as np
from pydantic import Field

from privemo.anonymize.face import FaceAnonymizer, Progress, _cv2, as_images
from privemo.errors import ConfigError
from privemo.registry import register

_BORDER = np.array([[0, 0], [0.5, 0], [1, 0], [1, 0.5], [1, 1], [0.5, 1], [0, 1], [0, 0.5]], dtype=np.float64)


def _similarity(src: np.ndarray, dst: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """(scale, rotation R (2x2), translation t) minimising |s R src + t - dst| (Umeyama's solution,
    in the closed form it takes in two dimensions)."""
    ms, md = src.mean(0), dst.mean(0)
    a, b = src - ms, dst - md
    p = float((a * b).sum())  # sum of a.b
    q = float((a[:, 0] * b[:, 1] - a[:, 1] * b[:, 0]).sum())  # sum of a x b
    norm = float(np.hypot(p, q))
    var = float((a ** 2).sum())
    if norm > 0:
        c, s = p / norm, q / norm
    else:
        c, s = 1.0, 0.0
    rot = np.array([[c, -s], [s, c]])
    scale = norm / var if var > 0 else 1.0
    return scale, rot, md - scale * (rot @ ms)


def _apply(shape: np.ndarray, s: float, rot: np.ndarray, t: np.ndarray) -> np.ndarray:
    return s * shape @ rot.T + t


@lru_cache(maxsize=8)
def _grid(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)
    ys.flags.writeable = xs.flags.writeable = False
    return ys, xs


def _affines(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """(T, 6) rows (ax, ay, cx, bx, by, cy) of the affine maps taking each triangle ``dst`` (T, 3, 2)
    onto ``src``: x_src = ax x + ay y + cx, y_src = bx x + by y + cy (closed form; a triangle collapsed
    to a line, to float precision, which covers at most a line of pixels, by least squares)."""
    e1, e2 = dst[:, 1] - dst[:, 0], dst[:, 2] - dst[:, 0]
    det = e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0]
    ok = np.abs(det) > 1e-9 * ((e1 ** 2).sum(1) + (e2 ** 2).sum(1))
    inv_det = 1.0 / np.where(ok, det, 1.0)
    m00, m01 = e2[:, 1] * inv_det, -e2[:, 0] * inv_det  # barycentric (u, v) = M ((x, y) - dst0)
    m10, m11 = -e1[:, 1] * inv_det, e1[:, 0] * inv_det
    f1, f2 = src[:, 1] - src[:, 0], src[:, 2] - src[:, 0]  # src = src0 + u f1 + v f2
    ax, ay = f1[:, 0] * m00 + f2[:, 0] * m10, f1[:, 0] * m01 + f2[:, 0] * m11
    bx, by = f1[:, 1] * m00 + f2[:, 1] * m10, f1[:, 1] * m01 + f2[:, 1] * m11
    cx = src[:, 0, 0] - ax * dst[:, 0, 0] - ay * dst[:, 0, 1]
    cy = src[:, 0, 1] - bx * dst[:, 0, 0] - by * dst[:, 0, 1]
    out = np.stack([ax, ay, cx, bx, by, cy], axis=1)
    if not ok.all():
        bad = np.flatnonzero(~ok)
        d = np.concatenate([dst[bad], np.ones((len(bad), 3, 1))], axis=2)
        out[bad] = np.einsum("tij,tjk->tki", np.linalg.pinv(d), src[bad]).reshape(len(bad), 6)
    return out


def piecewise_affine(image: np.ndarray, src: np.ndarray, dst: np.ndarray, triangles: np.ndarray,
                     out_size: tuple[int, int]) -> np.ndarray:
    """``image`` warped so that its points ``src`` land on ``dst`` (pixels, (x, y)), triangle by triangle;
    an output pixel no triangle covers is sampled where it is (identity)."""
    cv2 = _cv2()
    h, w = out_size
    label = np.zeros((h, w), np.int32)  # 0: no triangle; i: the i-th (a later triangle wins on an edge)
    for i, corners in enumerate(np.rint(dst[triangles]).astype(np.int32), 1):
        cv2.fillConvexPoly(label, corners, i)
    table = np.empty((6, len(triangles) + 1))
    table[:, 0] = (1, 0, 0, 0, 1, 0)  # the identity
    table[:, 1:] = _affines(src[triangles], dst[triangles]).T
    ys, xs = _grid(h, w)
    t = table[:, label]
    mx = t[0] * xs + t[1] * ys + t[2]
    my = t[3] * xs + t[4] * ys + t[5]
    return cv2.remap(image, mx.astype(np.float32), my.astype(np.float32), cv2.INTER_LINEAR,
                     borderMode=cv2.BORDER_REPLICATE)


def _nearest_first(dist: np.ndarray, n: int) -> Iterator[int]:
    """Indices in the order of ``np.argsort(dist, kind="stable")``; only the ``n`` nearest (and any tie
    at the cut) are sorted unless the caller reads past them, when the rest follows in order."""
    if n >= len(dist):
        yield from np.argsort(dist, kind="stable").tolist()
        return
    cut = dist[np.argpartition(dist, n)[:n]].max()
    head = np.flatnonzero(dist <= cut)  # ascending indices, so a stable sort breaks ties as argsort does
    yield from head[np.argsort(dist[head], kind="stable")].tolist()
    rest = np.flatnonzero(dist > cut)
    yield from rest[np.argsort(dist[rest], kind="stable")].tolist()


@register("anonymizer", "pseudo_face")
@dataclass
class PseudoFace(FaceAnonymizer):
    """Expression-preserving identity replacement: the face's expression geometry on a k-Same-Select
    average of other people's faces (see the module's description). Fit it on faces of people other
    than those it anonymizes, with their subject labels."""

    name: ClassVar[str] = "pseudo_face"
    fits_on_others: ClassVar[bool] = True
    transform_params: ClassVar[tuple[str, ...]] = ("k", "candidates", "colour", "pose", "region", "geometry",
                                                   "seed")
    k: Annotated[int, Field(ge=1, le=100)] = 5
    candidates: Annotated[int, Field(ge=1, le=20)] = 2
    components: Annotated[int, Field(ge=0, le=200)] = 10
    identity_components: Annotated[int, Field(ge=0, le=200)] = 0  # between-subject shape directions left out
    size: Annotated[int, Field(ge=16, le=512)] = 64
    landmarks: Literal["dlib", "mediapipe"] = "dlib"
    inset: Annotated[float, Field(ge=0.0, lt=0.4)] = 0.08
    colour: Literal["none", "mean", "full"] = "none"  # match the face's brightness (mean) or also its contrast
    pose: Literal["keep", "canonical"] = "canonical"  # the pool's mean pose, or the face's own position, scale and tilt
    # replace the whole crop, or the face (landmark hull and forehead: the new face's, and the face's own)
    region: Literal["crop", "face"] = "crop"
    # the expression kept: the face's own code, or the average code of the k pool faces it is made of
    geometry: Literal["own", "pool"] = "own"

    # -- landmarks --------------------------------------------------------------------------------
    def _points(self, img: np.ndarray) -> np.ndarray | None:
        """Landmarks of the face filling the crop, in [0, 1] units of the crop, or None."""
        cv2 = _cv2()
        from privemo.features.frontend import get_frontend

        side = 160
        im = np.clip(np.rint(img), 0, 255).astype(np.uint8)
        big = cv2.resize(im, (side, side), interpolation=cv2.INTER_CUBIC)
        m = int(round(self.inset * side))
        pts = get_frontend(self.landmarks).landmarks(big, (m, m, side - m, side - m))
        if pts is None and self.landmarks != "dlib":
            pts = get_frontend("dlib").landmarks(big, (m, m, side - m, side - m))
        return None if pts is None else np.asarray(pts, np.float64) / side

    # -- fit --------------------------------------------------------------------------------------
    def fit(self, faces: np.ndarray | Sequence[np.ndarray], progress: Progress | None = None,
            subjects: Sequence[str] | None = None) -> PseudoFace:
        arr = as_images(faces)
        if len(arr) == 0:
            raise ConfigError("pseudo_face: fit it on face crops of other people (none given)")
        subj = np.array([str(s) for s in subjects]) if subjects is not None else np.arange(len(arr)).astype(str)
        if len(subj) != len(arr):
            raise ConfigError(f"pseudo_face: {len(arr)} faces but {len(subj)} subject labels")
        pts, keep = [], []
        for i, im in enumerate(arr):
            p = self._points(im.astype(np.float32))
            if p is not None:
                pts.append(p)
                keep.append(i)
            if progress:
                progress(i + 1, len(arr))
        if len(keep) < self.k:
            raise ConfigError(f"pseudo_face: landmarks found on {len(keep)} of {len(arr)} faces; needs at least "
                              f"k={self.k}")
        shapes = np.stack(pts)
        keep_ix = np.array(keep)
        subj = subj[keep_ix]
        if len(set(subj.tolist())) < self.k:
            raise ConfigError(f"pseudo_face: faces of {len(set(subj.tolist()))} subjects; k={self.k} needs at least "
                              f"{self.k} different people in the pool")
        mean = shapes.mean(0)
        for _ in range(3):  # generalised Procrustes: every shape aligned to the mean shape
            aligned = np.stack([_apply(s, *_similarity(s, mean)) for s in shapes])
            new = aligned.mean(0)
            s_, r_, t_ = _similarity(new, shapes.mean(0))  # keep the mean in the crop's frame
            mean = _apply(new, s_, r_, t_)
        aligned = np.stack([_apply(s, *_similarity(s, mean)) for s in shapes])
        own = np.zeros_like(aligned)
        for s in set(subj.tolist()):
            own[subj == s] = aligned[subj == s].mean(0)
        dev = (aligned - own).reshape(len(aligned), -1)
        if subjects is None or not dev.any():
            dev = (aligned - mean).reshape(len(aligned), -1)
        self.identity_ = np.zeros((0, dev.shape[1]))  # (the basis is fitted without them; not saved)
        people = sorted(set(subj.tolist())) if self.identity_components > 0 and subjects is not None else []
        if len(people) > 1:
            # the principal directions of how people's mean shapes differ: left out of the expression
            means = np.stack([aligned[subj == s].mean(0).reshape(-1) for s in people])
            _, _, vb = np.linalg.svd(means - means.mean(0), full_matrices=False)
            self.identity_ = vb[: min(self.identity_components, len(people) - 1)]
            dev = dev - (dev @ self.identity_.T) @ self.identity_
        n_comp = min(self.components, dev.shape[0], dev.shape[1])
        if n_comp > 0:
            _, _, vt = np.linalg.svd(dev - dev.mean(0), full_matrices=False)
            self.basis_ = vt[:n_comp]
        else:
            self.basis_ = np.zeros((0, dev.shape[1]))
        self.mean_ = mean
        self.codes_ = (aligned - mean).reshape(len(aligned), -1) @ self.basis_.T
        self.subjects_ = subj
        from scipy.spatial import Delaunay

        ref = np.vstack([mean, _BORDER])
        self.triangles_ = Delaunay(ref).simplices.astype(np.int64)
        S = self.size
        dst = ref * (S - 1)
        tex = []
        for j, i in enumerate(keep_ix):
            im = arr[i].astype(np.float32)
            h, w = im.shape[:2]
            src = np.vstack([shapes[j], _BORDER]) * np.array([w - 1, h - 1])
            tex.append(piecewise_affine(im, src, dst, self.triangles_, (S, S)))
        self.textures_ = np.clip(np.rint(np.stack(tex)), 0, 255).astype(np.uint8)  # as saved
        return self

    # -- transform --------------------------------------------------------------------------------
    def _transform(self, images: np.ndarray, keys: list[str]) -> np.ndarray:
        if not hasattr(self, "textures_"):
            raise ConfigError("pseudo_face: fit it on faces of other people before anonymizing")
        return np.stack([self._one(im, k or str(i)) for i, (im, k) in enumerate(zip(images, keys, strict=True))])

    def _one(self, img: np.ndarray, key: str) -> np.ndarray:
        cv2 = _cv2()
        h, w = img.shape[:2]
        pts = self._points(img)
        if pts is None:  # no landmarks: the pseudo-identity in a neutral pose (privacy first)
            pose, code = (1.0, np.eye(2), np.zeros(2)), np.zeros(len(self.basis_))
            own = pose
        else:
            s, rot, t = _similarity(pts, self.mean_)
            code = (_apply(pts, s, rot, t) - self.mean_).reshape(-1) @ self.basis_.T
            pose = own = (1.0 / s, rot.T, -(rot.T @ t) / s)  # mean frame -> this crop
            if self.pose == "canonical":
                pose = (1.0, np.eye(2), np.zeros(2))
        picked = self._picked(code, key)
        texture = self.textures_[picked].astype(np.float32).mean(0)
        if self.geometry == "pool" and len(code):
            code = self.codes_[picked].mean(0)
        target = self.mean_ + (code @ self.basis_).reshape(self.mean_.shape)
        S = self.size
        src = np.vstack([self.mean_, _BORDER]) * (S - 1)
        dst = np.vstack([_apply(target, *pose), _BORDER]) * (S - 1)
        out = piecewise_affine(texture, src, dst, self.triangles_, (S, S))
        mask = None
        if self.region == "face":  # the new face's hull, and (in the mean pose) where the face itself was
            mask = self._face_mask(dst[: len(self.mean_)], S)
            if own is not pose:
                mask = np.maximum(mask, self._face_mask(_apply(target, *own) * (S - 1), S))
        if (h, w) != (S, S):
            out = cv2.resize(out, (w, h), interpolation=cv2.INTER_LINEAR)
        if out.ndim == 2 and img.ndim == 3:  # a gray pool for a colour face
            out = np.repeat(out[..., None], img.shape[2], axis=2)
        elif out.ndim == 3 and img.ndim == 2:
            out = out.mean(axis=2)
        out = out.reshape(img.shape)
        if self.colour != "none":  # per channel: the pool's face carried to this face's brightness (and contrast)
            axes = (0, 1)
            mu_o, mu_i = out.mean(axes), img.mean(axes)
            scale = (img.std(axes) + 1e-3) / (out.std(axes) + 1e-3) if self.colour == "full" else 1.0
            out = (out - mu_o) * scale + mu_i
        if mask is not None:
            if (h, w) != (S, S):
                mask = cv2.resize(mask, (w, h), interpolation=cv2.INTER_LINEAR)
            mask = mask[..., None] if img.ndim == 3 else mask
            out = mask * out + (1 - mask) * img
        return np.clip(out, 0, 255)

    @staticmethod
    def _face_mask(points: np.ndarray, size: int) -> np.ndarray:
        """A soft mask of the face: the landmarks' hull, raised above the brows by a fifth of the face."""
        cv2 = _cv2()
        top, bottom = points[:, 1].min(), points[:, 1].max()
        upper = points[points[:, 1] < top + 0.25 * (bottom - top)]
        hull = np.vstack([points, upper - np.array([0, 0.2 * (bottom - top)])])
        mask = np.zeros((size, size), np.float32)
        cv2.fillConvexPoly(mask, cv2.convexHull(np.rint(hull).astype(np.int32)), 1.0)
        return cv2.GaussianBlur(mask, (0, 0), sigmaX=max(1.0, 0.04 * size))

    def _picked(self, code: np.ndarray, key: str) -> np.ndarray:
        """The k pool faces (of k different subjects, nearest in expression) a pseudo-identity averages."""
        dist = ((self.codes_ - code) ** 2).sum(1) if len(code) else np.zeros(len(self.codes_))
        order = _nearest_first(dist, 8 * self.k * self.candidates)
        seen: dict[str, int] = {}
        for i in order:  # each subject's face nearest in expression
            seen.setdefault(str(self.subjects_[i]), int(i))
            if len(seen) >= self.k * self.candidates:
                break
        nearest = np.array(list(seen.values()))
        pick = self.rng(key).choice(len(nearest), size=min(self.k, len(nearest)), replace=False)
        return nearest[np.sort(pick)]

    # -- save / load ------------------------------------------------------------------------------
    _STATE = ("mean_", "basis_", "codes_", "triangles_", "textures_")

    def state_dict(self) -> dict[str, Any]:
        import torch

        if not hasattr(self, "textures_"):
            raise ConfigError("pseudo_face: fit it before saving it")
        return {"config": self.config(), "subjects": [str(x) for x in self.subjects_],
                **{k: torch.from_numpy(np.ascontiguousarray(getattr(self, k))) for k in self._STATE}}

    def load_state(self, state: dict[str, Any]) -> PseudoFace:
        for k in self._STATE:
            setattr(self, k, state[k].numpy())
        self.subjects_ = np.array(state["subjects"])
        return self
