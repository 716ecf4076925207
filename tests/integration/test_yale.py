"""Yale faces (../shared/data/yalefaces): counts, GIF reading, and dlib face alignment."""

from __future__ import annotations

import pytest

from privemo.corpora import load_yale
from privemo.features import extract
from tests.conftest import shared

pytestmark = pytest.mark.integration


def test_inspect_counts():
    m = load_yale(shared("yalefaces"))
    s = m.summary()
    assert s["items"] == 164 and s["speakers"] == 15
    assert s["emotions"]["happy"] == 15 and s["emotions"]["<NA>"] == 89


def test_dlib_alignment_finds_most_faces():
    m = load_yale(shared("yalefaces")).where(emotion="happy")
    out = extract(m, {"type": "face_crop", "size": 64})
    fallback = sum(n["fallback"] for n in out.notes)
    assert all(v.shape == (64, 64) for v in out.values)
    assert fallback <= 3, f"{fallback} of {len(m)} happy faces not detected"
