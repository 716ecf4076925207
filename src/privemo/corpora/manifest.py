"""The Manifest: one row per item of a corpus (DESIGN.md, "Manifest")."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from privemo._files import atomic_path
from privemo.errors import CorpusError

REQUIRED = ("item_id", "path", "media", "corpus", "speaker", "gender", "emotion")
OPTIONAL = ("emotion_raw", "text", "activation", "valence", "session", "intensity", "sentence", "group")
MEDIA_KINDS = ("audio", "image", "video")
GENDERS = ("m", "f")
EMOTIONS = (
    "neutral", "calm", "happy", "sad", "angry", "fearful", "disgust",
    "surprised", "boredom", "contempt", "sleepy",
)
LEVELS = ("low", "mid", "high")


class Manifest:
    """A validated table of corpus items.

    ``gender`` is ``"m"``, ``"f"`` or missing (``pd.NA``); ``emotion`` is one of :data:`EMOTIONS` or
    missing (an item without a canonical emotion, e.g. Yale's lighting conditions or IEMOCAP's
    frustration, keeps its original code in ``emotion_raw``). ``group`` defaults to ``item_id``.
    """

    def __init__(self, rows: pd.DataFrame | Iterable[dict[str, Any]], skipped: Sequence[tuple[str, str]] = ()):
        if not isinstance(rows, pd.DataFrame):
            rows = list(rows)
            for r in rows:  # before pandas sees them: its string columns cannot hold such names
                for col in ("path", "item_id", "speaker"):
                    v = r.get(col)
                    if isinstance(v, str) and not _utf8(v):
                        raise CorpusError(ascii(v), "the file name is not valid UTF-8: rename it")
        df = rows.copy() if isinstance(rows, pd.DataFrame) else pd.DataFrame(rows)
        missing = [c for c in REQUIRED if c not in df.columns]
        if missing:
            raise CorpusError("<manifest>", f"missing required columns {missing}")
        for col in OPTIONAL:
            if col not in df.columns:
                df[col] = pd.NA
        df["group"] = df["group"].where(df["group"].notna(), df["item_id"])
        df["gender"] = df["gender"].astype("string")
        df["emotion"] = df["emotion"].astype("string")
        df["speaker"] = df["speaker"].astype(str)
        self._check(df)
        self.df = df.reset_index(drop=True)
        self.skipped = list(skipped)

    @staticmethod
    def _check(df: pd.DataFrame) -> None:
        if df["item_id"].duplicated().any():
            dup = df.loc[df["item_id"].duplicated(), "item_id"].iloc[0]
            raise CorpusError("<manifest>", f"duplicate item_id {dup!r}")
        bad = set(df["media"].dropna()) - set(MEDIA_KINDS)
        if bad:
            raise CorpusError("<manifest>", f"unknown media kinds {sorted(bad)}")
        bad = set(df["gender"].dropna()) - set(GENDERS)
        if bad:
            raise CorpusError("<manifest>", f"gender must be 'm', 'f' or missing, got {sorted(bad)}")
        bad = set(df["emotion"].dropna()) - set(EMOTIONS) - set(LEVELS)
        if bad:
            raise CorpusError("<manifest>", f"non-canonical emotions {sorted(bad)}")

    # -- table-like access -------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.df)

    def __repr__(self) -> str:
        corpora = ",".join(sorted(self.df["corpus"].unique())) if len(self) else "-"
        return f"Manifest({corpora}: {len(self)} items, {self.df['speaker'].nunique()} speakers)"

    def __getitem__(self, key: str) -> pd.Series:
        return self.df[key]

    @property
    def speakers(self) -> list[str]:
        return sorted(self.df["speaker"].unique())

    def subset(self, index: Sequence[int] | Any) -> Manifest:
        """Rows by position (an index array or boolean mask)."""
        return Manifest(self.df.iloc[index] if not _is_mask(index) else self.df[index], self.skipped)

    def where(self, **equals: Any) -> Manifest:
        mask = pd.Series(True, index=self.df.index)
        for col, val in equals.items():
            mask &= self.df[col] == val
        return Manifest(self.df[mask], self.skipped)

    def labelled(self, target: str) -> Manifest:
        """The rows whose ``target`` column is known."""
        return Manifest(self.df[self.df[target].notna()], self.skipped)

    def summary(self) -> dict[str, Any]:
        df = self.df
        spk_gender = df.drop_duplicates("speaker").set_index("speaker")["gender"]
        return {
            "items": len(df),
            "speakers": int(df["speaker"].nunique()),
            "speakers_by_gender": {
                "m": int((spk_gender == "m").sum()),
                "f": int((spk_gender == "f").sum()),
                "unknown": int(spk_gender.isna().sum()),
            },
            "media": {k: int(v) for k, v in df["media"].value_counts().items()},
            "emotions": {k: int(v) for k, v in df["emotion"].value_counts(dropna=False).items()
                         if not pd.isna(k)} | ({"<NA>": int(df["emotion"].isna().sum())}
                                               if df["emotion"].isna().any() else {}),
            "items_per_speaker": {k: int(v) for k, v in df["speaker"].value_counts().sort_index().items()},
            "skipped": len(self.skipped),
        }

    # -- persistence ------------------------------------------------------------------------
    def to_jsonl(self, path: str | Path) -> None:
        with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as fh:
            for rec in self.df.to_dict("records"):
                fh.write(json.dumps({k: (None if _isna(v) else v) for k, v in rec.items()}) + "\n")

    @classmethod
    def from_jsonl(cls, path: str | Path) -> Manifest:
        with open(path) as fh:
            return cls([json.loads(line) for line in fh if line.strip()])


def _is_mask(index: Any) -> bool:
    return hasattr(index, "dtype") and str(index.dtype) == "bool"


def _isna(v: Any) -> bool:
    try:
        return bool(pd.isna(v))
    except (TypeError, ValueError):
        return False


def _utf8(text: str) -> bool:
    """Whether ``text`` (a file name as Python decodes it) is valid UTF-8 (no surrogate escapes)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
