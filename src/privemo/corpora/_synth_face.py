"""Procedural faces for the demo corpus.

Identity lives in face shape, skin tone, hair, and feature geometry (eye spacing and size, nose
length, mouth width); gender in hair length and jaw width; emotion in the brows (height, slant),
eye opening and mouth (curvature and opening).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

CANVAS = 256


@dataclass(frozen=True)
class Face:
    width: float
    height: float
    skin: tuple[int, int, int]
    hair: tuple[int, int, int]
    long_hair: bool
    eye_gap: float
    eye_size: float
    nose: float
    mouth_w: float
    brow_w: float


@dataclass(frozen=True)
class Expression:
    brow_raise: float  # + up
    brow_slant: float  # + inner ends down (anger), - inner ends up (sadness, fear)
    eye_open: float
    smile: float       # + corners up, - corners down
    mouth_open: float


EXPRESSIONS = {
    "neutral": Expression(0.0, 0.0, 1.0, 0.0, 0.0),
    "happy": Expression(0.05, 0.0, 0.7, 1.0, 0.35),
    "sad": Expression(0.0, -0.9, 0.75, -0.8, 0.0),
    "angry": Expression(-0.5, 1.0, 0.8, -0.3, 0.15),
    "fearful": Expression(0.6, -0.6, 1.45, -0.2, 0.6),
    "disgust": Expression(-0.3, 0.4, 0.55, -0.6, 0.2),
}


def random_face(rng: np.random.Generator, gender: str) -> Face:
    male = gender == "m"
    tone = rng.uniform(0.35, 1.0)
    skin = (int(120 + 120 * tone), int(80 + 110 * tone), int(60 + 100 * tone))
    hair_shade = rng.uniform(0.05, 0.6)
    hair = (int(40 + 150 * hair_shade), int(25 + 100 * hair_shade), int(10 + 60 * hair_shade))
    return Face(
        width=float(rng.uniform(0.62, 0.72) if male else rng.uniform(0.54, 0.62)),
        height=float(rng.uniform(0.78, 0.88)), skin=skin, hair=hair, long_hair=not male,
        eye_gap=float(rng.uniform(0.15, 0.22)), eye_size=float(rng.uniform(0.045, 0.07)),
        nose=float(rng.uniform(0.08, 0.15)), mouth_w=float(rng.uniform(0.12, 0.2)),
        brow_w=float(rng.uniform(0.07, 0.1)),
    )


def draw(face: Face, emotion: str, rng: np.random.Generator | None, size: int = 64,
         mouth_extra: float = 0.0) -> np.ndarray:
    """Render an RGB uint8 ``(size, size, 3)`` face; ``rng`` adds pose, lighting and noise jitter."""
    ex = EXPRESSIONS[emotion]
    c = CANVAS
    jit = (lambda s: float(rng.normal(0, s))) if rng is not None else (lambda s: 0.0)
    bg = tuple(int(v) for v in np.clip(np.array([200, 205, 210]) + jit(8), 0, 255))
    im = Image.new("RGB", (c, c), bg)
    d = ImageDraw.Draw(im)
    cx, cy = c / 2, c / 2 + 6
    fw, fh = face.width * c / 2, face.height * c / 2
    if face.long_hair:
        d.ellipse([cx - fw * 1.18, cy - fh * 1.1, cx + fw * 1.18, cy + fh * 1.05], fill=face.hair)
    d.ellipse([cx - fw, cy - fh, cx + fw, cy + fh], fill=face.skin)
    d.chord([cx - fw, cy - fh - 4, cx + fw, cy - fh * 0.2], 180, 360, fill=face.hair)
    eye_y = cy - fh * 0.18
    for side in (-1, 1):
        ex_c = cx + side * face.eye_gap * c
        ew, eh = face.eye_size * c, face.eye_size * c * 0.55 * ex.eye_open
        d.ellipse([ex_c - ew, eye_y - eh, ex_c + ew, eye_y + eh], fill=(250, 250, 250))
        d.ellipse([ex_c - ew * 0.4, eye_y - min(eh, ew * 0.4), ex_c + ew * 0.4, eye_y + min(eh, ew * 0.4)],
                  fill=(40, 30, 20))
        by = eye_y - face.eye_size * c * (1.3 + 0.9 * ex.brow_raise)
        inner, outer = ex_c - side * face.brow_w * c, ex_c + side * face.brow_w * c
        slant = ex.brow_slant * face.eye_size * c * 0.8
        d.line([(inner, by + slant), (outer, by - slant * 0.3)], fill=face.hair, width=max(3, c // 40))
    ny = eye_y + face.nose * c
    d.line([(cx, eye_y + 6), (cx - 6, ny), (cx + 4, ny)], fill=tuple(int(v * 0.75) for v in face.skin), width=3)
    my, mw = cy + fh * 0.5, face.mouth_w * c
    xs = np.linspace(-1, 1, 21)
    bend = ex.smile * c * 0.035
    upper = my - bend * (xs ** 2) + bend * 0.5
    opening = (ex.mouth_open + mouth_extra) * c * 0.05 * (1 - xs ** 2) + 2.5
    pts = [(cx + x * mw, y) for x, y in zip(xs, upper, strict=True)]
    pts += [(cx + x * mw, y + o) for x, y, o in zip(xs[::-1], upper[::-1], opening[::-1], strict=True)]
    d.polygon(pts, fill=(120, 30, 40))
    if rng is not None:
        im = im.rotate(jit(3.0), resample=Image.Resampling.BILINEAR, translate=(round(jit(4.0)), round(jit(4.0))),
                       fillcolor=bg)
    im = im.resize((size, size), Image.Resampling.LANCZOS)
    arr = np.asarray(im, dtype=np.float64)
    if rng is not None:
        arr = arr * rng.uniform(0.85, 1.15) + rng.normal(0, 4.0, arr.shape)
    return np.clip(arr, 0, 255).astype(np.uint8)
