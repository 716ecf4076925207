"""dlib's front-end reads a gray image as gray: the same boxes and points as from its RGB copy, without
making the copy (half the time of pseudo_face's landmark step on gray crops)."""

from __future__ import annotations

import numpy as np

from privemo.features import frontend
from privemo.features.frontend import get_frontend
from tests.unit.test_pseudo_face import faces


def test_dlib_reads_gray_as_gray_and_finds_what_it_finds_on_the_rgb_copy(monkeypatch):
    imgs, _ = faces(n_subjects=3, per=2, size=96)
    front = get_frontend("dlib")
    for im in imgs:
        assert np.array_equal(front.landmarks(im), front.landmarks(np.repeat(im[..., None], 3, axis=2)))
        assert np.array_equal(front.landmarks(im[..., None]), front.landmarks(im))
        floats = im.astype(np.float32) + 0.2  # rounded to the same uint8 image
        assert np.array_equal(front.landmarks(floats), front.landmarks(im))
        assert front.detect(im) == front.detect(np.repeat(im[..., None], 3, axis=2))
    dlib, detector, predictor = frontend._dlib_models()
    seen: list[int] = []

    def spy(img, rect):
        seen.append(np.asarray(img).ndim)
        return predictor(img, rect)

    monkeypatch.setattr(frontend, "_dlib_models", lambda: (dlib, detector, spy))
    front.landmarks(imgs[0])
    front.landmarks(np.repeat(imgs[0][..., None], 3, axis=2))
    assert seen == [2, 3]
