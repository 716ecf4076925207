"""Where work units run: this process, local worker processes, or a Ray cluster.

Every job that fans out (``privemo run``'s units, ``anonymize voice|face|video`` batches, the voice
and audio-visual evaluations' anonymization, the face evaluation's crops, PPRL-VGAN's training chain
and attack scenarios) hands its units to one :class:`Executor`:

- ``local``: ``workers`` = 1 runs them in this process, more runs a process pool on this machine;
- ``ray``: tasks on a Ray cluster (``address``: ``auto``, ``ray://host:port`` or ``host:port`` of a
  running cluster; none starts a local Ray with ``workers`` CPUs).

A job calls ``executor.imap(fn, shared, items)``: ``fn(shared, item)`` runs once per item, where
``shared`` (a fitted anonymizer, the features) is sent to the workers once (Ray: one object in its
store) and ``fn`` is a module-level function (workers import privemo: install it on every node).
Results come back to the driver, which alone writes the run folder or output tree; with
``ships_bytes`` the executor's workers may not see the driver's files, so jobs send the bytes of the
media instead of paths. Items are consumed lazily and at most ``window`` are in flight at once, so
the driver's memory stays flat in the number of items.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from contextlib import contextmanager
from itertools import islice
from typing import Any

from privemo.errors import ConfigError

KINDS = ("local", "ray")


def check_executor(kind: str, workers: int = 1, address: str | None = None, where: str = "executor",
                   need_package: bool = True) -> None:
    """A ConfigError for a setting that cannot work (before any work starts); ``need_package``: also
    for ray where the package is missing."""
    if kind not in KINDS:
        raise ConfigError(f"{where}: {kind!r} is not an executor (local or ray)")
    if not isinstance(workers, int) or isinstance(workers, bool) or not 1 <= workers <= 4096:
        raise ConfigError(f"{where}: workers must be a whole number from 1 to 4096, got {workers!r}")
    if address is not None:
        if kind != "ray":
            raise ConfigError(f"{where}: an address is for the ray executor (the local one has none)")
        if not isinstance(address, str) or not address.strip() or any(c.isspace() for c in address):
            raise ConfigError(f"{where}: address must be 'auto', 'ray://host:port' or 'host:port', got {address!r}")
        if address != "auto" and ":" not in address.removeprefix("ray://"):
            raise ConfigError(f"{where}: address {address!r} has no port ('ray://host:port' or 'host:port')")
    if kind == "ray" and need_package:
        try:
            import ray  # noqa: F401
        except ImportError as exc:
            raise ConfigError(f"{where}: 'ray' needs the package ray (pip install privemo[distributed])") from exc


def make_executor(kind: str = "local", workers: int = 1, address: str | None = None,
                  where: str = "executor") -> Executor:
    check_executor(kind, workers, address, where)
    return RayExecutor(workers, address) if kind == "ray" else LocalExecutor(workers)


class Executor:
    ships_bytes = False  # True: workers may not share the driver's file system
    kind = "local"

    def imap(self, fn: Callable[[Any, Any], Any], shared: Any, items: Iterable[Any],
             chunk: int = 1) -> Iterator[Any]:
        """``fn(shared, item)`` of every item, yielded as they finish (not in order)."""
        raise NotImplementedError

    def describe(self) -> str:
        raise NotImplementedError

    @contextmanager
    def running(self) -> Iterator[Executor]:
        """Keep the executor up across several ``imap`` calls (a job that maps several batches starts
        Ray once, not once per batch)."""
        yield self


def _chunks(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    it = iter(items)
    while batch := list(islice(it, max(1, size))):
        yield batch


# -- local ------------------------------------------------------------------------------------------
_SHARED: Any = None


def _init_local(shared: Any, parent_pid: int) -> None:
    global _SHARED
    from privemo._procs import die_with_parent

    die_with_parent(parent_pid)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    if "torch" in sys.modules:
        # a forked child must not enter the parent's OpenMP thread pool (it hangs): one thread each
        sys.modules["torch"].set_num_threads(1)
    _SHARED = shared


def _run_local_chunk(fn: Callable[[Any, Any], Any], batch: list[Any]) -> list[Any]:
    return [fn(_SHARED, it) for it in batch]


class LocalExecutor(Executor):
    def __init__(self, workers: int = 1) -> None:
        self.workers = workers

    def describe(self) -> str:
        return "this process" if self.workers <= 1 else f"{self.workers} local processes"

    def imap(self, fn, shared, items, chunk=1):  # noqa: ANN001, ANN201
        if self.workers <= 1:
            for it in items:
                yield fn(shared, it)
            return
        with ProcessPoolExecutor(self.workers, initializer=_init_local, initargs=(shared, os.getpid())) as pool:
            yield from _windowed(lambda b: pool.submit(_run_local_chunk, fn, b), _chunks(items, chunk),
                                 2 * self.workers, lambda f: f.result(), _wait_futures)


def _wait_futures(pending: list[Future]) -> tuple[list[Future], list[Future]]:
    done, rest = wait(pending, return_when=FIRST_COMPLETED)
    return list(done), list(rest)


def _windowed(submit: Callable[[list[Any]], Any], batches: Iterator[list[Any]], window: int,
              result: Callable[[Any], list[Any]], wait_some: Callable[[list[Any]], tuple[list[Any], list[Any]]]
              ) -> Iterator[Any]:
    """Keep at most ``window`` batches in flight; yield each finished batch's results."""
    pending: list[Any] = []
    for batch in batches:
        pending.append(submit(batch))
        while len(pending) >= window:
            done, pending = wait_some(pending)
            for f in done:
                yield from result(f)
    while pending:
        done, pending = wait_some(pending)
        for f in done:
            yield from result(f)


