"""The federation's data: features of every item, one partition file per client (speaker).

In a real deployment each phone computes its own features and keeps them; here the features are
computed once (cached like every other feature) and written out as one ``clientNNN.npz`` per
client speaker, plus ``server.npz`` for the held-out speakers the server evaluates on. A client
reads only its own file; per-speaker normalisation uses only that speaker's items, as a phone
could.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from privemo.corpora import Manifest, load
from privemo.corpora.splits import assign_speaker_folds
from privemo.errors import ConfigError
from privemo.experiments.config import corpus_root
from privemo.experiments.federated.config import FederatedConfig
from privemo.experiments.store import atomic_write
from privemo.features import FeatureCache, extract, speaker_znorm
from privemo.learners.federated.task import Partition


@dataclass
class CorpusData:
    """Every usable item of the corpus: features (N, D), labels, speakers, genders."""

    manifest: Manifest
    X: np.ndarray
    y: np.ndarray
    labels: list[str]
    speaker: np.ndarray
    gender: np.ndarray


def load_corpus_data(cfg: FederatedConfig, data_root: Path, cache: FeatureCache | None = None,
                     progress: Any = None, log: Any = None) -> CorpusData:
    manifest = load(cfg.corpus.type, corpus_root(cfg.corpus, data_root), **dict(cfg.corpus.options))
    manifest = manifest.labelled(cfg.target)
    manifest = Manifest(manifest.df[manifest.df["media"].isin(["audio", "video"])], manifest.skipped)
    if cfg.labels:
        manifest = Manifest(manifest.df[manifest.df[cfg.target].isin(cfg.labels)], manifest.skipped)
    if len(manifest) == 0:
        raise ConfigError(f"corpus {cfg.corpus.type}: no audio items with a known {cfg.target!r} label")
    feats = extract(manifest, dict(cfg.features), cache or FeatureCache(), skip_bad=True,
                    progress=(lambda i, n: progress("features", i, n)) if progress else None)
    for path, why in feats.failed:
        if log:
            log(f"feature extraction skipped {path}: {why}")
    ok = np.array([v is not None for v in feats.values])
    if not ok.any():
        raise ConfigError(f"corpus {cfg.corpus.type}: no item gave {cfg.features['type']} features")
    values = [v for v in feats.values if v is not None]
    kept = manifest.subset(np.flatnonzero(ok))
    if np.asarray(values[0]).ndim != 1:
        raise ConfigError(f"features.type {cfg.features['type']}: the federated task needs one vector per "
                          "item (functionals such as compare or egemaps)")
    speakers = kept.df["speaker"].astype(str).to_numpy()
    if cfg.normalize == "speaker":  # each speaker's own statistics: what a client computes on its device
        values = speaker_znorm(values, list(speakers))  # type: ignore[assignment]
    X = np.stack(values).astype(np.float32)
    target = kept.df[cfg.target].astype(str).to_numpy()
    labels = sorted(set(target))
    y = np.array([labels.index(t) for t in target], dtype=np.int64)
    gender = kept.df["gender"].astype(object).where(kept.df["gender"].notna(), "?").astype(str).to_numpy()
    return CorpusData(kept, X, y, labels, speakers, gender)


def zscore(X: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """``X`` standardised with the mean and std of ``reference`` (constant dimensions left as they are)."""
    ref = reference.astype(np.float64)
    mu, sd = ref.mean(0), ref.std(0)
    return ((X - mu) / np.where(sd < 1e-8, 1.0, sd)).astype(np.float32)


def local_split(y: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """A client's train mask: ``fraction`` of its items of each class go to its local test set
    (at least one item stays for training)."""
    rng = np.random.default_rng(seed)
    train = np.ones(len(y), dtype=bool)
    for c in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == c))
        n_test = int(round(fraction * len(idx)))
        train[idx[:n_test]] = False
    if not train.any():
        train[0] = True
    return train


@dataclass
class FoldData:
    """A fold written to disk: ``dir`` holds clientNNN.npz, server.npz and federation.json."""

    dir: Path
    clients: list[dict[str, Any]]  # partition id, speaker, gender, items
    test_speakers: list[str]
    n_in: int
    labels: list[str]


def write_fold(data: CorpusData, cfg: FederatedConfig, fold: int, out: Path) -> FoldData:
    """Partition files of one fold: the fold's speakers are the server's held-out set, every other
    speaker is one client (partition id in sorted speaker order). Idempotent: an existing complete
    fold folder is reused."""
    out = Path(out)
    meta_path = out / "federation.json"
    if meta_path.is_file():
        meta = json.loads(meta_path.read_text())
        return FoldData(out, meta["clients"], meta["test_speakers"], meta["n_in"], meta["labels"])
    fold_of = assign_speaker_folds(data.manifest, cfg.folds, cfg.split_seed, balance_gender=True)
    test_speakers = sorted(s for s in set(data.speaker) if fold_of[s] == fold)
    client_speakers = sorted(s for s in set(data.speaker) if fold_of[s] != fold)
    splits = {spk: local_split(data.y[data.speaker == spk], cfg.client_test_fraction, cfg.split_seed * 7919 + pid)
              for pid, spk in enumerate(client_speakers)}
    X = data.X
    if cfg.normalize == "global":  # the pooled statistics of the clients' training items, for everyone
        X = zscore(data.X, np.concatenate([data.X[data.speaker == spk][tr] for spk, tr in splits.items()]))
    clients = []
    for pid, spk in enumerate(client_speakers):
        ix = np.flatnonzero(data.speaker == spk)
        train = splits[spk]
        Partition(X[ix], data.y[ix], train, spk, data.gender[ix[0]]).save(out / f"client{pid:03d}.npz")
        clients.append({"partition_id": pid, "speaker": spk, "gender": str(data.gender[ix[0]]),
                        "n_train": int(train.sum()), "n_test": int((~train).sum())})
    ix = np.flatnonzero(np.isin(data.speaker, test_speakers))
    Partition(X[ix], data.y[ix], np.zeros(len(ix), dtype=bool), ",".join(test_speakers)).save(out / "server.npz")
    meta = {"clients": clients, "test_speakers": test_speakers, "n_in": int(data.X.shape[1]), "labels": data.labels}
    atomic_write(meta_path, json.dumps(meta, indent=1))
    return FoldData(out, clients, test_speakers, int(data.X.shape[1]), data.labels)
