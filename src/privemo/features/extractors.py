"""Feature extractors behind the ``feature`` registry, and ``extract`` with cache and progress.

An extractor has a ``config()`` (its whole configuration, the cache key), a ``media`` kind it reads
(audio, image or text), a ``kind`` ("sequence": (T, D) per item; "vector": (D,) per item) and
``compute(row) -> (array, notes)``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Annotated, Any, ClassVar

import numpy as np
import pandas as pd
from pydantic import Field

from privemo._schema import SampleRate
from privemo.corpora.manifest import Manifest
from privemo.errors import MediaError, PrivemoError
from privemo.features.acoustic import log_mel, mfcc
from privemo.features.cache import FeatureCache, file_hash, text_hash
from privemo.media import read_audio
from privemo.registry import create, register


@dataclass
class Extractor:
    media: ClassVar[str] = "audio"
    kind: ClassVar[str] = "sequence"
    name: ClassVar[str] = ""

    def config(self) -> dict[str, Any]:
        return {"type": self.name, **asdict(self)}

    def key(self, row: dict[str, Any]) -> str:
        if self.media == "text":
            return text_hash(str(row.get("text") or ""))
        return file_hash(row["path"])

    def compute(self, row: dict[str, Any]) -> tuple[np.ndarray, dict[str, Any]]:
        raise NotImplementedError

    def _audio(self, row: dict[str, Any], sr: int) -> np.ndarray:
        if row.get("media") == "video":
            from privemo.media import read_video

            clip = read_video(row["path"], sr=sr)
            if clip.audio is None:
                raise MediaError(row["path"], "video has no audio track")
            return clip.audio
        return read_audio(row["path"], sr)[0]


@register("feature", "mfb")
@dataclass
class MFB(Extractor):
    """40-d log Mel filterbank, 25 ms Hamming window, 10 ms step (jaiswal-2020)."""

    name: ClassVar[str] = "mfb"
    sr: SampleRate = 16000
    n_mels: Annotated[int, Field(ge=2, le=256)] = 40
    win_ms: Annotated[float, Field(ge=2, le=1000)] = 25.0
    hop_ms: Annotated[float, Field(ge=1, le=1000)] = 10.0

    def compute(self, row):
        return log_mel(self._audio(row, self.sr), self.sr, self.n_mels, self.win_ms, self.hop_ms), {}


@register("feature", "mfcc")
@dataclass
class MFCC(Extractor):
    name: ClassVar[str] = "mfcc"
    sr: SampleRate = 16000
    n_mfcc: Annotated[int, Field(ge=1, le=128)] = 13
    n_mels: Annotated[int, Field(ge=2, le=256)] = 40
    win_ms: Annotated[float, Field(ge=2, le=1000)] = 25.0
    hop_ms: Annotated[float, Field(ge=1, le=1000)] = 10.0

    def compute(self, row):
        x = self._audio(row, self.sr)
        return mfcc(x, self.sr, self.n_mfcc, self.n_mels, win_ms=self.win_ms, hop_ms=self.hop_ms), {}


_SMILES: dict[tuple[str, str], Any] = {}


def _smile(feature_set: str, level: str) -> Any:
    import opensmile

    if (feature_set, level) not in _SMILES:
        _SMILES[(feature_set, level)] = opensmile.Smile(
            feature_set=getattr(opensmile.FeatureSet, feature_set),
            feature_level=getattr(opensmile.FeatureLevel, level))
    return _SMILES[(feature_set, level)]


@dataclass
class _OpenSmile(Extractor):
    feature_set: ClassVar[str] = ""
    level: ClassVar[str] = "Functionals"
    sr: SampleRate = 16000

    def compute(self, row):
        x = self._audio(row, self.sr)
        if len(x) < self.sr // 10:  # openSMILE needs a few frames
            x = np.pad(x, (0, self.sr // 10 - len(x)))
        df = _smile(self.feature_set, self.level).process_signal(x, self.sr)
        arr = df.to_numpy(dtype=np.float32)
        arr = np.nan_to_num(arr, nan=0.0, posinf=0.0, neginf=0.0)
        return (arr[0] if self.kind == "vector" else arr), {}


def _opensmile(name: str, feature_set: str, level: str) -> type:
    cls = type(name, (_OpenSmile,), {"name": name, "feature_set": feature_set, "level": level,
                                     "kind": "vector" if level == "Functionals" else "sequence",
                                     "__doc__": f"openSMILE {feature_set} {level}.",
                                     "__annotations__": {}})
    return register("feature", name)(dataclass(cls))


EGEMAPS = _opensmile("egemaps", "eGeMAPSv02", "Functionals")


def egemaps_names() -> list[str]:
    """The names of the 88 eGeMAPS functionals, in the order of the ``egemaps`` feature's vector."""
    return list(_smile("eGeMAPSv02", "Functionals").feature_names)


EGEMAPS_LLD = _opensmile("egemaps_lld", "eGeMAPSv02", "LowLevelDescriptors")
COMPARE = _opensmile("compare", "ComParE_2016", "Functionals")
COMPARE_LLD = _opensmile("compare_lld", "ComParE_2016", "LowLevelDescriptors")


def get_extractor(spec: dict[str, Any] | str | Extractor) -> Extractor:
    if isinstance(spec, Extractor):
        return spec
    if isinstance(spec, str):
        spec = {"type": spec}
    return create("feature", **spec)


@dataclass
class Features:
    """Per-item features in manifest order (``None`` where an item failed and was skipped)."""

    values: list[np.ndarray | None]
    notes: list[dict[str, Any]]
    failed: list[tuple[str, str]]
    kind: str

    def ok(self) -> np.ndarray:
        return np.array([v is not None for v in self.values])


def extract(manifest: Manifest, extractor: dict[str, Any] | str | Extractor, cache: FeatureCache | None = None,
            skip_bad: bool = False, progress: Callable[[int, int], None] | None = None) -> Features:
    """Compute (or read from ``cache``) the features of every item of ``manifest``.

    A bad file raises its :class:`MediaError` (naming the file) unless ``skip_bad``; then the item
    gets ``None`` and is listed in ``failed``.
    """
    ex = get_extractor(extractor)
    cfg = ex.config()
    values: list[np.ndarray | None] = []
    notes: list[dict[str, Any]] = []
    failed: list[tuple[str, str]] = []
    rows = manifest.df.to_dict("records")
    for i, row in enumerate(rows):
        row = {k: (None if _na(v) else v) for k, v in row.items()}
        try:
            key = ex.key(row)
            hit = cache.get(key, cfg) if cache else None
            if hit is None:
                arr, meta = ex.compute(row)
                if cache:
                    cache.put(key, cfg, arr, meta)
            else:
                arr, meta = hit
            values.append(arr)
            notes.append(meta)
        except (PrivemoError, OSError) as exc:
            if not skip_bad:
                if isinstance(exc, PrivemoError):
                    raise
                raise MediaError(row["path"], str(exc)) from exc
            values.append(None)
            notes.append({})
            failed.append((row["path"], str(exc)))
        if progress:
            progress(i + 1, len(rows))
    return Features(values, notes, failed, ex.kind)


def _na(v: Any) -> bool:
    try:
        return bool(pd.isna(v))
    except (TypeError, ValueError):
        return False
