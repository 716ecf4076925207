"""Voice evaluation: EER against brute force, and that no attacker trains on what it is tested on."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from privemo.attacks import verification as ver
from privemo.attacks import voice as av
from privemo.evaluators import voice as ev
from privemo.metrics import eer


def brute_force_eer(scores, same):
    s, y = np.asarray(scores), np.asarray(same, dtype=bool)
    best = None
    for t in np.concatenate([[-np.inf], np.unique(s), [np.inf]]):
        far = np.mean(s[~y] >= t) if t != -np.inf else 1.0
        frr = np.mean(s[y] < t) if t != -np.inf else 0.0
        if best is None or abs(far - frr) < best[0]:
            best = (abs(far - frr), (far + frr) / 2)
    return best[1]


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 10_000), st.integers(3, 40), st.integers(3, 40))
def test_eer_agrees_with_brute_force(seed, n_same, n_diff):
    rng = np.random.default_rng(seed)
    scores = np.concatenate([rng.normal(1.0, 1.0, n_same), rng.normal(0.0, 1.0, n_diff)])
    same = np.r_[np.ones(n_same, bool), np.zeros(n_diff, bool)]
    step = 1.0 / min(n_same, n_diff)
    assert abs(eer(scores, same) - brute_force_eer(scores, same)) <= step / 2 + 1e-12


def _items(n_spk=8, per=6, folds=4):
    spk = np.repeat([f"s{i}" for i in range(n_spk)], per)
    gender = np.where(np.repeat(np.arange(n_spk) % 2, per) == 0, "m", "f")
    emotion = np.tile(["happy", "sad", "angry"], n_spk * per // 3)
    groups = np.array([f"g{i}" for i in range(len(spk))])
    fold_of = {f"s{i}": i % folds for i in range(n_spk)}
    return ev.Items(spk, gender, emotion, ver.enrol_split(spk, groups, 0), np.array([fold_of[s] for s in spk]),
                    fold_of)


def _side(items, rng):
    n = len(items.speaker)
    ids = np.arange(n, dtype=float)[:, None]  # column 0 names the item: we can see who trained on what
    return ev.Side(np.hstack([ids, rng.normal(size=(n, 5))]), np.hstack([ids, rng.normal(size=(n, 4))]),
                   np.hstack([ids, rng.normal(size=(n, 4))]))


def test_enrol_split_halves_every_speaker():
    items = _items()
    for s in set(items.speaker):
        m = items.enrol[items.speaker == s]
        assert m.sum() == 3 and (~m).sum() == 3


def test_attackers_never_train_on_test_items(monkeypatch):
    items = _items()
    rng = np.random.default_rng(0)
    o, a = _side(items, rng), _side(items, rng)
    calls = []
    real = ev.fit_predict

    def spy(kind, Xtr, ytr, Xte, **kw):
        calls.append((set(Xtr[:, 0].astype(int)), set(Xte[:, 0].astype(int))))
        return real(kind, Xtr, ytr, Xte, **kw)

    monkeypatch.setattr(ev, "fit_predict", spy)
    monkeypatch.setattr(av, "fit_predict", spy)
    av.speaker_id(o, a, items, 0)
    enrol = set(np.flatnonzero(items.enrol))
    assert calls and all(tr <= enrol and not (te & enrol) for tr, te in calls)
    calls.clear()
    av.gender_attack(a, items, ["logreg"], 0, n_jobs=1)
    ev.emotion_utility(o, a, items, 0, reference=False, n_jobs=1)
    for tr, te in calls:  # speaker-independent: no training item's speaker is a test speaker
        assert not ({items.speaker[i] for i in tr} & {items.speaker[i] for i in te})
        assert te and tr


def test_lda_back_end_never_sees_the_test_speakers(monkeypatch):
    items = _items()
    rng = np.random.default_rng(1)
    X = rng.normal(size=(len(items.speaker), 6)) + np.repeat(rng.normal(size=(8, 6)) * 3, 6, axis=0)
    seen = []
    real = ver.Backend.fit

    def spy(Xb, speakers, kind="none", dim=100):
        seen.append(set(speakers.tolist()))
        return real(Xb, speakers, kind, dim)

    monkeypatch.setattr(ver.Backend, "fit", staticmethod(spy))
    out = ver.verification_attack(X, X, items.speaker, items.enrol, items.fold_of)
    assert len(seen) == 4
    for f, spks in enumerate(seen):
        assert not spks & {s for s, k in items.fold_of.items() if k == f}
    assert out["original_eer_centroid"] < 0.2  # well separated speakers
    assert all(0.0 <= v <= 1.0 for k, v in out.items() if k.endswith(("centroid", "pairs")))


def test_similarity_table_r2_is_one_without_change():
    items = _items()
    side = _side(items, np.random.default_rng(2))
    t = av.similarity_table(side, side, items)
    assert t["r2"]["min"] == pytest.approx(1.0)
    assert t["r1_original"] == t["r1_anonymized"]
