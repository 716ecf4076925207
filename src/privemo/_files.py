"""Temporary files for atomic writes (write beside the target, then rename)."""

from __future__ import annotations

import os
import tempfile


def mkstemp_public(**kwargs: str) -> tuple[int, str]:
    """``tempfile.mkstemp`` whose file gets the permissions a plain ``open`` would give (0666 less
    the umask), so what is renamed into place is not private to the writing user (mkstemp's 0600)."""
    fd, tmp = tempfile.mkstemp(**kwargs)
    umask = os.umask(0)
    os.umask(umask)
    os.fchmod(fd, 0o666 & ~umask)
    return fd, tmp
