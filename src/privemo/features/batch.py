"""Features of a whole manifest, computed by worker processes into the cache (the media evaluations'
sides are built from these)."""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor

import numpy as np

from privemo._procs import die_with_parent
from privemo.corpora import Manifest
from privemo.errors import ConfigError
from privemo.features.cache import FeatureCache
from privemo.features.extractors import extract


def _extract_chunk(args: tuple[Manifest, list[str], str | None]) -> int:
    manifest, specs, cache_root = args
    cache = FeatureCache(cache_root)
    for spec in specs:
        extract(manifest, spec, cache, skip_bad=True)
    return len(manifest)


def extract_all(manifest: Manifest, specs: list[str], cache: FeatureCache, workers: int,
                progress: Callable[[int, int], None] | None = None) -> dict[str, list[np.ndarray | None]]:
    """Each spec's features of every item (None where an item has none), computed by ``workers``
    processes into the cache."""
    n = len(manifest)
    if workers > 1 and n > 8:
        chunks = [manifest.subset(np.arange(i, min(i + 16, n))) for i in range(0, n, 16)]
        ctx = multiprocessing.get_context("spawn")
        done = 0
        with ProcessPoolExecutor(workers, mp_context=ctx, initializer=die_with_parent,
                                 initargs=(os.getpid(),)) as pool:
            for k in pool.map(_extract_chunk, [(c, specs, str(cache.root)) for c in chunks]):
                done += k
                if progress:
                    progress(done, n)
    return {s: extract(manifest, s, cache, skip_bad=True).values for s in specs}


def require(manifest: Manifest, feats: dict[str, list[np.ndarray | None]], label: str, what: str = "features") -> None:
    """A ConfigError naming the first item (of ``label``'s version of the corpus) without ``what``."""
    bad = [manifest.df["path"].iat[i] for s in feats for i, v in enumerate(feats[s]) if v is None]
    if bad:
        raise ConfigError(f"{label}: no {what} for {len(bad)} clips, e.g. {bad[0]}")
