"""Worker processes that never outlive the process that started them."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
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


_LAUNCH = ("import ctypes, os, sys\n"
           "try:\n"
           "    ctypes.CDLL(None, use_errno=True).prctl(1, 9, 0, 0, 0)  # PR_SET_PDEATHSIG, SIGKILL\n"
           "except (OSError, AttributeError):\n"
           "    pass\n"
           "if os.getppid() != int(sys.argv[1]):\n"
           "    os._exit(1)\n"
           "os.execvp(sys.argv[2], sys.argv[2:])\n")


def dies_with_parent(cmd: list[str]) -> list[str]:
    """``cmd`` started through a tiny Python launcher that sets the parent-death signal (SIGKILL, kept
    across ``exec``) and then becomes ``cmd``, for :class:`subprocess.Popen` without a ``preexec_fn``:
    Python code run between fork and exec in a process with threads (at-fork handlers of grpc and
    others, symbol lookups) can wait forever for a lock another thread held at the fork. Off Linux,
    ``cmd`` itself."""
    if not sys.platform.startswith("linux"):
        return list(cmd)
    return [sys.executable, "-S", "-c", _LAUNCH, str(os.getpid()), *cmd]
