"""Worker processes that never outlive the process that started them."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
from collections.abc import Callable
from typing import Any

_PR_SET_PDEATHSIG = 1
_PRCTL: list[Any] = []  # libc's prctl, resolved once per process (empty: not yet; [None]: none here)


def _prctl() -> Any:
    """libc's ``prctl`` (None off Linux), looked up once in this process. The lookup (dlopen, dlsym)
    takes the dynamic loader's lock; a child forked from a threaded process while another thread held
    that lock would wait for it forever, so a fork child must only call what its parent resolved."""
    if not _PRCTL:
        fn = None
        if sys.platform.startswith("linux"):
            with contextlib.suppress(OSError, AttributeError):
                fn = ctypes.CDLL(None, use_errno=True).prctl
        _PRCTL.append(fn)
    return _PRCTL[0]


def die_with_parent(parent_pid: int) -> None:
    """Called first in a worker process: the kernel sends it SIGKILL when its parent dies (Linux's
    parent-death signal), so a ``kill -9`` of the parent leaves no orphan behind. Where the parent is
    already gone (it died before this call), the worker exits at once. In a forked child use
    :func:`preexec_dies_with_parent` instead."""
    prctl = _prctl()
    if prctl is not None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent_pid:
        os._exit(1)


def preexec_dies_with_parent() -> Callable[[], None]:
    """A ``preexec_fn`` for :class:`subprocess.Popen` doing what :func:`die_with_parent` does, safe
    in a process with threads: everything it needs is resolved here, in the parent, so the forked
    child takes no lock (no import, no symbol lookup) before its ``exec``."""
    prctl, parent = _prctl(), os.getpid()
    sig, kill = _PR_SET_PDEATHSIG, signal.SIGKILL

    def preexec() -> None:
        if prctl is not None:
            prctl(sig, kill, 0, 0, 0)
        if os.getppid() != parent:
            os._exit(1)

    return preexec
