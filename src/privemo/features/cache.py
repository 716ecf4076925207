"""A content-keyed feature cache: key = sha256(file bytes, or text) + the extractor's configuration.

Entries are ``.npz`` files (the array and a small JSON of per-item notes) written to a temporary name and renamed, so an interrupted extraction
never leaves a half-written entry. The cache folder is ``$PRIVEMO_CACHE/features`` (default
``~/.cache/privemo/features``).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from privemo._files import atomic_path, atomic_write

_HASHES: dict[tuple[str, int, int], str] = {}


def default_dir() -> Path:
    return Path(os.environ.get("PRIVEMO_CACHE", Path.home() / ".cache" / "privemo")) / "features"


def file_hash(path: str | Path) -> str:
    """sha256 of the file's bytes, memoised on (path, size, mtime)."""
    st = os.stat(path)
    key = (str(path), st.st_size, st.st_mtime_ns)
    if key not in _HASHES:
        h = hashlib.sha256()
        with open(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
        _HASHES[key] = h.hexdigest()
    return _HASHES[key]


def config_hash(config: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode()).hexdigest()[:16]


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class FeatureCache:
    """``get(key, config)`` / ``put(key, config, array, meta)``; ``key`` is a content hash."""

    def __init__(self, root: str | Path | None = None) -> None:
        self.root = Path(root) if root else default_dir()
        self.hits = 0
        self.misses = 0

    def _entry(self, key: str, config: dict[str, Any]) -> Path:
        return self.root / config_hash(config) / key[:2] / f"{key}.npz"

    def get(self, key: str, config: dict[str, Any]) -> tuple[np.ndarray, dict[str, Any]] | None:
        entry = self._entry(key, config)
        if entry.is_file():
            try:
                with np.load(entry, allow_pickle=False) as z:
                    arr, meta = z["x"], json.loads(bytes(z["meta"]).decode() or "{}")
                self.hits += 1
                return arr, meta
            except (ValueError, OSError, KeyError, json.JSONDecodeError):
                entry.unlink(missing_ok=True)  # a damaged entry is recomputed
        self.misses += 1
        return None

    def put(self, key: str, config: dict[str, Any], array: np.ndarray, meta: dict[str, Any] | None = None) -> None:
        entry = self._entry(key, config)
        entry.parent.mkdir(parents=True, exist_ok=True)
        cfg = entry.parent.parent / "config.json"
        if not cfg.exists():
            atomic_write(cfg, json.dumps(config, sort_keys=True, default=str))
        with atomic_path(entry) as tmp, open(tmp, "wb") as fh:
            np.savez(fh, x=np.asarray(array), meta=np.frombuffer(json.dumps(meta or {}).encode(), dtype=np.uint8))
