"""Writing files safely: one atomic-write helper, stale temporary files, and paths kept inside a root.

Every file privemo writes goes through :func:`atomic_path` (or :func:`atomic_write`): the content is
written to a temporary name beside the target (``.<name>.<random>.privemo-tmp<suffix>``, the real
suffix kept so that writers which pick a format from it still work), flushed, and renamed into place;
a failure removes the temporary file. A process killed in between can leave such a file behind: a
resumed batch removes them with :func:`remove_stale_temps`, which touches nothing but names of this
pattern.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path

TEMP_MARK = ".privemo-tmp"
_TEMP_RE = re.compile(r"^\..+\.[A-Za-z0-9_]{6,}" + re.escape(TEMP_MARK) + r"(\.[^/]*)?$")


def mkstemp_public(dir: str | Path, prefix: str = "", suffix: str = "") -> tuple[int, str]:  # noqa: A002
    """``tempfile.mkstemp`` whose file gets the permissions a plain ``open`` would give (0666 less
    the umask), so what is renamed into place is not private to the writing user (mkstemp's 0600)."""
    fd, tmp = tempfile.mkstemp(suffix=suffix, prefix=prefix, dir=dir)
    os.fchmod(fd, 0o666 & ~_umask())
    return fd, tmp


def _umask() -> int:
    """The process umask, read without changing it where Linux shows it (setting it to read it back
    would briefly affect files other threads create)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path: str | Path, fsync: bool = False) -> Iterator[Path]:
    """A temporary path beside ``path`` to write to; renamed onto ``path`` when the block ends
    without an error, removed otherwise (the target is then left as it was)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = mkstemp_public(dir=path.parent, prefix=f".{path.name}.", suffix=TEMP_MARK + path.suffix)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        if fsync:
            with open(tmp, "rb+") as fh:
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write(path: str | Path, data: str | bytes) -> None:
    """Write ``data`` (text as UTF-8, or bytes) to ``path`` atomically."""
    with atomic_path(path, fsync=True) as tmp:
        if isinstance(data, bytes):
            tmp.write_bytes(data)
        else:
            tmp.write_text(data, encoding="utf-8")


def is_stale_temp(path: Path) -> bool:
    """Whether ``path`` is named like one of :func:`atomic_path`'s temporary files."""
    return bool(_TEMP_RE.match(path.name))


def remove_stale_temps(root: str | Path | None = None, targets: list[Path] | None = None) -> list[Path]:
    """Remove the temporary files an interrupted write left behind: under ``root`` (recursively), or
    only those of the files ``targets`` (in their folders, not below). Only names of
    :func:`atomic_path`'s pattern are touched. Returns what was removed."""
    found: list[Path] = []
    if targets is not None:
        by_dir: dict[Path, set[str]] = {}
        for t in targets:
            by_dir.setdefault(Path(t).parent, set()).add(Path(t).name)
        for folder, names in by_dir.items():
            if folder.is_dir():
                found += [p for p in folder.glob(f".*{TEMP_MARK}*")
                          if any(p.name.startswith(f".{n}.") for n in names)]
    elif root is not None and Path(root).is_dir():
        found = list(Path(root).rglob(f".*{TEMP_MARK}*"))
    removed: list[Path] = []
    for p in found:
        if p.is_file() and not p.is_symlink() and is_stale_temp(p):
            with contextlib.suppress(OSError):
                p.unlink()
                removed.append(p)
    return removed


def inside(root: str | Path, *parts: str | Path) -> Path:
    """``root`` joined with ``parts``, proven to lie inside ``root`` (after resolving ``..`` and
    symbolic links); anything else is a ConfigError naming the path."""
    from privemo.errors import ConfigError

    base = Path(root).resolve()
    target = Path(root).joinpath(*parts)
    resolved = target.resolve()
    if resolved != base and not resolved.is_relative_to(base):
        raise ConfigError(f"{target}: refusing to write outside the output folder {root}")
    return target
