"""Deployment mode on one machine: a real SuperLink, one SuperNode process per client, ``flwr run``.

The ServerApp and ClientApp are the very modules the simulation uses
(``privemo.learners.federated.server_app:app`` and ``...client_app:app``); only the transport
differs. Each SuperNode is told its ``partition-id`` by ``--node-config``, exactly as a phone would
be told which user it serves. Across machines the same commands apply with the SuperLink's address
instead of 127.0.0.1 (and TLS instead of ``--insecure``).
"""

from __future__ import annotations

import functools
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from privemo._procs import die_with_parent
from privemo.errors import ConfigError
from privemo.learners.federated.task import write_atomic

APP_TOML = """[build-system]
requires = ["hatchling"]
build-backend = "hatchling.build"

[project]
name = "privemo-federation"
version = "1.0.0"
description = "privemo federated speech emotion recognition (the ServerApp and ClientApp of the privemo package)"
license = "MIT"
dependencies = []

[tool.flwr.app]
publisher = "privemo"

[tool.flwr.app.components]
serverapp = "privemo.learners.federated.server_app:app"
clientapp = "privemo.learners.federated.client_app:app"

[tool.flwr.app.config]
job = "{job}"
"""

FLWR_CONFIG = """[superlink]
default = "privemo-local"

[superlink.privemo-local]
address = "127.0.0.1:{port}"
insecure = true
"""


def _wait_port(port: int, timeout: float) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise RuntimeError(f"the SuperLink did not open port {port} within {timeout:.0f} s")


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


def deploy(job_path: str | Path, out: str | Path | None = None, port: int = 9100, timeout: float = 900.0,
           log: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Run the federation of ``job_path`` as separate processes on localhost; returns the server's
    summary (also in ``<out>/federation_result.json``)."""
    log = log or (lambda m: None)
    job_path = Path(job_path)
    if not job_path.is_file():
        raise ConfigError(f"{job_path}: job file not found (run `privemo federated run` first)")
    try:
        job = json.loads(job_path.read_text())
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{job_path}: not a valid job file ({exc})") from None
    n = len(job["clients"])
    ports = [port] + [port + 1 + i for i in range(n)]
    busy = [p for p in ports if not _port_free(p)]
    if busy:
        raise ConfigError(f"ports {busy} on 127.0.0.1 are in use: choose another --port")
    out_dir = Path(out) if out else job_path.parent / "deployment"
    out_dir.mkdir(parents=True, exist_ok=True)
    result_path = out_dir / "federation_result.json"
    result_path.unlink(missing_ok=True)
    job = {**job, "out_dir": str(out_dir.resolve())}
    write_atomic(out_dir / "job.json", json.dumps(job, indent=1))
    bindir = Path(sys.executable).parent
    procs: list[subprocess.Popen] = []
    with tempfile.TemporaryDirectory(prefix="privemo-flwr-") as tmp:
        home, app_dir = Path(tmp) / "flwr-home", Path(tmp) / "app"
        home.mkdir()
        app_dir.mkdir()
        (home / "config.toml").write_text(FLWR_CONFIG.format(port=port))
        (app_dir / "pyproject.toml").write_text(APP_TOML.format(job=str((out_dir / "job.json").resolve())))
        # Flower's processes start their helpers (flower-superexec, flwr-serverapp, flwr-clientapp) by name
        env = {**os.environ, "FLWR_HOME": str(home), "OMP_NUM_THREADS": "1",
               "PATH": f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}"}
        logs = out_dir / "logs"
        logs.mkdir(exist_ok=True)

        def start(name: str, cmd: list[str]) -> None:
            fh = open(logs / f"{name}.log", "w")  # noqa: SIM115  (closed with the process)
            procs.append(subprocess.Popen(cmd, env=env, stdout=fh, stderr=subprocess.STDOUT, cwd=tmp,
                                          preexec_fn=functools.partial(die_with_parent, os.getpid())))

        try:
            start("superlink", [str(bindir / "flower-superlink"), "--insecure", "--host", "127.0.0.1",
                                "--port", str(port), "--disable-runtime-dependency-installation"])
            _wait_port(port, 60)
            log(f"SuperLink on 127.0.0.1:{port}; starting {n} SuperNodes")
            for pid in range(n):
                start(f"supernode{pid:03d}", [str(bindir / "flower-supernode"), "--insecure", "--superlink",
                                               f"127.0.0.1:{port}", "--port", str(port + 1 + pid),
                                               "--node-config", f"partition-id={pid} num-partitions={n}"])
            t0 = time.monotonic()
            log(f"flwr run: the federation runs (logs in {logs})")
            with open(logs / "flwr_run.log", "w") as fh:
                run = subprocess.run([str(bindir / "flwr"), "run", str(app_dir), "privemo-local", "--stream"],
                                     env=env, cwd=tmp, stdout=fh, stderr=subprocess.STDOUT,
                                     timeout=timeout, preexec_fn=functools.partial(die_with_parent, os.getpid()))
            while not result_path.is_file() and time.monotonic() - t0 < timeout:
                if any(p.poll() is not None for p in procs[:1]):
                    break
                time.sleep(0.5)
            if not result_path.is_file():
                tail = (logs / "flwr_run.log").read_text()[-2000:]
                raise RuntimeError(f"the deployment ended (flwr run exit {run.returncode}) without a result; "
                                   f"logs in {logs}:\n{tail}")
        finally:
            for p in procs:
                p.terminate()
            for p in procs:
                try:
                    p.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    p.kill()
    res = json.loads(result_path.read_text())
    return {**res, "out_dir": str(out_dir)}
