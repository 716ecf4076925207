"""Speaker-independent splits: k folds, validation speakers, the attacker's held-out part, membership.

Every split here is by speaker (no speaker on both sides) and so by ``group`` too (items derived
from one original share a speaker). All are deterministic given the seed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from privemo.corpora.manifest import Manifest
from privemo.errors import ConfigError


def _speaker_genders(manifest: Manifest) -> pd.Series:
    g = manifest.df.groupby("speaker")["gender"].agg(lambda s: s.dropna().iloc[0] if s.notna().any() else "?")
    return g.sort_index()


def assign_speaker_folds(manifest: Manifest, k: int = 5, seed: int = 0,
                         balance_gender: bool = True) -> dict[str, int]:
    """Map each speaker to a fold 0..k-1; with ``balance_gender`` each fold gets each gender evenly."""
    genders = _speaker_genders(manifest)
    if len(genders) < k:
        raise ConfigError(f"folds: {k} folds need at least {k} speakers, the corpus has {len(genders)}")
    rng = np.random.default_rng(seed)
    buckets = [genders.index[genders == g].tolist() for g in sorted(genders.unique())] \
        if balance_gender else [genders.index.tolist()]
    fold_of: dict[str, int] = {}
    offset = 0
    for bucket in buckets:
        order = [bucket[i] for i in rng.permutation(len(bucket))]
        for j, spk in enumerate(order):
            fold_of[spk] = (offset + j) % k
        offset += len(order)  # keeps fold sizes even across the gender buckets
    return fold_of


@dataclass(frozen=True)
class Fold:
    """Item positions of one outer fold: ``train`` and ``valid`` (inner speakers) and ``test``."""

    index: int
    train: np.ndarray
    valid: np.ndarray
    test: np.ndarray


def speaker_folds(manifest: Manifest, k: int = 5, seed: int = 0, balance_gender: bool = True,
                  valid_speakers: int = 2) -> list[Fold]:
    """Speaker-independent k-fold; inside each training part ``valid_speakers`` speakers (one of
    each gender where possible) are held out for validation / early stopping."""
    fold_of = assign_speaker_folds(manifest, k, seed, balance_gender)
    spk = manifest.df["speaker"].to_numpy()
    folds = []
    for f in range(k):
        test_mask = np.array([fold_of[s] == f for s in spk])
        train_speakers = sorted({s for s in spk if fold_of[s] != f})
        val = validation_speakers(manifest, train_speakers, valid_speakers, seed + 1000 * (f + 1))
        valid_mask = np.isin(spk, list(val))
        folds.append(Fold(f, np.flatnonzero(~test_mask & ~valid_mask), np.flatnonzero(valid_mask),
                          np.flatnonzero(test_mask)))
    return folds


def validation_speakers(manifest: Manifest, speakers: list[str], n: int, seed: int) -> list[str]:
    """Pick ``n`` of ``speakers`` for validation, alternating genders, deterministically."""
    if n <= 0:
        return []
    if n >= len(speakers):
        raise ConfigError(f"valid_speakers: {n} validation speakers leave none of {len(speakers)} to train on")
    genders = _speaker_genders(manifest).reindex(speakers)
    rng = np.random.default_rng(seed)
    pools = [list(rng.permutation(genders.index[genders == g].tolist())) for g in sorted(genders.unique())]
    out: list[str] = []
    while len(out) < n:
        for pool in pools:
            if pool and len(out) < n:
                out.append(str(pool.pop()))
    return sorted(out)


def attacker_split(manifest: Manifest, index: np.ndarray, frac: float = 0.5, seed: int = 0
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Split item positions ``index`` by speaker into D1 (protected, attacked) and D2 (attacker's).

    jaiswal-2020 §4.2: the attacker trains on representations of a held-out part D2 with known
    gender and is tested on D1; no speaker is in both. Gender-balanced where gender is known.
    """
    sub = manifest.subset(index)
    genders = _speaker_genders(sub)
    rng = np.random.default_rng(seed)
    d2_speakers: set[str] = set()
    for g in sorted(genders.unique()):
        pool = genders.index[genders == g].tolist()
        n = int(round(len(pool) * frac))
        if len(pool) >= 2:
            n = min(max(n, 1), len(pool) - 1)
        d2_speakers |= set(rng.permutation(pool)[:n].tolist())
    spk = manifest.df["speaker"].to_numpy()[index]
    in_d2 = np.isin(spk, list(d2_speakers))
    return index[~in_d2], index[in_d2]


@dataclass(frozen=True)
class MembershipSplit:
    """jaiswal-2020 §4.2: train = folds s1-s3 plus some items of the selected speakers of s4/s5.

    ``attack_train`` / ``attack_labels``: the attacker's data from s4 (items not used in training
    of speakers selected (1) or not (0)); ``attack_test`` / ``test_labels``: the same from s5.
    """

    train: np.ndarray
    attack_train: np.ndarray
    attack_labels: np.ndarray
    attack_test: np.ndarray
    test_labels: np.ndarray


