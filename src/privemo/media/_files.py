"""Checks shared by the readers."""

from __future__ import annotations

from pathlib import Path

from privemo.errors import MediaError


def existing_file(path: str | Path) -> Path:
    """``path`` as a Path, or a MediaError if it is missing or empty."""
    path = Path(path)
    if not path.is_file():
        raise MediaError(path, "no such file")
    if path.stat().st_size == 0:
        raise MediaError(path, "file is empty (0 bytes)")
    return path
