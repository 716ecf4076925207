"""The uses of a trained PPRL-VGAN as figures (chen-2018 §5.4-5.5): identity replacement grid,
synthesis without an input image, left-out expression synthesis, expression morphing (eq. 7) and
image completion with the two masks. Each is a PNG of face tiles (rows of images, no axes)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from privemo.learners.vgan import Vgan, completion_masks, from_model
from privemo.media import write_image

GAP = 2


def _rgb(images: np.ndarray) -> np.ndarray:
    arr = np.asarray(images)
    return np.repeat(arr[..., None], 3, axis=-1) if arr.ndim == 3 else arr


def tile(rows: list[list[np.ndarray]], gap: int = GAP) -> np.ndarray:
    """Rows of equally sized images as one RGB uint8 picture with white gaps."""
    rows = [[_rgb(im[None])[0] for im in r] for r in rows]
    h, w = rows[0][0].shape[:2]
    cols = max(len(r) for r in rows)
    out = np.full((len(rows) * (h + gap) - gap, cols * (w + gap) - gap, 3), 255, np.uint8)
    for i, r in enumerate(rows):
        for j, im in enumerate(r):
            out[i * (h + gap):i * (h + gap) + h, j * (w + gap):j * (w + gap) + w] = im
    return out


def _one_per_subject(subjects: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    pick = [int(rng.choice(np.flatnonzero(subjects == s))) for s in sorted(set(subjects.tolist()))]
    return np.array(pick[:n], dtype=int)


MAX_CODES = 16  # identity codes a replacement or synthesis figure shows


def shown_codes(k: int) -> np.ndarray:
    """The identity codes the figures show: all of them, or MAX_CODES evenly spaced."""
    return np.arange(k) if k <= MAX_CODES else np.unique(np.linspace(0, k - 1, MAX_CODES).round().astype(int))


def draw_figures(model: Vgan, data: Any, out_dir: Path, seed: int = 0, rows: int = 6) -> list[Path]:
    rng = np.random.default_rng(seed)
    test = data.test
    written: list[Path] = []

    def save(name: str, picture: np.ndarray) -> None:
        path = out_dir / f"{name}.png"
        write_image(path, picture)
        written.append(path)

    def fit(images: np.ndarray) -> np.ndarray:  # model outputs at the data's size / channels
        return from_model(images, test.images[0])

    # identity replacement: each row an input face, then one output per identity code (Fig. 3; at
    # most MAX_CODES codes, evenly spaced, so that a corpus of many people stays readable)
    k = model.n_identities
    codes = shown_codes(k)
    pick = _one_per_subject(test.subject, rows, rng)
    grid = model.replace_all(test.images[pick])
    save("replacement", tile([[test.images[i], *fit(grid[r][codes])] for r, i in enumerate(pick)]))
    # synthesis without an input image, f ~ N(0, I): a column per identity code shown (Fig. 4)
    synth = model.synthesize(np.tile(codes, 4), seed=seed)
    n = len(codes)
    save("synthesis", tile([list(fit(synth[r * n:(r + 1) * n])) for r in range(4)]))
    # expression morphing (eq. 7): two faces of one subject with different expressions (Fig. 6),
    # for the first three test subjects that have two
    morph_rows = []
    for s in sorted(set(test.subject.tolist())):
        idx = np.flatnonzero(test.subject == s)
        emos = test.emotion[idx]
        if len(set(emos.tolist())) < 2:
            continue
        if len(morph_rows) == 3:
            break
        a = idx[0]
        b = idx[np.flatnonzero(emos != emos[0])[0]]
        code = model.identities_.index(s) if s in model.identities_ else 0
        morph_rows.append([test.images[a], *fit(model.morph(test.images[a], test.images[b], code, 8)), test.images[b]])
    if morph_rows:
        save("morphing", tile(morph_rows))
    # image completion with the two masks of §5.5: original, masked, completed (Fig. 7)
    size = test.images.shape[1]
    masks = completion_masks(size)
    comp_rows = []
    for i in _one_per_subject(test.subject, 4, rng):
        im = test.images[i]
        code = model.identities_.index(test.subject[i]) if test.subject[i] in model.identities_ else 0
        row = [im]
        for m in masks.values():
            masked = im.copy()
            masked[m] = 0
            row += [masked, model.complete(im[None], m[None], [code])[0]]
        comp_rows.append(row)
    save("completion", tile(comp_rows))
    # left-out expression: other subjects' faces of that expression, decoded with the left-out code (Fig. 5)
    if len(data.left_out):
        s, e = data.left_out.subject[0], data.left_out.emotion[0]
        donors = np.flatnonzero((test.emotion == e) & (test.subject != s))[:4]
        if len(donors) and s in model.identities_:
            made = fit(model.replace(test.images[donors], np.full(len(donors), model.identities_.index(s))))
            truth = data.left_out.images[:len(donors)]
            save("left_out", tile([list(test.images[donors]), list(made), list(truth)]))
    return written