def membership_split(manifest: Manifest, seed: int = 0, select_frac: float = 0.5,
                     item_frac: float = 0.5, rotation: int = 0) -> MembershipSplit:
    """Speaker-level membership split over five speaker-independent folds (``rotation`` picks which
    folds play s4 and s5). Of s4 and s5, ``select_frac`` of the speakers are selected and
    ``item_frac`` of each selected speaker's items join training; the rest are the attacker's."""
    fold_of = assign_speaker_folds(manifest, 5, seed)
    s4, s5 = (3 + rotation) % 5, (4 + rotation) % 5
    df = manifest.df
    spk = df["speaker"].to_numpy()
    rng = np.random.default_rng(seed + 17)
    train = [i for i in range(len(df)) if fold_of[spk[i]] not in (s4, s5)]
    sides: dict[int, tuple[list[int], list[int]]] = {s4: ([], []), s5: ([], [])}
    for f in (s4, s5):
        speakers = sorted(s for s, v in fold_of.items() if v == f)
        chosen = set(rng.permutation(speakers)[: max(1, int(round(len(speakers) * select_frac)))].tolist())
        for s in speakers:
            items = np.flatnonzero(spk == s)
            # whole groups go one way, so augmented copies never straddle train and attack data
            groups = df["group"].to_numpy()[items]
            ug = rng.permutation(np.unique(groups))
            if s in chosen:
                used = set(ug[: int(round(len(ug) * item_frac))].tolist())
                train += [int(i) for i, g in zip(items, groups, strict=True) if g in used]
                rest = [int(i) for i, g in zip(items, groups, strict=True) if g not in used]
                sides[f][0].extend(rest)
                sides[f][1].extend([1] * len(rest))
            else:
                sides[f][0].extend(items.tolist())
                sides[f][1].extend([0] * len(items))
    return MembershipSplit(np.array(sorted(train)), np.array(sides[s4][0]), np.array(sides[s4][1]),
                           np.array(sides[s5][0]), np.array(sides[s5][1]))


def item_split(manifest: Manifest, index: np.ndarray, k: int, fold: int, seed: int = 0
               ) -> tuple[np.ndarray, np.ndarray]:
    """Closed-set split of ``index``: within each speaker, groups are dealt into ``k`` parts and part
    ``fold`` is the test side (every speaker is on both sides; groups never straddle)."""
    df = manifest.df
    rng = np.random.default_rng(seed)
    test = []
    for spk in sorted(set(df["speaker"].to_numpy()[index])):
        items = index[df["speaker"].to_numpy()[index] == spk]
        groups = np.unique(df["group"].to_numpy()[items])
        order = rng.permutation(groups)
        chosen = set(order[fold::k].tolist())
        test += [i for i in items if df["group"].iat[i] in chosen]
    test_arr = np.array(sorted(test), dtype=int)
    return np.setdiff1d(index, test_arr), test_arr


def group_folds(groups: np.ndarray, k: int, seed: int = 0, strata: np.ndarray | None = None) -> np.ndarray:
    """A fold 0..k-1 for each item such that all items of one ``group`` (an original and its
    augmented copies) share a fold. With ``strata`` (e.g. the subject), each stratum's groups are
    dealt evenly over the folds, so every stratum keeps items on the training side of each fold
    whenever it has more than one group (narula-2020's protocol: every subject and emotion in training).
    """
    groups = np.asarray(groups)
    strata = np.zeros(len(groups), dtype=int) if strata is None else np.asarray(strata)
    if k < 2:
        raise ConfigError(f"folds: need at least 2, got {k}")
    rng = np.random.default_rng(seed)
    fold_of_group: dict[object, int] = {}
    offset = 0
    for s in sorted(set(strata.tolist()), key=str):
        gs = sorted(set(groups[strata == s].tolist()), key=str)
        if any(g in fold_of_group for g in gs):
            raise ConfigError("group_folds: a group spans two strata")
        for j, i in enumerate(rng.permutation(len(gs))):
            fold_of_group[gs[i]] = (offset + j) % k
        offset += len(gs)
    if len(fold_of_group) < k:
        raise ConfigError(f"folds: {k} folds need at least {k} groups, there are {len(fold_of_group)}")
    return np.array([fold_of_group[g] for g in groups.tolist()], dtype=int)


def subject_folds(subjects: np.ndarray, k: int, seed: int = 0) -> np.ndarray:
    """Subject-independent folds as an array: each subject's items all in one fold 0..k-1."""
    subjects = np.asarray(subjects)
    if len(set(subjects.tolist())) < k:
        raise ConfigError(f"folds: {k} subject-independent folds need at least {k} subjects, "
                          f"there are {len(set(subjects.tolist()))}")
    return group_folds(subjects, k, seed)


def stratified_holdout(strata: np.ndarray, fraction: float, seed: int = 0) -> np.ndarray:
    """A boolean test mask holding out ``fraction`` of every stratum (at least one item of a stratum
    with two or more; none of a single-item stratum), as chen-2018 §5.1 splits each subject's images of
    each expression 85 / 15."""
    rng = np.random.default_rng(seed)
    strata = np.asarray(strata)
    test = np.zeros(len(strata), dtype=bool)
    for s in sorted(set(strata.tolist())):
        idx = np.flatnonzero(strata == s)
        if len(idx) < 2:
            continue
        k = min(len(idx) - 1, max(1, round(fraction * len(idx))))
        test[rng.choice(idx, k, replace=False)] = True
    return test
