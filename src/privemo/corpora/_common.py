"""Helpers shared by the corpus loaders."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd

from privemo.corpora.manifest import Manifest
from privemo.errors import CorpusError, MediaError

AUDIO_EXT = (".wav", ".flac", ".ogg", ".mp3")
IMAGE_EXT = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".gif", ".bmp", ".pgm")


def require_dir(root: str | Path, what: str = "corpus folder") -> Path:
    root = Path(root).expanduser()
    if not root.exists():
        raise CorpusError(root, f"{what} does not exist")
    if not root.is_dir():
        raise CorpusError(root, f"{what} is not a folder")
    return root


def files(root: Path, exts: Iterable[str], pattern: str = "**/*") -> list[Path]:
    """Files under ``root`` with one of ``exts`` (case-insensitive), sorted, hidden files left out."""
    exts = tuple(e.lower() for e in exts)
    return sorted(p for p in root.glob(pattern)
                  if p.is_file() and p.suffix.lower() in exts and not p.name.startswith("."))


def read_label_table(csv: Path, needed: Iterable[str], what: str) -> pd.DataFrame:
    """A label CSV as strings, checked for its file and its ``needed`` columns."""
    if not csv.is_file():
        raise CorpusError(csv, f"{what} not found")
    try:
        table = pd.read_csv(csv, dtype=str, encoding="utf-8", encoding_errors="strict")
    except UnicodeDecodeError as exc:
        raise CorpusError(csv, f"unreadable CSV: not UTF-8 ({exc.reason} at byte {exc.start})") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError, OSError) as exc:
        raise CorpusError(csv, f"unreadable CSV: {exc}") from None
    except Exception as exc:  # any other parser failure (csv.Error: a field over the size limit...)  # noqa: BLE001
        raise CorpusError(csv, f"unreadable CSV: {exc}") from None
    table.columns = [str(c).lstrip("\ufeff").strip() for c in table.columns]
    missing = [c for c in needed if c not in table.columns]
    if missing:
        raise CorpusError(csv, f"missing columns {missing}")
    return table


def label_rows(csv: Path, needed: Iterable[str], what: str, file_col: str | None = None,
               numeric: Iterable[str] = ()) -> list[dict[str, Any]]:
    """The rows of a label CSV, each checked: ``file_col`` is a plain, non-empty file name listed
    once, every ``needed`` field is there, ``numeric`` fields are finite numbers (or empty). A bad row
    is a CorpusError naming the file and its line."""
    import math

    table = read_label_table(csv, needed, what)
    rows: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    for i, rec in enumerate(table.to_dict("records")):
        line = i + 2  # the header is line 1
        for col in needed:
            if col != file_col and col not in numeric and not isinstance(rec.get(col), str):
                raise CorpusError(csv, f"line {line}: no {col} (a short row?)")
        if file_col is not None:
            name = rec.get(file_col)
            name = name.strip() if isinstance(name, str) else ""
            if not name:
                raise CorpusError(csv, f"line {line}: empty {file_col}")
            if len(name) > 255 or any(ch in name for ch in "/\\\0") or name in (".", ".."):
                raise CorpusError(csv, f"line {line}: {file_col} {name[:60]!r} is not a plain file name")
            if name in seen:
                raise CorpusError(csv, f"line {line}: {name!r} is listed twice (first on line {seen[name]})")
            seen[name] = line
            rec[file_col] = name
        for col in numeric:
            v = rec.get(col)
            if v is None or (isinstance(v, float) and math.isnan(v)) or (isinstance(v, str) and not v.strip()):
                rec[col] = None
                continue
            try:
                f = float(v)
            except (TypeError, ValueError):
                raise CorpusError(csv, f"line {line}: {col} {str(v)[:40]!r} is not a number") from None
            if not math.isfinite(f):
                raise CorpusError(csv, f"line {line}: {col} {v!r} is not a finite number")
            rec[col] = f
        rows.append(rec)
    return rows


def bin_level(value: Any, low_max: float, mid_max: float) -> Any:
    """Bin a dimensional rating: low <= low_max < mid <= mid_max < high (../shared/data/README.md)."""
    if value is None or pd.isna(value):
        return pd.NA
    v = float(value)
    return "low" if v <= low_max else ("mid" if v <= mid_max else "high")


def finish(rows: list[dict[str, Any]], root: Path, corpus: str, skip_bad: bool = False,
           strict_names: bool = True, bad_names: list[Path] | None = None) -> Manifest:
    """Build the Manifest; with ``skip_bad`` probe every file and leave out the unreadable ones.

    ``bad_names`` are files whose names do not fit the corpus layout: an error unless
    ``skip_bad`` (then they are reported in ``manifest.skipped``).
    """
    skipped: list[tuple[str, str]] = []
    for p in bad_names or []:
        if skip_bad or not strict_names:
            skipped.append((str(p), "file name does not fit the layout"))
        else:
            raise CorpusError(p, f"file name does not fit the {corpus} layout")
    if skip_bad:
        kept = []
        for r in rows:
            try:
                _probe(r["path"], r["media"])
                kept.append(r)
            except MediaError as exc:
                skipped.append((r["path"], exc.problem))
        rows = kept
    if not rows:
        raise CorpusError(root, f"no {corpus} items found (is this the {corpus} root folder?)")
    for r in rows:
        r.setdefault("corpus", corpus)
    return Manifest(rows, skipped=skipped)


def _probe(path: str, media: str) -> None:
    from privemo.media import probe_audio, read_image

    if media == "audio":
        probe_audio(path)
    elif media == "image":
        read_image(path)
    else:
        p = Path(path)
        if not p.is_file() or p.stat().st_size == 0:
            raise MediaError(p, "missing or empty video file")
