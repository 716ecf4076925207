"""Temporary files for atomic writes (write beside the target, then rename)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


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