# -- ray --------------------------------------------------------------------------------------------
def _run_ray_chunk(fn: Callable[[Any, Any], Any], shared: Any, batch: list[Any]) -> tuple[str, list[Any]]:
    import ray
    from threadpoolctl import threadpool_limits

    os.environ.setdefault("OMP_NUM_THREADS", "1")
    with threadpool_limits(1):
        out = [fn(shared, it) for it in batch]
    return ray.get_runtime_context().get_node_id(), out


class RayExecutor(Executor):
    ships_bytes = True
    kind = "ray"

    def __init__(self, workers: int = 1, address: str | None = None) -> None:
        self.workers = workers
        self.address = address
        self.nodes: set[str] = set()  # the Ray nodes that ran this executor's tasks

    def describe(self) -> str:
        return f"Ray at {self.address}" if self.address else f"a local Ray with {self.workers} CPUs"

    def _start(self) -> bool:
        import ray

        if ray.is_initialized():
            return False
        try:
            if self.address:
                ray.init(address=self.address, include_dashboard=False, log_to_driver=False)
            else:
                # "local": a Ray of its own, even where `ray start` runs a cluster on this machine
                ray.init(address="local", num_cpus=self.workers, include_dashboard=False, log_to_driver=False)
        except ConnectionError as exc:
            raise ConfigError(f"executor ray: cannot reach the Ray cluster at {self.address} ({exc})") from None
        return True

    @contextmanager
    def running(self) -> Iterator[Executor]:
        import ray

        started = self._start()
        try:
            yield self
        finally:
            if started:
                ray.shutdown()

    def imap(self, fn, shared, items, chunk=1):  # noqa: ANN001, ANN201
        import ray

        started = self._start()
        try:
            cpus = int(ray.cluster_resources().get("CPU", self.workers)) or 1
            remote = ray.remote(num_cpus=1, max_retries=1)(_run_ray_chunk)
            shared_ref = ray.put(shared)

            def result(ref: Any) -> list[Any]:
                node, out = ray.get(ref)
                self.nodes.add(node)
                return out

            def wait_some(pending: list[Any]) -> tuple[list[Any], list[Any]]:
                return ray.wait(pending, num_returns=1)

            yield from _windowed(lambda b: remote.remote(fn, shared_ref, b), _chunks(items, chunk),
                                 2 * cpus, result, wait_some)
        finally:
            if started:
                ray.shutdown()
