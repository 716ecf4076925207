"""pseudo_face, privemo's expression-preserving identity replacement: its warp, its pool, and the
evaluation's cross-fitting (no face is ever made from its own subject's pool)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from privemo.anonymize.face_batch import anonymize_crops
from privemo.anonymize.face_pseudo import PseudoFace, _affines, _apply, _similarity, piecewise_affine
from privemo.attacks.face_table import AnonymizerTable
from privemo.errors import ConfigError
from privemo.experiments.face.config import AnonymizerTableConfig
from privemo.features.faceset import FaceSet


def faces(n_subjects: int = 6, per: int = 3, size: int = 48, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Smooth synthetic faces: an ellipse with two eyes and a mouth whose height varies per image."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size] / size
    out, subj = [], []
    for s in range(n_subjects):
        tone = 90 + 20 * s
        for j in range(per):
            img = np.full((size, size), 30.0)
            img[((xx - 0.5) / 0.33) ** 2 + ((yy - 0.52) / 0.42) ** 2 < 1] = tone
            for ex in (0.36, 0.64):
                img[((xx - ex) / 0.06) ** 2 + ((yy - 0.42) / 0.03) ** 2 < 1] = 20
            img[((xx - 0.5) / 0.12) ** 2 + ((yy - 0.72) / (0.02 + 0.02 * j)) ** 2 < 1] = 40
            out.append(np.clip(img + rng.normal(0, 2, img.shape), 0, 255).astype(np.uint8))
            subj.append(f"s{s}")
    return np.stack(out), np.array(subj)


def test_piecewise_affine_with_equal_points_is_the_identity():
    img = np.random.default_rng(0).uniform(0, 255, (40, 40)).astype(np.float32)
    pts = np.array([[0, 0], [39, 0], [39, 39], [0, 39], [20, 18]], dtype=np.float64)
    tris = np.array([[0, 1, 4], [1, 2, 4], [2, 3, 4], [3, 0, 4]])
    out = piecewise_affine(img, pts, pts, tris, (40, 40))
    assert np.abs(out - img).max() < 1e-3


def test_piecewise_affine_moves_a_point_where_asked():
    img = np.zeros((41, 41), np.float32)
    img[10, 10] = 255.0
    src = np.array([[0, 0], [40, 0], [40, 40], [0, 40], [10, 10]], dtype=np.float64)
    dst = src.copy()
    dst[4] = [30, 25]
    tris = np.array([[0, 1, 4], [1, 2, 4], [2, 3, 4], [3, 0, 4]])
    out = piecewise_affine(img, src, dst, tris, (41, 41))
    assert np.unravel_index(out.argmax(), out.shape) == (25, 30)


def test_affines_map_every_triangle_onto_its_source_and_a_collapsed_one_by_least_squares():
    rng = np.random.default_rng(0)
    dst = rng.uniform(0, 64, (50, 3, 2))
    dst[7, 2] = dst[7, 0] + 0.5 * (dst[7, 1] - dst[7, 0])  # collapsed: its corners on one line
    src = rng.uniform(0, 64, (50, 3, 2))
    rows = _affines(src, dst)
    mapped = np.stack([dst[..., 0] * rows[:, None, 0] + dst[..., 1] * rows[:, None, 1] + rows[:, None, 2],
                       dst[..., 0] * rows[:, None, 3] + dst[..., 1] * rows[:, None, 4] + rows[:, None, 5]], axis=-1)
    ok = np.arange(50) != 7
    np.testing.assert_allclose(mapped[ok], src[ok], atol=1e-8)
    d7 = np.concatenate([dst[7], np.ones((3, 1))], axis=1)  # what numpy's least squares gives
    np.testing.assert_allclose(rows[7], (np.linalg.pinv(d7) @ src[7]).T.reshape(6), atol=1e-8)


@pytest.mark.parametrize("mirror", [False, True])
def test_similarity_is_umeyamas_least_squares_fit(mirror):
    rng = np.random.default_rng(1)
    src = rng.normal(size=(68, 2))
    angle, scale, shift = 0.7, 1.8, np.array([3.0, -2.0])
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    dst = scale * src @ rot.T + shift + 0.01 * rng.normal(size=src.shape)
    if mirror:  # no rotation fits: the best proper one (never a reflection)
        dst = dst * np.array([-1.0, 1.0])
    s, r, t = _similarity(src, dst)
    assert np.isclose(np.linalg.det(r), 1.0)
    a, b = src - src.mean(0), dst - dst.mean(0)  # Umeyama (1991) by SVD
    u, sv, vt = np.linalg.svd(b.T @ a)
    d = np.sign(np.linalg.det(u @ vt))
    r_ref = u @ np.diag([1.0, d]) @ vt
    np.testing.assert_allclose(r, r_ref, atol=1e-9)
    assert np.isclose(s, (sv * np.array([1.0, d])).sum() / (a ** 2).sum())
    np.testing.assert_allclose(_apply(src, s, r, t).mean(0), dst.mean(0), atol=1e-9)
    if not mirror:
        assert np.isclose(s, scale, rtol=0.01) and np.allclose(r, rot, atol=0.01)


def test_pseudo_identity_averages_k_different_subjects_and_is_deterministic():
    imgs, subj = faces()
    a = PseudoFace(k=3, candidates=2, components=4).fit(imgs, subjects=list(subj))
    assert a.textures_.shape == (len(imgs), a.size, a.size)
    assert set(a.subjects_.tolist()) == set(subj.tolist())
    picks = a._picked(np.zeros(len(a.basis_)), "key").tolist()  # the pool faces the average is made of
    assert len(picks) == 3 and len({a.subjects_[i] for i in picks}) == 3
    one = a.transform(imgs[0], "k0")
    again = PseudoFace(k=3, candidates=2, components=4).fit(imgs, subjects=list(subj)).transform(imgs[0], "k0")
    assert one.shape == imgs[0].shape and one.dtype == np.uint8 and np.array_equal(one, again)


def test_identity_components_leave_how_people_differ_out_of_the_kept_expression():
    imgs, subj = faces(n_subjects=8)
    plain = PseudoFace(k=3, components=4).fit(imgs, subjects=list(subj))
    a = PseudoFace(k=3, components=4, identity_components=3).fit(imgs, subjects=list(subj))
    assert plain.identity_.shape[0] == 0 and a.identity_.shape == (3, a.mean_.size)
    assert np.allclose(a.identity_ @ a.identity_.T, np.eye(3), atol=1e-8)
    assert np.abs(a.basis_ @ a.identity_.T).max() < 1e-8  # nothing of the kept code lies along them
    shifted = a.mean_.reshape(-1) + 0.05 * a.identity_[0]  # the mean shape moved the way people differ
    assert np.allclose((shifted - a.mean_.reshape(-1)) @ a.basis_.T, 0, atol=1e-8)
    state = a.state_dict()
    b = PseudoFace(k=3, components=4, identity_components=3).load_state(state)
    assert np.array_equal(b.transform(imgs[0], "k"), a.transform(imgs[0], "k"))


def test_fit_needs_k_people_and_transform_needs_a_fit():
    imgs, subj = faces(n_subjects=2)
    with pytest.raises(ConfigError, match="k=5 needs at least 5 different people"):
        PseudoFace().fit(imgs, subjects=list(subj))
    with pytest.raises(ConfigError, match="subject labels"):
        PseudoFace(k=2).fit(imgs, subjects=["a"])
    with pytest.raises(ConfigError, match="fit it"):
        PseudoFace().transform(imgs[0])


def test_the_table_anonymizes_each_subject_with_a_pool_of_other_people():
    imgs, subj = faces(n_subjects=8, per=2)
    n = len(imgs)
    data = FaceSet(imgs, subj, np.array(["happy", "sad"] * (n // 2)), np.full(n, "?"), np.arange(n),
                   np.array([f"i{i}" for i in range(n)]), np.ones(n, bool))
    table = AnonymizerTable(data, AnonymizerTableConfig(folds=4, epochs=1), 0, (4, 8), None, anonymize_crops)
    seen: list[tuple[set[str], set[str]]] = []

    class Spy(PseudoFace):
        def fit(self, faces, progress=None, subjects=None):
            self._pool = set(subjects)
            return super().fit(faces, progress, subjects)

        def transform_batch(self, images, keys=None):
            anonymized = {str(subj[int(k[1:])]) for k in keys}
            seen.append((self._pool, anonymized))
            return super().transform_batch(images, keys)

    out = table.anonymize_cross(Spy(k=2, candidates=1, components=2))
    assert out.shape == imgs.shape
    assert len(seen) == 4 and set().union(*(a for _, a in seen)) == set(subj.tolist())
    for pool, anonymized in seen:
        assert pool and not pool & anonymized


def _set_with_groups() -> FaceSet:
    """Four subjects, each with two recording groups of three near-identical frames (as CK+)."""
    imgs, _ = faces(n_subjects=4, per=6, size=16)
    n = len(imgs)
    subj = np.repeat([f"s{i}" for i in range(4)], 6)
    group = np.repeat(np.arange(0, n, 3), 3)  # the first frame of each group of three
    emotion = np.tile(np.repeat(["happy", "sad"], 3), 4)
    return FaceSet(imgs, subj, emotion, np.full(n, "?"), np.arange(n), np.array([f"i{i}" for i in range(n)]),
                   np.ones(n, bool), group)


def test_face_splits_and_halves_keep_recording_groups_whole():
    from privemo.experiments.vgan.config import VganEvalConfig
    from privemo.experiments.vgan.runner import split

    data = _set_with_groups()
    table = AnonymizerTable(data, AnonymizerTableConfig(folds=2, epochs=1), 0, (4, 8), None, anonymize_crops)
    for g in np.unique(data.group):
        assert len(set(table.id_fold[data.group == g].tolist())) == 1
    cfg = VganEvalConfig(name="t", corpus={"type": "ckplus"}, size=16, split="subject", test_fraction=0.5)
    d = split(data, cfg)
    assert not set(d.train.group.tolist()) & set(d.test.group.tolist()) and len(d.test) % 3 == 0
    half = data.originals_of(["s1", "s3"])
    assert sorted(set(half.subject.tolist())) == ["s1", "s3"] and len(half) == 12
    assert np.array_equal(half.source, np.arange(12)) and np.array_equal(half.group, np.repeat([0, 3, 6, 9], 3))


@settings(max_examples=60, deadline=None)
@given(dist=st.lists(st.integers(0, 6).map(float), min_size=1, max_size=40), n=st.integers(1, 45),
       read=st.integers(1, 45))
def test_nearest_first_is_the_stable_argsort_however_far_it_is_read(dist, n, read):
    """The partial sort behind k-Same-Select gives exactly np.argsort(kind="stable"), ties included,
    whether the caller stops inside the sorted head or reads past it."""
    from itertools import islice

    from privemo.anonymize.face_pseudo import _nearest_first

    d = np.array(dist)
    assert list(islice(_nearest_first(d, n), read)) == np.argsort(d, kind="stable").tolist()[:read]


def test_a_face_off_the_mean_pose_is_covered_where_it_was_not_only_where_the_new_one_is():
    imgs, subj = faces(n_subjects=6, size=64)
    a = PseudoFace(k=2, components=2, region="face").fit(imgs, subjects=list(subj))
    assert a.pose == "canonical"
    img = np.full_like(imgs[0], 30)
    img[:, 10:] = imgs[0][:, :-10]  # the face moved 10 pixels to the right of where faces sit
    pts = a._points(img.astype(np.float32))
    assert pts is not None
    inner = PseudoFace._face_mask(pts * 63, 64) > 0.99  # the face as it is in the image
    out = a.transform(img, "k")
    assert (out != img)[inner].mean() > 0.99  # (the new face's hull alone left about 4% of it as it was)


def test_pool_geometry_keeps_nothing_of_the_face_but_which_pool_faces_it_picked(monkeypatch):
    imgs, subj = faces(n_subjects=6, size=64)
    outs = {}
    for geometry in ("own", "pool"):
        a = PseudoFace(k=2, components=2, geometry=geometry).fit(imgs, subjects=list(subj))
        monkeypatch.setattr(a, "_picked", lambda code, key: np.array([0, 3]))
        outs[geometry] = [a.transform(imgs[i], "k") for i in (1, 2)]  # two mouth heights of one person
    assert np.array_equal(*outs["pool"])
    assert not np.array_equal(*outs["own"])
