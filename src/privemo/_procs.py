"""Worker processes that never outlive the process that started them."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
import threading
import time

_PR_SET_PDEATHSIG = 1


def die_with_parent(parent_pid: int) -> None:
    """Called first in a worker process: the kernel sends it SIGKILL when its parent dies (Linux's
    parent-death signal), so a ``kill -9`` of the parent leaves no orphan behind. Where the parent is
    already gone (it died before this call), the worker exits at once. For a command started by
    :class:`subprocess.Popen`, :func:`dies_with_parent` does the same (never as a ``preexec_fn``)."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent_pid:
        os._exit(1)


def exit_with_parent(parent_pid: int, every: float = 0.5) -> None:
    """Called first in a worker of a pool whose workers may be started by any of the parent's
    threads (joblib's reusable loky pool): a daemon thread ends the worker within ``every`` seconds
    of its parent's death. The parent-death signal of :func:`die_with_parent` fires when the *thread*
    that started a worker ends, which would kill a healthy worker of such a pool."""
    if os.getppid() != parent_pid:
        os._exit(1)

    def watch() -> None:
        while True:
            time.sleep(every)
            if os.getppid() != parent_pid:
                os._exit(1)

    threading.Thread(target=watch, name="privemo-exit-with-parent", daemon=True).start()


# what die_with_parent does, as a script: the launcher runs it, then becomes the command
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
