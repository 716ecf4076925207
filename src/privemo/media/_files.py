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


def media_files(path: str | Path, suffixes: tuple[str, ...], what: str) -> tuple[list[Path], Path]:
    """The files with one of ``suffixes`` under ``path`` (a file, or a folder searched recursively;
    hidden files left out) and their common root; a MediaError names a missing path or an empty folder."""
    path = Path(path)
    if path.is_file():
        return [path], path.parent
    if not path.is_dir():
        raise MediaError(path, "no such file or folder")
    files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in suffixes
                   and not p.name.startswith("."))
    for p in files:
        try:
            str(p).encode("utf-8")
        except UnicodeEncodeError:
            raise MediaError(ascii(str(p)), "the file name is not valid UTF-8: rename it") from None
    if not files:
        raise MediaError(path, f"no {what} ({', '.join(suffixes)}) in this folder")
    return files, path
