"""Speaker-independent splits: disjointness, gender balance, determinism, membership protocol."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from privemo.corpora import Manifest
from privemo.corpora.splits import (
    assign_speaker_folds,
    attacker_split,
    item_split,
    membership_split,
    speaker_folds,
)
from privemo.errors import ConfigError


def corpus(n_speakers: int = 10, items: int = 6, groups_of: int = 1) -> Manifest:
    rows = []
    for s in range(n_speakers):
        for k in range(items):
            rows.append({"item_id": f"s{s}_{k}", "path": f"/x/s{s}_{k}.wav", "media": "audio", "corpus": "t",
                         "speaker": f"s{s:02d}", "gender": "m" if s % 2 else "f",
                         "emotion": ["happy", "sad"][k % 2], "group": f"s{s}_g{k // groups_of}"})
    return Manifest(rows)


def test_folds_are_speaker_disjoint_and_cover_everything():
    m = corpus(10)
    folds = speaker_folds(m, k=5, seed=1)
    spk = m.df["speaker"].to_numpy()
    tested = np.concatenate([f.test for f in folds])
    assert sorted(tested) == list(range(len(m)))
    for f in folds:
        test_spk, train_spk, valid_spk = set(spk[f.test]), set(spk[f.train]), set(spk[f.valid])
        assert not (test_spk & train_spk) and not (test_spk & valid_spk) and not (train_spk & valid_spk)
        assert len(valid_spk) == 2
        assert len(f.train) + len(f.valid) + len(f.test) == len(m)


def test_folds_are_gender_balanced():
    m = corpus(20)
    fold_of = assign_speaker_folds(m, 5, seed=0)
    g = m.df.drop_duplicates("speaker").set_index("speaker")["gender"]
    for f in range(5):
        genders = [g[s] for s, v in fold_of.items() if v == f]
        assert genders.count("m") == genders.count("f") == 2


def test_folds_are_deterministic_and_seeded():
    m = corpus(12)
    assert assign_speaker_folds(m, 4, seed=3) == assign_speaker_folds(m, 4, seed=3)
    assert assign_speaker_folds(m, 4, seed=3) != assign_speaker_folds(m, 4, seed=4)


def test_too_few_speakers():
    with pytest.raises(ConfigError, match="at least 5 speakers"):
        speaker_folds(corpus(3), k=5)


def test_attacker_split_is_speaker_disjoint():
    m = corpus(10)
    d1, d2 = attacker_split(m, np.arange(len(m)), frac=0.5, seed=0)
    spk = m.df["speaker"].to_numpy()
    assert not set(spk[d1]) & set(spk[d2])
    assert len(d1) + len(d2) == len(m)
    assert set(m.df["gender"].to_numpy()[d2]) == {"m", "f"}


def test_membership_split_has_no_leakage():
    m = corpus(20, items=8, groups_of=2)
    ms = membership_split(m, seed=0)
    train, atk_tr, atk_te = set(ms.train), set(ms.attack_train), set(ms.attack_test)
    assert not train & atk_tr and not train & atk_te and not atk_tr & atk_te
    spk = m.df["speaker"].to_numpy()
    groups = m.df["group"].to_numpy()
    # s4 and s5 speakers are disjoint, and a group never straddles training and attack data
    assert not set(spk[ms.attack_train]) & set(spk[ms.attack_test])
    assert not set(groups[list(train)]) & set(groups[list(atk_tr | atk_te)])
    # label 1 exactly for speakers with items in training
    for idx, lab in ((ms.attack_train, ms.attack_labels), (ms.attack_test, ms.test_labels)):
        for i, y in zip(idx, lab, strict=True):
            assert bool(y) == (spk[i] in set(spk[list(train)]))
        assert set(lab) == {0, 1}


@settings(max_examples=25, deadline=None)
@given(n=st.integers(4, 16), k=st.integers(2, 4), seed=st.integers(0, 100))
def test_item_split_keeps_groups_whole(n, k, seed):
    m = corpus(n, items=8, groups_of=2)
    tr, te = item_split(m, np.arange(len(m)), k, fold=seed % k, seed=seed)
    groups = m.df["group"].to_numpy()
    assert not set(groups[tr]) & set(groups[te])
    assert len(tr) + len(te) == len(m)
    assert set(m.df["speaker"].to_numpy()[te]) == set(m.df["speaker"])  # every speaker on the test side


@settings(max_examples=40, deadline=None)
@given(sizes=st.lists(st.integers(1, 30), min_size=1, max_size=12), fraction=st.floats(0.05, 0.5),
       seed=st.integers(0, 5))
def test_stratified_holdout_keeps_every_stratum_in_training(sizes, fraction, seed):
    from privemo.corpora.splits import stratified_holdout

    strata = np.repeat(np.arange(len(sizes)), sizes).astype(str)
    test = stratified_holdout(strata, fraction, seed)
    for s, n in enumerate(sizes):
        held = int(test[strata == str(s)].sum())
        assert held < n  # every stratum keeps training items
        assert held == (0 if n < 2 else min(n - 1, max(1, round(fraction * n))))
    np.testing.assert_array_equal(test, stratified_holdout(strata, fraction, seed))
